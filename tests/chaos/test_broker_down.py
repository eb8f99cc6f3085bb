"""Trial 2, broker down: the broker is killed with SIGKILL in the middle of a steady feed
and started again 30 s later. The worker and the sink must come back by themselves (no
restart, no manual step), and the store must then equal the independent recomputation:
nothing lost, nothing doubled.

The feed's producer keeps what the broker did not acknowledge and sends it again once the
broker is back, as a queue machine's outbox would; the reckoning reads the input topics
back, so a message the producer had to send twice is judged as the broker holds it.
"""

from __future__ import annotations

import time

from hallpulse import kafka_local
from tests.chaos.harness import SteadyFeed, judged, settle_and_reckon
from tests.chaos.trials import trial
from tests.month.feed import month_feed
from tests.pipeline import WorkerProcess, wait_for, worker_env

HALLS = ["JS-NJ-0001", "JS-SZ-0002", "JS-WX-0002"]
RATE = 1000.0
DOWN_S = 30.0


def test_broker_killed_mid_feed_and_back_30_s_later(own_broker, tmp_path):
    row = trial("broker down")
    msgs = month_feed(month="2026-10", hall_ids=HALLS, seed=5, visits_per_day=120)
    row.load = f"{len(msgs):,} events, {len(HALLS)} halls × 31 days, fed at {RATE:,.0f}/s"
    var = tmp_path / "var"
    var.mkdir()
    w = WorkerProcess(worker_env(own_broker.bootstrap, var, HALLPULSE__SINK__BATCH_SECONDS="1"), var,
                      tmp_path / "worker.log")
    kafka_local.ensure_topics(w.settings)
    with judged(row, w):
        w.start()
        f = SteadyFeed(w.settings, msgs, RATE)
        f.start()
        wait_for(lambda: f.sent >= len(msgs) * 0.4, 300, "the feed to get under way", interval=0.2)
        seen_before = w.stats()["engine"]["processed"]
        own_broker.kill()
        row.faults = f"broker SIGKILL at {f.sent:,} events sent, started again {DOWN_S:.0f} s later"
        time.sleep(DOWN_S)
        assert w.proc.poll() is None, "the worker exited while the broker was down:\n" + w.log_tail()
        assert w.sink.proc.poll() is None, "the sink exited while the broker was down:\n" + w.sink.log_tail()
        back = time.monotonic()
        own_broker.up()
        up_s = time.monotonic() - back

        def processing_again():
            return w.stats()["engine"]["processed"] > seen_before and f.sent > len(msgs) * 0.45
        wait_for(processing_again, 300, "the worker to process again after the broker came back", interval=0.2)
        resumed = time.monotonic() - back
        row.recovery = f"broker up in {up_s:.1f} s; worker processing {resumed:.1f} s after the restart began"
        settle_and_reckon(w, f, row, note=f"; the feed resent {f.resent:,} unacknowledged messages")
        assert w.proc.poll() is None and w.sink.proc.poll() is None, "a process exited after the outage"
