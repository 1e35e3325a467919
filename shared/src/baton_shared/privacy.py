"""Personal data in an append-only log: crypto-shredding with a key per client.

Contact details (names of people, e-mail addresses, phone numbers) are written to
events only encrypted (AES-256-GCM) with a data key of their own client. The data
keys live outside the log, in the JetStream stream ``CLIENT_KEYS`` (one message per
client, subject ``client_keys.<client_id>``), each wrapped (AES-256-GCM) by the
master key from ``BATON_MASTER_KEY``. Forgetting a client erases its key message
(``STREAM.MSG.DELETE`` overwrites the stored bytes); every copy of the events,
exports and backups included, then holds ciphertext nobody can open, while the rest
of the client's history stays as it was.

Readers open sealed data when they show it (``PersonalDataVault.open``): a missing
key reads as erased (``None``), never as an error.

A copy of the broker's store taken before a forget still holds that client's key: the
record of forgotten clients (``baton_shared.forgotten``), kept apart from the store,
is what destroys it again after a restore.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from baton_shared.contracts.sealed import SealedData
from baton_shared.contracts.streams import check_token
from baton_shared.eventstore.port import EventStoreUnavailable
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api

from baton_shared.lru import LRUCache

if TYPE_CHECKING:
    from baton_shared.forgotten import ForgottenClients

KEYS_STREAM = "CLIENT_KEYS"
KEYS_SUBJECT_ROOT = "client_keys"
HELD_PER_REQUEST = 256  # subjects in one batched direct get (the server caps a request's subjects)


class KeyUnavailable(Exception):
    """A data key exists but cannot be unwrapped (wrong master key): a configuration error, not an erasure."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _aad(key_id: str, purpose: str) -> bytes:
    return f"baton:{purpose}:{key_id}".encode()


def seal(key: bytes, key_id: str, purpose: str, value: Any) -> SealedData:
    nonce = os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, orjson.dumps(value), _aad(key_id, purpose))
    return SealedData(key_id=key_id, nonce=_b64(nonce), ciphertext=_b64(ct))


def unseal(key: bytes, purpose: str, sealed: SealedData) -> Any:
    pt = AESGCM(key).decrypt(_unb64(sealed.nonce), _unb64(sealed.ciphertext), _aad(sealed.key_id, purpose))
    return orjson.loads(pt)


# --- the master key ------------------------------------------------------------------


