"""The fact writer on a real embedded store: stored figures come from complete facts, by
SQL, whatever the worker still holds and whatever order events arrive in."""

from __future__ import annotations

import random

import pytest

from hallpulse.config import Settings
from sinks.catalogue_mirror import mirror_catalogue
from sinks.facts import FactWriter
from sinks.migrate import apply_migrations
from sinks.store import open_store
from tests.recording import RecordingEngine
from tests.events import Maker, at
from tests.test_engine_scenarios import CATALOGUE, RULES, scenario

HALL = "JS-NJ-0002"
DAY_SQL = ("SELECT issued, visits_served, abandoned, expired_visits, transfers, called, within_target, wait_sum_s, "
           "wait_max_s, inferred_calls, transactions, handle_sum_s, csat_n, csat_sum, complaints, late_events, "
           "silent_minutes FROM day_metrics FINAL WHERE hall_id = {h:String} AND category = {c:String}")
DAY_NAMES = ["issued", "visits_served", "abandoned", "expired_visits", "transfers", "called", "within_target",
             "wait_sum_s", "wait_max_s", "inferred_calls", "transactions", "handle_sum_s", "csat_n", "csat_sum",
             "complaints", "late_events", "silent_minutes"]


@pytest.fixture
def store(tmp_path):
    s = open_store(Settings(var_dir=tmp_path), hold=True)
    apply_migrations(s, 36)
    mirror_catalogue(s, CATALOGUE)
    yield s
    s.close()


def engine(**kw) -> RecordingEngine:
    return RecordingEngine(CATALOGUE, RULES, **{"grace_s": 600, **kw})


def feed(eng: RecordingEngine, events) -> None:
    for kind, raw in events:
        out = eng.process(kind, raw)
        assert out.dead_letter is None, out.dead_letter


def flush(eng: RecordingEngine, store) -> None:
    FactWriter(store, CATALOGUE).write(eng.take_batch())


def feed_shuffled(events, store, *, seed: int, repeats: float, flushes: float) -> None:
    """``events`` and a share ``repeats`` of them again, shuffled, flushed to the store at
    random (a share ``flushes`` of the events end a batch), the engine restarted without
    state halfway."""
    rnd = random.Random(seed)
    shuffled = events[:] + rnd.sample(events, int(len(events) * repeats))
    rnd.shuffle(shuffled)
    eng = engine(grace_s=7200)
    for i, (kind, raw) in enumerate(shuffled):
        eng.process(kind, raw)
        if rnd.random() < flushes:
            flush(eng, store)
        if i == len(shuffled) // 2:
            flush(eng, store)
            eng = engine(grace_s=7200)  # restarted without state
    flush(eng, store)


def day(store, category: str = "all") -> dict:
    rows = store.query(DAY_SQL, {"h": HALL, "c": category}).rows
    assert len(rows) <= 1
    return dict(zip(DAY_NAMES, rows[0])) if rows else {}


def test_minute_and_day_aggregates_by_hand(store):
    """The scenario of test_engine_scenarios: 12 issued, 10 waits summing 80 min (7 within
    10 min), 2 no-shows, 5 transactions of 300 s; by minute as in the docstring there."""
    eng = engine()
    feed(eng, scenario())
    flush(eng, store)
    d = day(store)
    assert (d["issued"], d["visits_served"], d["abandoned"], d["called"], d["within_target"]) == (12, 5, 2, 10, 7)
    assert (d["wait_sum_s"], d["wait_max_s"], d["transactions"], d["handle_sum_s"]) == (4800.0, 960.0, 5, 1500.0)
    assert day(store, "consult")["issued"] == 12
    rows = {m.strftime("%H:%M"): r for m, *r in store.query(
        "SELECT minute, issued, abandoned, called, within_target, wait_sum_s, queue_len FROM minute_metrics FINAL "
        "WHERE hall_id = {h:String} AND category = 'all' ORDER BY minute", {"h": HALL}).rows}
    # 10:02 (02:02 UTC): V002 issued, V000 called after 2 min; V001 and V002 waiting at its end
    assert rows["02:02"] == [1, 0, 1, 1, 120.0, 2]
    assert rows["02:10"][1] == 1 and rows["02:11"][1] == 1          # no-shows count at their issue minute
    assert rows["02:20"][2:5] == [1, 0, 840.0]                      # V006 called after 14 min
    assert sum(r[0] for r in rows.values()) == 12 and sum(r[2] for r in rows.values()) == 10


