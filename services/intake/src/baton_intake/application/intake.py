"""Intake's command methods: the ids a command creates, the domain call, the save.

``Aggregates`` (baton_shared.application) runs each one: decided on the remembered
history, decided again on fresh state after a conflict, so concurrent commands never
overwrite each other's facts; a keyed retry answers what it answered the first time.

Correlation id = the client journey: the request id for a request's events, the
client id for the client's own. The causation id is what caused the command
(the HTTP call's correlation id for API writes).
"""

from __future__ import annotations

import secrets
from datetime import date

from baton_shared.application import Aggregates, Clock, Written, utc_now
from baton_shared.contracts.intake import CONTACTS_PURPOSE
from baton_shared.eventstore import EventStore
from baton_shared.privacy import MemoryKeyStore, PersonalDataVault

from baton_intake.application import commands as c
from baton_intake.domain import Client, Request, contact_group, organisation_group


class IntakeApplication:
    def __init__(
        self,
        store: EventStore,
        clock: Clock = utc_now,
        attempts: int = 5,
        vault: PersonalDataVault | None = None,
        grouping_key: bytes | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.aggregates = Aggregates(store, attempts, clock=clock)
        # Contacts are sealed with the client's data key before they reach an event
        # (the composition root passes the vault on the CLIENT_KEYS stream).
        self.vault = vault or PersonalDataVault(MemoryKeyStore())
        # Keys the contact groups (``domain.contact_groups``): the composition root derives it from the master key.
        self.grouping_key = grouping_key or secrets.token_bytes(32)

    def _today(self) -> date:
        return self.clock().date()

    # --- clients ---------------------------------------------------------------

    async def register_client(self, cmd: c.RegisterClient) -> Written:
        client_id = self.aggregates.new_id(cmd, "client")

        async def register() -> Client:
            contacts = [x.model_dump(mode="json") for x in cmd.contacts]
            return Client.register(
                client_id,
                name=cmd.name,
                segment=cmd.segment,
                account_manager=cmd.account_manager,
                sealed_contacts=await self.vault.seal(client_id, CONTACTS_PURPOSE, contacts) if contacts else None,
                business_description=cmd.business_description,
                annual_revenue=cmd.annual_revenue,
                contact_policy=cmd.contact_policy,
                contact_group=contact_group(self.grouping_key, cmd.contacts),
            )

        return await self.aggregates.create(Client, client_id, cmd, register)

    async def forget_client(self, cmd: c.ForgetClient) -> Written:
        """Destroy the client's data key, then record ClientForgotten.

        The key goes first: once this answers, nothing can read the contacts, even if
        the append failed (asking again appends it; forgetting twice records nothing)."""
        await self.aggregates.get(Client, cmd.client_id)
        await self.vault.forget(cmd.client_id)
        return await self.aggregates.update(Client, cmd.client_id, cmd, lambda client: client.forget())

    async def add_client_note(self, cmd: c.AddClientNote) -> Written:
        note_id = self.aggregates.new_id(cmd, "note")
        return await self.aggregates.update(
            Client,
            cmd.client_id,
            cmd,
            lambda client: client.add_note(note_id, cmd.text, cmd.actor),
            ids={"note_id": note_id},
        )

    async def assign_account_manager(self, cmd: c.AssignAccountManager) -> Written:
        return await self.aggregates.update(
            Client,
            cmd.client_id,
            cmd,
            lambda client: client.assign_account_manager(cmd.account_manager, cmd.handover_note),
        )

    async def change_revenue(self, cmd: c.ChangeRevenue) -> Written:
        return await self.aggregates.update(
            Client, cmd.client_id, cmd, lambda client: client.change_revenue(cmd.annual_revenue)
        )

    async def group_under_parent(self, cmd: c.GroupUnderParent) -> Written:
        group_id = organisation_group(self.grouping_key, cmd.parent_organisation)
        return await self.aggregates.update(
            Client,
            cmd.client_id,
            cmd,
            lambda client: client.group_under(group_id, cmd.parent_organisation),
            ids={"group_id": group_id},
        )

    async def set_contact_policy(self, cmd: c.SetContactPolicy) -> Written:
        return await self.aggregates.update(
            Client, cmd.client_id, cmd, lambda client: client.set_contact_policy(cmd.policy)
        )

    # --- requests ----------------------------------------------------------------

    async def capture_need(self, cmd: c.CaptureNeed) -> Written:
        await self.aggregates.get(Client, cmd.client_id)
        request_id = self.aggregates.new_id(cmd, "request")
        return await self.aggregates.create(
            Request,
            request_id,
            cmd,
            lambda: Request.capture(
                request_id,
                client_id=cmd.client_id,
                summary=cmd.summary,
                today=self._today(),
                requirements=cmd.requirements,
                budget=cmd.budget,
                currency=cmd.currency,
                desired_by=cmd.desired_by,
            ),
            ids={"client_id": cmd.client_id},
        )

    async def record_clarification(self, cmd: c.RecordClarification) -> Written:
        return await self.aggregates.update(
            Request, cmd.request_id, cmd, lambda request: request.clarify(cmd.question, cmd.answer)
        )

    async def request_handoff(self, cmd: c.RequestHandoff) -> Written:
        handoff_ids = [self.aggregates.new_id(cmd, f"handoff:{n}") for n in range(len(cmd.work))]
        # Whose request it is never changes: the remembered history tells. The client is
        # only read (its account manager goes into the handoff): loaded, never remembered.
        request = await self.aggregates.get(Request, cmd.request_id, remembered=True)
        manager = (await self.aggregates.get(Client, request.client_id)).account_manager
        return await self.aggregates.update(
            Request,
            cmd.request_id,
            cmd,
            lambda request: request.hand_off(cmd.work, handoff_ids, account_manager=manager, today=self._today()),
            ids={"handoff_ids": handoff_ids},
        )

    async def request_change(self, cmd: c.RequestChange) -> Written:
        change_id = self.aggregates.new_id(cmd, "change")
        return await self.aggregates.update(
            Request,
            cmd.request_id,
            cmd,
            lambda request: request.request_change(change_id, cmd.department, cmd.description, cmd.actor),
            ids={"change_id": change_id},
        )

    async def cancel_request(self, cmd: c.CancelRequest) -> Written:
        return await self.aggregates.update(
            Request, cmd.request_id, cmd, lambda request: request.cancel(cmd.reason, self.clock())
        )
