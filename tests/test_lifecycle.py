"""The live queue follows the lifecycle when the events leave a visit unclear (domain.md §3,
"When the events leave a visit unclear"). Each case is worked by hand and run in both
arrival orders (no Kafka: the engine directly)."""

from __future__ import annotations

import itertools

import pytest

from streams.engine import Engine
from tests.events import CST, Maker, at
from tests.recording import Tables
from tests.test_engine_scenarios import CATALOGUE, RULES

HALL = "JS-NJ-0002"  # opens 08:30, closes 18:00 (config/halls.toml)


def run(events, eng: Engine | None = None) -> Engine:
    eng = eng or Engine(CATALOGUE, RULES, grace_s=3600)
    for kind, raw in events:
        out = eng.process(kind, raw)
        assert out.dead_letter is None, out.dead_letter
    return eng


def both_orders(events):
    return [list(events), list(reversed(events))]


def _ms(t) -> int:
    return int(t.timestamp() * 1000)


@pytest.mark.parametrize("order", [0, 1])
def test_transfer_and_next_call_in_the_same_millisecond_give_a_zero_wait(order):
    mk = Maker(HALL)
    events = [mk.ticket("issued", "T001", at("10:00")),
              mk.ticket("called", "T001", at("10:03")),
              mk.ticket("transferred", "T001", at("10:09"), to_category="plan_change"),
              mk.ticket("called", "T001", at("10:09"), counter_id="C04"),
              mk.tx("T001", at("10:09"), at("10:15"), category="plan_change")]
    eng = run(both_orders(events)[order])
    v = eng.books[HALL].visits["T001"]
    assert [(s.category, s.wait_s, s.inferred) for s in v.segments] == [("consult", 180.0, False),
                                                                         ("plan_change", 0.0, False)]
    assert v.status == "served" and eng.books[HALL].snapshot()["queue"]["waiting"] == 0


@pytest.mark.parametrize("order", [0, 1])
def test_a_lost_call_is_inferred_from_started(order):
    mk = Maker(HALL)
    events = [mk.ticket("issued", "S001", at("10:00")), mk.ticket("started", "S001", at("10:07"))]
    eng = run(both_orders(events)[order])
    seg = eng.books[HALL].visits["S001"].segments[0]
    assert (seg.wait_s, seg.inferred, seg.counter_id) == (420.0, True, "C01")
    snap = eng.books[HALL].snapshot()
    assert snap["queue"]["waiting"] == 0 and snap["quality_today"]["inferred_calls"] == 1


@pytest.mark.parametrize("order", [0, 1])
def test_a_transaction_closes_an_open_wait_at_its_start(order):
    """No call and no start arrived: the transaction (09:12–09:20) closes the wait at 09:12."""
    mk = Maker(HALL)
    events = [mk.ticket("issued", "X001", at("09:00")), mk.tx("X001", at("09:12"), at("09:20"))]
    eng = run(both_orders(events)[order])
    v = eng.books[HALL].visits["X001"]
    assert (v.segments[0].wait_s, v.segments[0].inferred, v.status) == (720.0, True, "served")


def test_a_late_call_replaces_the_inferred_one():
    mk = Maker(HALL)
    eng = run([mk.ticket("issued", "S002", at("10:00")), mk.ticket("started", "S002", at("10:07")),
               mk.ticket("called", "S002", at("10:05"))])
    seg = eng.books[HALL].visits["S002"].segments[0]
    assert (seg.wait_s, seg.inferred) == (300.0, False)


