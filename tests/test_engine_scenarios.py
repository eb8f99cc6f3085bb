"""Scenario tests of the stream logic with figures worked out by hand (no Kafka).

The scenario: hall JS-NJ-0002 (large, consult target 10 min). Ten consult visits issued
at 10:00 + i min and called after waits of 2,4,6,8,10,12,14,16,3,5 min; two more visits
issued at 10:10 and 10:11 end in no_show at 10:20. Visits 0-4 get a 5-minute transaction.

By hand:
* waits sorted: 2,3,4,5,6,8,10,12,14,16 min → mean 8 min, p50 7 min, p90 14.2 min, max 16
* within target (≤ 10 min): 7 of 10
* the clock ends at 10:23 (last call). 15-min window (10:08, 10:23]: waits 8,10,12,14,16,3,5
  → n 7, mean 68/7 min, p50 10 min, p90 14.8 min
* abandonment: 2 of 12 issued
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from schemas.catalogue import load_catalogue
from streams.alerts import load_alert_rules
from streams.engine import Engine
from tests.events import CST, Maker, at
from tests.recording import Tables

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = load_catalogue(ROOT / "config" / "halls.toml")
RULES = load_alert_rules(ROOT / "config" / "alerts.toml")
WAITS = [2, 4, 6, 8, 10, 12, 14, 16, 3, 5]


def engine(grace_s: float = 600) -> Engine:
    return Engine(CATALOGUE, RULES, grace_s=grace_s)


def scenario() -> list[tuple[str, bytes]]:
    mk = Maker("JS-NJ-0002")
    ev = []
    for i, w in enumerate(WAITS):
        vid = f"V{i:03d}"
        issued = at("10:00").replace(minute=i)
        ev.append(mk.ticket("issued", vid, issued))
        called = issued.replace(minute=i + w) if i + w < 60 else None
        ev.append(mk.ticket("called", vid, called, counter_id=f"C0{i % 3}"))
        if i < 5:
            ev.append(mk.tx(vid, called, called.replace(minute=called.minute + 5), counter_id=f"C0{i % 3}"))
    for i, t in ((10, "10:10"), (11, "10:11")):
        ev.append(mk.ticket("issued", f"V{i:03d}", at(t)))
        ev.append(mk.ticket("no_show", f"V{i:03d}", at("10:20")))
    ev.sort(key=lambda kv: _time(kv[1]))
    return ev


def _time(raw: bytes) -> str:
    import json
    d = json.loads(raw)
    return d.get("occurred_at") or d.get("completed_at") or d.get("answered_at")


def run(events, eng: Engine | None = None) -> Engine:
    eng = eng or engine()
    for kind, raw in events:
        out = eng.process(kind, raw)
        assert out.dead_letter is None, out.dead_letter
    return eng


def test_live_figures_match_hand_computation():
    eng = run(scenario())
    snap = eng.books["JS-NJ-0002"].snapshot()
    w60 = snap["wait_60m"]
    assert w60 == {"n": 10, "mean_s": 480.0, "p50_s": 420.0, "p90_s": 852.0, "max_s": 960.0}
    w15 = snap["wait_15m"]
    assert w15["n"] == 7
    assert w15["mean_s"] == pytest.approx(68 / 7 * 60, abs=1e-3)
    assert w15["p50_s"] == 600.0 and w15["p90_s"] == pytest.approx(888.0) and w15["max_s"] == 960.0
    assert snap["within_target_60m"] == 0.7
    today = snap["today"]
    assert (today["issued"], today["served"], today["abandoned"]) == (12, 5, 2)
    assert today["abandonment_rate"] == pytest.approx(2 / 12, abs=1e-4)
    assert snap["queue"]["waiting"] == 0
    consult = next(c for c in snap["categories"] if c["category"] == "consult")
    assert consult["target_wait_s"] == 600.0


def _state(eng: Engine):
    """The live snapshot, each minute's queue gauges, and every visit's derived life."""
    book = eng.books["JS-NJ-0002"]
    snap = book.snapshot()
    first = int(at("09:59").timestamp() * 1000)
    rows = [tuple(r) for m in range(first, first + 45 * 60_000, 60_000) for r in book.gauge_rows(m)]
    visits = {vid: (v.status, [(s.category, s.wait_s, s.inferred) for s in v.segments])
              for vid, v in sorted(book.visits.items())}
    return snap, rows, visits


def test_shuffled_arrival_gives_the_same_state():
    expected = _state(run(scenario(), engine(grace_s=3600)))
    for seed in range(5):
        ev = scenario()
        random.Random(seed).shuffle(ev)
        assert _state(run(ev, engine(grace_s=3600))) == expected


def test_bounded_disorder_within_default_grace_gives_the_same_state():
    expected = _state(run(scenario()))
    ev = scenario()
    # swap neighbours pairwise: each event at most one place (a few minutes) out of order
    for i in range(0, len(ev) - 1, 2):
        ev[i], ev[i + 1] = ev[i + 1], ev[i]
    assert _state(run(ev)) == expected


def _gauge_rows(events, restart_after: int | None = None) -> dict:
    """The queue gauges each minute last got, as the store keeps them (the latest wins);
    with ``restart_after``, the engine is rebuilt from its table writes after that many
    events, as a restarted worker is."""
    eng, rows, tables = engine(), {}, Tables()
    for i, (kind, raw) in enumerate(events):
        if i == restart_after:
            eng = tables.restore(engine())
        out = eng.process(kind, raw)
        tables.apply(out.writes)
        for f in out.facts:
            if f["k"] == "gauges":
                rows.update({tuple(r[:3]): tuple(r) for r in f["rows"]})
    return rows


def test_transactions_read_ahead_of_the_tickets_give_the_same_queue_gauges():
    """A fetch can hold a hall's transactions topic before its tickets (topics read at uneven
    pace): the back office's clock must not write the minutes of a queue not yet known."""
    expected = _gauge_rows(scenario())
    assert expected[("JS-NJ-0002", "all", _ms(at("10:02")))][3:5] == (2, 119.999)
    ahead = sorted(scenario(), key=lambda kv: kv[0] != "transactions")
    assert ahead[0][0] == "transactions"
    assert _gauge_rows(ahead) == expected
    # and a worker restarted between the two topics: its rebuilt view must not either
    tx = sum(kind == "transactions" for kind, _ in ahead)
    assert _gauge_rows(ahead, restart_after=tx) == expected


