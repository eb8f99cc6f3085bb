"""End to end on the real broker: producer → Kafka → Faust worker → ClickHouse, alerts, dead letters.

Every figure asserted here is the hand-worked scenario of tests/test_engine_scenarios.py
(JS-NJ-0002) plus an alert scenario at JS-NJ-0004 (large hall: warning at 15 waiting,
critical at 30). The worker is a separate process, killed with SIGKILL mid-way to show
that state survives and nothing is counted twice.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from tests.events import CST, Maker, at
from tests.pipeline import Producer, WorkerProcess, read_topic, worker_env
from tests.test_engine_scenarios import scenario

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def alert_scenario() -> list[tuple[str, bytes]]:
    mk = Maker("JS-NJ-0004")
    ev = [mk.ticket("issued", f"Q{i:03d}", at("11:00", seconds=i)) for i in range(30)]
    ev[15:] = [mk.ticket("issued", f"Q{i:03d}", at("11:05", seconds=i)) for i in range(15, 30)]
    ev += [mk.ticket("called", f"Q{i:03d}", at("11:08", seconds=i), counter_id=f"C{i % 6:02d}") for i in range(18)]
    ev += [mk.ticket("called", "Q018", at("11:10"), counter_id="C00"),
           mk.ticket("recalled", "Q018", at("11:11", seconds=59)), mk.ticket("recalled", "Q018", at("11:12"))]
    return ev


def bad_events() -> list[tuple[str, bytes]]:
    """One of each kind of bad input, and two reasons that each arrive on both partitions
    of the test topics, in opposite orders: a count kept under one key across partitions
    would come back wrong after recovery, whichever partition recovery reads last."""
    def no_offset(hall: str, visit: str) -> tuple[str, bytes]:
        e = json.loads(Maker(hall).ticket("issued", visit, at("10:30"))[1])
        e["occurred_at"] = "2026-11-23T10:30:00"
        return "tickets", json.dumps(e).encode()

    phone = json.loads(Maker("JS-NJ-0002").ticket("issued", "B002", at("10:30"))[1])
    phone["customer_ref"] = "13912345678"
    known0, known1 = on_partition(0, "JS-NJ"), on_partition(1, "JS-NJ")
    unknown0, unknown1 = on_partition(0, "JS-XX"), on_partition(1, "JS-XX")
    return [("tickets", b'{"event_id": "broken'), ("tickets", json.dumps(phone).encode()),
            no_offset(known0, "B010"), no_offset(known1, "B011"),
            Maker(unknown1).ticket("issued", "B020", at("10:30")), Maker(unknown0).ticket("issued", "B021", at("10:30"))]


def on_partition(partition: int, prefix: str, partitions: int = 2) -> str:
    """A hall id (from the catalogue for JS-NJ) whose key lands on ``partition``."""
    from kafka.partitioner.default import murmur2

    count = 12 if prefix == "JS-NJ" else 100
    ids = [f"{prefix}-{i:04d}" for i in range(1, count + 1)]
    return next(h for h in ids if (murmur2(h.encode()) & 0x7FFFFFFF) % partitions == partition)


MINUTES_SQL = textwrap.dedent("""
    SELECT sum(issued), sum(visits_served), sum(abandoned), sum(called), sum(within_target), sum(wait_sum_s),
           max(wait_max_s), sum(transactions), sum(handle_sum_s)
    FROM minute_metrics FINAL WHERE hall_id = {hall:String} AND category = 'all'