@pytest.mark.parametrize("order", [0, 1])
def test_served_transferred_and_never_back_is_served_and_abandoned(order):
    mk = Maker(HALL)
    events = [mk.ticket("issued", "N001", at("10:00")), mk.ticket("called", "N001", at("10:02")),
              mk.tx("N001", at("10:02"), at("10:06")),
              mk.ticket("transferred", "N001", at("10:06"), to_category="terminal"),
              mk.ticket("no_show", "N001", at("10:40"))]
    eng = run(both_orders(events)[order])
    v = eng.books[HALL].visits["N001"]
    assert (v.served, v.abandoned, v.status) == (True, True, "abandoned")
    assert [s.wait_s for s in v.segments] == [120.0, None]  # the second wait was never called
    today = eng.books[HALL].snapshot()["today"]
    assert (today["issued"], today["served"], today["abandoned"]) == (1, 1, 1)


@pytest.mark.parametrize("order", [0, 1])
def test_a_visit_waiting_past_closing_plus_30_min_expires(order):
    """Issued 17:50, never called. The hall closes at 18:00: at 18:30 the visit leaves the
    queue, counts in no wait and no abandonment, and is counted as expired."""
    mk = Maker(HALL)
    events = [mk.ticket("issued", "E001", at("17:50")), mk.ticket("issued", "E002", at("17:55")),
              mk.ticket("called", "E002", at("17:58"))]
    eng = run(both_orders(events)[order])
    book = eng.books[HALL]
    assert book.snapshot()["queue"]["waiting"] == 1
    eng.tick(None, _ms(at("18:29", seconds=59)))
    assert book.visits["E001"].status == "waiting"
    out = eng.tick(None, _ms(at("18:30")))
    v = book.visits["E001"]
    assert (v.status, v.expired, v.abandoned) == ("expired", True, False)
    snap = book.snapshot()
    assert snap["queue"]["waiting"] == 0 and snap["quality_today"]["expired_visits"] == 1
    assert {"k": "visit", "h": HALL, "v": "E001", "s": []} in out.facts  # its facts are re-derived: expired


def test_a_visit_in_service_without_transaction_is_not_expired():
    mk = Maker(HALL)
    eng = run([mk.ticket("issued", "E003", at("17:50")), mk.ticket("called", "E003", at("17:52"))])
    eng.tick(None, _ms(at("18:31")))
    v = eng.books[HALL].visits["E003"]
    assert (v.status, v.expired, v.segments[0].wait_s) == ("in_service", False, 120.0)


def test_a_silent_hall_shows_data_interruption_and_raises_a_feed_alert():
    """Last event 10:00; at 10:15 (15 min in opening hours) the hall is silent: a `feed`
    alert opens; the next event closes it at once."""
    mk = Maker(HALL)
    eng = run([mk.ticket("issued", "F001", at("09:59")), mk.ticket("called", "F001", at("10:00"))])
    assert eng.tick(None, _ms(at("10:14", seconds=59))).alerts == []
    assert eng.books[HALL].snapshot()["feed"]["silent"] is False
    opened = eng.tick(None, _ms(at("10:15"))).alerts
    assert [(a.rule.value, a.action.value, a.level.value) for a in opened] == [("feed", "opened", "warning")]
    feed = eng.books[HALL].snapshot()["feed"]
    assert feed["silent"] is True and feed["silent_since_ms"] == _ms(at("10:15"))
    # still silent much later: ticks keep reaching the hall while its feed alert is open
    assert eng.tick(None, _ms(at("11:30"))).alerts == []
    assert eng.books[HALL].snapshot()["feed"]["silent"] is True
    out = eng.process(*mk.ticket("called", "F001", at("11:31")))
    assert [(a.rule.value, a.action.value) for a in out.alerts] == [("feed", "closed")]
    assert eng.books[HALL].snapshot()["feed"]["silent"] is False


def test_a_hall_is_not_silent_outside_opening_hours():
    mk = Maker(HALL)
    eng = run([mk.ticket("issued", "F002", at("17:50")), mk.ticket("called", "F002", at("17:51"))])
    assert eng.tick(None, _ms(at("18:10"))).alerts == []   # closed at 18:00
    assert eng.books[HALL].snapshot()["feed"]["silent"] is False


