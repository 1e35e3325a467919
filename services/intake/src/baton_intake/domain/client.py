"""The Client aggregate: who the client is, who looks after them, how they may be contacted."""

from __future__ import annotations

from decimal import Decimal

from baton_shared.contracts.intake import (
    AccountManagerAssigned,
    ClientForgotten,
    ClientGrouped,
    ClientNoteAdded,
    ClientRegistered,
    ClientRevenueChanged,
    ContactPolicy,
    ContactPolicyChanged,
    Segment,
)
from baton_shared.contracts.sealed import SealedData
from baton_shared.domain import Aggregate, DomainRuleViolation


class Client(Aggregate):
    aggregate_type = "client"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.name = ""
        self.account_manager = ""
        self.contact_policy = ContactPolicy()
        self.annual_revenue: Decimal | None = None
        self.note_ids: set[str] = set()
        self.forgotten = False
        self.groups: set[str] = set()  # parent organisations' contact groups

    # --- commands -----------------------------------------------------------

    @classmethod
    def register(
        cls,
        client_id: str,
        *,
        name: str,
        segment: Segment,
        account_manager: str,
        sealed_contacts: SealedData | None = None,
        business_description: str = "",
        annual_revenue: Decimal | None = None,
        contact_policy: ContactPolicy | None = None,
        contact_group: str | None = None,
    ) -> Client:
        client = cls(client_id)
        client._record(
            ClientRegistered(
                client_id=client_id,
                name=name,
                segment=segment,
                sealed_contacts=sealed_contacts,
                business_description=business_description,
                annual_revenue=annual_revenue,
                account_manager=account_manager,
                contact_policy=contact_policy or ContactPolicy(),
                contact_group=contact_group,
            )
        )
        return client

    def add_note(self, note_id: str, text: str, author: str) -> None:
        self._must_exist()
        if note_id in self.note_ids:
            return
        self._record(ClientNoteAdded(client_id=self.id, note_id=note_id, text=text, author=author))

    def assign_account_manager(self, account_manager: str, handover_note: str = "") -> None:
        self._must_exist()
        if account_manager == self.account_manager:
            raise DomainRuleViolation(f"{account_manager} is already the account manager of client {self.id}")
        self._record(
            AccountManagerAssigned(
                client_id=self.id,
                account_manager=account_manager,
                previous_account_manager=self.account_manager or None,
                handover_note=handover_note,
            )
        )

    def group_under(self, group_id: str, parent_organisation: str) -> None:
        """The client is an account of a parent organisation (recorded once per organisation)."""
        self._must_exist()
        if group_id not in self.groups:
            self._record(ClientGrouped(client_id=self.id, group_id=group_id, parent_organisation=parent_organisation))

    def change_revenue(self, annual_revenue: Decimal) -> None:
        self._must_exist()
        if annual_revenue == self.annual_revenue:
            return  # nothing changes, nothing recorded
        self._record(
            ClientRevenueChanged(
                client_id=self.id, annual_revenue=annual_revenue, previous_annual_revenue=self.annual_revenue
            )
        )

    def set_contact_policy(self, policy: ContactPolicy) -> None:
        self._must_exist()
        if policy == self.contact_policy:
            return  # nothing changes, nothing recorded
        self._record(ContactPolicyChanged(client_id=self.id, contact_policy=policy))

    def forget(self) -> None:
        """Record that the client's personal data is forgotten (the application destroys the key)."""
        self._must_exist()
        if self.forgotten:
            return  # forgotten already: nothing more to record
        self._record(ClientForgotten(client_id=self.id))

    def _must_exist(self) -> None:
        if not self.exists:
            raise DomainRuleViolation(f"client {self.id} is not registered")

    # --- state --------------------------------------------------------------

    def _on_ClientRegistered(self, e: ClientRegistered) -> None:
        self.name = e.name
        self.account_manager = e.account_manager
        self.contact_policy = e.contact_policy
        self.annual_revenue = e.annual_revenue

    def _on_ClientNoteAdded(self, e: ClientNoteAdded) -> None:
        self.note_ids.add(e.note_id)

    def _on_AccountManagerAssigned(self, e: AccountManagerAssigned) -> None:
        self.account_manager = e.account_manager

    def _on_ClientRevenueChanged(self, e: ClientRevenueChanged) -> None:
        self.annual_revenue = e.annual_revenue

    def _on_ContactPolicyChanged(self, e: ContactPolicyChanged) -> None:
        self.contact_policy = e.contact_policy

    def _on_ClientGrouped(self, e: ClientGrouped) -> None:
        self.groups.add(e.group_id)

    def _on_ClientForgotten(self, e: ClientForgotten) -> None:
        self.forgotten = True