def test_duplicates_are_dropped_and_counted():
    ev = scenario()
    eng = run(ev + ev[:5])
    assert eng.counts["duplicates"] == 5
    assert _state(eng) == _state(run(scenario()))


def test_transfer_makes_a_second_wait_segment_in_the_new_category():
    mk = Maker("JS-NJ-0002")
    eng = run([
        mk.ticket("issued", "T001", at("09:00")),
        mk.ticket("called", "T001", at("09:04")),
        mk.ticket("transferred", "T001", at("09:10"), to_category="plan_change"),
        mk.ticket("recalled", "T001", at("09:11")),
        mk.ticket("called", "T001", at("09:22"), counter_id="C05"),
        mk.tx("T001", at("09:22"), at("09:30"), category="plan_change"),
    ])
    v = eng.books["JS-NJ-0002"].visits["T001"]
    assert [(s.category, s.wait_s) for s in v.segments] == [("consult", 240.0), ("plan_change", 720.0)]
    assert v.status == "served" and v.served and not v.abandoned


def test_transaction_before_its_call_still_gives_the_same_visit():
    mk = Maker("JS-NJ-0002")
    issued, called, tx = (mk.ticket("issued", "X001", at("09:00")), mk.ticket("called", "X001", at("09:05")),
                          mk.tx("X001", at("09:05"), at("09:09")))
    a = run([issued, called, tx]).books["JS-NJ-0002"].visits["X001"]
    b = run([tx, issued, called]).books["JS-NJ-0002"].visits["X001"]
    assert (a.status, a.segments[0].wait_s, len(a.transactions)) == (b.status, b.segments[0].wait_s, 1) == ("served", 300.0, 1)


