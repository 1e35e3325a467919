"""The one least-recently-used cache (baton_shared.lru)."""

import pytest

from baton_shared.lru import LRUCache

pytestmark = pytest.mark.unit


def test_the_least_recently_used_entry_goes_first():
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.touch("a")  # b is now the least recently used
    cache.put("c", 3)
    assert list(cache) == ["a", "c"] and cache.get("b") is None


def test_get_does_not_mark_used_and_take_removes():
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)  # a was only read: still the oldest
    assert "a" not in cache and cache.take("b") == 2 and "b" not in cache and len(cache) == 1
    cache.drop("c")
    cache.touch("gone")
    assert len(cache) == 0


def test_size_zero_keeps_nothing():
    cache: LRUCache[str, int] = LRUCache(0)
    cache.put("a", 1)
    assert len(cache) == 0