""")


def totals(worker: WorkerProcess) -> tuple:
    return worker.store().query(MINUTES_SQL, {"hall": "JS-NJ-0002"}).rows[0]


EXPECTED = (12, 5, 2, 10, 7, 4800.0, 960.0, 5, 1500.0)


@pytest.fixture
def worker(kafka_bootstrap, tmp_path):
    var = tmp_path / "var"
    w = WorkerProcess(worker_env(kafka_bootstrap, var), var, tmp_path / "worker.log")
    yield w
    w.stop()


def test_pipeline_end_to_end_and_survives_kill(worker: WorkerProcess):
    try:
        _run(worker)
    except BaseException:
        print(worker.log_tail())
        raise


def _run(worker: WorkerProcess) -> None:
    worker.start()
    producer = Producer(worker.settings)
    sent = producer.send(scenario() + alert_scenario() + bad_events())
    worker.wait_processed(sent)
    worker.wait_flushed()

    # exact minute aggregates in ClickHouse (hand-worked in the scenario test)
    assert totals(worker) == EXPECTED
    store = worker.store()
    row_1002 = store.query(
        "SELECT issued, called, within_target, wait_sum_s, queue_len, longest_wait_s FROM minute_metrics FINAL "
        "WHERE hall_id = 'JS-NJ-0002' AND category = 'all' AND minute = {m:DateTime}",
        {"m": at("10:02").astimezone(CST)}).rows
    assert row_1002 == [(1, 1, 1, 120.0, 2, 119.999)]
    facts = store.query(
        "SELECT (SELECT count() FROM visits FINAL WHERE hall_id = 'JS-NJ-0002'),"
        "       (SELECT count() FROM wait_segments FINAL WHERE hall_id = 'JS-NJ-0002'),"
        "       (SELECT count() FROM transactions FINAL WHERE hall_id = 'JS-NJ-0002'),"
        "       (SELECT sum(abandoned) FROM visits FINAL WHERE hall_id = 'JS-NJ-0002')").rows[0]
    assert facts == (12, 10, 5, 2)
    day = store.query("SELECT issued, called, wait_sum_s FROM day_metrics FINAL WHERE hall_id = 'JS-NJ-0002' "
                      "AND category = 'all' AND day = toDate('2026-11-23')").rows
    assert day == [(12, 10, 4800.0)]

    # alerts on the topic: opened 11:00 warning, escalated 11:05, closed 11:12 (figures by hand)
    settings = worker.settings
    everything = [json.loads(v) for v in read_topic(settings, settings.topics.alerts)]
    # the scenario hall itself warns at 10:03 on estimated wait: 3 waiting × 4 min ÷ 1 counter = 12 min
    first = next(a for a in everything if a["hall_id"] == "JS-NJ-0002")
    assert (first["action"], first["occurred_at"][11:16], first["triggers"]) == ("opened", "10:03", ["estimated_wait>=10min"])
    alerts = [a for a in everything if a["hall_id"] == "JS-NJ-0004"]
    got = [(a["hall_id"], a["action"], a["level"], a["occurred_at"][11:16]) for a in alerts]
    assert got == [("JS-NJ-0004", "opened", "warning", "11:00"), ("JS-NJ-0004", "escalated", "critical", "11:05"),
                   ("JS-NJ-0004", "closed", "critical", "11:12")]
    # 11:00:02: 3 waiting and no counter active yet → 3 × 4 min estimated: the estimated-wait rule fires first
    assert alerts[0]["triggers"] == ["estimated_wait>=10min"] and alerts[0]["figures"]["waiting"] == 3
    assert "waiting>=30" in alerts[1]["triggers"] and alerts[1]["figures"]["waiting"] == 30
    assert alerts[1]["suggested_action"] == "增开窗口" and alerts[1]["suggested_action_en"] == "open another counter"
    stored_alerts = store.query("SELECT action FROM alerts FINAL WHERE hall_id = 'JS-NJ-0004' ORDER BY occurred_at").rows
    assert [r[0] for r in stored_alerts] == ["opened", "escalated", "closed"]

    # dead letters: each with its reason, counted, and never a clear phone number
    dead = [json.loads(v) for v in read_topic(settings, settings.topics.deadletter)]
    assert sorted(d["reason_code"] for d in dead) == ["clear_personal_number", "malformed_json",
                                                      "timestamp_without_offset", "timestamp_without_offset",
                                                      "unknown_hall", "unknown_hall"]
    assert all("13912345678" not in json.dumps(d) for d in dead)
    assert worker.stats()["engine"]["dead_letters"] == 6

    # kill -9, restart: the state comes back from the changelogs; a full resend is all duplicates.
    # (Messages whose offsets were not yet committed at the kill are read again too; the
    # engine recognises those already in the restored state as duplicates as well.)
    worker.kill()
    worker.start()
    n = producer.send(scenario())
    # a new visit after the crash: its issue time and call must land on top of the restored state
    mk = Maker("JS-NJ-0002", series="r")  # ids of its own beside scenario()'s
    producer.send([mk.ticket("issued", "R001", at("10:15")), mk.ticket("called", "R001", at("10:19"))])

    def caught_up():
        hall = worker.get("/api/halls/JS-NJ-0002/now")
        new_visit_in = hall["today"] and hall["today"]["issued"] == 13 and hall["wait_60m"]["n"] == 11
        return new_visit_in and worker.stats()["engine"]["duplicates"] >= n
    from tests.pipeline import wait_for
    # every resent message is recognised as a duplicate (were the state lost, they would be
    # processed as new and the count would never get there)
    wait_for(caught_up, 90, "all resent messages recognised as duplicates, and the new visit")
    # the dead-letter counts survive the kill, though each reason arrived on both partitions
    assert worker.stats()["deadletters_by_reason"] == {"clear_personal_number": 1, "malformed_json": 1,
                                                       "timestamp_without_offset": 2, "unknown_hall": 2}
    worker.wait_flushed()
    issued, served, abandoned, called, within, wait_sum, *_ = totals(worker)
    assert (issued, served, abandoned, called, within, wait_sum) == (13, 5, 2, 11, 8, 4800.0 + 240.0)
    # R001 arrived after the restart with its issue at 10:15, 8 minutes behind the hall's
    # restored clock (10:23, the last call): late but within the 10-minute grace, it lands in
    # its own minute, and its call in 10:19
    late = store.query("SELECT toString(toTimeZone(minute, 'Asia/Shanghai')), issued, called, wait_sum_s "
                       "FROM minute_metrics FINAL WHERE hall_id = 'JS-NJ-0002' AND category = 'all' "
                       "AND minute IN ({a:DateTime}, {b:DateTime}) ORDER BY minute",
                       {"a": at("10:15"), "b": at("10:19")}).rows
    assert late == [("2026-11-23 10:15:00", 1, 0, 0.0), ("2026-11-23 10:19:00", 0, 1, 240.0)]
    producer.close()


def test_unknown_hall_is_replayed_once_the_catalogue_knows_it(kafka_bootstrap, tmp_path):
    from click.testing import CliRunner

    from hallpulse.cli import main
    from hallpulse.config import get_settings

    var = tmp_path / "var"
    env = worker_env(kafka_bootstrap, var)
    worker = WorkerProcess(env, var, tmp_path / "worker.log").start()
    try:
        mk = Maker("JS-NEW-0001")
        producer = Producer(worker.settings)
        producer.send([mk.ticket("issued", "N001", at("09:00")), mk.ticket("called", "N001", at("09:06"))])
        worker.wait_processed(2)
        assert worker.stats()["engine"]["dead:unknown_hall"] == 2
        worker.stop()

        # the hall joins the catalogue; the worker restarts with it; the dead letters are replayed
        catalogue = tmp_path / "halls.toml"
        shutil.copy(ROOT / "config" / "halls.toml", catalogue)
        with open(catalogue, "a", encoding="utf-8") as f:
            f.write('\n[[halls]]\nhall_id = "JS-NEW-0001"\nname = "南京新开营业厅"\ncity = "南京"\nprovince = "江苏"\n'
                    'size_class = "small"\ncounters = 3\n')
        worker.env["HALLPULSE__CATALOGUE_FILE"] = str(catalogue)
        worker.start()
        runner = CliRunner()
        get_settings.cache_clear()
        result = runner.invoke(main, ["deadletter", "replay", "--reason", "unknown_hall"], env=worker.env)
        assert result.exit_code == 0, result.output
        assert "replayed 2" in result.output
        worker.wait_processed(2)
        worker.wait_flushed()
        rows = worker.store().query("SELECT visit_id, total_wait_s FROM visits FINAL WHERE hall_id = 'JS-NEW-0001'").rows
        assert rows == [("N001", 360.0)]
        # a second replay finds nothing new
        result = runner.invoke(main, ["deadletter", "replay", "--reason", "unknown_hall"], env=worker.env)
        assert "replayed 0" in result.output
        listed = runner.invoke(main, ["deadletter", "list"], env=worker.env)
        assert "unknown_hall 2" in listed.output
        producer.close()
    except BaseException:
        print(worker.log_tail())
        raise
    finally:
        get_settings.cache_clear()
        worker.stop()
