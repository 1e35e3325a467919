"""Reading Baton's streams for people: every stream, decoded, tolerant of bad messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.eventstore.reader import RawEvent, read_stream

from baton_ops.catalogue import UsageError


@dataclass(frozen=True)
class LoggedEvent:
    """One message of a stream as ops see it; ``error`` is set when it does not decode."""

    service: str
    stream: str
    seq: int
    subject: str
    stored_at: datetime
    envelope: dict[str, Any] | None
    error: str | None = None

    @property
    def event_id(self) -> str | None:
        return self.envelope.get("event_id") if self.envelope else None

    @property
    def client_id(self) -> str | None:
        if not self.envelope:
            return None
        payload = self.envelope.get("payload") or {}
        return payload.get("client_id")

    @property
    def subject_aggregate_id(self) -> str | None:
        """The aggregate id the subject names (``<root>.<type>.<id>.<Event>``), readable or not."""
        tokens = self.subject.split(".")
        return tokens[2] if len(tokens) == 4 else None

    @property
    def occurred_at(self) -> datetime:
        if self.envelope:
            try:
                return datetime.fromisoformat(self.envelope["occurred_at"])
            except (KeyError, ValueError):
                pass
        return self.stored_at

    def as_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "stream": self.stream,
            "seq": self.seq,
            "subject": self.subject,
            "stored_at": self.stored_at.isoformat(),
            "envelope": self.envelope,
            "error": self.error,
        }


def decode(service: str, stream: str, raw: RawEvent) -> LoggedEvent:
    stored_at = datetime.fromtimestamp(raw.timestamp_ns / 1e9, tz=timezone.utc)
    try:
        recorded = registry.decode(stream, raw.seq, raw.subject, raw.data)
        return LoggedEvent(service, stream, raw.seq, raw.subject, stored_at, recorded.envelope.model_dump(mode="json"))
    except Exception as exc:  # noqa: BLE001 - shown, not fatal
        try:
            envelope = orjson.loads(raw.data)
            envelope = envelope if isinstance(envelope, dict) else None
        except orjson.JSONDecodeError:
            envelope = None
        return LoggedEvent(
            service, stream, raw.seq, raw.subject, stored_at, envelope, f"{type(exc).__name__}: {exc}"[:300]
        )


def raw_event(msg: Msg) -> RawEvent:
    """A direct get's reply as the reader's ``RawEvent`` (the stored time in nanoseconds)."""
    headers = msg.headers or {}
    whole, _, fraction = headers["Nats-Time-Stamp"].rstrip("Z").partition(".")
    seconds = int(datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp())
    return RawEvent(
        int(headers["Nats-Sequence"]),
        headers["Nats-Subject"],
        msg.data,
        seconds * 1_000_000_000 + int((fraction + "000000000")[:9]),
    )


async def stream_info(nc: NATS, stream: str) -> dict | None:
    try:
        return await js_api(nc, f"STREAM.INFO.{stream}")
    except JetStreamApiError as exc:
        if exc.err_code == 10059:
            return None
        raise


async def read_events(
    nc: NATS,
    service: str,
    *,
    start_seq: int = 1,
    filter_subject: str | None = None,
    end_seq: int | None = None,
    filter_subjects: list[str] | None = None,
) -> list[LoggedEvent]:
    stream = STREAMS[service].name
    if await stream_info(nc, stream) is None:
        return []
    out: list[LoggedEvent] = []
    async for batch in read_stream(
        nc, stream, start_seq=start_seq, end_seq=end_seq, filter_subject=filter_subject, filter_subjects=filter_subjects
    ):
        out.extend(decode(service, stream, raw) for raw in batch)
    return out


async def head_of(nc: NATS, service: str) -> int:
    """The stream's last sequence (0 when the stream does not exist yet)."""
    info = await stream_info(nc, STREAMS[service].name)
    return int(info["state"]["last_seq"]) if info else 0


async def last_events(
    nc: NATS, service: str, limit: int, filter_subject: str | None = None, end_seq: int | None = None
) -> list[LoggedEvent]:
    """The last ``limit`` events at or before ``end_seq`` (default: the head) matching the filter.

    Read backwards in growing windows, so a filtered tail of a long stream reads
    only as far back as it needs to."""
    upper = await head_of(nc, service) if end_seq is None else end_seq
    found: list[LoggedEvent] = []
    window = limit if filter_subject is None else max(4 * limit, 1000)
    while upper >= 1 and len(found) < limit:
        lower = max(1, upper - window + 1)
        found = await read_events(nc, service, start_seq=lower, end_seq=upper, filter_subject=filter_subject) + found
        upper, window = lower - 1, window * 4
    return found[-limit:]


async def seq_before(nc, stream: str, moment: datetime) -> int:
    """The last stream position stored at or before ``moment``."""
    if moment.tzinfo is None:
        raise UsageError("give the time with a zone, e.g. 2026-11-24T09:00:00+00:00")
    reply = await nc.request(
        f"$JS.API.DIRECT.GET.{stream}",
        orjson.dumps({"start_time": moment.astimezone(timezone.utc).isoformat()}),
        timeout=5,
    )
    status = (reply.headers or {}).get("Status")
    if status == "404":  # nothing stored after that moment: the whole stream
        info = await stream_info(nc, stream)
        return int(info["state"]["last_seq"]) if info else 0
    return int(reply.headers["Nats-Sequence"]) - 1


def summary(event: LoggedEvent, width: int = 60) -> str:
    if event.error:
        return f"UNREADABLE: {event.error}"[:width]
    payload = dict((event.envelope or {}).get("payload") or {})
    for key in ("client_id", "request_id", "work_order_id"):
        payload.pop(key, None)
    text = ", ".join(f"{k}={v}" for k, v in payload.items() if v not in (None, "", [], {}))
    return text if len(text) <= width else text[: width - 1] + "…"