@pytest.mark.parametrize("raw,code", [
    (b"{not json", "malformed_json"),
    (b'{"event_id":"e1","hall_id":"JS-NJ-0002","event_type":"issued","visit_id":"v","ticket_no":"A1",'
     b'"category":"consult","priority":"normal","channel":"kiosk","occurred_at":"2026-11-23T09:00:00"}',
     "timestamp_without_offset"),
    (b'{"event_id":"e1","hall_id":"JS-NJ-0002","event_type":"issued","visit_id":"v","ticket_no":"A1",'
     b'"category":"consult","priority":"normal","channel":"kiosk","occurred_at":"2026-11-23T09:00:00+08:00",'
     b'"customer_ref":"13812345678"}', "clear_personal_number"),
    (b'{"event_id":"e1","hall_id":"XX-UNKNOWN-0001","event_type":"issued","visit_id":"v","ticket_no":"A1",'
     b'"category":"consult","priority":"normal","channel":"kiosk","occurred_at":"2026-11-23T09:00:00+08:00"}',
     "unknown_hall"),
    (b'{"event_id":"e1","hall_id":"JS-NJ-0002","event_type":"teleported","visit_id":"v","ticket_no":"A1",'
     b'"category":"consult","occurred_at":"2026-11-23T09:00:00+08:00"}', "schema_violation"),
])
def test_bad_input_becomes_a_dead_letter_with_a_reason(raw, code):
    eng = engine()
    out = eng.process("tickets", raw, topic="hall.queue.tickets", partition=0, offset=7)
    assert out.dead_letter is not None and out.dead_letter.reason_code == code
    assert eng.counts["dead_letters"] == 1 and eng.counts[f"dead:{code}"] == 1
    assert b"13812345678" not in out.dead_letter.to_json()  # never stored in the clear
    assert out.dead_letter.offset == 7


def test_event_later_than_grace_is_kept_for_the_store_but_not_shown_live():
    """domain.md §3: late data is never lost. A visit first heard of 15 min late goes to
    the store (the fact writer) flagged late; the live queue does not grow into the past."""
    mk = Maker("JS-NJ-0002")
    eng = run([mk.ticket("issued", "L001", at("10:00")), mk.ticket("issued", "L002", at("10:30"))])
    out = eng.process(*mk.ticket("issued", "L003", at("10:15")))
    assert out.dead_letter is None and not out.alerts
    assert eng.counts["late"] == 1 and eng.books["JS-NJ-0002"].late_by_day == {"2026-11-23": 1}
    assert "L003" not in eng.books["JS-NJ-0002"].visits and "L003" not in eng.held  # not on the live screen
    assert [(f["k"], f["v"], f["s"][0]["lt"]) for f in out.facts] == [("visit", "L003", 1)]  # for the store
    # a late event of a visit the live view holds completes it (here: its call)
    eng.process(*mk.ticket("called", "L001", at("10:05")))
    assert eng.books["JS-NJ-0002"].visits["L001"].segments[0].wait_s == 300.0
    assert eng.books["JS-NJ-0002"].snapshot()["queue"]["waiting"] == 1


def test_queue_alert_opens_escalates_and_closes_at_the_right_minutes():
    """Large hall: warning at 15 waiting, critical at 30; closes after 2 min below 12."""
    mk = Maker("JS-NJ-0002")
    eng = engine()
    actions = []

    def feed(*events):
        for kind, raw in events:
            out = eng.process(kind, raw)
            actions.extend((a.action.value, a.level.value, a.occurred_at.astimezone(CST).strftime("%H:%M"))
                           for a in out.alerts)

    feed(*[mk.ticket("issued", f"Q{i:03d}", at("11:00", seconds=i)) for i in range(15)])
    assert actions == [("opened", "warning", "11:00")]
    feed(*[mk.ticket("issued", f"Q{i:03d}", at("11:05", seconds=i)) for i in range(15, 30)])
    assert actions[-1] == ("escalated", "critical", "11:05")
    # six counters call: the queue drops to 12 (= 80 %: stays open), then 11 at 11:10;
    # estimated wait 11 × 4 min (consult standard) ÷ 6 counters = 7.3 min < 8 min
    feed(*[mk.ticket("called", f"Q{i:03d}", at("11:08", seconds=i), counter_id=f"C{i % 6:02d}") for i in range(18)])
    feed(mk.ticket("called", "Q018", at("11:10"), counter_id="C00"))
    assert len(actions) == 2
    feed(mk.ticket("recalled", "Q018", at("11:11", seconds=59)))  # 1:59 below: still open
    assert len(actions) == 2
    feed(mk.ticket("recalled", "Q018", at("11:12")))
    assert actions[-1] == ("closed", "critical", "11:12")
    assert eng.open_alerts("JS-NJ-0002") == []


def test_complaint_spike_at_the_third_complaint_in_an_hour():
    mk = Maker("JS-NJ-0002")
    eng = engine()
    c = {"category": "wait_time", "severity": "normal", "text": "等太久 13912345678"}
    outs = [eng.process(*mk.survey(at(t), 3, complaint=c)) for t in ("09:00", "09:30", "09:59")]
    assert [len(o.alerts) for o in outs] == [0, 0, 1]
    assert outs[2].alerts[0].rule.value == "complaint_spike"
    rec = eng.books["JS-NJ-0002"].surveys[next(iter(eng.books["JS-NJ-0002"].surveys))]
    assert "13912345678" not in rec["ctext"] and "139****5678" in rec["ctext"]


