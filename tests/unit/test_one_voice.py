"""One voice per person, without I/O: the contact group's key, its slot and refusals, and an
account managed by someone else."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from baton_followup.domain import ContactGroup, ContactState, Relationship, group_refusal, managed_elsewhere
from baton_intake.domain import contact_group
from baton_shared.contracts.intake import Contact, ContactPolicy

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
KEY = b"k" * 32
A, B, C = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
GROUP = "00000000-0000-4000-8000-0000000000aa"


def test_one_person_behind_several_accounts_gets_one_group_whatever_the_spelling():
    first = contact_group(KEY, [Contact(name="Ann", email=" Ann@Example.COM ")])
    assert first == contact_group(KEY, [Contact(name="A. N.", email="ann@example.com")])
    assert first != contact_group(KEY, [Contact(name="Bo", email="bo@example.com")])
    by_phone = contact_group(KEY, [Contact(name="Ann", phone="+33 6 12-34-56-78")])
    assert by_phone == contact_group(KEY, [Contact(name="Ann", phone="+33612345678")])


def test_the_group_id_says_nothing_without_the_key():
    contacts = [Contact(name="Ann", email="ann@example.com")]
    grouped = contact_group(KEY, contacts)
    assert grouped != contact_group(b"x" * 32, contacts)  # another key, another id
    assert "ann" not in grouped and "example" not in grouped
    assert contact_group(KEY, [Contact(name="no address")]) is None and contact_group(KEY, []) is None


def accounts(cap: int = 1, **states: ContactState) -> dict[str, ContactState]:
    every = {x: ContactState(policy=ContactPolicy(max_contacts_per_30_days=cap)) for x in (A, B, C)}
    return every | states


def test_the_group_takes_one_slot_under_a_cap_of_one_and_names_the_account_that_has_it():
    group = ContactGroup(GROUP)
    assert group.take(A, "c1", "alice", NOW, accounts()) is None
    refused = group.take(B, "c2", "bob", NOW + timedelta(hours=1), accounts())
    assert refused.code == "frequency_cap"
    assert A in refused.reason and "alice" in refused.reason and "next contact possible on 2026-12-25" in refused.reason
    assert [type(e).__name__ for e in group.pending] == ["GroupContactTaken"]
    assert group.take(A, "c1", "alice", NOW, accounts()) is None and len(group.pending) == 1  # a retry holds its slot
    assert group.take(C, "c3", "carl", NOW + timedelta(days=31), accounts()) is None  # 30 days later


def test_the_strictest_cap_of_the_group_holds():
    strict = ContactState(policy=ContactPolicy(max_contacts_per_30_days=1))
    group = ContactGroup(GROUP)
    assert group.take(A, "c1", "alice", NOW, accounts(cap=4, **{C: strict})) is None
    assert group.take(B, "c2", "bob", NOW, accounts(cap=4, **{C: strict})).code == "frequency_cap"


def test_do_not_contact_and_stop_on_one_account_hold_for_every_account_of_the_group():
    dnc = ContactState(policy=ContactPolicy(do_not_contact=True))
    r = group_refusal([], B, NOW, accounts(**{A: dnc}))
    assert r.code == "do_not_contact" and A in r.reason
    r = group_refusal([], B, NOW, accounts(**{A: ContactState(stopped_on=date(2026, 11, 1))}))
    assert r.code == "stopped" and A in r.reason and "2026-11-01" in r.reason
    assert group_refusal([], A, NOW, accounts(**{A: dnc})) is None  # its own policy is the account's to apply


def test_an_account_managed_elsewhere_is_refused_with_who_manages_it():
    assert managed_elsewhere(None) is None
    assert "Agency Nine" in managed_elsewhere("Agency Nine").reason
    r = Relationship(A)
    r.start(client_name="Acme", account_manager="alice", policy=ContactPolicy(), revenue=None)
    r.delegate("Agency Nine", "alice")
    r.delegate("Agency Nine", "alice")  # unchanged: recorded once
    assert [type(e).__name__ for e in r.pending] == ["RelationshipStarted", "ManagementDelegated"]
    assert r.refusal(NOW).code == "managed_elsewhere"
    r.delegate(None, "alice")
    assert r.refusal(NOW) is None


def test_a_parent_organisation_groups_its_accounts_whatever_the_spelling_and_once():
    from baton_intake.domain import Client, organisation_group

    acme = organisation_group(KEY, "Acme  Holding")
    assert acme == organisation_group(KEY, " acme holding ") and acme != organisation_group(KEY, "Acme Retail")
    assert acme != contact_group(KEY, [Contact(name="x", email="acme@holding.com")])
    client = Client.register(A, name="Acme Shop", segment="B2B", account_manager="alice")
    client.group_under(acme, "Acme Holding")
    client.group_under(acme, "ACME holding")
    assert [type(e).__name__ for e in client.pending] == ["ClientRegistered", "ClientGrouped"]


def test_an_account_in_two_groups_is_decided_in_both():
    r = Relationship(A)
    r.start(client_name="Acme", account_manager="alice", policy=ContactPolicy(), revenue=None, contact_group=GROUP)
    r.join_group("00000000-0000-4000-8000-0000000000bb", "Acme Holding")
    r.join_group("00000000-0000-4000-8000-0000000000bb", "Acme Holding")
    assert r.contact_groups == [GROUP, "00000000-0000-4000-8000-0000000000bb"]
    assert [type(e).__name__ for e in r.pending] == ["RelationshipStarted", "RelationshipGrouped"]
