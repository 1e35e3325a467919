"""The event store on JetStream.

Appends
  Every event is one message on ``<service>.<aggregate_type>.<id>.<EventType>``
  with ``Nats-Msg-Id`` = its event id. Optimistic concurrency per aggregate uses
  ``Nats-Expected-Last-Subject-Sequence`` (the version the command was decided
  on) with ``Nats-Expected-Last-Subject-Sequence-Subject`` = the aggregate's
  wildcard, so the check covers every event type of the aggregate.

Several events from one command
  are written as one JetStream *atomic batch* (``Nats-Batch-Id`` /
  ``Nats-Batch-Sequence`` / ``Nats-Batch-Commit``, nats-server >= 2.12, stream
  ``allow_atomic``): the server stores all of them, contiguously, or none. The
  concurrency check rides on the first message of the batch. A batch holds at
  most 1,000 messages, which bounds the events of one command.

Lost acknowledgements
  An append whose acknowledgement was lost is retried with the same ids. The
  server then answers "wrong last sequence" (10071) or "duplicate message id in
  batch" (10201) rather than "duplicate", so on those answers the store reads the
  aggregate's messages after the expected version: if our event ids are there
  (all of them, in order; not necessarily last, another writer may have appended
  since), the append had succeeded and is reported with their sequences;
  otherwise it is a real conflict. A retried batch gets a new ``Nats-Batch-Id``:
  the server deduplicates batch members by ``Nats-Msg-Id`` and refuses the whole
  batch if any of them is stored, and an earlier attempt whose commit never
  arrived is abandoned by the server (10 s), never stored. When no attempt is
  answered, the append raises ``AppendUnconfirmed``: it may be stored or not, and
  only the same ids can settle it (see ``baton_shared.idempotency``).

Reads from replicas
  Streams allow direct gets, so any replica answers a read, one that lags included: a
  command decided on its answer could refuse what was just acknowledged. On a stream
  with more than one replica a load therefore first asks the stream's leader
  (``STREAM.MSG.GET``, answered by the leader alone) for the aggregate's last sequence
  and takes the highest sequence this process was acknowledged for the aggregate; a
  direct read that comes back short of that floor is asked again (the replica catches
  up within milliseconds), and after a few tries the load raises ``LogBehind`` (503).
  Limit: a stalled old leader that still believes it leads can answer the leader's
  question with a stale floor.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError, NoRespondersError, OutboundBufferLimitError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.errors import APIError, NotFoundError

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.envelope import RecordedEvent
from baton_shared.events.registry import EventRegistry, MalformedEvent, UnknownSchemaVersion
from baton_shared.eventstore.port import (
    AggregateHistory,
    AppendResult,
    AppendUnconfirmed,
    ConcurrencyConflict,
    EventStoreUnavailable,
    LogBehind,
    NewEvent,
)
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.lru import LRUCache
from baton_shared.observability import metrics
from baton_shared.observability.logging import get_logger

log = get_logger("baton.eventstore")

WRONG_LAST_SEQUENCE = 10071
WRONG_LAST_SEQUENCE_IN_FLIGHT = 10164  # a replicated stream, another write to the subject in flight
BATCH_DUPLICATE_MSG_ID = 10201
MAX_BATCH = 1000
ACKED_REMEMBERED = 16384  # aggregates whose last acknowledged sequence this process keeps


class _AckMux:
    """Publish-and-await-ack without a task per request.

    ``nc.request`` wraps every call in ``asyncio.wait_for``; with hundreds of
    appends in flight that overhead caps pipelined appends. Here one
    subscription receives every acknowledgement, futures are matched by reply
    token, and a timer handle (cancelled on reply) enforces the timeout.
    """

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._prefix = ""
        self._futures: dict[str, asyncio.Future] = {}
        self._next = 0
        self._sub = None

    async def _ensure(self) -> None:
        if self._sub is None:
            _check_connected(self.nc)
            self._prefix = self.nc.new_inbox() + "."
            self._sub = await self.nc.subscribe(self._prefix + "*", cb=self._on_reply)

    async def _on_reply(self, msg: Msg) -> None:
        future = self._futures.pop(msg.subject[len(self._prefix) :], None)
        if future is None or future.done():
            return
        if not msg.data and (msg.headers or {}).get("Status") == "503":
            # No responders: the stream has no leader right now (a cluster node was lost
            # and a new leader is being elected). Nothing was stored; the append retries.
            future.set_exception(NoRespondersError())
        else:
            future.set_result(msg.data)

    async def request(self, subject: str, body: bytes, headers: dict[str, str], timeout: float) -> bytes:
        await self._ensure()
        self._next += 1
        token = str(self._next)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._futures[token] = future
        timer = loop.call_later(timeout, _expire, future)
        try:
            await _publish(self.nc, subject, body, reply=self._prefix + token, headers=headers)
            return await future
        finally:
            timer.cancel()
            self._futures.pop(token, None)


class _DirectGets:
    """Batched direct gets through one reply subscription, like ``_AckMux``.

    A subscription per read (SUB, a task in nats-py, UNSUB) cost about as much as
    the read itself; replies here are collected per token under one wildcard inbox."""

    def __init__(self, nc: NATS) -> None:
        self.nc = nc
        self._prefix = ""
        self._pending: dict[str, tuple[list[Msg], asyncio.Future, bool]] = {}
        self._next = 0
        self._sub = None

    async def _on_reply(self, msg: Msg) -> None:
        entry = self._pending.get(msg.subject[len(self._prefix) :])
        if entry is None:
            return
        got, done, single = entry
        status = (msg.headers or {}).get("Status")
        if status is None:
            got.append(msg)
            if single and not done.done():
                done.set_result("200")  # a request without a batch is answered by one message
        elif not done.done():
            done.set_result(status)

    async def _ask(self, stream: str, request: dict, what: str, timeout: float, single: bool) -> tuple[list[Msg], str]:
        if self._sub is None:
            _check_connected(self.nc)
            self._prefix = self.nc.new_inbox() + "."
            self._sub = await self.nc.subscribe(self._prefix + "*", cb=self._on_reply)
        self._next += 1
        token = str(self._next)
        got: list[Msg] = []
        done = asyncio.get_running_loop().create_future()
        self._pending[token] = (got, done, single)
        try:
            await _publish(self.nc, f"$JS.API.DIRECT.GET.{stream}", orjson.dumps(request), reply=self._prefix + token)
            status = await asyncio.wait_for(done, timeout)
        except TimeoutError as exc:
            raise EventStoreUnavailable(f"reading {what} from {stream} timed out") from exc
        except PublishFailed as exc:
            raise EventStoreUnavailable(f"reading {what} from {stream}: {exc}") from exc
        finally:
            self._pending.pop(token, None)
        if status not in ("200", "204", "404"):
            raise EventStoreUnavailable(f"reading {what} from {stream}: status {status}")
        return got, status

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def last(self, stream: str, subject_filter: str, timeout: float) -> Msg | None:
        """The last message on ``subject_filter`` (wildcards allowed), None if there is none.
        The server finds it from its per-subject index, without walking the stream."""
        got, status = await self._ask(stream, {"last_by_subj": subject_filter}, subject_filter, timeout, single=True)
        return got[0] if status == "200" and got else None

    async def once(
        self, stream: str, subject_filter: str, seq: int, batch: int, timeout: float
    ) -> tuple[list[Msg], bool]:
        request = {"seq": seq, "next_by_subj": subject_filter, "batch": batch}
        got, status = await self._ask(stream, request, subject_filter, timeout, single=False)
        if status == "404":
            return [], False
        more = bool(got) and int(got[-1].headers.get("Nats-Num-Pending", "0")) > 0
        return got, more

    async def batch(self, stream: str, subject_filter: str, start_seq: int, timeout: float) -> list[Msg]:
        out: list[Msg] = []
        seq = start_seq
        while True:
            got, more = await self.once(stream, subject_filter, seq, 1000, timeout)
            out.extend(got)
            if not more or not got:
                return out
            seq = int(got[-1].headers["Nats-Sequence"]) + 1


async def _subject_by_subject(
    nc: NATS, gets: _DirectGets, stream: str, subject_filter: str, timeout: float, tries: int = 3
) -> list[Msg] | None:
    """Every message of one aggregate, in stream order, read subject by subject: the server
    finds a literal subject's messages from its per-subject index, where a read on the
    aggregate's wildcard walks the stream from its start (its cost grew with the log).

    The leader's stream info is the snapshot: its last sequence and each subject's count.
    What was appended after it is left out (a subject new since then would be missed while
    an older subject's later message was kept: a history with a hole), and each subject
    must then hold exactly its count; None if a replica that answered had fewer."""
    for _ in range(tries):
        try:
            info = await js_api(nc, f"STREAM.INFO.{stream}", {"subjects_filter": subject_filter}, timeout=timeout)
        except Exception as exc:
            if not _unanswered(exc):
                raise
            raise EventStoreUnavailable(f"{stream} did not count {subject_filter}: {exc!r}") from exc
        counts: dict[str, int] = info["state"].get("subjects") or {}
        last = int(info["state"].get("last_seq", 0))
        parts = await asyncio.gather(*(gets.batch(stream, subject, 1, timeout) for subject in counts))
        parts = [[m for m in part if int(m.headers["Nats-Sequence"]) <= last] for part in parts]
        if all(len(part) == counts[subject] for subject, part in zip(counts, parts, strict=True)):
            return sorted((m for part in parts for m in part), key=lambda m: int(m.headers["Nats-Sequence"]))
    return None


class AggregateReader:
    """Every message of an aggregate (a subject filter, wildcards allowed), raw, as the store
    reads a history it does not remember: for tools that show the log (``baton trace``)."""

    def __init__(self, nc: NATS, timeout: float = 5.0) -> None:
        self.nc, self.timeout = nc, timeout
        self._gets = _DirectGets(nc)

    async def messages(self, stream: str, subject_filter: str) -> list[Msg] | None:
        """In stream order; None when a replica answered with fewer than the leader counts."""
        return await _subject_by_subject(self.nc, self._gets, stream, subject_filter, self.timeout)

    async def close(self) -> None:
        await self._gets.close()


@dataclass(frozen=True, slots=True)
class _Remembered:
    """A history this store loaded or appended to lately, decoded, and its last message."""

    events: tuple[RecordedEvent, ...]
    last_seq: int
    last_msg_id: str


class PublishFailed(Exception):
    """nats-py refused a publish: its connection closed under it (a server killed, say)."""


def _connection_broke(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionClosedError, OutboundBufferLimitError, OSError)):
        return True
    # uvloop: "unable to perform operation on <TCPTransport closed=True ...>; the handler is closed"
    return isinstance(exc, RuntimeError) and "closed" in str(exc)


def _unanswered(exc: BaseException) -> bool:
    """A question to the server that got no answer: an outage, not a defect."""
    return isinstance(exc, (JetStreamApiError, NatsTimeout, NoRespondersError, TimeoutError)) or _connection_broke(exc)


async def _publish(nc: NATS, subject: str, body: bytes, **kwargs) -> None:
    try:
        await nc.publish(subject, body, **kwargs)
    except Exception as exc:
        if _connection_broke(exc):
            raise PublishFailed(repr(exc)) from exc
        raise


def _check_connected(nc: NATS | None) -> None:
    if nc is None:
        raise EventStoreUnavailable("the event store has no connection yet (its service is starting)")


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class JetStreamEventStore:
    def __init__(
        self,
        nc: NATS | None,
        spec: StreamSpec,
        registry: EventRegistry,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        cache_size: int = 4096,
        replicas: int | None = None,
        fresh_attempts: int = 6,
        fresh_wait: float = 0.02,
    ) -> None:
        self.spec = spec
        self.stream_name = spec.name
        self.registry = registry
        self.timeout = timeout
        self.attempts = attempts
        # Histories loaded lately, decoded, by subject filter: a load then reads only what
        # came after (``cache_size`` 0 turns it off).
        self.remembered: LRUCache[str, _Remembered] = LRUCache(cache_size)
        self.cache_size = cache_size
        # The stream's replicas (None: asked of the server at the first load). With more
        # than one, reads are checked against the leader (module docstring).
        self.replicas = replicas
        self.fresh_attempts, self.fresh_wait = fresh_attempts, fresh_wait
        # The highest sequence an append to the aggregate was acknowledged with, here.
        self._acked: LRUCache[str, int] = LRUCache(ACKED_REMEMBERED)
        self._appended_count = metrics.APPENDS.labels(self.stream_name)
        self.connect(nc)

    def connect(self, nc: NATS | None) -> None:
        """Work through ``nc`` from now on: a service's store is made with its runtime (None)
        and connected when the runtime starts. What was remembered is forgotten."""
        self.nc = nc
        self._acks = _AckMux(nc)
        self._gets = _DirectGets(nc)
        self._jsm = nc.jsm(timeout=self.timeout) if nc is not None else None
        self.remembered.clear()

    # --- reads -------------------------------------------------------------

    async def history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        """The aggregate's history.

        A history this store loaded or appended to lately is remembered, decoded. Loading
        it again first asks the server for the aggregate's last message (found from the
        server's per-subject index): if that is still the one remembered (same sequence,
        same ``Nats-Msg-Id``), nothing is read or decoded. If it is newer (another
        replica appended), only what follows the remembered message is fetched. If the
        remembered message is gone or changed (a stream recreated, say), the whole
        history is read again.

        Why not fetch "what follows" every time: asking the server for the next messages
        of a wildcard subject from a sequence makes it walk the stream from there to its
        end, ten times the server's CPU of the last-message lookup (docs/architecture.md)."""
        subject_filter = self.spec.aggregate_filter(aggregate_type, aggregate_id)
        if not await self._replicated():
            history = await self._read(subject_filter, 0)
            if history is None:  # only if the server's own count disagreed with its answers, twice
                raise EventStoreUnavailable(f"{subject_filter} read from {self.stream_name} came back short")
            return history
        for attempt in range(self.fresh_attempts):
            history = await self._read(subject_filter, await self._floor(subject_filter))
            if history is not None:
                if attempt:
                    metrics.STALE_READS.labels(self.stream_name, "caught-up").inc()
                return history
            await asyncio.sleep(self.fresh_wait * 2**attempt)
        metrics.STALE_READS.labels(self.stream_name, "gave-up").inc()
        # Perhaps a stale floor (a stream made again): the next load trusts the leader alone.
        self._acked.drop(subject_filter)
        self.remembered.drop(subject_filter)
        raise LogBehind(f"the replica reading {subject_filter} from {self.stream_name} stayed behind its leader")

    async def _read(self, subject_filter: str, floor: int) -> AggregateHistory | None:
        """The aggregate's history from whichever replica answers; None if that replica has
        less than ``floor`` (its answer is behind what was acknowledged)."""
        cached = self.remembered.get(subject_filter)
        if cached is not None:
            last = await self._gets.last(self.stream_name, subject_filter, self.timeout)
            last_seq = int(last.headers["Nats-Sequence"]) if last is not None else 0
            if floor and last_seq < max(floor, cached.last_seq):
                return None  # behind the leader, or behind what this store saw: not proof of a change
            if last is not None and self._is_last_remembered(last, cached):
                self.remembered.touch(subject_filter)  # unless others dropped it meanwhile
                return AggregateHistory(list(cached.events), cached.last_seq)
            if last_seq > cached.last_seq:
                msgs = await self._gets.batch(self.stream_name, subject_filter, cached.last_seq, self.timeout)
                if msgs and self._is_last_remembered(msgs[0], cached):
                    if _behind(msgs, cached.last_seq, floor):
                        return None
                    return self._remember(subject_filter, msgs, cached.events + tuple(self._decode_all(msgs[1:])))
            self.remembered.drop(subject_filter)
        msgs = await self._whole_history(subject_filter)
        if msgs is None or _behind(msgs, 1, floor):
            return None
        return self._remember(subject_filter, msgs, tuple(self._decode_all(msgs)))

    async def _whole_history(self, subject_filter: str) -> list[Msg] | None:
        return await _subject_by_subject(self.nc, self._gets, self.stream_name, subject_filter, self.timeout)

    async def _replicated(self) -> bool:
        if self.replicas is None:
            _check_connected(self.nc)
            try:
                info = await js_api(self.nc, f"STREAM.INFO.{self.stream_name}", {}, timeout=self.timeout)
            except Exception as exc:
                if not _unanswered(exc):
                    raise
                raise EventStoreUnavailable(f"{self.stream_name} did not say its replicas: {exc!r}") from exc
            self.replicas = int(info["config"].get("num_replicas", 1))
        return self.replicas > 1

    async def _floor(self, subject_filter: str) -> int:
        """What a read of the aggregate must reach: the leader's last sequence for it, or the
        last one this process was acknowledged for, whichever is higher."""
        acked = self._acked.get(subject_filter) or 0
        _check_connected(self.nc)
        try:
            last = await self._jsm.get_last_msg(self.stream_name, subject_filter)
        except NotFoundError:
            return acked  # no message (or no stream): the direct read tells
        except Exception as exc:
            if not (_unanswered(exc) or isinstance(exc, APIError)):
                raise
            raise EventStoreUnavailable(f"the leader of {self.stream_name} did not answer: {exc!r}") from exc
        return max(acked, int(last.seq or 0))

    def _acknowledged(self, subject_filter: str, seq: int) -> None:
        self._acked.put(subject_filter, max(seq, self._acked.get(subject_filter) or 0))

    async def remembered_history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        """The remembered history, without asking the server (see ``EventStore.remembered_history``);
        ``history`` when nothing is remembered.

        ``history``'s question (the aggregate's last message) is a round trip per command. A
        command that appends needs no such question: the server checks the version it was
        decided on (``Nats-Expected-Last-Subject-Sequence``)."""
        remembered = self._remembered(aggregate_type, aggregate_id)
        return remembered if remembered is not None else await self.history(aggregate_type, aggregate_id)

    async def history_through(self, aggregate_type: str, aggregate_id: str, position: int) -> AggregateHistory:
        """The aggregate's history at least as far as ``position``, for a read that shows a
        projection's row at that version beside the events behind it. A remembered history
        that reaches ``position`` is given without asking the server: every event of the
        aggregate up to its last remembered message is in it (the stream only grows), and
        later ones are the caller's to cut. Otherwise it is ``history``.

        The question ``history`` asks (the aggregate's last message) was a round trip to
        nats-server on every work-order read, most of whose histories this store had just
        appended to (a work order opens with the reaction's append)."""
        remembered = self._remembered(aggregate_type, aggregate_id)
        if remembered is not None and remembered.version >= position:
            return remembered
        return await self.history(aggregate_type, aggregate_id)

    def _remembered(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory | None:
        """The remembered history (``remembered``: not checked with the server), if any."""
        subject_filter = self.spec.aggregate_filter(aggregate_type, aggregate_id)
        cached = self.remembered.get(subject_filter)
        if cached is None:
            return None
        self.remembered.touch(subject_filter)
        return AggregateHistory(list(cached.events), cached.last_seq, remembered=True)

    @staticmethod
    def _is_last_remembered(msg: Msg, cached: _Remembered) -> bool:
        headers = msg.headers or {}
        return (
            int(headers.get("Nats-Sequence", 0)) == cached.last_seq and headers.get("Nats-Msg-Id") == cached.last_msg_id
        )

    def _decode_all(self, msgs: list[Msg]) -> list[RecordedEvent]:
        events = []
        for m in msgs:
            seq, subject = int(m.headers["Nats-Sequence"]), m.headers["Nats-Subject"]
            try:
                events.append(self.registry.decode(self.stream_name, seq, subject, m.data))
            except (MalformedEvent, UnknownSchemaVersion) as exc:
                # Not an event this code can read: the aggregate is rebuilt without it
                # (it never passed our rules), and ops see it with `baton events show`.
                log.error(
                    "unreadable message in an aggregate's history", subject=subject, seq=seq, error=str(exc)[:300]
                )
        return events

    def _remember(self, subject_filter: str, msgs: list[Msg], events: tuple[RecordedEvent, ...]) -> AggregateHistory:
        if not msgs:
            return AggregateHistory(list(events), 0)
        last = msgs[-1].headers
        last_seq = int(last["Nats-Sequence"])
        msg_id = last.get("Nats-Msg-Id")
        if msg_id:
            self.remembered.put(subject_filter, _Remembered(events, last_seq, msg_id))
        return AggregateHistory(list(events), last_seq)

    def _remember_appended(
        self, subject_filter: str, expected_version: int, messages: list[tuple[str, bytes, str]], first: int
    ) -> None:
        """Extend a remembered history with what this store just appended to it, so the
        next command on the aggregate needs no read. Only when the append was decided on
        exactly the remembered history (or on an empty one): the server's concurrency
        check then guarantees nothing came between."""
        if self.cache_size <= 0:
            return
        cached = self.remembered.get(subject_filter)
        if expected_version == 0:
            before: tuple[RecordedEvent, ...] = ()
        elif cached is not None and cached.last_seq == expected_version:
            before = cached.events
        else:
            self.remembered.drop(subject_filter)
            return
        try:
            # Decoded from the very bytes stored, so the history equals a fresh read.
            appended = tuple(
                self.registry.decode(self.stream_name, first + n, subject, body)
                for n, (subject, body, _id) in enumerate(messages)
            )
        except (MalformedEvent, UnknownSchemaVersion):
            self.remembered.drop(subject_filter)
            return
        self.remembered.put(subject_filter, _Remembered(before + appended, first + len(messages) - 1, messages[-1][2]))

    async def head(self) -> int:
        info = await js_api(self.nc, f"STREAM.INFO.{self.stream_name}", {}, timeout=self.timeout)
        return int(info["state"]["last_seq"])

    # --- appends -----------------------------------------------------------

    async def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
    ) -> AppendResult:
        if not events:
            raise ValueError("nothing to append")
        if len(events) > MAX_BATCH:
            raise ValueError(f"one command may append at most {MAX_BATCH} events, got {len(events)}")
        subject_filter = self.spec.aggregate_filter(aggregate_type, aggregate_id)
        messages = []
        for new in events:
            envelope = new.envelope(aggregate_id)
            messages.append(
                (
                    self.spec.subject(aggregate_type, aggregate_id, envelope.event_type),
                    self.registry.encode(envelope),
                    new.event_id,
                )
            )
        ids = tuple(m[2] for m in messages)
        label = f"{aggregate_type} {aggregate_id}"
        last_error: Exception | None = None
        unknown = False  # an attempt went unanswered: it may have been stored
        for _attempt in range(self.attempts):
            try:
                ack = await self._publish(messages, subject_filter, expected_version)
            except NoRespondersError as exc:
                last_error = exc  # nothing stored: wait for a stream leader, then retry
                await asyncio.sleep(0.5 * (_attempt + 1))
                continue
            except (TimeoutError, NatsTimeout) as exc:
                last_error, unknown = exc, True  # unknown outcome: retry with the same ids
                continue
            except PublishFailed as exc:
                # The connection broke under the publish; nats-py keeps what it had not written
                # and sends it once reconnected, so it may yet be stored: retry with the same ids.
                last_error, unknown = exc, True
                await asyncio.sleep(0.25 * (_attempt + 1))
                continue
            error = ack.get("error")
            if error is None:
                last = int(ack["seq"])
                self._appended_count.inc(len(ids))
                self._acknowledged(subject_filter, last)
                if ack.get("duplicate"):
                    self.remembered.drop(subject_filter)  # stored earlier: where is not ours to assume
                else:
                    self._remember_appended(subject_filter, expected_version, messages, last - len(ids) + 1)
                return AppendResult(self.stream_name, last - len(ids) + 1, last, ids)
            if error.get("err_code") in (WRONG_LAST_SEQUENCE, WRONG_LAST_SEQUENCE_IN_FLIGHT, BATCH_DUPLICATE_MSG_ID):
                try:
                    stored = await self._stored_after(subject_filter, expected_version, ids)
                except EventStoreUnavailable as exc:  # whether our ids are stored is not known
                    raise AppendUnconfirmed(f"append to {label} not confirmed: {exc}") from exc
                finally:
                    # Behind, whatever the look finds (or if it fails): the next command loads.
                    self.remembered.drop(subject_filter)
                if stored is not None:
                    self._acknowledged(subject_filter, stored[1])
                    return AppendResult(self.stream_name, stored[0], stored[1], ids)
                metrics.CONFLICTS.labels(self.stream_name).inc()
                raise ConcurrencyConflict(label, expected_version, error.get("description", ""))
            refused = f"append to {label} refused: {error}"
            raise (
                AppendUnconfirmed(f"{refused}, after an unanswered attempt")
                if unknown
                else EventStoreUnavailable(refused)
            )
        message = f"append to {label} not confirmed after {self.attempts} attempts: {last_error!r}"
        raise AppendUnconfirmed(message) if unknown else EventStoreUnavailable(message)

    async def _publish(
        self, messages: list[tuple[str, bytes, str]], subject_filter: str, expected_version: int
    ) -> dict:
        expect = {
            "Nats-Expected-Last-Subject-Sequence": str(expected_version),
            "Nats-Expected-Last-Subject-Sequence-Subject": subject_filter,
        }
        if len(messages) == 1:
            subject, body, event_id = messages[0]
            reply = await self._acks.request(subject, body, {"Nats-Msg-Id": event_id, **expect}, self.timeout)
            return orjson.loads(reply)
        _check_connected(self.nc)
        batch_id = uuid.uuid4().hex
        last = len(messages)
        for n, (subject, body, event_id) in enumerate(messages, start=1):
            headers = {"Nats-Msg-Id": event_id, "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(n)}
            if n == 1:
                headers.update(expect)
            if n < last:
                await _publish(self.nc, subject, body, headers=headers)
            else:
                headers["Nats-Batch-Commit"] = "1"
                return orjson.loads(await self._acks.request(subject, body, headers, self.timeout))
        raise AssertionError("unreachable")

    async def _stored_after(
        self, subject_filter: str, expected_version: int, ids: tuple[str, ...]
    ) -> tuple[int, int] | None:
        """Where this append's events already are, if an earlier attempt stored them.

        Stored, they follow ``expected_version`` (the check passed), contiguously (one
        atomic batch), though not necessarily last: another writer may have appended
        since. So the aggregate's messages after ``expected_version`` are read and every
        id is matched, not only the last one of the aggregate."""
        msgs = await self._fresh_batch(subject_filter, expected_version + 1)
        stored = [m.headers.get("Nats-Msg-Id") for m in msgs]
        if ids[0] not in stored:
            return None
        start = stored.index(ids[0])
        if tuple(stored[start : start + len(ids)]) != ids:
            # An atomic batch is stored whole or not at all: this is not our append's doing.
            raise EventStoreUnavailable(
                f"append to {subject_filter}: only part of its events found after {expected_version}"
            )
        run = msgs[start : start + len(ids)]
        return int(run[0].headers["Nats-Sequence"]), int(run[-1].headers["Nats-Sequence"])

    async def _fresh_batch(self, subject_filter: str, start_seq: int) -> list[Msg]:
        """The aggregate's messages from ``start_seq``, read until a replica has them as far
        as the leader: a lagging one would hide an earlier attempt's events (a conflict
        answered for an append that was stored)."""
        if not await self._replicated():
            return await self._gets.batch(self.stream_name, subject_filter, start_seq, self.timeout)
        for attempt in range(self.fresh_attempts):
            floor = await self._floor(subject_filter)
            msgs = await self._gets.batch(self.stream_name, subject_filter, start_seq, self.timeout)
            if not _behind(msgs, start_seq, floor):
                return msgs
            await asyncio.sleep(self.fresh_wait * 2**attempt)
        metrics.STALE_READS.labels(self.stream_name, "gave-up").inc()
        raise LogBehind(f"the replica reading {subject_filter} from {self.stream_name} stayed behind its leader")


def _behind(msgs: list[Msg], start_seq: int, floor: int) -> bool:
    """Whether messages read from ``start_seq`` stop short of ``floor``."""
    if floor < start_seq:
        return False
    return not msgs or int(msgs[-1].headers["Nats-Sequence"]) < floor