def test_a_transaction_for_a_visit_the_worker_forgot_still_completes_it(store):
    """The back office forwards a transaction three hours late, after the worker restarted
    without the visit: the stored visit becomes served, its day counts it."""
    mk = Maker(HALL)
    first = engine()
    feed(first, [mk.ticket("issued", "B001", at("10:00")), mk.ticket("called", "B001", at("10:04"))])
    flush(first, store)
    assert day(store)["visits_served"] == 0
    later = engine()  # nothing held about B001
    feed(later, [mk.ticket("issued", "B002", at("13:00")), mk.tx("B002", at("13:01"), at("13:05"))])
    out = later.process(*mk.tx("B001", at("10:04"), at("10:10")))
    assert out.dead_letter is None and later.counts["late"] == 1  # 3 h behind its topic's clock: late, kept
    flush(later, store)
    status = store.query("SELECT status, served FROM visits FINAL WHERE visit_id = 'B001'").rows
    assert status == [("served", 1)]
    d = day(store)
    assert (d["issued"], d["visits_served"], d["called"], d["transactions"], d["late_events"]) == (2, 2, 2, 2, 1)


def test_late_events_are_stored_counted_and_flagged(store):
    mk = Maker(HALL)
    eng = engine()
    feed(eng, [mk.ticket("issued", "K001", at("10:00")), mk.ticket("issued", "K002", at("11:00")),
               mk.ticket("issued", "K003", at("10:20")),                       # 40 min late
               mk.survey(at("11:00"), 9), mk.survey(at("10:30"), 4)])          # 30 min late
    flush(eng, store)
    d = day(store)
    assert (d["issued"], d["late_events"], d["csat_n"], d["csat_sum"]) == (3, 2, 2, 13)


def test_data_quality_figures_of_a_hall_day(store):
    """Opening 08:30–18:00. Events at 09:00, 09:05, 09:40, 17:50 only: silent 08:30+15→09:00
    (15 min), 09:05+15→09:40 (20 min), 09:40+15→17:50 (475 min), 17:50+15→18:00 (0): 510 min.
    One inferred call (started, no called); one visit expired at 18:30."""
    mk = Maker(HALL)
    eng = engine()
    feed(eng, [mk.ticket("issued", "Q001", at("09:00")), mk.ticket("started", "Q001", at("09:05")),
               mk.tx("Q001", at("09:05"), at("09:40")), mk.ticket("issued", "Q002", at("17:50"))])
    flush(eng, store)
    d = day(store)
    assert (d["inferred_calls"], d["expired_visits"], d["called"], d["wait_sum_s"]) == (1, 1, 1, 300.0)
    assert d["silent_minutes"] == pytest.approx(510.0)


def test_a_fact_that_moves_leaves_no_stale_minute_row(store):
    """An inferred call at 10:07 is replaced by the real call at 10:05 that arrives later:
    10:07's row goes back to zero calls."""
    mk = Maker(HALL)
    eng = engine()
    feed(eng, [mk.ticket("issued", "M001", at("10:00")), mk.ticket("started", "M001", at("10:07"))])
    flush(eng, store)
    feed(eng, [mk.ticket("called", "M001", at("10:05"))])
    flush(eng, store)
    calls = dict(store.query("SELECT formatDateTime(minute, '%H:%i'), called FROM minute_metrics FINAL "
                             "WHERE hall_id = {h:String} AND category = 'all' AND minute >= '2026-11-23 02:04:00' "
                             "AND minute <= '2026-11-23 02:08:00'", {"h": HALL}).rows)
    assert calls["02:05"] == 1 and calls["02:07"] == 0
    assert day(store)["inferred_calls"] == 0


def test_a_queue_that_empties_rewrites_its_gauge_rows_to_zero(store):
    """Minute 10:00 is complete (the clock reached 10:01) with G001 waiting in payment; a
    call of G001 at 10:00:50 arrives later, within the grace: 10:00's payment queue is 0."""
    mk = Maker(HALL)
    eng = engine()
    feed(eng, [mk.ticket("issued", "G001", at("10:00", seconds=5), category="payment"),
               mk.ticket("issued", "G002", at("10:01", seconds=10))])
    flush(eng, store)
    sql = ("SELECT queue_len FROM minute_gauges FINAL WHERE hall_id = {h:String} AND category = 'payment' "
           "AND minute = '2026-11-23 02:00:00'")
    assert store.query(sql, {"h": HALL}).rows == [(1,)]
    feed(eng, [mk.ticket("called", "G001", at("10:00", seconds=50), category="payment")])
    flush(eng, store)
    assert store.query(sql, {"h": HALL}).rows == [(0,)]


