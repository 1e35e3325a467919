"""Python's cyclic garbage collector, tuned for a long-running service.

With CPython's defaults (700, 10, 10) a service under write load, its aggregate cache
and read models holding many objects, ran a full (generation 2) collection every few
seconds, each stopping the event loop long enough to dominate the write p99. Fewer,
larger young collections and far fewer full ones keep the tail down at the same CPU
(figures: docs/architecture.md, "Performance").

Cycles still get collected: young ones by the (now larger) generation-0 passes, old
ones by a full collection every 100 generation-1 passes (and CPython only runs one
when long-lived objects have grown by a quarter), which at a few hundred writes a
second is every few minutes rather than every few seconds. Reference counting frees
everything that is not a cycle at once, as before.
"""

from __future__ import annotations

import gc

THRESHOLDS = (10_000, 50, 100)
# The ops tool's rebuilds and verifications hold one batch of a few thousand decoded events
# at a time: a young generation larger than a batch lets each batch die uncollected. A
# service keeps THRESHOLDS: each young collection there pauses requests, and would walk ten
# times the objects.
BULK_THRESHOLDS = (100_000, 50, 100)


def tune_garbage_collection(thresholds: tuple[int, int, int] = THRESHOLDS) -> None:
    """Set the collector's thresholds for a service process (call once, at start)."""
    gc.set_threshold(*thresholds)
