"""The worker's engine alone, without Kafka or Faust: the ceiling of one worker's logic.

Runs :class:`streams.engine.Engine` over the simulator's events for the first N halls of
the catalogue (seed 1) in one process and prints events/s, the time per message
(percentiles) and RSS; then gathers every fact the engine emitted into the sink's batch
(``sinks.facts.batch_from_facts``) and times that too. The garbage collector is tuned as
in the worker (``[gc_threshold]``; ``--gc-threshold 0``: Python's default) and its time
is printed. The end-to-end figures (Kafka,
worker process, sink, ClickHouse) are `make bench` (bench/run.py).

    .venv/bin/python bench/bench_stream.py --halls 36 --minutes 600
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from schemas.catalogue import load_catalogue  # noqa: E402
from hallpulse.config import Settings  # noqa: E402
from hallpulse.gc_tuning import tune_gc  # noqa: E402
from hallpulse.simulator import generate  # noqa: E402
from streams.alerts import load_alert_rules  # noqa: E402
from streams.engine import Engine  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class CollectionTime:
    """Time spent in the garbage collector's collections from now on (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds, self.count, self._start = 0.0, 0, 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.count += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--halls", type=int, default=36)
    ap.add_argument("--minutes", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gc-threshold", type=int, default=None,
                    help="as [gc_threshold] (default: the configured one, as the worker runs; 0: Python's default)")
    a = ap.parse_args()

    settings = Settings()
    catalogue = load_catalogue(settings.catalogue_file)
    # yesterday from 09:00 (Shanghai): in the past, as the engine refuses future events
    start = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    msgs = list(generate(catalogue, halls=a.halls, minutes=a.minutes, seed=a.seed, start=start))
    engine = Engine(catalogue, load_alert_rules(settings.alert_rules_file))
    gc.collect()
    tune_gc(settings.gc_threshold if a.gc_threshold is None else a.gc_threshold)
    collecting = CollectionTime()
    base_rss = rss_mb()
    facts, lat = [], []
    t0 = time.perf_counter()
    for m in msgs:
        s = time.perf_counter()
        out = engine.process(m.topic_kind, m.value, partition=0)
        lat.append(time.perf_counter() - s)
        facts.extend(out.facts)
    elapsed = time.perf_counter() - t0
    gc_s = collecting.seconds
    from schemas.facts import facts_from_builtins
    from sinks.facts import batch_from_facts

    s = time.perf_counter()
    batch = batch_from_facts(facts_from_builtins(facts))
    batch_s = time.perf_counter() - s
    print(f"engine: {len(msgs):,} messages ({a.halls} halls × {a.minutes:g} min from {start:%Y-%m-%d %H:%M}), "
          f"{elapsed:.2f} s → {len(msgs) / elapsed:,.0f} events/s")
    print(f"  per message: p50 {pct(lat, .5) * 1e6:.0f} µs, p99 {pct(lat, .99) * 1e6:.0f} µs, "
          f"max {max(lat) * 1e3:.1f} ms; dead letters {engine.counts['dead_letters']}")
    print(f"  garbage collector: {gc_s:.2f} s of it in {collecting.count:,} collections "
          f"(threshold {gc.get_threshold()[0]:,})")
    print(f"  facts: {len(facts):,}, gathered into one sink batch ({len(batch.visits):,} visits, "
          f"{len(batch.surveys):,} surveys, {len(batch.gauges):,} gauge rows) in {batch_s:.2f} s")
    print(f"  RSS: peak {rss_mb():.0f} MB (before processing {base_rss:.0f} MB)")


if __name__ == "__main__":
    main()
