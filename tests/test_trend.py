"""The lobby page's two hours of minute figures (streams/trend.py) and who is at a counter
now (HallBook.serving_now), from events through the engine."""

from __future__ import annotations

import pytest

from streams.trend import MINUTE_MS, MinuteRing
from tests.events import Maker, at
from tests.test_engine_scenarios import run

M0 = 1_800_000_000_000 // MINUTE_MS * MINUTE_MS


def test_ring_keeps_the_last_capacity_minutes_and_overwrites_a_minute():
    ring = MinuteRing(capacity=3)
    for i in range(5):
        ring.put(M0 + i * MINUTE_MS, i, i * 10.0)
    assert len(ring) == 3
    ring.put(M0 + 4 * MINUTE_MS, 9, 99.0)  # a late event changed the minute
    w = ring.window(M0 + 4 * MINUTE_MS)
    assert w == {"minutes": [M0 + 2 * MINUTE_MS, M0 + 3 * MINUTE_MS, M0 + 4 * MINUTE_MS],
                 "queue": [2, 3, 9], "longest_wait_s": [20.0, 30.0, 99.0]}


def test_ring_window_has_gaps_as_none_and_an_old_minute_does_not_stay():
    ring = MinuteRing(capacity=4)
    ring.put(M0 + 3 * MINUTE_MS, 1, 5.0)
    ring.put(M0 - 10 * MINUTE_MS, 7, 7.0)  # older than the window of the newest: dropped
    assert len(ring) == 1
    assert ring.window(M0 + 3 * MINUTE_MS)["queue"] == [None, None, None, 1]
    assert ring.missing(M0 + 3 * MINUTE_MS, since_ms=M0 + MINUTE_MS) == [M0 + MINUTE_MS, M0 + 2 * MINUTE_MS]
    with pytest.raises(ValueError):
        ring.put(M0 + 1, 1, 1.0)


def test_ring_holds_what_a_plain_reading_of_its_rule_holds_for_any_order_of_minutes():
    """Against the rule read plainly: the last value put for each minute, of the minutes
    within ``capacity`` of the newest one ever put (in order, late, repeated, far ahead)."""
    import random

    rnd = random.Random(7)
    for capacity in (1, 3, 120):
        ring, puts = MinuteRing(capacity=capacity), {}
        for n in range(2_000):
            step = rnd.choice([1, 1, 1, 0, -1, -5, -200, 3, 500])
            newest = max(puts, default=M0)
            m = newest + step * MINUTE_MS
            ring.put(m, n, n / 10)
            puts[m] = (n, round(n / 10, 1))
            top = max(puts)
            want = {k: v for k, v in puts.items() if k >= top - (capacity - 1) * MINUTE_MS}
            assert len(ring) == len(want)
            window = ring.window(top)
            assert {k: (q, w) for k, q, w in zip(window["minutes"], window["queue"], window["longest_wait_s"])
                    if q is not None} == want


def _busy_morning():
    mk = Maker("JS-NJ-0002")
    ev = [mk.ticket("issued", f"V{i:03d}", at("09:00").replace(minute=i)) for i in range(10)]
    ev.append(mk.ticket("called", "V000", at("09:20"), counter_id="C01", staff_id="S01"))
    ev.append(mk.ticket("started", "V000", at("09:21"), counter_id="C01", staff_id="S01"))
    ev.append(mk.ticket("called", "V001", at("09:22"), counter_id="C02", staff_id="S02"))
    ev.append(mk.tx("V001", at("09:22"), at("09:26"), counter_id="C02", staff_id="S02"))
    ev.append(mk.ticket("called", "V002", at("09:27"), counter_id="C02", staff_id="S02"))
    ev.append(mk.ticket("issued", "V099", at("09:30", seconds=30)))  # the hall's clock: 09:30:30
    return ev


def test_book_trend_follows_the_minute_gauges_and_is_refilled_after_a_restart():
    eng = run(_busy_morning())
    book = eng.books["JS-NJ-0002"]
    trend = book.snapshot()["trend"]
    assert len(trend["minutes"]) == 120
    i = trend["minutes"].index(int(at("09:29").timestamp() * 1000))  # the last minute completed
    assert trend["minutes"][-1] == trend["minutes"][i]
    assert trend["queue"][i] == 7  # 10 issued, 3 called
    assert trend["longest_wait_s"][i] == pytest.approx(26 * 60 + 59.999, abs=0.1)  # V003 since 09:03
    j = trend["minutes"].index(int(at("09:05").timestamp() * 1000))
    assert trend["queue"][j] == 6
    assert set(trend["queue"][: trend["minutes"].index(int(at("09:00").timestamp() * 1000))]) <= {None, 0}

    book.trend = type(book.trend)()  # a restarted worker: the ring is empty, the indices are not
    again = book.snapshot()["trend"]
    k = trend["minutes"].index(int(at("09:00").timestamp() * 1000))  # refilled from the first ticket on
    assert again["minutes"] == trend["minutes"]
    assert again["queue"][k:] == trend["queue"][k:] and again["longest_wait_s"][k:] == trend["longest_wait_s"][k:]


def test_serving_now_shows_each_counter_with_its_handle_time_against_standard():
    eng = run(_busy_morning())
    snap = eng.books["JS-NJ-0002"].snapshot()
    serving = {r["counter_id"]: r for r in snap["serving"]}
    assert set(serving) == {"C01", "C02"}
    c1 = serving["C01"]
    assert (c1["staff_id"], c1["category"], c1["ticket_no"]) == ("S01", "consult", "A000")
    assert c1["handle_s"] == pytest.approx(9.5 * 60)  # since its start at 09:21, not its call
    assert c1["standard_s"] > 0 and c1["ratio"] == pytest.approx(c1["handle_s"] / c1["standard_s"], abs=1e-3)
    assert serving["C02"]["ticket_no"] == "A002" and serving["C02"]["handle_s"] == pytest.approx(3.5 * 60)
    assert [(c["staff_id"], c["n"]) for c in snap["clerks"]] == [("S02", 1)]  # served today
