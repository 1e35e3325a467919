"""One webhook subscription: where to send, what, and where in the log it stands.

Lifecycle::

    active <-> paused      (by a caller, or by notify after retries ran out)
    active|paused -> deleted

Positions are per source stream: the last sequence *not* to be sent (again).
The deliverer keeps the live position in its own table; the aggregate records
only what a caller decided (subscribe at, replay from).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from baton_shared.contracts import notify as ev
from baton_shared.domain import Aggregate, DomainRuleViolation, NotFound

ACTIVE, PAUSED, DELETED = "active", "paused", "deleted"


class Webhook(Aggregate):
    aggregate_type = "webhook"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.status = ""
        self.owner = ""
        self.url = ""
        self.event_types: tuple[str, ...] = ()
        self.wrapped_secret = ""

    # --- commands -------------------------------------------------------------------

    def subscribe(
        self,
        *,
        url: str,
        event_types: Sequence[str],
        client_id: str | None,
        department: str | None,
        owner: str,
        wrapped_secret: str,
        start_positions: dict[str, int],
    ) -> None:
        if self.exists:
            return  # a retried subscribe changes nothing
        if not event_types:
            raise DomainRuleViolation("a webhook needs at least one event type")
        self._record(
            ev.WebhookSubscribed(
                webhook_id=self.id,
                url=url,
                event_types=tuple(event_types),
                client_id=client_id,
                department=department,
                owner=owner,
                wrapped_secret=wrapped_secret,
                start_positions=start_positions,
            )
        )

    def rotate_secret(self, wrapped_secret: str) -> None:
        self._expect({ACTIVE, PAUSED}, "rotate the secret of")
        self._record(ev.WebhookSecretRotated(webhook_id=self.id, wrapped_secret=wrapped_secret))

    def pause(self, reason: str, parked_event_id: str | None = None, last_error: str | None = None) -> None:
        self._expect({ACTIVE, PAUSED}, "pause")
        if self.status == PAUSED and parked_event_id is None:
            return  # paused already: nothing to record
        self._record(
            ev.WebhookPaused(webhook_id=self.id, reason=reason, parked_event_id=parked_event_id, last_error=last_error)
        )

    def resume(self) -> None:
        self._expect({ACTIVE, PAUSED}, "resume")
        if self.status == PAUSED:
            self._record(ev.WebhookResumed(webhook_id=self.id))

    def replay(self, positions: dict[str, int], since: datetime | None, streams: Sequence[str]) -> None:
        """``streams``: the streams this webhook reads; a replay may name only those."""
        self._expect({ACTIVE, PAUSED}, "replay")
        if any(p < 0 for p in positions.values()):
            raise DomainRuleViolation("positions are 0 or more")
        foreign = sorted(set(positions) - set(streams))
        if foreign:
            raise DomainRuleViolation(
                f"webhook {self.id} reads {', '.join(streams) or 'no stream'}, not {', '.join(foreign)[:300]}"
            )
        self._record(ev.WebhookReplayed(webhook_id=self.id, positions=positions, since=since))

    def delete(self) -> None:
        self._expect({ACTIVE, PAUSED, DELETED}, "delete")
        if self.status != DELETED:
            self._record(ev.WebhookDeleted(webhook_id=self.id))

    def _expect(self, allowed: set[str], what: str) -> None:
        if not self.exists:
            raise NotFound(f"webhook {self.id} not found")
        if self.status not in allowed:
            raise DomainRuleViolation(f"cannot {what} webhook {self.id}: it is {self.status}")

    # --- state ----------------------------------------------------------------------

    def _on_WebhookSubscribed(self, e: ev.WebhookSubscribed) -> None:
        self.status, self.owner, self.url, self.event_types = ACTIVE, e.owner, e.url, e.event_types
        self.wrapped_secret = e.wrapped_secret

    def _on_WebhookSecretRotated(self, e: ev.WebhookSecretRotated) -> None:
        self.wrapped_secret = e.wrapped_secret

    def _on_WebhookPaused(self, e: ev.WebhookPaused) -> None:
        self.status = PAUSED

    def _on_WebhookResumed(self, e: ev.WebhookResumed) -> None:
        self.status = ACTIVE

    def _on_WebhookDeleted(self, e: ev.WebhookDeleted) -> None:
        self.status = DELETED
