"""Many workers (issue #8 part 3): two workers in one consumer group give the figures of one.

A seeded simulator day (8 halls, 09:00–15:00, on topics with 4 partitions) goes through
run A, one worker and one sink, and run B, two workers and one sink, on separate topics
and application ids. The morning (batch 1) and the afternoon (batch 2) are fed one after
the other; after each, run B must have stored the same day figures (``day_metrics
FINAL``) and sent the same alerts (as a multiset of hall, category, rule, action, level
and times) as run A. Between the batches, each worker answers
``/api/halls/{id}/now`` for a hall whose partition the other owns. During batch 2 one
worker is killed with SIGKILL: the survivor must own all 4 partitions within 15 s (and
have restored their tables within 30 s), and the final figures and alerts must still
equal run A's: nothing lost, nothing doubled.

What "the same" can mean. Kafka orders a partition of one topic, not the three input
topics of a partition against each other, and a worker's live view of a queue (its
gauges, and the alerts evaluated on them) depends on whether a hall's transaction was
read before or after its next ticket: two runs of *one* worker can differ there (an
engine fed the same events in other merges of the topics gives other alerts). So:

* the day figures derived from the stored facts (everything in ``day_metrics`` but the
  three live-gauge maxima) must be equal for every hall: they do not depend on the order;
* the first hall of each partition (the "ordered" halls) sends only tickets, so its
  events reach the engine in one order in every run: its gauge maxima and its alerts must
  be equal exactly (about 300 alert events), whichever worker holds it and after the kill;
* every alert event of every hall must be well formed (:func:`alerts_well_formed`): an
  alert opened twice, or an event sent twice, breaks it; a transaction aborted by the kill
  whose alerts were visible anyway would show here.

The workers' wall-clock ticks are switched off (``tick_seconds`` = 1 h) in both runs: the
simulated day lies in the past, and a tick would take a hall to its day's end at a moment
that depends on the machine, not on the data. What the ticks do is tested elsewhere.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
import urllib.request
import uuid
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest

from hallpulse import kafka_local, simulator
from schemas.catalogue import load_catalogue
from hallpulse.config import Settings
from tests.pipeline import (ServiceProcess, WorkerProcess, alert_key, alerts_well_formed, caught_up, produce_raw,
                            read_topic, wait_for, worker_env)

pytestmark = pytest.mark.integration

PARTITIONS = 4
HALLS = 8
MINUTES = 360
START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
SPLIT = datetime.fromisoformat("2026-11-23T12:00:00+08:00")
TAKEOVER_S = 15.0  # the bound: the survivor owns every partition
# ... and has restored their tables from the changelogs (docs/operations.md says what that
# costs; measured 9-16 s after the kill on the shared 2-core machine): a bound that catches
# a takeover that hangs
RESTORED_S = 30.0
GAUGES = ("queue_len_max", "longest_wait_max_s", "est_wait_max_s")
DAY_SQL = (f"SELECT * EXCEPT (version, {', '.join(GAUGES)}) FROM day_metrics FINAL "
           "ORDER BY hall_id, category, day")
GAUGE_SQL = (f"SELECT hall_id, category, day, {', '.join(GAUGES)} FROM day_metrics FINAL "
             "WHERE hall_id IN {halls:Array(String)} ORDER BY hall_id, category, day")


def partition_of(hall_id: str) -> int:
    from kafka.partitioner.default import murmur2

    return (murmur2(hall_id.encode()) & 0x7FFFFFFF) % PARTITIONS


@cache
def load() -> tuple[list, list, list[str]]:
    """(morning, afternoon, ordered halls): the simulator's day, the ordered halls' tickets only."""
    msgs = list(simulator.generate(load_catalogue(Settings().catalogue_file), halls=HALLS, minutes=MINUTES, seed=7,
                                   start=START))
    halls = sorted({m.key for m in msgs})
    ordered = sorted(min(h for h in halls if partition_of(h) == p) for p in {partition_of(h) for h in halls})
    msgs = [m for m in msgs if m.key not in ordered or m.topic_kind == "tickets"]
    first = [m for m in msgs if m.event_time < SPLIT]   # sorted by event time: a prefix
    return first, msgs[len(first):], ordered


def env(bootstrap: str, var: Path, tag: str, guarantee: str) -> dict[str, str]:
    var.parent.mkdir(parents=True, exist_ok=True)  # the process's working directory
    return worker_env(bootstrap, var, tag, HALLPULSE__TOPICS__PARTITIONS=str(PARTITIONS),
                      HALLPULSE__WORKER__TICK_SECONDS="3600", HALLPULSE__WORKER__PROCESSING_GUARANTEE=guarantee)


def snapshot(settings: Settings, sink: WorkerProcess, resent_ok: bool = False) -> tuple[list, list, Counter]:
    """(day figures of every hall, gauge maxima of the ordered halls, the ordered halls'
    alerts) once everything is committed and written; every alert checked well formed.
    ``resent_ok``: at-least-once after a kill, an alert event may be on the topic twice
    (the same bytes: the events are processed again from the same state); those copies
    are dropped before the checks, anything else still fails them."""
    wait_for(lambda: caught_up(settings, settings.worker.app_id), 180, "the workers to commit every input",
             interval=1)
    sink.wait_flushed(timeout=120)
    store = sink.store()
    ordered = load()[2]
    days = store.query(DAY_SQL).rows
    gauges = store.query(GAUGE_SQL, {"halls": ordered}).rows
    raw = read_topic(settings, settings.topics.alerts)
    events = [json.loads(v) for v in (dict.fromkeys(raw) if resent_ok else raw)]
    problems = alerts_well_formed(events)
    assert not problems, "alerts doubled or lost:\n" + "\n".join(problems[:10])
    return days, gauges, Counter(alert_key(a) for a in events if a["hall_id"] in ordered)


def same_row(a: tuple, b: tuple) -> bool:
    """Counts exactly; sums of floats to 1e-9 relative (ClickHouse adds in part order)."""
    return len(a) == len(b) and all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) if isinstance(x, float) else x == y
                                    for x, y in zip(a, b))


def differences(got: list, want: list) -> list:
    mine, theirs = {r[:3]: r for r in got}, {r[:3]: r for r in want}
    return [(theirs.get(k), mine.get(k)) for k in sorted(theirs.keys() | mine.keys(), key=str)
            if k not in mine or k not in theirs or not same_row(mine[k], theirs[k])]


def assert_same(got: tuple, want: tuple, when: str) -> None:
    days, gauges, alerts = got
    want_days, want_gauges, want_alerts = want
    assert want_days and want_gauges and sum(want_alerts.values()) > 0, "the reference run produced nothing"
    for what, mine, theirs in (("day figures", days, want_days), ("ordered halls' gauge maxima", gauges, want_gauges)):
        differ = differences(mine, theirs)
        assert not differ, f"{when}: {len(differ)} {what} differ (want, got):\n" + "\n".join(map(str, differ[:5]))
    assert alerts == want_alerts, (f"{when}: the ordered halls' alerts differ\n"
                                   f"missing: {list((want_alerts - alerts).items())[:5]}\n"
                                   f"extra (doubled?): {list((alerts - want_alerts).items())[:5]}")
    print(f"{when}: {len(days)} day rows and the ordered halls' {sum(alerts.values())} alert events "
          "as with one worker")


def partitions(w: ServiceProcess) -> list[int] | None:
    try:
        return w.stats()["partitions"]
    except Exception:  # between lives
        return None


@pytest.fixture
def processes():
    started: list[ServiceProcess] = []
    yield started
    for p in reversed(started):
        p.kill()


@pytest.mark.parametrize("guarantee", [
    "exactly_once",
    # another 3-4 minutes: run when the at-least-once path is touched
    pytest.param("at_least_once", marks=pytest.mark.skipif(not os.environ.get("HALLPULSE_TEST_AT_LEAST_ONCE"),
                                                           reason="set HALLPULSE_TEST_AT_LEAST_ONCE=1 to run")),
])
def test_two_workers_give_the_figures_of_one_and_survive_a_kill(kafka_bootstrap, tmp_path, processes, guarantee):
    first, second, ordered = load()
    assert {partition_of(m.key) for m in first} == set(range(PARTITIONS))  # every partition has halls

    # ---- run A: one worker, one sink ---------------------------------------------------
    a_var = tmp_path / "a" / "var"
    a = WorkerProcess(env(kafka_bootstrap, a_var, "a" + uuid.uuid4().hex[:7], guarantee), a_var,
                      tmp_path / "a-worker.log")
    kafka_local.ensure_topics(a.settings)
    processes += [a.sink, a]
    a.start()
    produce_raw(a.settings, first)
    want_morning = snapshot(a.settings, a)
    produce_raw(a.settings, second)
    want_day = snapshot(a.settings, a)
    a.stop()

    # ---- run B: two workers, one sink ---------------------------------------------------
    tag = "b" + uuid.uuid4().hex[:7]
    w1 = WorkerProcess(env(kafka_bootstrap, tmp_path / "b1" / "var", tag, guarantee), tmp_path / "b1" / "var",
                       tmp_path / "b-worker1.log")
    w2 = WorkerProcess(env(kafka_bootstrap, tmp_path / "b2" / "var", tag, guarantee), tmp_path / "b2" / "var",
                       tmp_path / "b-worker2.log", sink=w1.sink)
    settings = w1.settings
    kafka_local.ensure_topics(settings)
    processes += [w1.sink, w1, w2]
    try:
        w1.start()
        w2.start()
        wait_for(lambda: len(partitions(w1) or []) == 2 and len(partitions(w2) or []) == 2, 60,
                 "the two workers to share the 4 partitions")
        produce_raw(settings, first)
        assert_same(snapshot(settings, w1), want_morning, "two workers, morning")

        # any worker answers for any hall: each asks the other for the halls it does not own
        owned = {1: set(partitions(w1)), 2: set(partitions(w2))}
        halls = sorted({m.key for m in first})
        for asked, other, other_no in ((w1, w2, 2), (w2, w1, 1)):
            hall = next(h for h in halls if partition_of(h) in owned[other_no])
            there = other.get(f"/api/halls/{hall}/now?local=1")
            assert there["today"] and there["today"]["issued"] > 0, there
            assert asked.get(f"/api/halls/{hall}/now?local=1")["today"] is None  # not held here ...
            answer = asked.get(f"/api/halls/{hall}/now")                        # ... but answered
            assert {k: answer[k] for k in ("hall_id", "as_of_ms", "today", "queue", "alerts")} == \
                {k: there[k] for k in ("hall_id", "as_of_ms", "today", "queue", "alerts")}
            assert any(r["hall_id"] == hall and r["as_of"] for r in asked.get("/api/halls")["halls"])
            with urllib.request.urlopen(f"{asked.url}/lobby/?hall={hall}", timeout=5) as page:  # the lobby page
                assert page.status == 200 and b"lobby.js" in page.read()  # which asks that API

        # SIGKILL one worker in the middle of the afternoon: the other takes over
        base = w2.stats()["engine"]["processed"]
        produce_raw(settings, second)
        wait_for(lambda: w2.stats()["engine"]["processed"] >= base + 300, 120, "worker 2 to be busy with batch 2",
                 interval=0.1)
        w2.kill(signal.SIGKILL)
        killed = time.monotonic()
        wait_for(lambda: partitions(w1) == list(range(PARTITIONS)), 60, "the survivor to own every partition",
                 interval=0.2)
        assigned = time.monotonic() - killed
        assert assigned <= TAKEOVER_S, f"the survivor took {assigned:.1f} s to own every partition"
        wait_for(lambda: w1.stats()["recovered"], 60, "the survivor to restore the tables", interval=0.2)
        restored = time.monotonic() - killed
        print(f"after SIGKILL: all partitions assigned to the survivor in {assigned:.1f} s, "
              f"their tables restored in {restored:.1f} s")
        assert restored <= RESTORED_S, f"the survivor took {restored:.1f} s to restore the tables"
        assert_same(snapshot(settings, w1, resent_ok=guarantee == "at_least_once"), want_day, "after the kill")
    except BaseException:
        for w in (w1, w2):
            print(w.log_tail(80))
        raise
