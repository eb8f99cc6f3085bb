"""Trial 1, SIGKILL ×3: the worker is killed at three random moments of a steady feed of
over 200,000 events and restarted each time; every hall-day total must equal the
independent recomputation exactly, and every alert event sent must be stored once. Each
restart's tables must be its committed changelogs, read up to where its recovery read them.

The feed is a month of five halls with the disorder of real feeds (tests/month/feed.py:
late, duplicated and invalid events, uneven topics), sent at a steady pace that is faster
than one worker on this machine, so each kill finds a backlog as well as fresh events.
Restart-to-serving is the time from the kill until the new worker owns every partition
and has restored its tables (``/api/stats``: ``recovered``).
"""

from __future__ import annotations

import os
import signal
import time
from functools import cache

from hallpulse import kafka_local
from tests.chaos.harness import (SteadyFeed, describe, judged, kill_moments, restores_short_of_changelogs,
                                 settle_and_reckon)
from tests.chaos.trials import trial
from tests.month.feed import DEFAULT_HALLS, month_feed
from tests.pipeline import WorkerProcess, wait_for, worker_env

SEED = int(os.environ.get("CHAOS_SEED", "20261207"))
RATE = float(os.environ.get("CHAOS_RATE", "1500"))      # events per second fed
PARTITIONS = 2


@cache
def feed() -> list:
    return month_feed(month="2026-10", hall_ids=DEFAULT_HALLS, seed=SEED % 1000, visits_per_day=400)


def serving(w: WorkerProcess) -> bool:
    s = w.stats()
    return s["recovered"] and s["partitions"] == list(range(PARTITIONS))


def test_sigkill_three_times_during_a_steady_feed(kafka_bootstrap, tmp_path):
    row = trial("SIGKILL ×3")
    msgs = feed()
    assert len(msgs) >= 200_000
    row.load = f"{len(msgs):,} events, 5 halls × 31 days, fed at {RATE:,.0f}/s"
    var = tmp_path / "var"
    var.mkdir()
    w = WorkerProcess(worker_env(kafka_bootstrap, var, HALLPULSE__SINK__BATCH_SECONDS="2",
                                 HALLPULSE__TOPICS__PARTITIONS=str(PARTITIONS)), var, tmp_path / "worker.log")
    kafka_local.ensure_topics(w.settings)
    restarts: list[float] = []
    with judged(row, w):
        w.start()
        f = SteadyFeed(w.settings, msgs, RATE)
        t0 = time.monotonic()
        f.start()
        duration = len(msgs) / RATE
        for at in kill_moments(SEED, 3, 0.1 * duration, 0.9 * duration):
            time.sleep(max(0.0, t0 + at - time.monotonic()))
            processed = w.stats()["engine"]["processed"]
            w.kill(signal.SIGKILL)
            killed = time.monotonic()
            row.notes.append(f"killed at {at:.0f} s of the feed ({f.sent:,} sent, {processed:,} processed "
                             f"by that worker)")
            w.start()
            wait_for(lambda: serving(w), 120, "the restarted worker to serve", interval=0.2)
            restarts.append(time.monotonic() - killed)
        row.faults = "3 × SIGKILL of the worker at random moments (seed " + str(SEED) + ")"
        row.recovery = "restart to serving " + describe(restarts)
        # each start logs its restore at its first batch, which can come after it serves
        wait_for(lambda: w.log_path.read_text(errors="replace").count('"worker.restored"') >= 1 + len(restarts),
                 60, "the last restart's first batch")
        short, checked = restores_short_of_changelogs(w)
        assert len(checked) >= 1 + len(restarts), checked
        row.notes.append("keys of the tables at each restore (checked against the committed changelogs): "
                         + "; ".join(checked))
        assert not short, "\n".join(short)
        settle_and_reckon(w, f, row)
