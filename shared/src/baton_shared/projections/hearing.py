"""A feed that hears only the event types its projections fold.

The stream's sequence numbers then leave holes in what it is delivered: the events it is
not sent. Two facts tell such a hole from a lost delivery:

- its consumer counts what it hands out, one by one: a batch whose counts follow on from
  the last applied one missed nothing the filter passes (``HeardThrough``);
- the log itself answers whether any event the filter passes lies in a range
  (``nothing_heard_between``): what read-your-writes and ``/health`` ask before a
  projection counts as having reached a position it was never sent.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from nats.aio.client import Client as NATS

from baton_shared.contracts.streams import StreamSpec
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.projections.base import Projection

NO_MESSAGE = 10037  # STREAM.MSG.GET: nothing at or after that sequence on that subject


@dataclass(frozen=True, slots=True)
class HeardThrough:
    """Everything the filter passes after stream sequence ``since`` is in ``seqs``, in order:
    the sequences between them are events not meant for this feed. Shaped like ``LogGaps``,
    so the runners' check that a batch follows on takes either."""

    since: int
    seqs: tuple[int, ...]  # ascending

    def next_held(self, seq: int) -> int:
        if seq <= self.since:
            return seq  # before what this feed was last delivered: not known to be skippable
        i = bisect_left(self.seqs, seq)
        return self.seqs[i] if i < len(self.seqs) else seq


def subjects_heard(spec: StreamSpec, projections: Iterable[Projection]) -> list[str] | None:
    """The subjects a feed of ``projections`` on ``spec``'s stream is delivered: the event types
    they fold, when every one names them; None (every event) otherwise."""
    folds = [p.folds for p in projections]
    if any(f is None for f in folds):
        return None
    types = {t for f in folds for t in f}
    if any(t.service != spec.subject_root for t in types):
        raise ValueError(f"a feed of {spec.name} folds only its events: {sorted(t.__name__ for t in types)}")
    return sorted(spec.type_filter(t.event_type) for t in types)


async def first_heard_after(nc: NATS, stream: str, subjects: Sequence[str], after: int) -> tuple[int, float] | None:
    """The first event after ``after`` matching ``subjects``: its sequence and when it was
    stored (Unix seconds); None if there is none yet."""
    found: list[tuple[int, float]] = []
    for subject in subjects:
        try:
            reply = await js_api(nc, f"STREAM.MSG.GET.{stream}", {"seq": after + 1, "next_by_subj": subject})
        except JetStreamApiError as exc:
            if exc.err_code == NO_MESSAGE:
                continue
            raise
        found.append((int(reply["message"]["seq"]), stored_at(reply["message"]["time"])))
    return min(found, default=None)


def stored_at(stamp: str) -> float:
    """Unix seconds of the server's RFC 3339 time, nanoseconds cut to what ``datetime`` holds."""
    whole, _, rest = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(rest or '0')[:6]}+00:00").timestamp()


async def nothing_heard_between(nc: NATS, stream: str, subjects: Sequence[str], after: int, through: int) -> bool:
    """Whether no event in ``stream`` after ``after`` through ``through`` matches ``subjects``."""
    first = await first_heard_after(nc, stream, subjects, after)
    return first is None or first[0] > through
