"""How many times each person signed out of the console: the ``SIGN_OUTS`` stream.

A console session remembers the count when it began; a sign-out on any console replica
adds one here, so every replica can tell that a copied cookie's session has ended
(``GET /v1/me/sign-outs``). One message per person (the latest count), on a subject made
from a hash of the person's name. Why a stream: every intake replica reaches it, it is
replicated like the log, and it is no projection, so rebuilds never touch it. Why not an
event: a sign-out is no fact about a client or their work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from baton_shared.eventstore.port import EventStoreUnavailable
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api

STREAM = "SIGN_OUTS"
SUBJECT_ROOT = "sign_outs"


def stream_config(replicas: int = 1) -> dict[str, Any]:
    return {
        "name": STREAM,
        "subjects": [f"{SUBJECT_ROOT}.>"],
        "retention": "limits",
        "storage": "file",
        "num_replicas": replicas,
        "discard": "old",
        "max_msgs_per_subject": 1,
        "allow_direct": True,
        "deny_delete": True,
        "deny_purge": True,
    }


class SignOuts:
    def __init__(self, nc_provider: Callable[[], Any], replicas: int = 1, timeout: float = 5.0) -> None:
        self._nc = nc_provider  # the runtime's connection exists only once it started
        self.replicas = replicas
        self.timeout = timeout
        self._ready = False

    @staticmethod
    def subject(name: str) -> str:
        return f"{SUBJECT_ROOT}.{hashlib.sha256(name.encode()).hexdigest()[:40]}"

    async def _ensure(self) -> None:
        if self._ready:
            return
        from nats.errors import NoRespondersError

        nc, wanted = self._nc(), stream_config(self.replicas)
        try:
            try:
                info = await js_api(nc, f"STREAM.INFO.{STREAM}")
                if any(info["config"].get(k) != v for k, v in wanted.items()):
                    await js_api(nc, f"STREAM.UPDATE.{STREAM}", {**info["config"], **wanted})
            except JetStreamApiError as exc:
                if exc.err_code != 10059:  # not found
                    raise
                try:
                    await js_api(nc, f"STREAM.CREATE.{STREAM}", wanted)
                except JetStreamApiError as again:
                    if again.err_code != 10058:  # made meanwhile by another replica
                        raise
        except (TimeoutError, OSError, NoRespondersError) as exc:
            raise EventStoreUnavailable(f"the sign-outs did not answer: {exc!r}") from exc
        self._ready = True

    async def _request(self, subject: str, body: bytes) -> Any:
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        try:
            return await self._nc().request(subject, body, timeout=self.timeout)
        except (NoRespondersError, NatsTimeout) as exc:
            raise EventStoreUnavailable(f"the sign-outs did not answer: {exc!r}") from exc

    async def latest(self, name: str) -> dict:
        """``{"sign_outs": n, "last_at": ISO time or None}`` for this person."""
        await self._ensure()
        reply = await self._request(f"$JS.API.DIRECT.GET.{STREAM}", orjson.dumps({"last_by_subj": self.subject(name)}))
        status = (reply.headers or {}).get("Status")
        if status == "404":
            return {"sign_outs": 0, "last_at": None}
        if status:
            raise RuntimeError(f"reading the sign-outs of {name}: status {status}")
        stored = orjson.loads(reply.data)
        return {"sign_outs": int(stored["sign_outs"]), "last_at": stored["last_at"]}

    async def record(self, name: str) -> dict:
        """One more sign-out for this person (two at once may both count one: each still ends
        every session that began before it)."""
        now = {"sign_outs": (await self.latest(name))["sign_outs"] + 1, "last_at": datetime.now(UTC).isoformat()}
        ack = orjson.loads((await self._request(self.subject(name), orjson.dumps(now))).data)
        if "error" in ack:
            raise EventStoreUnavailable(f"the sign-out was not stored: {ack['error']}")
        return now
