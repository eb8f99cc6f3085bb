"""Trials 3 and 4: the store refuses writes for 60 s, and the store's disk fills up.

In both, events keep flowing. The worker does not touch the store (the sink owns it), so
its live API must keep answering; the sink must hold what it cannot write (one batch, its
offsets uncommitted: the rest waits on the facts topic, so memory stays bounded), say why
in its log and ``/api/stats``, and write everything once the store is back. The store
then equals the independent recomputation: nothing lost, nothing doubled.

* Store outage: every directory of the embedded store is made immutable (``chattr +i``):
  reads still work, every write is refused by the kernel, as a failing volume would.
* Disk full: the data directory is a small ext4 file system of its own; a ballast file
  takes its last free byte while the feed runs, and is deleted 40 s later.
"""

from __future__ import annotations

import time
import urllib.request
from contextlib import contextmanager

from hallpulse import kafka_local
from tests.chaos.harness import SteadyFeed, fill, freeze, judged, rss_mb, settle_and_reckon
from tests.chaos.trials import trial
from tests.month.feed import month_feed
from tests.pipeline import WorkerProcess, wait_for, worker_env

HALLS = ["JS-NJ-0005", "JS-SZ-0006", "JS-NJ-0001"]
RATE = 800.0
OUTAGE_S = 60.0
FULL_S = 40.0


@contextmanager
def thawed(path):
    """The store's directories writable again at the end, whatever happened."""
    try:
        yield
    finally:
        freeze(path, on=False)


def _pipeline(kafka_bootstrap: str, root, tmp_path) -> WorkerProcess:
    var = root / "var"
    var.mkdir()
    w = WorkerProcess(worker_env(kafka_bootstrap, var, HALLPULSE__SINK__BATCH_SECONDS="1",
                                 HALLPULSE__SINK__RETRY_MAX_SECONDS="4"), var, tmp_path / "worker.log")
    kafka_local.ensure_topics(w.settings)
    return w


def _live_probe(w: WorkerProcess, hall: str) -> float:
    t0 = time.perf_counter()
    with urllib.request.urlopen(f"{w.url}/api/halls/{hall}/now", timeout=5) as r:
        assert r.status == 200
    return time.perf_counter() - t0


def _during(w: WorkerProcess, seconds: float, want_failing: str) -> dict:
    """Watch the pipeline for ``seconds``: the live API's answer times, both processes'
    RSS, what the sink holds and says."""
    probes, rss_w, rss_s, held, failing = [], [], [], 0, set()
    processed0 = w.stats()["engine"]["processed"]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        probes.append(_live_probe(w, HALLS[0]))
        rss_w.append(rss_mb(w.proc.pid))
        rss_s.append(rss_mb(w.sink.proc.pid))
        s = w.sink.stats()["sink"]
        held = max(held, s["held_messages"])
        failing.add(s["failing"])
        assert w.proc.poll() is None and w.sink.proc.poll() is None, "a process exited during the fault"
        time.sleep(1.0)
    assert want_failing in failing, f"the sink never said {want_failing!r} (it said {failing})"
    return {"live_max_s": max(probes), "rss_worker": max(rss_w), "rss_sink": max(rss_s), "held": held,
            "processed": w.stats()["engine"]["processed"] - processed0}


def _land_and_reckon(w: WorkerProcess, f: SteadyFeed, row, since: float) -> None:
    settle_and_reckon(w, f, row)
    row.recovery += f"; everything stored {time.monotonic() - since:.0f} s after"


def test_store_refuses_writes_for_60_s(kafka_bootstrap, small_disk, tmp_path):
    row = trial("store outage")
    msgs = month_feed(month="2026-10", hall_ids=HALLS, seed=9, visits_per_day=120)
    row.load = f"{len(msgs):,} events, {len(HALLS)} halls × 31 days, fed at {RATE:,.0f}/s"
    w = _pipeline(kafka_bootstrap, small_disk(600), tmp_path)
    with judged(row, w), thawed(w.settings.chdb_path):
        w.start()
        f = SteadyFeed(w.settings, msgs, RATE)
        f.start()
        wait_for(lambda: w.sink.stats()["sink"]["writes"] >= 3, 300, "the sink to write", interval=0.5)
        freeze(w.settings.chdb_path)
        row.faults = f"every write of the store refused for {OUTAGE_S:.0f} s (chattr +i), feed running"
        seen = _during(w, OUTAGE_S, "refused")
        freeze(w.settings.chdb_path, on=False)
        back = time.monotonic()
        batch = w.settings.sink.batch_messages
        assert seen["held"] <= batch, "the sink held more than one batch"
        assert seen["processed"] > 0, "the worker stopped processing while the store was down"
        row.recovery = (f"live API answered throughout (slowest {seen['live_max_s'] * 1000:.0f} ms); during the "
                        f"outage RSS worker {seen['rss_worker']:.0f} MB, sink {seen['rss_sink']:.0f} MB, sink held "
                        f"{seen['held']:,} messages (≤ one batch of {batch:,}), worker processed {seen['processed']:,}")
        _land_and_reckon(w, f, row, back)


def test_disk_full_holds_input_and_resumes(kafka_bootstrap, small_disk, tmp_path):
    row = trial("disk full")
    msgs = month_feed(month="2026-10", hall_ids=HALLS, seed=13, visits_per_day=120)
    row.load = f"{len(msgs):,} events, {len(HALLS)} halls × 31 days, fed at {RATE:,.0f}/s"
    disk = small_disk(300)
    w = _pipeline(kafka_bootstrap, disk, tmp_path)
    with judged(row, w):
        w.start()
        f = SteadyFeed(w.settings, msgs, RATE)
        f.start()
        wait_for(lambda: w.sink.stats()["sink"]["writes"] >= 3, 300, "the sink to write", interval=0.5)
        ballast = fill(disk)
        row.faults = f"the data directory's 300 MB file system filled to the last byte for {FULL_S:.0f} s"
        seen = _during(w, FULL_S, "disk_full")
        said = (tmp_path / "worker-sink.log").read_text(errors="replace")
        assert "sink.disk_full" in said and "disk is full" in said, "the sink did not say the disk is full"
        ballast.unlink()
        back = time.monotonic()
        row.recovery = (f"sink said 'disk full' and held {seen['held']:,} messages; live API slowest "
                        f"{seen['live_max_s'] * 1000:.0f} ms; RSS worker {seen['rss_worker']:.0f} MB, "
                        f"sink {seen['rss_sink']:.0f} MB")
        _land_and_reckon(w, f, row, back)