class MasterKey:
    """Wraps and unwraps the per-client data keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the master key must be 32 bytes (base64 in BATON_MASTER_KEY)")
        self._aead = AESGCM(key)
        self.fingerprint = hashlib.sha256(b"baton-master-key:" + key).hexdigest()[:16]
        self._derivation = hmac.new(key, b"baton-derived-keys", hashlib.sha256).digest()

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (the contact groups' HMAC), derived from the master key."""
        return hmac.new(self._derivation, purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except ValueError as exc:
            raise ValueError("BATON_MASTER_KEY is not base64") from exc
        return cls(raw)

    @classmethod
    def generate_text(cls) -> str:
        return _b64(secrets.token_bytes(32))

    def wrap(self, client_id: str, data_key: bytes) -> bytes:
        nonce = os.urandom(12)
        wrapped = self._aead.encrypt(nonce, data_key, _aad(client_id, "client-key"))
        return orjson.dumps({"v": 1, "kek": self.fingerprint, "nonce": _b64(nonce), "wrapped": _b64(wrapped)})

    def unwrap(self, client_id: str, stored: bytes) -> bytes:
        doc = orjson.loads(stored)
        if doc.get("kek") != self.fingerprint:
            raise KeyUnavailable(
                f"the data key of client {client_id} was wrapped by master key {doc.get('kek')}, "
                f"this process has {self.fingerprint}: set BATON_MASTER_KEY to the key the system was started with"
            )
        try:
            return self._aead.decrypt(_unb64(doc["nonce"]), _unb64(doc["wrapped"]), _aad(client_id, "client-key"))
        except InvalidTag as exc:
            raise KeyUnavailable(f"the data key of client {client_id} does not unwrap") from exc


def load_master_key(configured: str | None, data_dir: Path) -> MasterKey:
    """``BATON_MASTER_KEY`` if set; otherwise ``<data_dir>/master.key``, generated on first start
    (the embedded run and the tests). Compose always sets it: a container's data folder is not
    where a key that must outlive the container belongs."""
    if configured:
        return MasterKey.from_base64(configured)
    path = data_dir / "master.key"
    if not path.exists():
        # The services start together: the key is written whole beside its place, then linked
        # there (which never replaces a key another process put first), so none reads half of it.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".master.key.")  # readable by its owner only
        draft = Path(name)
        with os.fdopen(fd, "w") as f:
            f.write(MasterKey.generate_text() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another service's key came first: it is the one
        finally:
            draft.unlink()
    return MasterKey.from_base64(path.read_text())


# --- where the data keys are kept ------------------------------------------------------


class ClientKeyStore(Protocol):
    async def get(self, client_id: str) -> bytes | None: ...

    async def create(self, client_id: str) -> bytes:
        """The client's data key, made now if it has none."""
        ...

    async def destroy(self, client_id: str) -> bool:
        """Destroy the client's data key; whether there was one."""
        ...

    async def held(self, client_ids: Iterable[str]) -> set[str]:
        """The clients among these whose data key is stored."""
        ...


class MemoryKeyStore:
    """For tests and tools that write without a broker."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    async def get(self, client_id: str) -> bytes | None:
        return self.keys.get(client_id)

    async def create(self, client_id: str) -> bytes:
        return self.keys.setdefault(client_id, AESGCM.generate_key(256))

    async def destroy(self, client_id: str) -> bool:
        return self.keys.pop(client_id, None) is not None

    async def held(self, client_ids: Iterable[str]) -> set[str]:
        return {c for c in client_ids if c in self.keys}


def keys_stream_config(replicas: int = 1) -> dict[str, Any]:
    return {
        "name": KEYS_STREAM,
        "subjects": [f"{KEYS_SUBJECT_ROOT}.>"],
        "retention": "limits",
        "storage": "file",
        "num_replicas": replicas,
        "discard": "old",
        "max_msgs_per_subject": 1,
        "allow_direct": True,
        "deny_delete": False,  # forgetting a client deletes its key message
        "deny_purge": True,
    }


# "wrong last sequence": 10071 with the subject's sequence; 10164 without it, from a replicated
# stream while another write to the subject is in flight
WRONG_LAST_SEQUENCE = (10071, 10164)


class JetStreamKeyStore:
    """Data keys in the ``CLIENT_KEYS`` stream, wrapped by the master key.

    Why a stream and not a table: every replica of intake reaches it, it is replicated
    like the log (a lost projection database loses no key), and it is not part of any
    projection, so rebuilds never touch it. Why not in the event streams: they deny
    deletes and are exported and copied; a key must be deletable for real.
    """

    def __init__(
        self, nc_provider, master: MasterKey | None, replicas: int = 1, timeout: float = 5.0, provision: bool = True
    ) -> None:
        self._nc = nc_provider  # a callable: the runtime's connection exists only once it started
        self.master = master  # None: it can only destroy keys (the ops tool holds no master key)
        self.replicas = replicas
        self.timeout = timeout
        self._ready = not provision  # False: the stream exists already, leave its configuration alone

    @staticmethod
    def subject(client_id: str) -> str:
        return f"{KEYS_SUBJECT_ROOT}.{check_token(client_id, 'client id')}"

    async def _ensure(self) -> None:
        if self._ready:
            return
        nc, wanted = self._nc(), keys_stream_config(self.replicas)
        try:
            info = await js_api(nc, f"STREAM.INFO.{KEYS_STREAM}")
            current = info["config"]
            if any(current.get(k) != v for k, v in wanted.items()):
                await js_api(nc, f"STREAM.UPDATE.{KEYS_STREAM}", {**current, **wanted})
        except JetStreamApiError as exc:
            if exc.err_code != 10059:
                raise
            try:
                await js_api(nc, f"STREAM.CREATE.{KEYS_STREAM}", wanted)
            except JetStreamApiError as again:
                if again.err_code != 10058:  # made meanwhile by another replica
                    raise
        self._ready = True

    async def _request(self, subject: str, body: bytes, headers: dict[str, str] | None = None) -> Any:
        """A request to the key stream. No answer (no responders while the stream elects a
        leader, a timeout) is an outage of the log: 503, retry; not a 500."""
        try:
            return await self._nc().request(subject, body, timeout=self.timeout, headers=headers)
        except (NoRespondersError, NatsTimeout) as exc:
            raise EventStoreUnavailable(f"the client keys did not answer: {exc!r}") from exc

    async def _stored(self, client_id: str) -> tuple[int, bytes] | None:
        await self._ensure()
        reply = await self._request(
            f"$JS.API.DIRECT.GET.{KEYS_STREAM}", orjson.dumps({"last_by_subj": self.subject(client_id)})
        )
        headers = reply.headers or {}
        if headers.get("Status") == "404":
            return None
        if headers.get("Status"):
            raise RuntimeError(f"reading the key of client {client_id}: status {headers.get('Status')}")
        return int(headers["Nats-Sequence"]), reply.data

    async def held(self, client_ids: Iterable[str]) -> set[str]:
        """The clients among these whose key is stored, asked ``HELD_PER_REQUEST`` at a time
        (one batched direct get for many subjects, not a round trip each)."""
        await self._ensure()
        wanted = sorted(client_ids)
        found: set[str] = set()
        for start in range(0, len(wanted), HELD_PER_REQUEST):
            found |= await self._held_among(wanted[start : start + HELD_PER_REQUEST])
        return found

    async def _held_among(self, client_ids: list[str]) -> set[str]:
        nc = self._nc()
        subjects: list[str] = []
        ended = asyncio.get_running_loop().create_future()

        async def on_reply(msg) -> None:
            status = (msg.headers or {}).get("Status")
            if status is None:
                subjects.append(msg.headers["Nats-Subject"])
            elif not ended.done():
                ended.set_result(status)  # 204 after the last one, 404 when none is stored

        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, cb=on_reply)
        try:
            request = {"multi_last": [self.subject(c) for c in client_ids], "batch": len(client_ids)}
            await nc.publish(f"$JS.API.DIRECT.GET.{KEYS_STREAM}", orjson.dumps(request), reply=inbox)
            status = await asyncio.wait_for(ended, self.timeout)
        finally:
            await sub.unsubscribe()
        if status not in ("204", "404"):
            raise RuntimeError(f"asking which of {len(client_ids)} clients have a key: status {status}")
        return {subject.split(".", 1)[1] for subject in subjects}

    async def get(self, client_id: str) -> bytes | None:
        stored = await self._stored(client_id)
        return None if stored is None else self.master.unwrap(client_id, stored[1])

    async def create(self, client_id: str) -> bytes:
        existing = await self.get(client_id)
        if existing is not None:
            return existing
        key = AESGCM.generate_key(256)
        reply = await self._request(
            self.subject(client_id),
            self.master.wrap(client_id, key),
            headers={"Nats-Expected-Last-Subject-Sequence": "0"},  # never replace a client's key
        )
        ack = orjson.loads(reply.data)
        if "error" in ack:
            if ack["error"].get("err_code") in WRONG_LAST_SEQUENCE:  # another writer got there first: use theirs
                return await self._theirs(client_id)
            if ack["error"].get("code") == 503:
                raise EventStoreUnavailable(f"storing the key of client {client_id}: {ack['error']}")
            raise RuntimeError(f"storing the key of client {client_id}: {ack['error']}")
        return key

    async def _theirs(self, client_id: str, patience: float = 2.0) -> bytes:
        """The key another writer stored, or is storing: on a replicated stream the refusal
        can come while their write is still in flight (10164), so it may take a moment."""
        deadline = asyncio.get_running_loop().time() + patience
        while (theirs := await self.get(client_id)) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise EventStoreUnavailable(f"the key of client {client_id} is being stored by another writer")
            await asyncio.sleep(0.05)
        return theirs

    async def destroy(self, client_id: str) -> bool:
        destroyed = False
        while (stored := await self._stored(client_id)) is not None:
            try:
                # no_erase defaults to false: the server overwrites the stored message.
                await js_api(self._nc(), f"STREAM.MSG.DELETE.{KEYS_STREAM}", {"seq": stored[0]})
                destroyed = True
            except JetStreamApiError as exc:
                if exc.err_code not in (10037, 10057):  # already gone (a concurrent forget)
                    raise
        return destroyed


# --- sealing and opening, with a cache ---------------------------------------------------


class PersonalDataVault:
    """Seals personal data under its client's key and opens it for display.

    Keys are cached (bounded); ``forget`` drops the cached key with the stored one.
    Another process may hold a cached key for a moment after a forget: readers also
    honour ``ClientForgotten`` (projections blank what they kept).

    With the record of forgotten clients (``forgotten``), a forget is recorded there
    first, and a client this process knows as forgotten never opens, even if a restored
    store brought its key back before the record was applied again.
    """

    def __init__(self, keys: ClientKeyStore, cache_size: int = 4096, forgotten: ForgottenClients | None = None) -> None:
        self.keys = keys
        self.forgotten = forgotten
        self._keys_held: LRUCache[str, bytes] = LRUCache(cache_size)

    async def seal(self, client_id: str, purpose: str, value: Any) -> SealedData:
        key = self._keys_held.get(client_id)
        if key is None:
            key = await self.keys.create(client_id)
            self._keys_held.put(client_id, key)
        return seal(key, client_id, purpose, value)

    async def open(self, purpose: str, sealed: SealedData | dict | None) -> Any | None:
        """The plaintext, or None when it was erased (its key is gone)."""
        if sealed is None:
            return None
        if isinstance(sealed, dict):
            sealed = SealedData.model_validate(sealed)
        if self.forgotten is not None and self.forgotten.holds(sealed.key_id):
            return None
        key = self._keys_held.get(sealed.key_id)
        if key is None:
            key = await self.keys.get(sealed.key_id)
            if key is None:
                return None
            self._keys_held.put(sealed.key_id, key)
        return unseal(key, purpose, sealed)

    async def forget(self, client_id: str) -> bool:
        """Record the client as forgotten (durably, before anything is destroyed), then
        destroy its key; whether there was a key."""
        if self.forgotten is not None:
            await self.forgotten.add(client_id)
        self._keys_held.drop(client_id)
        destroyed = await self.keys.destroy(client_id)
        self._keys_held.drop(client_id)
        return destroyed
