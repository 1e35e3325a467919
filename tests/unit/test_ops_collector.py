"""The ``baton`` tool runs with the bulk collector thresholds: its rebuilds hold batches of
decoded events, which CPython's defaults answered with full collections."""

import gc

from baton_ops import cli
from baton_shared.service.garbage_collection import BULK_THRESHOLDS


def test_the_ops_tool_tunes_the_collector_before_any_command(monkeypatch):
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    seen = []
    monkeypatch.setattr(cli, "app", lambda: seen.append(gc.get_threshold()))
    try:
        cli.main()
    finally:
        gc.set_threshold(*before)
    assert seen == [BULK_THRESHOLDS]