def _ms(t) -> int:
    return int(t.timestamp() * 1000)


def test_tick_closes_an_alert_when_no_more_events_arrive():
    """The queue drains at 11:10 and the hall falls silent: the tick at 11:12 closes the alert."""
    mk = Maker("JS-NJ-0002")
    eng = engine()
    run([mk.ticket("issued", f"Q{i:03d}", at("11:00", seconds=i)) for i in range(16)], eng)
    run([mk.ticket("called", f"Q{i:03d}", at("11:10", seconds=i % 30), counter_id=f"C{i % 6:02d}") for i in range(16)], eng)
    assert [s.level.value for s in eng.open_alerts("JS-NJ-0002")] == ["warning"]
    assert eng.tick(None, _ms(at("11:11", seconds=59))).alerts == []
    closed = eng.tick(None, _ms(at("11:12", seconds=15))).alerts
    assert [(a.action.value, a.occurred_at.astimezone(CST).strftime("%H:%M:%S")) for a in closed] == [("closed", "11:12:15")]
    assert eng.open_alerts("JS-NJ-0002") == []


def test_tick_raises_a_long_wait_alert_with_no_events():
    """One customer waits; nothing happens; at 10 minutes the longest-wait rule fires."""
    mk = Maker("JS-NJ-0002")
    eng = run([mk.ticket("issued", "W001", at("09:00")), mk.ticket("called", "W000", at("09:00", seconds=1)),
               mk.tx("W000", at("09:00", seconds=1), at("09:00", seconds=2))])
    assert eng.tick(None, _ms(at("09:09", seconds=59))).alerts == []
    opened = eng.tick(None, _ms(at("09:10"))).alerts
    assert [(a.action.value, a.triggers) for a in opened] == [("opened", ["longest_wait>=10min"])]
    assert eng.books["JS-NJ-0002"].snapshot()["queue"]["longest_wait_s"] == 600.0


def test_tick_ignores_halls_that_are_not_live():
    """Replaying last week: wall-clock ticks are far ahead of the hall's clock and change nothing."""
    mk = Maker("JS-NJ-0002")
    eng = run([mk.ticket("issued", f"Q{i:03d}", at("11:00", seconds=i)) for i in range(16)])
    before = [s.to_dict() for s in eng.open_alerts("JS-NJ-0002")]
    out = eng.tick(None, _ms(at("11:31")))
    assert out.alerts == [] and out.writes == []
    assert [s.to_dict() for s in eng.open_alerts("JS-NJ-0002")] == before
    assert eng.books["JS-NJ-0002"].live_ms == 0


def test_tick_only_touches_halls_of_its_partition():
    mk = Maker("JS-NJ-0002")
    eng = engine()
    for kind, raw in [mk.ticket("issued", "P001", at("09:00"))]:
        eng.process(kind, raw, partition=1)
    assert eng.tick(0, _ms(at("09:11"))).alerts == []
    assert [a.action.value for a in eng.tick(1, _ms(at("09:11"))).alerts] == ["opened"]


def test_restore_from_the_table_writes_gives_the_same_engine():
    """What the agent writes to the Faust tables is enough to rebuild the engine exactly:
    the same figures, clocks and open alerts, and later events land the same way."""
    mk = Maker("JS-NJ-0002")
    c = {"category": "wait_time", "severity": "normal", "text": "太慢"}
    events = scenario() + [mk.survey(at("10:24"), 4, complaint=c), mk.survey(at("10:25"), 9)]
    original, tables = engine(), Tables()
    for kind, raw in events:
        tables.apply(original.process(kind, raw).writes)
    restored = tables.restore(engine())
    a, b = original.books["JS-NJ-0002"], restored.books["JS-NJ-0002"]
    assert b.clocks == a.clocks and b.snapshot() == a.snapshot()
    assert {k: s.to_dict() for k, s in restored.alert_states.items()} == \
           {k: s.to_dict() for k, s in original.alert_states.items()}
    later = mk.ticket("issued", "Z001", at("10:26"))
    assert original.process(*later).writes == restored.process(*later).writes
    assert restored.process(*events[0]).duplicate
