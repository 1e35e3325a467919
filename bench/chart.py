"""The figures of a benchmark run as one PNG (matplotlib):

.venv/bin/python bench/chart.py [bench/results/latest.json] [docs/benchmarks.png]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def render(results: dict, path: Path) -> None:
    throughput: list[tuple[str, float, str]] = []  # label, events/s, colour
    baton, ceiling, peer = "#2b6cb0", "#a0aec0", "#dd6b20"
    s = results.get("store", {})
    if s:
        throughput += [
            ("appends, awaited", s["appends_awaited_per_s"], baton),
            ("appends, pipelined", s["appends_pipelined_per_s"], baton),
        ]
    c = results.get("ceilings", {})
    for key, label in (
        ("baton_reader_raw_events_per_s", "read alone (no decode)"),
        ("baton_reader_decode_events_per_s", "read + decode: Baton reader"),
        ("ordered_consumer_decode_events_per_s", "read + decode: ordered consumer"),
    ):
        if key in c:
            throughput.append((label, c[key], ceiling))
    for name in ("clients", "timeline"):
        if f"pg_copy_{name}" in c:
            throughput.append(
                (f"ceiling: PG COPY, {name} rows", c[f"pg_copy_{name}"]["events_equivalent_per_s"], ceiling)
            )
    for key, f in results.get("catch_up", {}).items():
        if "rebuild_events_per_s" not in f:
            continue
        projection, db = key.split("_", 1)
        db = "PG" if db == "postgresql" else "SQLite"
        throughput.append((f"catch-up {projection} -> {db}", f["catch_up_events_per_s"], baton))
        throughput.append((f"rebuild {projection} -> {db}", f["rebuild_events_per_s"], baton))
    es = results.get("eventsourcing")
    if es:
        sync = results.get("catch_up", {}).get("clients_postgresql_synchronous")
        if sync:
            throughput.append(("catch-up clients -> PG, synchronous commits", sync["catch_up_events_per_s"], baton))
        throughput.append(("eventsourcing projection -> PG", es["projection_events_per_s"], peer))
        throughput.append(("eventsourcing follower -> PG", es["follower_events_per_s"], peer))
    w = {k: v for k, v in results.get("writes", {}).items() if isinstance(v, dict) and "alone" in v}
    for service, f in w.items():
        throughput.append((f"HTTP writes, {service} alone", f["alone"]["commands_per_s"], baton))
        throughput.append((f"HTTP writes, {service}, all services", f["system"]["commands_per_s"], baton))

    latency: list[tuple[str, float, float, float]] = []  # label, p50, p99, target
    targets = results.get("targets", {})  # the run's own targets (older runs: those of their day)
    for section, beside in (("live_lag", ""), ("live_lag_beside_rebuild", ", rebuild beside")):
        for db, f in results.get(section, {}).items():
            if isinstance(f, dict) and "all" in f:
                label = f"live lag @{f['rate_target']:.0f} ev/s, {db}{beside}"
                latency.append((label, f["all"]["p50_ms"], f["all"]["p99_ms"], targets.get("lag_p99_ms", 25)))
    writes_target = targets.get("writes_p99_ms", 50)
    for service, f in w.items():
        latency.append((f"HTTP write, {service} alone", f["alone"]["p50_ms"], f["alone"]["p99_ms"], writes_target))
        latency.append(
            (f"HTTP write, {service}, all services", f["system"]["p50_ms"], f["system"]["p99_ms"], writes_target)
        )
    for e in results.get("e2e", {}).values():
        h = e["handoff_to_readable"]
        label = f"handoff -> readable @{e['rate_target']:.0f}/s"
        latency.append((label, h["p50_ms"], h["p99_ms"], targets.get("e2e_p99_ms", 50)))

    fig, axes = plt.subplots(
        1, 2, figsize=(15, max(4.5, 0.38 * len(throughput) + 1.5)), gridspec_kw={"width_ratios": [3, 2]}
    )
    ax = axes[0]
    labels = [t[0] for t in throughput][::-1]
    values = [t[1] for t in throughput][::-1]
    colours = [t[2] for t in throughput][::-1]
    bars = ax.barh(labels, values, color=colours)
    ax.set_xscale("log")
    ax.set_xlabel("per second (log scale)")
    events = results.get("stream", {}).get("events")
    ax.set_title(f"Throughput{f' (stream of {events:,} events)' if events else ''}")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width() * 1.05, bar.get_y() + bar.get_height() / 2, f"{value:,.0f}", va="center", fontsize=8)
    ax.set_xlim(right=max(values, default=1) * 4)
    ax.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=x) for x in (baton, ceiling, peer)],
        labels=["Baton", "ceilings of the run", "eventsourcing library"],
        loc="lower right",
        fontsize=8,
    )

    ax = axes[1]
    if latency:
        labels = [x[0] for x in latency][::-1]
        y = range(len(labels))
        p50 = [x[1] for x in latency][::-1]
        p99 = [x[2] for x in latency][::-1]
        ax.barh([i + 0.2 for i in y], p99, height=0.4, color="#90cdf4", label="p99")
        ax.barh([i - 0.2 for i in y], p50, height=0.4, color=baton, label="p50")
        for i, x in enumerate(latency[::-1]):
            ax.plot([x[3], x[3]], [i - 0.45, i + 0.45], color="#c53030", linewidth=2)
            ax.text(x[2], i + 0.2, f" {x[2]:.1f}", va="center", fontsize=8)
        ax.set_yticks(list(y), labels)
        ax.set_xscale("log")
        # below 1 ms where a p50 is (live lag on SQLite: ~0.8 ms), or its bar is not drawn
        ax.set_xlim(left=min([1.0, *(v / 2 for v in p50 if v > 0)]), right=max(p99) * 4)
        ax.set_xlabel("milliseconds, log scale (red: the target for p99)")
        ax.set_title("Latency")
        ax.legend(fontsize=8, loc="lower right")
    else:
        ax.axis("off")
    m = results.get("machine", {})
    fig.suptitle(
        f"Baton benchmarks, {results.get('started', '')}: {m.get('cpus')} cpus, python {m.get('python')}, "
        f"nats-server {m.get('nats_server', '?')}, load average {m.get('loadavg_start')}",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "results" / "latest.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).parent / "results" / "figures.png"
    render(json.loads(source.read_text()), target)
    print(target)
