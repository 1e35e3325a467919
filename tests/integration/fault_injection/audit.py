"""What the fault test checks afterwards, read from the log itself.

- Every acknowledged write has its events in the log exactly once: the ids a keyed
  write appends are derived from its key and request (``baton_shared.idempotency``),
  so the ledger says exactly which ids must be there, where the last one must sit
  (the answer's position), and that no other attempt of the same key left events.
- No event id is stored twice anywhere.
- Every reaction fired exactly once per cause: each cause in one stream has exactly
  one effect in the other (a work order per handoff, a relationship per client, a
  satisfaction check and an opportunity per accepted delivery, a new need per won
  opportunity): none missing, none doubled.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson

from baton_shared.contracts import STREAMS
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore.reader import read_stream
from baton_shared.idempotency import RequestKey, bind, fingerprint
from baton_followup.catalogue import next_need_rules
from baton_followup.domain.next_needs import next_needs
from tests.integration.fault_injection.workload import ACTOR, NEED_SUMMARY, Ledger


@dataclass
class StoredEvent:
    stream: str
    seq: int
    envelope: dict


@dataclass
class Log:
    streams: dict[str, list[StoredEvent]] = field(default_factory=dict)

    @classmethod
    async def read(cls, nc, services=("intake", "delivery", "followup")) -> Log:  # noqa: ANN001
        """Every event of the streams of ``services`` (the ones the system under test runs)."""
        log = cls()
        for spec in (STREAMS[name] for name in services):
            events: list[StoredEvent] = []
            async for batch in read_stream(nc, spec.name):
                events.extend(StoredEvent(spec.name, raw.seq, orjson.loads(raw.data)) for raw in batch)
            log.streams[spec.name] = events
        return log

    def count(self) -> int:
        return sum(len(events) for events in self.streams.values())

    def of_type(self, event_type: str) -> list[dict]:
        return [
            e.envelope for events in self.streams.values() for e in events if e.envelope["event_type"] == event_type
        ]


def duplicate_event_ids(log: Log) -> list[str]:
    seen = Counter(e.envelope["event_id"] for events in log.streams.values() for e in events)
    return sorted(event_id for event_id, n in seen.items() if n > 1)


def _key_prefix(event_id: str) -> int | None:
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return None
    return parsed.int >> 80 if parsed.version == 8 else None


def acknowledged_writes_exactly_once(ledger: Ledger, log: Log) -> list[str]:
    """Every problem found with the acknowledged writes (empty: all there exactly once)."""
    problems: list[str] = []
    where: dict[str, dict[str, list[int]]] = {}
    by_prefix: dict[str, dict[int, set[str]]] = {}
    for name, events in log.streams.items():
        where[name], by_prefix[name] = defaultdict(list), defaultdict(set)
        for e in events:
            where[name][e.envelope["event_id"]].append(e.seq)
            prefix = _key_prefix(e.envelope["event_id"])
            if prefix is not None:
                by_prefix[name][prefix].add(e.envelope["event_id"])
    for command in ledger.commands:
        if not command.acked:
            continue
        stream = STREAMS[command.service].name
        keyed = bind(RequestKey(command.key, fingerprint(command.method, command.path, command.body)), stream, ACTOR)
        expected = [keyed.event_id(i) for i in range(command.answer["appended"])]
        label = f"{command.method} {command.service}{command.path} (key {command.key})"
        for event_id in expected:
            found = where[stream].get(event_id, [])
            if len(found) != 1:
                problems.append(f"{label}: event {event_id} stored {len(found)} times")
        if expected and where[stream].get(expected[-1]) != [command.answer["position"]["seq"]]:
            problems.append(
                f"{label}: answered position {command.answer['position']['seq']}, "
                f"its last event is at {where[stream].get(expected[-1])}"
            )
        others = by_prefix[stream].get(int.from_bytes(keyed.scope[:6], "big"), set()) - set(expected)
        if others:
            problems.append(f"{label}: {len(others)} more events under the same key")
    return problems


@dataclass
class ReactionCheck:
    name: str
    causes: int
    effects_missing: list[str]
    effects_doubled: list[str]

    @property
    def ok(self) -> bool:
        return not self.effects_missing and not self.effects_doubled


def _once(name: str, causes: list[str], effects: list[str]) -> ReactionCheck:
    counted, known = Counter(effects), set(causes)
    return ReactionCheck(
        name,
        len(causes),
        [c for c in causes if counted[c] == 0],
        [c for c in causes if counted[c] > 1] + [e for e in counted if e not in known],
    )


def reactions_once(log: Log) -> list[ReactionCheck]:
    accepted = [e["event_id"] for e in log.of_type("DeliveryAccepted")]
    checks = {derived_event_id(a, "satisfaction") for a in accepted}
    scheduled = [e["payload"]["follow_up_id"] for e in log.of_type("FollowUpScheduled")]
    identified = [e["payload"]["opportunity_id"] for e in log.of_type("OpportunityIdentified")]
    return [
        _once(
            "delivery opens a work order per handoff",
            [e["payload"]["handoff_id"] for e in log.of_type("HandoffRequested")],
            [e["payload"]["work_order_id"] for e in log.of_type("WorkOrderOpened")],
        ),
        _once(
            "follow-up starts a relationship per client",
            [e["payload"]["client_id"] for e in log.of_type("ClientRegistered")],
            [e["payload"]["client_id"] for e in log.of_type("RelationshipStarted")],
        ),
        _once(
            "follow-up schedules a satisfaction check per accepted delivery",
            [derived_event_id(a, "satisfaction") for a in accepted],
            [s for s in scheduled if s in checks],
        ),
        _once(
            "follow-up identifies the next needs of each accepted delivery (one per matching rule)",
            [
                derived_event_id(e["event_id"], f"opportunity:{rule.id}")
                for e in log.of_type("DeliveryAccepted")
                for rule in next_needs(next_need_rules(), e["payload"]["departments"], NEED_SUMMARY)
            ],
            identified,
        ),
        _once(
            "intake opens a request per won opportunity",
            [e["payload"]["opportunity_id"] for e in log.of_type("OpportunityWon")],
            [
                e["payload"]["source_opportunity_id"]
                for e in log.of_type("NeedCaptured")
                if e["payload"].get("source_opportunity_id")
            ],
        ),
    ]
