"""Notify's notices without I/O: who a cause concerns, a notice's claim and what it records,
a person's preferences, and the morning digest's words."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from baton_shared.contracts import delivery as d
from baton_shared.contracts import notify as ev
from baton_shared.domain import DomainRuleViolation

from baton_notify.domain import notice_kinds as k
from baton_notify.domain.notice import GIVEN_UP, SENT, Notice
from baton_notify.domain.notice_texts import concerns, digest, words
from baton_notify.domain.preferences import NoticePreferences

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=timezone.utc)


def queued(person: str, notice_id: str = "n1") -> ev.NoticeQueued:
    return ev.NoticeQueued(
        notice_id=notice_id, person=person, kind=k.WORK_BLOCKED, cause_id="c", cause_at=NOW, subject="s", body="b"
    )


def stored(notice: Notice) -> Notice:
    """As if its pending events were appended: version moves on, nothing pending."""
    notice.version += len(notice.pending)
    notice.pending = []
    return notice


def test_a_work_order_concerns_its_department_and_a_block_the_client_s_manager():
    opened = d.WorkOrderOpened(
        request_id="r",
        client_id="c",
        work_order_id="w",
        department="design",
        scope="plans",
        due_by=date(2027, 1, 1),
        account_manager="alice",
        handoff_event_id="h",
    )
    blocked = d.WorkOrderBlocked(
        request_id="r", client_id="c", work_order_id="w", department="design", reason="no plan", blocked_at=NOW
    )
    assert concerns(opened).kind == k.WORK_ORDER_OPENED and concerns(opened).department == "design"
    assert concerns(blocked).kind == k.WORK_BLOCKED and concerns(blocked).department is None
    subject, body = words(opened, "Acme", "http://console")
    assert subject == "New work order for design: Acme, due 2027-01-01" and "http://console/work-orders/w" in body
    assert "http" not in words(opened, "Acme", None)[1]


def test_one_replica_claims_a_notice_until_its_claim_lapses():
    notice = stored(Notice("n1"))
    notice.queue(queued("alice"))
    notice.queue(queued("alice"))  # a person is queued once
    stored(notice)
    assert notice.claim("a", NOW + timedelta(minutes=2), NOW)
    stored(notice)
    assert not notice.claim("b", NOW + timedelta(minutes=2), NOW + timedelta(minutes=1))  # held by a
    assert notice.claim("b", NOW + timedelta(minutes=5), NOW + timedelta(minutes=3))  # a's lapsed
    stored(notice)
    notice.failed("451 later", NOW + timedelta(minutes=10))
    stored(notice)
    assert not notice.claim("b", NOW + timedelta(minutes=6), NOW + timedelta(minutes=4))  # not due again yet
    assert notice.claim("b", NOW + timedelta(minutes=12), NOW + timedelta(minutes=10))
    assert notice.attempts == 3


def test_a_notice_sent_or_given_up_waits_for_no_one():
    notice = Notice("n1")
    notice.queue(queued("alice"))
    notice.queue(queued("dora"))
    notice.sent("alice", NOW, "m")
    with pytest.raises(DomainRuleViolation):
        notice.sent("alice", NOW, "m")
    notice.give_up("past the horizon")
    assert notice.people == {"alice": SENT, "dora": GIVEN_UP} and notice.waiting == []
    assert not notice.claim("a", NOW + timedelta(minutes=1), NOW)


def test_preferences_record_only_changes_and_know_the_kinds():
    prefs = NoticePreferences("p")
    prefs.turn("dora", k.WORK_ORDER_OPENED, True, "dora")  # on already: nothing
    assert prefs.pending == []
    prefs.turn("dora", k.WORK_ORDER_OPENED, False, "dora")
    prefs.turn("dora", k.WORK_ORDER_OPENED, False, "dora")
    assert [type(e).__name__ for e in prefs.pending] == ["NoticeKindTurnedOff"]
    with pytest.raises(DomainRuleViolation):
        prefs.turn("dora", "everything", False, "dora")


def test_the_digest_says_what_is_overdue():
    items = [
        {"client_name": "Acme", "what": "complaint", "reason": "late", "due_on": date(2026, 12, 1)},
        {"client_name": "Bolt", "what": "follow-up: review", "reason": "quarterly", "due_on": date(2026, 12, 4)},
    ]
    subject, body = digest("alice", date(2026, 12, 4), items, None)
    assert subject == "Your agenda for 2026-12-04: 2 due"
    assert (
        "- Acme: complaint: late (overdue since 2026-12-01)" in body
        and "- Bolt: follow-up: review: quarterly\n" in body
    )


def test_a_token_entry_gives_one_clean_address_or_is_refused():
    from baton_shared.service.access import TokenBook, TokenConfigError

    book = TokenBook.parse(
        '[{"name": "dora", "role": "department", "department": "design", "token": "0123456789abcdef",'
        ' "email": "dora@example.test"},'
        ' {"name": "dora", "role": "ops", "token": "fedcba9876543210"}]',
        "test",
    )
    [dora] = book.people()
    assert dora.email == "dora@example.test" and dora.role == "department"
    for bad in ("dora", "dora@x\\r\\nBcc: all@x", "a@b@c", "<dora@x>", "dora@", 7):
        with pytest.raises(TokenConfigError, match="email"):
            value = bad if isinstance(bad, int) else f'"{bad}"'
            TokenBook.parse(f'[{{"name": "d", "role": "ops", "token": "0123456789abcdef", "email": {value}}}]', "t")