def test_a_survey_follows_the_category_of_a_visit_stored_after_it(store):
    mk = Maker(HALL)
    eng = engine()
    feed(eng, [mk.survey(at("10:30"), 8, visit_id="C001")])
    flush(eng, store)
    assert day(store, "plan_change") == {} and day(store)["csat_n"] == 1
    feed(eng, [mk.ticket("issued", "C001", at("10:00"), category="plan_change"),
               mk.ticket("called", "C001", at("10:02"), category="plan_change")])
    flush(eng, store)
    assert day(store, "plan_change")["csat_n"] == 1 and day(store)["csat_n"] == 1


def test_the_same_events_in_any_order_and_batches_leave_the_same_figures(store):
    """Shuffled, cut into random flushes, with a restart (a new engine) in the middle and a
    repeat of a third of the events: the day rows equal those of one ordered pass."""
    events = scenario()
    ordered = engine(grace_s=7200)
    feed(ordered, events)
    flush(ordered, store)
    expected = {c: day(store, c) for c in ("all", "consult")}
    for table in ("visit_events", "visits", "wait_segments", "transactions", "surveys", "minute_gauges",
                  "minute_metrics", "hour_metrics", "day_metrics"):
        store.command(f"TRUNCATE TABLE {table}")
    feed_shuffled(events, store, seed=3, repeats=1 / 3, flushes=0.2)
    assert {c: day(store, c) for c in ("all", "consult")} == expected


HOUR_COLUMNS = ("issued, visits_served, abandoned, transfers, called, within_target, wait_sum_s, wait_max_s, "
                "transactions, handle_sum_s, handle_ratio_sum, first_contact, csat_n, csat_sum, csat_satisfied, "
                "audit_n, audit_sum, complaints, complaints_escalated")


def test_hour_rows_equal_the_facts_of_their_hour_whatever_the_batches(store):
    """hour_metrics are summed from the minute rows (rollup_hour.sql, after rollup_minute);
    checked against the facts themselves (the fact_sums view over each hour): shuffled
    events with repeats (late ones among them), in random flushes, with a restart in the
    middle."""
    events = scenario()
    mk = Maker(HALL, series="h")  # event ids of their own (the scenario's maker numbers its own)
    events += [mk.ticket("issued", "L001", at("10:05"), category="plan_change"),  # a second category
               mk.ticket("called", "L001", at("10:09"), category="plan_change"),
               mk.survey(at("11:30"), 6, visit_id="V001")]  # the next hour: a survey of a visit of this one
    feed_shuffled(events, store, seed=11, repeats=1 / 4, flushes=0.25)

    stored = {tuple(r[:3]): tuple(round(x, 6) for x in r[3:]) for r in store.query(
        f"SELECT hall_id, category, hour, {HOUR_COLUMNS}, queue_len_max, longest_wait_max_s, est_wait_max_s "
        "FROM hour_metrics FINAL WHERE hall_id = {h:String}", {"h": HALL}).rows if any(r[3:])}
    from_facts = {tuple(r[:3]): tuple(round(x, 6) for x in r[3:]) for r in store.query(
        f"SELECT hall_id, category, bucket, {HOUR_COLUMNS}, queue_len, longest_wait_s, est_wait_s "
        "FROM fact_sums(bucket = 'hour', halls = [{h:String}], lo = toDateTime64('2000-01-01', 3, 'UTC'), "
        "hi = toDateTime64('2100-01-01', 3, 'UTC'), now = now64(3), silent_after_s = 900, with_silence = 0)",
        {"h": HALL}).rows if any(r[3:])}
    assert stored == from_facts
    assert len(stored) >= 4 and {c for _, c, _ in stored} >= {"all", "consult", "plan_change"}
    assert sum(v[0] for (_, c, _), v in stored.items() if c == "all") == 13  # every visit issued, once
