"""A least-recently-used cache: the remembered histories, the aggregate cache and the data keys keep one."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """At most ``size`` entries; putting one more drops the least recently used (``size`` 0 keeps none)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The entry, without marking it used (see ``touch``)."""
        return self._entries.get(key)

    def touch(self, key: K) -> None:
        """Mark an entry as the most recently used, if it is still there."""
        if key in self._entries:
            self._entries.move_to_end(key)

    def put(self, key: K, value: V) -> None:
        if self.size <= 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def take(self, key: K) -> V | None:
        """Remove the entry and give it (None if there is none)."""
        return self._entries.pop(key, None)

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._entries))
