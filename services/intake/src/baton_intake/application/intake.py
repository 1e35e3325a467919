"""Command handling: load the aggregate, let it decide, append what it recorded.

The append carries the version the decision was made on; if someone else
appended meanwhile, the command is decided again on fresh state (a few times),
so concurrent commands never overwrite each other's facts.

Correlation id = the client journey: the request id for a request's events, the
client id for the client's own. The causation id is what caused the command
(the HTTP call's correlation id for API writes).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from baton_shared import idempotency
from baton_shared.application import (
    REFUSALS,
    Clock,
    Written,
    answering,
    history_to_decide_on,
    require_uuid,
    utc_now,
)
from baton_shared.domain import Aggregate, NotFound
from baton_shared.eventstore import AggregateHistory, ConcurrencyConflict, EventStore, NewEvent
from baton_shared.folded import FoldedAggregates
from baton_shared.contracts.intake import CONTACTS_PURPOSE
from baton_shared.privacy import MemoryKeyStore, PersonalDataVault

from baton_intake.application import commands as c
from baton_intake.domain import Client, Request

A = TypeVar("A", bound=Aggregate)


def new_id() -> str:
    return str(uuid.uuid4())


class IntakeApplication:
    def __init__(
        self, store: EventStore, clock: Clock = utc_now, attempts: int = 5, vault: PersonalDataVault | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.attempts = attempts
        # Contacts are sealed with the client's data key before they reach an event
        # (the composition root passes the vault on the CLIENT_KEYS stream).
        self.vault = vault or PersonalDataVault(MemoryKeyStore())
        self.folded = FoldedAggregates()  # a command folds only what was appended since the last one

    def _today(self) -> date:
        return self.clock().date()

    async def _load(self, cls: type[A], aggregate_id: str) -> A:
        return self.folded.fold(cls, aggregate_id, await self.store.load(cls.aggregate_type, aggregate_id))

    async def _load_existing(self, cls: type[A], aggregate_id: str, what: str) -> A:
        return (await self._existing(cls, aggregate_id, what))[0]

    async def _existing(
        self, cls: type[A], aggregate_id: str, what: str, *, recall: bool = False
    ) -> tuple[A, AggregateHistory]:
        """The existing aggregate and the history it was folded from. With ``recall``, as the
        store remembers it (no round trip; ``history.recalled``), for a command that appends
        to it: then only an append may be decided on it (see ``_update``)."""
        require_uuid(aggregate_id, what)
        # (with a single attempt there is none left to decide again in: loaded, then)
        history = await history_to_decide_on(
            self.store, cls.aggregate_type, aggregate_id, recall=recall and self.attempts > 1
        )
        aggregate = self.folded.fold(cls, aggregate_id, history)
        if not aggregate.exists:
            raise NotFound(f"{what} {aggregate_id} not found")
        return aggregate, history

    def _keyed(self, command: c.Command) -> idempotency.Keyed | None:
        """The write's Idempotency-Key, if the HTTP call sent one (see baton_shared.idempotency)."""
        return idempotency.keyed(self.store.stream_name, command.actor)

    async def _replayed(self, aggregate_type: str, aggregate_id: str, keyed: idempotency.Keyed) -> tuple[int, int] | None:
        """(position, appended) of a keyed write already in the log, or None."""
        replay = keyed.replay((await self.store.load(aggregate_type, aggregate_id)).events)
        return None if replay is None else (replay.last_seq, replay.count)

    async def _create(self, aggregate: Aggregate, command: c.Command, keyed: idempotency.Keyed | None) -> tuple[int, int]:
        """Append a new aggregate; a keyed write that lost a race to its own retry answers what is stored."""
        try:
            return await self._save(aggregate, command, aggregate.id)
        except ConcurrencyConflict:
            if keyed is None:
                raise
            replayed = await self._replayed(aggregate.aggregate_type, aggregate.id, keyed)
            if replayed is None:
                raise
            return replayed

    async def _save(self, aggregate: Aggregate, command: c.Command, correlation_id: str) -> tuple[int, int]:
        if not aggregate.pending:
            self.folded.keep_unchanged(aggregate)
            return aggregate.version, 0
        keyed = self._keyed(command)
        new = [
            NewEvent(
                event, correlation_id=correlation_id, actor=command.actor, causation_id=command.causation_id,
                occurred_at=self.clock(), **({"event_id": keyed.event_id(n)} if keyed else {}),
            )
            for n, event in enumerate(aggregate.pending)
        ]
        result = await self.store.append(aggregate.aggregate_type, aggregate.id, aggregate.version, new)
        self.folded.kept_after(aggregate, result)
        return result.last_seq, len(new)

    async def _update(
        self,
        cls: type[A],
        aggregate_id: str,
        what: str,
        command: c.Command,
        decide: Callable[[A], None],
        correlation: Callable[[A], str],
        loaded: A | None = None,
        recalled: bool = False,
    ) -> tuple[A, int, int]:
        """Decide and append, decided again on fresh state after a conflict. The first decision
        is made on the remembered history (``recalled``: no round trip); only an append can come
        of it, checked by the server: a refusal or nothing to do is decided again on a
        ``load``, since the remembered history may be behind (another replica appended)."""
        keyed = self._keyed(command)
        for attempt in range(self.attempts):
            if keyed is not None and keyed.sent_by_caller:
                # A keyed write first looks for itself in the history it decides on.
                aggregate, history = await self._existing(cls, aggregate_id, what)
                replay = keyed.replay(history.events)
                if replay is not None:
                    return aggregate, replay.last_seq, replay.count
                recalled = False
            elif attempt == 0 and loaded is not None:
                aggregate = loaded  # decide on the aggregate the caller already loaded, the first time
            elif attempt == 0:
                aggregate, history = await self._existing(cls, aggregate_id, what, recall=True)
                recalled = history.recalled
            else:
                aggregate, recalled = await self._load_existing(cls, aggregate_id, what), False
            try:
                decide(aggregate)
            except REFUSALS:
                if recalled:
                    continue  # perhaps refused on a history that is behind: decide again on a load
                raise
            if recalled and not aggregate.pending:
                self.folded.keep_unchanged(aggregate)
                continue  # nothing to do, on a history perhaps behind: decide again on a load
            try:
                position, appended = await self._save(aggregate, command, correlation(aggregate))
                return aggregate, position, appended
            except ConcurrencyConflict:
                if attempt == self.attempts - 1:
                    raise
        raise AssertionError("unreachable")

    # --- clients ---------------------------------------------------------------

    async def register_client(self, cmd: c.RegisterClient) -> Written:
        keyed = self._keyed(cmd)
        client_id = keyed.id("client") if keyed else new_id()
        if keyed and keyed.sent_by_caller and (replayed := await self._replayed("client", client_id, keyed)):
            return Written({"client_id": client_id}, self.store.stream_name, *replayed)
        client = Client.register(
            client_id,
            name=cmd.name,
            segment=cmd.segment,
            account_manager=cmd.account_manager,
            sealed_contacts=(
                await self.vault.seal(client_id, CONTACTS_PURPOSE, [x.model_dump(mode="json") for x in cmd.contacts])
                if cmd.contacts
                else None
            ),
            business_description=cmd.business_description,
            annual_revenue=cmd.annual_revenue,
            contact_policy=cmd.contact_policy,
        )
        with answering({"client_id": client_id}):
            position, n = await self._create(client, cmd, keyed)
        return Written({"client_id": client_id}, self.store.stream_name, position, n)

    async def forget_client(self, cmd: c.ForgetClient) -> Written:
        """Destroy the client's data key, then record ClientForgotten.

        The key goes first: once this answers, nothing can read the contacts, even if
        the append failed (asking again appends it; forgetting twice records nothing)."""
        client = await self._load_existing(Client, cmd.client_id, "client")
        await self.vault.forget(cmd.client_id)
        with answering({"client_id": cmd.client_id}):
            _, position, n = await self._update(
                Client, cmd.client_id, "client", cmd, lambda client: client.forget(), lambda client: client.id, loaded=client
            )
        return Written({"client_id": cmd.client_id}, self.store.stream_name, position, n)

    async def add_client_note(self, cmd: c.AddClientNote) -> Written:
        keyed = self._keyed(cmd)
        note_id = keyed.id("note") if keyed else new_id()
        ids = {"client_id": cmd.client_id, "note_id": note_id}
        with answering(ids):
            _, position, n = await self._update(
                Client, cmd.client_id, "client", cmd,
                lambda client: client.add_note(note_id, cmd.text, cmd.actor),
                lambda client: client.id,
            )
        return Written(ids, self.store.stream_name, position, n)

    async def assign_account_manager(self, cmd: c.AssignAccountManager) -> Written:
        with answering({"client_id": cmd.client_id}):
            _, position, n = await self._update(
                Client, cmd.client_id, "client", cmd,
                lambda client: client.assign_account_manager(cmd.account_manager, cmd.handover_note),
                lambda client: client.id,
            )
        return Written({"client_id": cmd.client_id}, self.store.stream_name, position, n)

    async def change_revenue(self, cmd: c.ChangeRevenue) -> Written:
        with answering({"client_id": cmd.client_id}):
            _, position, n = await self._update(
                Client, cmd.client_id, "client", cmd,
                lambda client: client.change_revenue(cmd.annual_revenue),
                lambda client: client.id,
            )
        return Written({"client_id": cmd.client_id}, self.store.stream_name, position, n)

    async def set_contact_policy(self, cmd: c.SetContactPolicy) -> Written:
        with answering({"client_id": cmd.client_id}):
            _, position, n = await self._update(
                Client, cmd.client_id, "client", cmd,
                lambda client: client.set_contact_policy(cmd.policy),
                lambda client: client.id,
            )
        return Written({"client_id": cmd.client_id}, self.store.stream_name, position, n)

    # --- requests ----------------------------------------------------------------

    async def capture_need(self, cmd: c.CaptureNeed) -> Written:
        self.folded.keep_unchanged(await self._load_existing(Client, cmd.client_id, "client"))
        keyed = self._keyed(cmd)
        request_id = keyed.id("request") if keyed else new_id()
        ids = {"client_id": cmd.client_id, "request_id": request_id}
        if keyed and keyed.sent_by_caller and (replayed := await self._replayed("request", request_id, keyed)):
            return Written(ids, self.store.stream_name, *replayed)
        request = Request.capture(
            request_id,
            client_id=cmd.client_id,
            summary=cmd.summary,
            today=self._today(),
            requirements=cmd.requirements,
            budget=cmd.budget,
            currency=cmd.currency,
            desired_by=cmd.desired_by,
        )
        with answering(ids):
            position, n = await self._create(request, cmd, keyed)
        return Written(ids, self.store.stream_name, position, n)

    async def record_clarification(self, cmd: c.RecordClarification) -> Written:
        with answering({"request_id": cmd.request_id}):
            _, position, n = await self._update(
                Request, cmd.request_id, "request", cmd,
                lambda request: request.clarify(cmd.question, cmd.answer),
                lambda request: request.id,
            )
        return Written({"request_id": cmd.request_id}, self.store.stream_name, position, n)

    async def request_handoff(self, cmd: c.RequestHandoff) -> Written:
        keyed = self._keyed(cmd)
        handoff_ids = [keyed.id(f"handoff:{n}") if keyed else new_id() for n in range(len(cmd.work))]
        request, history = await self._existing(Request, cmd.request_id, "request", recall=True)
        # The client is only read (its account manager goes into the handoff): no append
        # checks it, so it is loaded, never recalled.
        client = await self._load_existing(Client, request.client_id, "client")
        self.folded.keep_unchanged(client)  # only read
        ids = {"request_id": cmd.request_id, "handoff_ids": handoff_ids}
        with answering(ids):
            _, position, n = await self._update(
                Request, cmd.request_id, "request", cmd,
                lambda request: request.hand_off(
                    cmd.work, handoff_ids, account_manager=client.account_manager, today=self._today()
                ),
                lambda request: request.id,
                loaded=request,
                recalled=history.recalled,
            )
        return Written(ids, self.store.stream_name, position, n)

    async def request_change(self, cmd: c.RequestChange) -> Written:
        keyed = self._keyed(cmd)
        change_id = keyed.id("change") if keyed else new_id()
        ids = {"request_id": cmd.request_id, "change_id": change_id}
        with answering(ids):
            _, position, n = await self._update(
                Request, cmd.request_id, "request", cmd,
                lambda request: request.request_change(change_id, cmd.department, cmd.description, cmd.actor),
                lambda request: request.id,
            )
        return Written(ids, self.store.stream_name, position, n)

    async def cancel_request(self, cmd: c.CancelRequest) -> Written:
        with answering({"request_id": cmd.request_id}):
            _, position, n = await self._update(
                Request, cmd.request_id, "request", cmd,
                lambda request: request.cancel(cmd.reason, self.clock()),
                lambda request: request.id,
            )
        return Written({"request_id": cmd.request_id}, self.store.stream_name, position, n)
