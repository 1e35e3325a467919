"""UUID strings as ``str(uuid.uuid4())``, ``str(uuid.uuid5(...))`` and ``str(uuid.UUID(int=...))``
give them, without a ``uuid.UUID`` object or a system call each: a write names several.

Random bytes come from ``os.urandom`` a page at a time; a forked child drops what it inherited,
so parent and child never hand out the same id.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid

_PAGE = 4096
_pool = bytearray()
_lock = threading.Lock()


def _afresh_in_child() -> None:
    """A forked child draws bytes of its own, under a lock no thread of its parent holds."""
    global _lock
    _pool.clear()
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_afresh_in_child)

_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VARIANT = 0x8000 << 48  # RFC 4122


def of_int(value: int) -> str:
    """``str(uuid.UUID(int=value))``."""
    if not 0 <= value < 1 << 128:
        raise ValueError("int is out of range (need a 128-bit value)")
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_uuid() -> str:
    """A version-4 UUID from the OS's random source."""
    with _lock:
        if len(_pool) < 16:
            _pool[:] = os.urandom(_PAGE)
        drawn = int.from_bytes(_pool[-16:], "big")
        del _pool[-16:]
    return of_int((drawn & _VERSION_MASK) | (4 << 76) | _VARIANT)


def name_based(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``: the same namespace and name always give the same id."""
    digest = hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    return of_int((int.from_bytes(digest[:16], "big") & _VERSION_MASK) | (5 << 76) | _VARIANT)
