"""A month of events with the disorder of real feeds, loaded as a backlog before the worker
starts, compared figure by figure with an independent computation (tests/month/oracle.py,
written from domain.md, sharing no code with the pipeline).

This is the situation the first release failed in: after an outage, on a replay, or when a
province's past month is loaded, the worker catches up on topics it reads at uneven pace.
Every stored day figure (per hall, day and category) and the monthly assessment must equal
the oracle's: counts exactly, sums to 1e-9 relative. The second run kills the worker twice
with SIGKILL in the middle of the catch-up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timezone
from functools import cache

import pytest

from hallpulse import kafka_local
from tests.chaos.harness import restores_short_of_changelogs
from tests.month import oracle
from tests.month.feed import DEFAULT_HALLS, month_feed
from tests.pipeline import ROOT, WorkerProcess, caught_up, produce_raw, wait_for, worker_env

pytestmark = pytest.mark.integration
PERIOD = "2026-10"
DAY_SQL = """
    SELECT * EXCEPT (version) FROM day_metrics FINAL
    WHERE hall_id IN {halls:Array(String)} AND day >= '2026-09-30' AND day < '2026-11-03'
"""


@cache
def feed() -> list:
    return month_feed(month=PERIOD, hall_ids=DEFAULT_HALLS)


@cache
def expected() -> tuple[dict, dict]:
    now = datetime.now(timezone.utc)
    rows = oracle.day_figures(feed(), now=now)
    return rows, oracle.assessment(feed(), period=PERIOD, now=now, rows=rows)


def _backlog_worker(kafka_bootstrap, tmp_path) -> WorkerProcess:
    var = tmp_path / "var"
    env = worker_env(kafka_bootstrap, var, HALLPULSE__SINK__BATCH_SECONDS="3")
    w = WorkerProcess(env, var, tmp_path / "worker.log")
    kafka_local.ensure_topics(w.settings)
    assert produce_raw(w.settings, feed()) == len(feed())
    return w


def _store_days(w: WorkerProcess) -> list[dict]:
    return w.store().query(DAY_SQL, {"halls": DEFAULT_HALLS}).dicts()


def _assess(w: WorkerProcess) -> dict:
    env = {**os.environ, **w.env, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "hallpulse", "assess", "--period", PERIOD, "--level", "hall",
                          "--format", "json"], env=env, cwd=w.var_dir.parent, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _finish_and_compare(w: WorkerProcess) -> None:
    settings = w.settings
    wait_for(lambda: caught_up(settings, settings.worker.app_id), 900, "the worker to catch up on the backlog",
             interval=2)
    w.wait_flushed(timeout=300)
    rows, assessment = expected()
    problems = oracle.compare_days(rows, _store_days(w))
    assert not problems, "\n".join(problems[:40])
    problems = oracle.compare_assessment(assessment, _assess(w))
    assert not problems, "\n".join(problems[:40])


def test_a_month_loaded_as_a_backlog_gives_the_independent_figures(kafka_bootstrap, tmp_path):
    w = _backlog_worker(kafka_bootstrap, tmp_path)
    try:
        w.start()
        _finish_and_compare(w)
        stats = w.stats()["engine"]
        assert stats["late"] > 0 and stats["duplicates"] > 0  # the feed's disorder reached the engine
    except BaseException:
        print(w.log_tail())
        raise
    finally:
        w.stop()


def test_the_same_month_with_the_worker_killed_twice_during_catch_up(kafka_bootstrap, tmp_path):
    w = _backlog_worker(kafka_bootstrap, tmp_path)
    total = len(feed())
    try:
        for share in (0.25, 0.6):
            w.start()

            def far_enough():
                c = w.stats()["engine"]
                return c["processed"] + c["duplicates"] + c["dead_letters"] >= share * total / 2
            wait_for(far_enough, 600, f"the worker to get {share:.0%} of the way", interval=0.2)
            w.kill(signal.SIGKILL)
        w.start()
        _finish_and_compare(w)
        # and each restart came back with every table whole (faust_fixes #11)
        short, checked = restores_short_of_changelogs(w)
        assert len(checked) >= 3 and not short, "\n".join(short + checked)
    except BaseException:
        print(w.log_tail())
        raise
    finally:
        w.stop()