def test_an_event_from_the_future_is_invalid_and_moves_no_clock():
    mk = Maker(HALL)
    wall = _ms(at("10:00"))
    eng = Engine(CATALOGUE, RULES, wall_ms=lambda: wall)
    run([mk.ticket("issued", "Z001", at("09:58"))], eng)
    out = eng.process(*mk.ticket("issued", "Z002", at("10:00").replace(year=2099)))
    assert out.dead_letter.reason_code == "future_timestamp"
    assert eng.books[HALL].clock("tickets") == _ms(at("09:58"))
    ok = eng.process(*mk.ticket("issued", "Z003", at("10:04", seconds=59)))  # 4:59 ahead: allowed
    assert ok.dead_letter is None and eng.counts["late"] == 0
    assert eng.process(*mk.ticket("issued", "Z004", at("10:05", seconds=1))).dead_letter.reason_code == \
        "future_timestamp"


def test_retention_follows_the_slowest_topic():
    """Tickets run two days ahead of transactions (a backlog read unevenly). A day-one visit
    stays held until the transactions' clock passes it, so its transaction still completes
    it live; the faster topic alone never purges it."""
    mk = Maker(HALL)
    eng = Engine(CATALOGUE, RULES, retention_h=26, purge_after_events=1)
    day1 = at("10:00")
    run([mk.ticket("issued", "R001", day1), mk.ticket("called", "R001", at("10:01"))], eng)
    eng.process(*mk.tx("R000", at("09:00"), at("09:05")))  # the transactions topic has spoken, at day one
    for d in range(1, 4):  # tickets race ahead, three days
        later = at("10:00").replace(day=day1.day + d)
        for i in range(0, 600, 30):
            eng.process(*mk.ticket("issued", f"R{d}{i:03d}", later.replace(hour=9) + __import__("datetime").timedelta(minutes=i)))
    assert "R001" in eng.held and "R001" in eng.books[HALL].visits
    eng.process(*mk.tx("R001", at("10:01"), at("10:09")))
    assert eng.books[HALL].visits["R001"].status == "served"
    # once the slowest topic has moved on too, the ended visit is forgotten
    eng.process(*mk.tx("R3999", at("09:00").replace(day=day1.day + 3), at("09:05").replace(day=day1.day + 3)))
    assert "R001" not in eng.held and "R001" not in eng.books[HALL].visits


def test_ticks_reach_every_live_hall_after_a_restart():
    """The hall→partition map comes back from the tables, so a restored worker's ticks
    still close a quiet hall's alert."""
    mk = Maker(HALL)
    eng, tables = Engine(CATALOGUE, RULES), Tables()

    def feed(events):
        for kind, raw in events:
            tables.apply(eng.process(kind, raw, partition=2).writes)

    feed([mk.ticket("issued", f"Q{i:03d}", at("11:00", seconds=i)) for i in range(16)])
    feed([mk.ticket("called", f"Q{i:03d}", at("11:10", seconds=i), counter_id=f"C{i % 6:02d}") for i in range(16)])
    assert [s.rule.value for s in eng.open_alerts(HALL)] == ["queue"]
    restored = tables.restore(Engine(CATALOGUE, RULES))
    assert restored.partition_of[HALL] == 2
    closed = restored.tick(2, _ms(at("11:12", seconds=20))).alerts
    assert [(a.rule.value, a.action.value) for a in closed] == [("queue", "closed")]


def test_any_arrival_order_of_an_unclear_visit_gives_the_same_life():
    """All 120 arrival orders of five events (a same-instant transfer and call, a lost first
    call) fold to one state."""
    mk = Maker(HALL)
    events = [mk.ticket("issued", "O001", at("10:00")), mk.ticket("started", "O001", at("10:04")),
              mk.tx("O001", at("10:04"), at("10:08")),
              mk.ticket("transferred", "O001", at("10:08"), to_category="payment"),
              mk.ticket("called", "O001", at("10:08"), counter_id="C02")]
    seen = set()
    for perm in itertools.permutations(events):
        v = run(perm).books[HALL].visits["O001"]
        seen.add((v.status, tuple((s.category, s.wait_s, s.inferred) for s in v.segments)))
    assert seen == {("in_service", (("consult", 240.0, True), ("payment", 0.0, False)))}


