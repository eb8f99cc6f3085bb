"""Stream processing speed and memory: prints events/s, latency percentiles and RSS.

Two measurements:

* ``engine``: the worker's plain-Python engine alone on simulator events (no Kafka):
  the ceiling of one worker process. Per-message latency is the time of one
  ``Engine.process`` call; a sink batch (all pending minutes, visits, surveys) is built
  at the end and timed too.
* ``e2e`` (``--e2e``): the real path. Starts a worker process on the local broker (or
  ``KAFKA_BOOTSTRAP``), produces the same events at ``--rate`` messages/s and samples the
  worker's processed count every 50 ms; the latency of message k is the time from its
  send to the sample where the worker had processed k messages. Also the time until
  everything is in ClickHouse.

Usage::

    .venv/bin/python bench/bench_stream.py --halls 36 --minutes 600
    .venv/bin/python bench/bench_stream.py --halls 12 --minutes 240 --e2e --rate 1500
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hallpulse.catalogue import load_catalogue  # noqa: E402
from hallpulse.config import Settings  # noqa: E402
from hallpulse.simulator import generate  # noqa: E402
from streams.alerts import load_alert_rules  # noqa: E402
from streams.engine import Engine  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def messages(halls: int, minutes: float, seed: int):
    settings = Settings()
    catalogue = load_catalogue(settings.catalogue_file)
    return settings, catalogue, list(generate(catalogue, halls=halls, minutes=minutes, seed=seed))


def bench_engine(halls: int, minutes: float, seed: int) -> None:
    settings, catalogue, msgs = messages(halls, minutes, seed)
    engine = Engine(catalogue, load_alert_rules(settings.alert_rules_file))
    gc.collect()
    base_rss = rss_mb()
    lat = []
    t0 = time.perf_counter()
    for m in msgs:
        s = time.perf_counter()
        engine.process(m.topic_kind, m.value)
        lat.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t0
    from sinks.facts import build_batch

    pending, alerts = engine.take_pending()
    s = time.perf_counter()
    batch = build_batch(engine, pending, alerts)
    batch_s = time.perf_counter() - s
    print(f"engine: {len(msgs)} messages ({halls} halls × {minutes:g} min), {elapsed:.2f} s "
          f"→ {len(msgs) / elapsed:,.0f} events/s")
    print(f"  per message: p50 {pct(lat, .5) * 1e6:.0f} µs, p99 {pct(lat, .99) * 1e6:.0f} µs, "
          f"max {max(lat) * 1e3:.1f} ms; dead letters {engine.counts['dead_letters']}")
    print(f"  sink batch of everything: {len(batch.visits):,} visits, {len(batch.surveys):,} surveys, "
          f"{len(batch.gauges):,} gauge rows built in {batch_s:.2f} s")
    print(f"  RSS: peak {rss_mb():.0f} MB (before processing {base_rss:.0f} MB)")


def bench_e2e(halls: int, minutes: float, seed: int, rate: float) -> None:
    import os

    from kafka import KafkaProducer

    from hallpulse import kafka_local
    from tests.pipeline import WorkerProcess, wait_for, worker_env

    settings, _, msgs = messages(halls, minutes, seed)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP") or kafka_local.up(settings)
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp) / "var"
        env = worker_env(bootstrap, var, HALLPULSE__WORKER__FLUSH_INTERVAL_SECONDS="2",
                         HALLPULSE__TOPICS__PARTITIONS="4")
        worker = WorkerProcess(env, var, Path(tmp) / "worker.log").start()
        try:
            ws = worker.settings
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=2)
            sent_at = []
            samples: list[tuple[float, int]] = []
            t0 = time.perf_counter()
            next_sample = t0
            for i, m in enumerate(msgs):
                due = t0 + i / rate
                while (left := due - time.perf_counter()) > 0:
                    time.sleep(min(0.001, left))
                producer.send(getattr(ws.topics, m.topic_kind), key=m.key.encode(), value=m.value)
                sent_at.append(time.perf_counter())
                if sent_at[-1] >= next_sample:
                    producer.flush()
                    c = worker.stats()["engine"]
                    samples.append((time.perf_counter(), c["processed"] + c["duplicates"] + c["dead_letters"]))
                    next_sample += 0.05
            producer.flush()
            while samples[-1][1] < len(msgs):
                c = worker.stats()["engine"]
                samples.append((time.perf_counter(), c["processed"] + c["duplicates"] + c["dead_letters"]))
                time.sleep(0.05)
            t_done = samples[-1][0]
            worker.wait_flushed(timeout=300)
            t_stored = time.perf_counter()
            lat, j = [], 0
            for k, t_sent in enumerate(sent_at, start=1):
                while samples[j][1] < k:
                    j += 1
                lat.append(max(0.0, samples[j][0] - t_sent))
            rss = wait_for(lambda: _worker_rss(worker.proc.pid), 5, "worker RSS")
            print(f"e2e: {len(msgs)} messages offered at {rate:,.0f}/s; processed in {t_done - t0:.1f} s "
                  f"→ {len(msgs) / (t_done - t0):,.0f} events/s sustained")
            print(f"  send → processed latency: p50 {statistics.median(lat) * 1e3:.0f} ms, "
                  f"p90 {pct(lat, .9) * 1e3:.0f} ms, p99 {pct(lat, .99) * 1e3:.0f} ms, max {max(lat) * 1e3:.0f} ms "
                  f"(sampling every 50 ms)")
            print(f"  last message → everything in ClickHouse: {t_stored - t_done:.1f} s")
            print(f"  worker RSS: {rss:.0f} MB; stats: {worker.stats()['sink']}")
        finally:
            worker.stop()


def _worker_rss(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--halls", type=int, default=36)
    ap.add_argument("--minutes", type=float, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--e2e", action="store_true", help="through the real broker and a worker process")
    ap.add_argument("--rate", type=float, default=1500, help="messages/s offered in --e2e")
    a = ap.parse_args()
    if a.e2e:
        bench_e2e(a.halls, a.minutes, a.seed, a.rate)
    else:
        bench_engine(a.halls, a.minutes, a.seed)


if __name__ == "__main__":
    main()
