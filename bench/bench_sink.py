"""The sink's fact writer alone, without Kafka: where a write of the store spends its time.

Runs :class:`streams.engine.Engine` over the simulator's events for the first N halls (seed
1, the input of `make bench` rows 1–4), splits its facts and alerts into ``--batches``
consecutive sink batches, and writes them with :class:`sinks.facts.FactWriter` into a fresh
embedded store (a temporary directory), as the sink would. Prints each write's time, then
the time of every store call by statement (the rollups by their ``.sql`` name) and the
Python in between. The end-to-end figures are `make bench` (bench/run.py).

    .venv/bin/python bench/bench_sink.py --halls 36 --minutes 600 --batches 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hallpulse.config import Settings  # noqa: E402
from hallpulse.gc_tuning import tune_gc  # noqa: E402
from hallpulse.simulator import generate  # noqa: E402
from schemas.catalogue import load_catalogue  # noqa: E402
from schemas.facts import facts_from_builtins  # noqa: E402
from sinks.facts import FactWriter, batch_from_facts  # noqa: E402
from sinks.migrate import apply_migrations  # noqa: E402
from sinks.sql import load_sql  # noqa: E402
from sinks.store import open_store  # noqa: E402
from streams.alerts import load_alert_rules  # noqa: E402
from streams.engine import Engine  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))
NAMED = ("rollup_minute", "rollup_hour", "rollup_day", "surveys_known", "gauge_keys", "visit_events_get")


def first_line(sql) -> str:
    return sql.strip().splitlines()[0][:70] if isinstance(sql, str) else str(sql)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--halls", type=int, default=36)
    ap.add_argument("--minutes", type=float, default=600)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--gc-threshold", type=int, default=None,
                    help="as [gc_threshold] (default: the configured one, as the sink runs; 0: Python's default)")
    a = ap.parse_args()

    settings = Settings(var_dir=Path(tempfile.mkdtemp(prefix="hallpulse-bench-sink-")))
    catalogue = load_catalogue(settings.catalogue_file)
    start = datetime(2026, 12, 6, 9, tzinfo=SHANGHAI)  # a fixed past day: the engine refuses future events
    wall_ms = int((start + timedelta(days=1)).timestamp() * 1000)
    msgs = list(generate(catalogue, halls=a.halls, minutes=a.minutes, seed=1, start=start))
    engine = Engine(catalogue, load_alert_rules(settings.alert_rules_file), wall_ms=lambda: wall_ms)
    facts: list[list] = [[] for _ in range(a.batches)]
    alerts: list[list] = [[] for _ in range(a.batches)]
    n_msgs = len(msgs)
    for i, m in enumerate(msgs):
        out = engine.process(m.topic_kind, m.value, partition=0)
        part = i * a.batches // n_msgs
        facts[part].extend(out.facts)
        alerts[part].extend(out.alerts)

    del engine, msgs  # the sink process holds neither; what remains is frozen as the sink's start-up
    tune_gc(settings.gc_threshold if a.gc_threshold is None else a.gc_threshold)
    store = open_store(settings, hold=True)
    apply_migrations(store, settings.store.ttl_months)
    names = {first_line(load_sql(n)): n for n in NAMED}
    spent: Counter = Counter()
    calls: Counter = Counter()

    def timed(kind: str, call):
        def run(sql, *args, **kwargs):
            key = f"{kind} {names.get(first_line(sql), first_line(sql))}"
            t = time.perf_counter()
            try:
                return call(sql, *args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t
                calls[key] += 1
        return run

    store.query, store.command, store.insert = (timed("query", store.query), timed("command", store.command),
                                                timed("insert", store.insert))
    writer = FactWriter(store, catalogue, wall_ms=lambda: wall_ms)
    writes = 0.0
    for i in range(a.batches):
        batch = batch_from_facts(facts_from_builtins(facts[i]), alerts[i])
        t = time.perf_counter()
        writer.write(batch)
        took = time.perf_counter() - t
        writes += took
        print(f"batch {i + 1}: {len(facts[i]):,} facts, {len(batch.visits):,} visits, {len(batch.gauges):,} gauge "
              f"rows: written in {took:.2f} s")
    print(f"{n_msgs:,} events in {a.batches} batches: writes {writes:.2f} s "
          f"({n_msgs / writes:,.0f} events/s of store writing)")
    for key, s in spent.most_common():
        print(f"  {s:6.2f} s {100 * s / writes:4.0f} %  {calls[key]:3d}×  {key}")
    rest = writes - sum(spent.values())
    print(f"  {rest:6.2f} s {100 * rest / writes:4.0f} %        Python around the store calls")


if __name__ == "__main__":
    main()