def test_a_topic_read_ahead_of_the_others_gives_the_same_alerts():
    """With a backlog Faust reads the topics at uneven pace. Transactions read before every
    ticket know calls that lie in the tickets' future: the queue at 10:03 still has its
    three waiting customers, and the estimated-wait warning opens at 10:03 as in order."""
    from tests.test_engine_scenarios import scenario

    def alerts(events):
        eng = Engine(CATALOGUE, RULES)
        got = []
        for kind, raw in events:
            got += [(a.action.value, a.occurred_at.astimezone(CST).strftime("%H:%M"), tuple(a.triggers))
                    for a in eng.process(kind, raw, partition=0).alerts]
        return got

    ordered = alerts(scenario())
    assert ordered[0] == ("opened", "10:03", ("estimated_wait>=10min",))
    for first in ("tickets", "transactions"):
        assert alerts(sorted(scenario(), key=lambda kv: kv[0] != first)) == ordered


def test_a_restore_takes_only_the_partitions_this_worker_owns():
    """After a rebalance Faust's in-memory tables still hold the keys of partitions that
    moved to another worker; the engine rebuilds only its own halls."""
    mine, theirs = Maker(HALL), Maker("JS-NJ-0001")
    eng = Engine(CATALOGUE, RULES)
    tables = {"visits": {}, "surveys": {}, "alert_states": {}}
    for maker, partition in ((mine, 0), (theirs, 1)):
        events = [maker.ticket("issued", f"{maker.hall_id}-Q{i:03d}", at("11:00", seconds=i)) for i in range(16)]
        for kind, raw in events:
            for table, key, value in eng.process(kind, raw, partition=partition).writes:
                tables[table][key] = value
    assert {k.split("|")[0] for k in tables["alert_states"]} == {HALL, "JS-NJ-0001"}
    restored = Engine(CATALOGUE, RULES)
    restored.restore(tables["visits"].items(), tables["surveys"].items(), tables["alert_states"].items(),
                     partitions={0})
    assert set(restored.books) == {HALL}
    assert {k.split("|")[0] for k in restored.alert_states} == {HALL}


def test_an_open_alert_of_a_hall_without_held_visits_survives_a_restore():
    """A worker restarted from its tables must get back every open alert of its
    partitions, also of a hall none of whose visits the tables still hold (they ended):
    it learns the partition from the alert state's own key (the table knows it). Before,
    such an alert was dropped, and the hall's next breach opened a second alert beside the
    first, which never closed (chaos trial SIGKILL ×3: two alerts open at once)."""
    eng = Engine(CATALOGUE, RULES)
    tables = {"visits": {}, "surveys": {}, "alert_states": {}}
    partition_of_key: dict[str, int] = {}
    maker = Maker(HALL)
    for i in range(16):
        kind, raw = maker.ticket("issued", f"{HALL}-Q{i:03d}", at("11:00", seconds=i))
        for table, key, value in eng.process(kind, raw, partition=0).writes:
            tables[table][key] = value
            partition_of_key[key] = 0
    assert tables["alert_states"], "the queue alert is open"
    restored = Engine(CATALOGUE, RULES)
    with_partition = [(k, {**st, "p": partition_of_key[k]}) for k, st in tables["alert_states"].items()]
    restored.restore([], [], with_partition, partitions={0})   # no visit held any more
    assert set(restored.alert_states) == set(tables["alert_states"])
    assert restored.partition_of[HALL] == 0                    # ticks reach the hall again
    elsewhere = Engine(CATALOGUE, RULES)
    elsewhere.restore([], [], with_partition, partitions={1})
    assert not elsewhere.alert_states                          # another worker's hall stays out
