"""Progress on anything long: a bar with events/s and time left, on stderr (stdout stays for results)."""

from __future__ import annotations

import time
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from baton_ops.terminal import errors


@contextmanager
def progress(label: str):
    """A progress bar on stderr (events, events/s, time left); yields ``advance(position, end)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} events/s"),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None, rate="-")
        started = time.monotonic()
        first: list[int] = []

        def advance(position: int, end: int) -> None:
            if not first:
                first.append(position)
            done = position - first[0]
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=position, total=end, rate=f"{done / elapsed:,.0f}")

        yield advance
