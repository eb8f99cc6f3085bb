"""The month oracle on small hand-built event lists with hand-worked figures, and the
month feed: deterministic, and holding every kind of disorder it promises.

Hall JS-NJ-0002 (南京, 08:30–18:00, default targets: 10 min everywhere but vip 5 min;
standard handle consult 4 min, plan_change 8 min, broadband 10 min)."""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.month import oracle
from tests.month.feed import DEFAULT_HALLS, FeedMessage, census, month_feed
from tests.month.oracle import FIGURES, Invalid, assessment, compare_assessment, compare_days, day_figures

HALL = "JS-NJ-0002"
CST = timezone(timedelta(hours=8))
D = date(2026, 10, 12)
DAY = D.isoformat()
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)


def at(hhmm: str, sec: float = 0, day: date = D) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=CST) + timedelta(seconds=sec)


def iso(t: datetime | str) -> str:
    return t if isinstance(t, str) else t.isoformat(timespec="milliseconds")


class B:
    """Builds contract events as FeedMessages; every event_id is new unless given."""

    def __init__(self, hall: str = HALL):
        self.hall = hall
        self.n = 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"{self.hall}-{kind}-{self.n:04d}"

    def _msg(self, topic: str, rec: dict) -> FeedMessage:
        return FeedMessage(topic, rec.get("hall_id", self.hall), json.dumps(rec, ensure_ascii=False).encode())

    def ticket(self, event_type: str, visit: str, t, cat: str = "consult", **extra) -> FeedMessage:
        rec = {"event_id": extra.pop("event_id", None) or self._id(event_type), "event_type": event_type,
               "hall_id": extra.pop("hall_id", self.hall), "visit_id": visit, "ticket_no": "A001", "category": cat}
        if event_type == "issued":
            rec.update(priority="normal", channel="kiosk")
        if event_type in ("called", "recalled", "started"):
            rec["counter_id"] = "W01"
        if event_type in ("called", "started"):
            rec["staff_id"] = "E001"
        rec.update(extra)
        rec["occurred_at"] = iso(t)
        return self._msg("tickets", rec)

    def issued(self, visit, t, cat="consult", **kw):
        return self.ticket("issued", visit, t, cat, **kw)

    def called(self, visit, t, cat="consult", **kw):
        return self.ticket("called", visit, t, cat, **kw)

    def recalled(self, visit, t, cat="consult", **kw):
        return self.ticket("recalled", visit, t, cat, **kw)

    def started(self, visit, t, cat="consult", **kw):
        return self.ticket("started", visit, t, cat, **kw)

    def transferred(self, visit, t, to, cat="consult", **kw):
        return self.ticket("transferred", visit, t, cat, to_category=to, **kw)

    def no_show(self, visit, t, cat="consult", **kw):
        return self.ticket("no_show", visit, t, cat, **kw)

    def tx(self, visit, start, end, cat="consult", fcr=True, **extra) -> FeedMessage:
        rec = {"event_id": extra.pop("event_id", None) or self._id("tx"), "hall_id": extra.pop("hall_id", self.hall),
               "visit_id": visit, "ticket_no": "A001", "counter_id": "W01", "staff_id": "E001", "category": cat,
               "business_code": "X", "started_at": iso(start), "completed_at": iso(end), "outcome": "success",
               "resolved_first_contact": fcr}
        rec.update(extra)
        return self._msg("transactions", rec)

    def survey(self, t, score, kind="customer", visit=None, complaint=None, comment=None, **extra) -> FeedMessage:
        rec = {"event_id": extra.pop("event_id", None) or self._id("sv"), "hall_id": extra.pop("hall_id", self.hall),
               "kind": kind, "channel": "sms", "answered_at": iso(t), "score": score}
        if visit:
            rec["visit_id"] = visit
        if complaint:
            rec["complaint"] = complaint
        if comment:
            rec["comment"] = comment
        rec.update(extra)
        return self._msg("surveys", rec)


def figures(msgs, now=NOW, **kw):
    return day_figures(msgs, now=now, **kw)


def expect(rows, cat, day=DAY, hall=HALL, ignore=(), **exp):
    """The row holds exactly ``exp`` (unnamed figures 0; silent_minutes only when named)."""
    assert (hall, day, cat) in rows, f"no row {hall}/{day}/{cat}; rows: {sorted(rows)}"
    row = rows[(hall, day, cat)]
    for f in FIGURES:
        if f in ignore or (f == "silent_minutes" and f not in exp):
            continue
        assert row[f] == pytest.approx(exp.get(f, 0), rel=1e-12, abs=1e-9), f"{hall}/{day}/{cat}: {f}"


def orders(msgs):
    """The given produce order, and the reverse (lateness differs, so it is ignored there)."""
    return [(list(msgs), ()), (list(reversed(msgs)), ("late_events",))]


# -- the visit fold --------------------------------------------------------------------


def test_same_millisecond_transfer_and_call_gives_a_zero_second_wait():
    b = B()
    v = "V1"
    i = b.issued(v, at("09:00"))
    c1 = b.called(v, at("09:05"))
    s1 = b.started(v, at("09:05", 30))
    t1 = b.tx(v, at("09:05", 30), at("09:09", 30), fcr=False, outcome="referred")
    tr = b.transferred(v, at("09:09", 30), "plan_change")
    c2 = b.called(v, at("09:09", 30), "plan_change")
    s2 = b.started(v, at("09:10"), "plan_change")
    t2 = b.tx(v, at("09:10"), at("09:18"), "plan_change")
    for msgs, ign in orders([i, c1, s1, t1, tr, c2, s2, t2]) + [([c2, tr, i, c1, s1, t1, s2, t2], ("late_events",))]:
        rows = figures(msgs)
        expect(rows, "consult", ignore=ign, issued=1, visits_served=1, called=1, within_target=1, wait_sum_s=300,
               wait_max_s=300, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0)
        expect(rows, "plan_change", ignore=ign, transfers=1, called=1, within_target=1, wait_sum_s=0, wait_max_s=0,
               transactions=1, handle_sum_s=480, handle_ratio_sum=1.0, first_contact=1)
        # silent: 08:30→09:00 is 30 min (15 silent), 09:18→18:00 is 522 min (507 silent)
        expect(rows, "all", ignore=ign, issued=1, visits_served=1, transfers=1, called=2, within_target=2,
               wait_sum_s=300, wait_max_s=300, transactions=2, handle_sum_s=720, handle_ratio_sum=2.0,
               first_contact=1, silent_minutes=522)
        assert {k[2] for k in rows} == {"all", "consult", "plan_change"}


def test_transfer_while_waiting_leaves_the_first_segment_uncalled():
    b = B()
    msgs = [b.issued("V", at("09:00")), b.transferred("V", at("09:04"), "payment"),
            b.called("V", at("09:06"), "payment"),
            b.tx("V", at("09:06", 20), at("09:09"), "payment")]
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=1, visits_served=1)
        expect(rows, "payment", ignore=ign, transfers=1, called=1, within_target=1, wait_sum_s=120, wait_max_s=120,
               transactions=1, handle_sum_s=160, handle_ratio_sum=160 / 180, first_contact=1)


def test_lost_call_is_inferred_from_started():
    b = B()
    msgs = [b.issued("V2", at("10:00")), b.started("V2", at("10:07")), b.tx("V2", at("10:07"), at("10:11"))]
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=1, visits_served=1, called=1, within_target=1, wait_sum_s=420,
               wait_max_s=420, inferred_calls=1, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0,
               first_contact=1)


def test_lost_call_and_start_are_inferred_from_the_transactions_started_at():
    b = B()
    msgs = [b.issued("V3", at("10:00"), "plan_change"), b.recalled("V3", at("10:11"), "plan_change"),
            b.tx("V3", at("10:12"), at("10:20"), "plan_change", fcr=False)]
    for m, ign in orders(msgs):
        rows = figures(m)
        # the wait closes at started_at (10:12), not at completed_at: 720 s, beyond the 600 s target
        expect(rows, "plan_change", ignore=ign, issued=1, visits_served=1, called=1, within_target=0,
               wait_sum_s=720, wait_max_s=720, inferred_calls=1, transactions=1, handle_sum_s=480,
               handle_ratio_sum=1.0)


def test_served_transferred_then_no_show_is_served_and_abandoned():
    b = B()
    msgs = [b.issued("V4", at("11:00")), b.called("V4", at("11:02")), b.started("V4", at("11:02", 30)),
            b.tx("V4", at("11:02", 30), at("11:06", 30), fcr=False), b.transferred("V4", at("11:06", 30), "broadband"),
            b.no_show("V4", at("11:40"), "broadband")]
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=1, visits_served=1, abandoned=1, called=1, within_target=1,
               wait_sum_s=120, wait_max_s=120, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0)
        expect(rows, "broadband", ignore=ign, transfers=1)


def test_both_kinds_of_no_show():
    b = B()
    msgs = [b.issued("N1", at("12:00")), b.called("N1", at("12:20")), b.recalled("N1", at("12:21")),
            b.no_show("N1", at("12:22")),
            b.issued("N2", at("12:05")), b.no_show("N2", at("12:30"))]
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=2, abandoned=2, called=1, within_target=0, wait_sum_s=1200,
               wait_max_s=1200)


def test_open_visits_expire_after_closing_time_and_count_no_wait():
    b = B()
    msgs = [b.issued("E1", at("17:50")), b.called("E1", at("17:55")),          # called, no transaction
            b.issued("E2", at("17:52")),                                         # never called
            b.issued("E3", at("17:40")), b.called("E3", at("17:45")), b.started("E3", at("17:46"))]
    # only E2 is still waiting: E1 and E3 are in service (called, no transaction), not open
    in_service = dict(called=2, within_target=2, wait_sum_s=600, wait_max_s=300, inferred_calls=0)
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=3, expired_visits=1, **in_service)
    # before the expiry instant (18:00 + 30 min) nothing has expired yet
    rows = figures(msgs, now=at("18:10"))
    expect(rows, "consult", issued=3, **in_service)
    rows = figures(msgs, now=at("18:30"))
    expect(rows, "consult", issued=3, expired_visits=1, **in_service)


def test_an_issued_visit_with_the_last_segment_closed_by_a_transaction_is_not_open():
    b = B()
    msgs = [b.issued("C1", at("17:30")), b.called("C1", at("17:35")), b.tx("C1", at("17:35"), at("17:39"))]
    rows = figures(msgs)
    expect(rows, "consult", issued=1, visits_served=1, called=1, within_target=1, wait_sum_s=300, wait_max_s=300,
           transactions=1, handle_sum_s=240, handle_ratio_sum=1.0, first_contact=1)


# -- duplicates, lateness, offsets, silence ---------------------------------------------


def test_a_repeated_event_id_counts_once_first_in_produce_order_wins():
    b = B()
    first = b.survey(at("15:00"), 9, event_id="SV-DUP")
    second = b.survey(at("15:00"), 3, event_id="SV-DUP", comment="改了分数")
    tx = b.tx("T1", at("15:00"), at("15:04"))
    rows = figures([first, tx, second, tx])
    expect(rows, "all", csat_n=1, csat_sum=9, csat_satisfied=1, transactions=1, handle_sum_s=240,
           handle_ratio_sum=1.0, first_contact=1)
    rows = figures([second, first])
    expect(rows, "all", csat_n=1, csat_sum=3)
    # the same event_id on another topic is another event
    other = b.ticket("issued", "T1", at("14:58"), event_id="SV-DUP")
    rows = figures([first, other])
    expect(rows, "all", issued=1, expired_visits=1, csat_n=1, csat_sum=9, csat_satisfied=1)


def test_late_events_are_counted_on_their_own_day_and_still_count():
    b = B()
    other = B("JS-NJ-0003")
    msgs = [b.issued("L1", at("09:00")), b.issued("L2", at("09:30")),
            b.issued("L3", at("09:15")),                   # 15 min behind 09:30: late
            b.issued("L4", at("09:20")),                   # exactly 10 min behind: not late
            b.issued("L5", at("09:19", 59.999)),           # 10 min 1 ms behind: late
            other.issued("O1", at("09:10")),               # another hall: its own clock
            b.tx("L1", at("09:01"), at("09:05")),          # another topic: its own clock
            b.issued("L6", at("16:00", day=D - timedelta(days=1)))]  # yesterday, arriving now: late
    rows = figures(msgs)
    expect(rows, "all", issued=5, late_events=2, expired_visits=4, called=1, within_target=1, wait_sum_s=60,
           wait_max_s=60, inferred_calls=1, visits_served=1, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0,
           first_contact=1)
    expect(rows, "consult", issued=5, expired_visits=4, called=1, within_target=1, wait_sum_s=60, wait_max_s=60,
           inferred_calls=1, visits_served=1, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0, first_contact=1)
    expect(rows, "all", day=(D - timedelta(days=1)).isoformat(), issued=1, late_events=1, expired_visits=1)
    expect(rows, "all", hall="JS-NJ-0003", issued=1, expired_visits=1)
    # a duplicate or an invalid event neither is late nor moves the clock
    rows = figures([b.issued("M1", at("09:00")), b.issued("M2", "2099-10-12T10:00:00.000+08:00"),
                    b.issued("M3", at("08:55"))])
    expect(rows, "all", issued=2, expired_visits=2, late_events=0)


def test_mixed_offsets_are_the_same_instants_and_days_are_shanghai_days():
    b = B()
    msgs = [b.issued("X1", "2026-10-12T09:00:00.000+08:00"),
            b.called("X1", "2026-10-12T01:06:00.000Z"),
            b.started("X1", "2026-10-12T01:06:30.000+00:00"),
            b.tx("X1", "2026-10-12T10:06:30.000+09:00", "2026-10-12T01:10:30Z"),
            b.survey("2026-10-12T16:30:00.000Z", 10, visit="X1"),         # 10-13 00:30 in Shanghai
            b.survey("2026-10-13T00:30:00.000+09:00", 8, visit="X1")]     # 10-12 23:30 in Shanghai
    for m, ign in orders(msgs):
        rows = figures(m)
        expect(rows, "consult", ignore=ign, issued=1, visits_served=1, called=1, within_target=1, wait_sum_s=360,
               wait_max_s=360, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0, first_contact=1,
               csat_n=1, csat_sum=8)
        expect(rows, "consult", day="2026-10-13", ignore=ign, csat_n=1, csat_sum=10, csat_satisfied=1)


def test_silent_minutes_count_gaps_over_15_minutes_in_opening_hours():
    b = B()
    msgs = [b.issued("Z", at("07:00")),                                   # before opening: not an instant
            b.issued("A", at("08:40")), b.called("A", at("08:45")), b.tx("A", at("08:46"), at("08:50")),
            b.survey(at("09:10"), 9),                                     # surveys are not instants
            b.issued("B", at("09:30")), b.called("B", at("09:31")), b.tx("B", at("09:32"), at("09:40")),
            b.tx("Q", at("17:55"), at("18:10")),                          # completes after closing
            b.survey(at("12:00", day=D + timedelta(days=1)), 9)]          # a day with a survey only
    rows = figures(msgs)
    # 08:30→08:40 10 min (0), 08:50→09:30 40 min (25), 09:40→18:00 500 min (485)
    assert rows[(HALL, DAY, "all")]["silent_minutes"] == pytest.approx(510)
    # the next day has a row (a survey) and no ticket or transaction at all: no silence counted
    assert rows[(HALL, (D + timedelta(days=1)).isoformat(), "all")]["silent_minutes"] == 0
    assert all(r["silent_minutes"] == 0 for k, r in rows.items() if k[2] != "all")
    # the direct function: a gap of exactly 15 min is not silent
    hall = oracle.load_halls()[HALL]
    assert oracle.silent_minutes(hall, D, [at("08:45"), at("09:00", 30)]) == pytest.approx(0.5 + 524.5)


# -- validity ----------------------------------------------------------------------------


def test_customer_refs_hashes_and_masks_valid_clear_numbers_invalid():
    b = B()
    hexref = "9f2c" + "a13812345678b" + "0" * 20 + "e5d4c3b2a1" * 2 + "7"
    digits_between = "7" + "13812345678" + "9" + "ab" * 25 + "c"
    msgs = [b.issued("R1", at("10:00"), customer_ref=hexref),
            b.issued("R2", at("10:01"), customer_ref=digits_between),
            b.issued("R3", at("10:02"), customer_ref="138****1234"),
            b.issued("R4", at("10:03"), customer_ref="13812345678"),
            b.issued("R5", at("10:04"), customer_ref="tel:139-1234-5678"),
            b.issued("R6", at("10:05"), customer_ref="138 1234 5678"),
            b.issued("R7", at("10:06"), customer_ref="32010219900101123X"),
            b.issued("R8", at("10:07"), customer_ref="客户13812345678"),
            b.called("R4", at("10:10")), b.tx("R4", at("10:10", 30), at("10:14", 30))]
    rows = figures(msgs)
    # R4's issue is invalid: no visit row, no wait; its transaction still counts
    expect(rows, "consult", issued=3, expired_visits=3, transactions=1, handle_sum_s=240, handle_ratio_sum=1.0,
           first_contact=1)
    assert not oracle.ref_is_clear(hexref) and not oracle.ref_is_clear(digits_between)
    assert oracle.ref_is_clear("x 13812345678") and not oracle.ref_is_clear("138123456789")


def test_numbers_in_comments_and_complaints_do_not_invalidate_a_survey():
    b = B()
    msgs = [b.survey(at("15:00"), 2, comment="有问题请回电13912345678",
                     complaint={"category": "billing", "severity": "escalated",
                                "text": "身份证32010219900101123X，电话139-1234-5678"}),
            b.survey(at("15:10"), 85, kind="inspection", comment="联系 138 1234 5678")]
    rows = figures(msgs)
    expect(rows, "all", csat_n=1, csat_sum=2, complaints=1, complaints_escalated=1, audit_n=1, audit_sum=85)


@pytest.mark.parametrize("change, why", [
    (lambda r: r.update(occurred_at="2099-10-12T09:00:00.000+08:00"), "future"),
    (lambda r: r.update(occurred_at="2026-10-12T09:00:00.000"), "no UTC offset"),
    (lambda r: r.update(hall_id="JS-XX-9999"), "catalogue"),
    (lambda r: r.pop("priority"), "priority"),
    (lambda r: r.update(category="food"), "category"),
    (lambda r: r.update(event_type="cancelled"), "event_type"),
    (lambda r: r.update(customer_ref="13812345678"), "clear"),
    (lambda r: r.pop("event_id"), "event_id"),
])
def test_invalid_tickets(change, why):
    rec = json.loads(B().issued("I1", at("09:00")).value)
    change(rec)
    with pytest.raises(Invalid, match=why):
        oracle.parse_event("tickets", json.dumps(rec).encode(), oracle.load_halls(), NOW)


def test_invalid_events_are_excluded_everywhere():
    b = B()
    halls = oracle.load_halls()
    bad = [b.tx("T", at("09:10"), at("09:05")),                              # negative handle
           b.survey(at("09:00"), 11), b.survey(at("09:00"), 0),              # customer 1..10
           b.survey(at("09:00"), 101, kind="inspection"),
           b.survey(at("09:00"), 9, dimensions={"attitude": 12}),
           b.called("T", at("09:00"), counter_id=None),
           b.transferred("T", at("09:00"), None),
           b.tx("T", at("09:00"), at("09:04"), resolved_first_contact="yes"),
           FeedMessage("tickets", HALL, b'{"event_id": "x", "hall_id'), FeedMessage("surveys", HALL, b"[1, 2]")]
    for m in bad:
        with pytest.raises(Invalid):
            oracle.parse_event(m.topic_kind, m.value, halls, NOW)
    assert figures(bad) == {}
    # the future is relative to `now`: 300 s ahead is accepted, a millisecond more is not
    now = at("09:00")
    ok = b.issued("F1", at("09:05"))
    late = b.issued("F2", at("09:05", 0.001))
    rows = figures([ok, late], now=now)
    expect(rows, "consult", issued=1, expired_visits=0)
    # inspection 0 and customer 10 are in range
    rows = figures([b.survey(at("09:00"), 0, kind="inspection"), b.survey(at("09:00"), 10)])
    expect(rows, "all", audit_n=1, audit_sum=0, csat_n=1, csat_sum=10, csat_satisfied=1)


def test_a_survey_counts_in_its_visits_issue_category_or_in_all_only():
    b = B()
    other = B("JS-NJ-0003")
    msgs = [b.issued("S1", at("09:00"), "consult"), b.transferred("S1", at("09:01"), "payment"),
            b.called("S1", at("09:02"), "payment"), b.tx("S1", at("09:02"), at("09:05"), "payment"),
            b.survey(at("09:10"), 10, visit="S1"),
            b.survey(at("09:11"), 7, visit="NO-SUCH-VISIT"),
            other.survey(at("09:12"), 6, visit="S1"),                       # same visit_id, other hall
            b.called("S9", at("09:00")), b.survey(at("09:20"), 5, visit="S9")]  # a visit without issue
    rows = figures(msgs)
    expect(rows, "consult", issued=1, visits_served=1, csat_n=1, csat_sum=10, csat_satisfied=1)
    expect(rows, "payment", transfers=1, called=1, within_target=1, wait_sum_s=60, wait_max_s=60, transactions=1,
           handle_sum_s=180, handle_ratio_sum=1.0, first_contact=1)
    expect(rows, "all", issued=1, visits_served=1, transfers=1, called=1, within_target=1, wait_sum_s=60,
           wait_max_s=60, transactions=1, handle_sum_s=180, handle_ratio_sum=1.0, first_contact=1,
           csat_n=3, csat_sum=22, csat_satisfied=1)
    expect(rows, "all", hall="JS-NJ-0003", csat_n=1, csat_sum=6)
    assert ("JS-NJ-0003", DAY, "consult") not in rows


def test_a_target_per_hall_and_category():
    b = B("JS-NJ-0001")   # consult target 8 min there; vip 5 min by default
    msgs = [b.issued("P1", at("09:00")), b.called("P1", at("09:08")),
            b.issued("P2", at("09:00")), b.called("P2", at("09:08", 0.001)),
            b.issued("P3", at("09:00"), "vip"), b.called("P3", at("09:05"), "vip"),
            b.issued("P4", at("09:00"), "vip"), b.called("P4", at("09:05", 1), "vip")]
    rows = figures(msgs, now=at("12:00"))
    assert rows[("JS-NJ-0001", DAY, "consult")]["within_target"] == 1
    assert rows[("JS-NJ-0001", DAY, "vip")]["within_target"] == 1
    assert rows[("JS-NJ-0001", DAY, "all")]["wait_max_s"] == pytest.approx(480.001)


# -- the assessment -----------------------------------------------------------------------


def _row(**sums) -> dict:
    r = {f: 0 for f in FIGURES}
    r.update(sums)
    return r


def _hall_rows(hall: str, day: str = "2026-10-05", *, issued=1000, served=980, abandoned=20, called=1000,
               within=950, wait_min=5.0, csat_n=100, csat_mean=9.5, complaints=0, tx=1000, handle=1.0,
               audit_n=1, audit=95) -> dict:
    return {(hall, day, "all"): _row(issued=issued, visits_served=served, abandoned=abandoned, called=called,
                                     within_target=within, wait_sum_s=wait_min * 60 * called, csat_n=csat_n,
                                     csat_sum=round(csat_mean * csat_n), complaints=complaints, transactions=tx,
                                     handle_ratio_sum=handle * tx, audit_n=audit_n, audit_sum=audit * audit_n)}


@pytest.fixture
def scored():
    rows = {}
    rows |= _hall_rows("JS-NJ-0001")                                    # full marks: 100
    half = dict(issued=20_000, served=20_000, called=20_000, within=15_500, tx=20_000, wait_min=12.5, csat_mean=8.25,
                complaints=11, handle=1.25, abandoned=1_200, audit=77.5)
    rows |= _hall_rows("JS-NJ-0002", **half)                            # half marks: 50
    rows |= _hall_rows("JS-NJ-0004", **half)                            # a tie with NJ-0002
    rows |= _hall_rows("JS-NJ-0003", csat_n=10, audit_n=0)              # small csat, no audit: 100 over 65
    rows |= _hall_rows("JS-SZ-0001", issued=50, served=50, called=50, within=50, tx=50, abandoned=1)  # 35 < 50
    rows |= _hall_rows("JS-SZ-0002", csat_mean=9.0)                     # 95
    # NJ-0002 failed in August and September, NJ-0004 in September only
    rows |= _hall_rows("JS-NJ-0002", "2026-09-10", **half) | _hall_rows("JS-NJ-0002", "2026-08-10", **half)
    rows |= _hall_rows("JS-NJ-0004", "2026-09-10", **half)
    return assessment(rows=rows, now=NOW, period="2026-10")


def test_scores_weights_grades_and_ranks(scored):
    a = scored
    assert set(a) == {"JS-NJ-0001", "JS-NJ-0002", "JS-NJ-0003", "JS-NJ-0004", "JS-SZ-0001", "JS-SZ-0002"}
    top = a["JS-NJ-0001"]
    assert top["total"] == 100 and top["grade"] == "优秀" and top["indicators"]["within_target"]["points"] == 25
    half = a["JS-NJ-0002"]
    assert half["indicators"]["complaints"]["value"] == pytest.approx(5.5)
    assert half["total"] == pytest.approx(50.0, abs=0.011) and half["grade"] == "不合格"
    assert half["failure_streak"] == 3 and half["flag"] == "escalated"
    assert a["JS-NJ-0004"]["failure_streak"] == 2 and a["JS-NJ-0004"]["flag"] == "rectification"
    small = a["JS-NJ-0003"]
    assert small["indicators"]["satisfaction"]["small_sample"] and small["indicators"]["audit"]["small_sample"]
    assert small["indicators"]["satisfaction"]["points"] is None and small["indicators"]["audit"]["weight"] == 0
    assert small["indicators"]["within_target"]["weight"] == pytest.approx(25 * 100 / 65)
    assert small["total"] == 100 and small["usable_weight"] == 65
    thin = a["JS-SZ-0001"]
    assert thin["usable_weight"] == 35 and not thin["assessed"]
    assert thin["total"] is None and thin["grade"] is None
    assert thin["rank_city"] is None and thin["rank_province"] is None
    assert thin["indicators"]["satisfaction"]["value"] == pytest.approx(95.0)
    assert a["JS-SZ-0002"]["total"] == 95 and a["JS-SZ-0002"]["grade"] == "优秀"
    # competition ranks: equal totals share a rank and the next rank skips
    assert {h: (r["rank_city"], r["rank_province"]) for h, r in a.items()} == {
        "JS-NJ-0001": (1, 1), "JS-NJ-0003": (1, 1), "JS-NJ-0002": (3, 4), "JS-NJ-0004": (3, 4),
        "JS-SZ-0002": (1, 3), "JS-SZ-0001": (None, None)}


def test_the_scheme_is_the_one_in_config():
    with open(oracle.ROOT / "config" / "assessment.toml", "rb") as f:
        doc = tomllib.load(f)
    assert [(i["key"], i["weight"], i["direction"], i["full_at"], i["zero_at"], i["sample"], i["min_sample"])
            for i in doc["indicators"]] == [tuple(x) for x in oracle.SCHEME]
    assert [(g["name_zh"], g["name_en"], g["min_score"]) for g in doc["grades"]] == [tuple(g) for g in oracle.GRADES]


def _as_json(result: dict) -> dict:
    """The shape of ``hallpulse assess --level hall --format json`` (sinks/assessment/rows.py)."""
    rows = []
    for r in result.values():
        rows.append({"rank_province": r["rank_province"], "rank_city": r["rank_city"], "hall_id": r["hall_id"],
                     "name": r["name"], "name_en": r["name_en"], "city": r["city"], "province": r["province"],
                     "issued": r["issued"], "total": r["total"], "grade": r["grade"], "grade_en": r["grade_en"],
                     "failing": r["failing"], "failure_streak": r["failure_streak"], "flag": r["flag"],
                     "previous_grades": [],
                     "indicators": {k: dict(i) for k, i in r["indicators"].items()}})
    return {"period": "2026-10", "level": "hall", "rows": rows}


def test_compare_assessment(scored):
    doc = _as_json(scored)
    assert compare_assessment(scored, doc) == []
    assert compare_assessment(scored, json.dumps(doc)) == []
    row = next(r for r in doc["rows"] if r["hall_id"] == "JS-NJ-0001")
    row["indicators"]["mean_wait"]["value"] *= 1 + 1e-7
    row["rank_city"] = 2
    row["indicators"]["audit"]["points"] = 9.0
    # the existing code grades a hall whose usable indicators carry less than half the weight
    thin = next(r for r in doc["rows"] if r["hall_id"] == "JS-SZ-0001")
    thin.update(total=100.0, grade="优秀", rank_city=1, rank_province=1)
    doc["rows"] = [r for r in doc["rows"] if r["hall_id"] != "JS-NJ-0004"]
    lines = compare_assessment(scored, doc)
    text = "\n".join(lines)
    assert "JS-NJ-0004: in the oracle, missing from the JSON" in text
    assert "JS-NJ-0001: mean_wait.value" in text and "JS-NJ-0001: rank_city" in text
    assert "JS-NJ-0001: audit.points" in text
    assert "JS-SZ-0001: total oracle=None json=100.0 (usable weight 35 < 50: not assessed)" in text
    assert "JS-SZ-0001: grade oracle=None json='优秀'" in text
    assert len(lines) == 8, lines


def test_compare_days():
    b = B()
    msgs = [b.issued("V", at("09:00")), b.called("V", at("09:05")), b.tx("V", at("09:05"), at("09:09")),
            b.survey(at("10:00"), 9, visit="V")]
    rows = figures(msgs)
    store = [dict(r, hall_id=k[0], day=date.fromisoformat(k[1]), category=k[2]) for k, r in rows.items()]
    store.append(dict({f: 0 for f in FIGURES}, hall_id=HALL, day=DAY, category="vip"))   # all zero: absent
    assert compare_days(rows, store) == []
    store[0] = dict(store[0], called=store[0]["called"] + 1, wait_sum_s=store[0]["wait_sum_s"] * (1 + 1e-6))
    dropped = store.pop(1)
    lines = compare_days(rows, store)
    k0 = f"{store[0]['hall_id']}/{store[0]['day']}/{store[0]['category']}"
    assert f"{k0}: called oracle=1 store=2" in lines
    assert any(line.startswith(f"{k0}: wait_sum_s") for line in lines)
    assert any(line.startswith(f"{dropped['hall_id']}/{dropped['day']}/{dropped['category']}: missing from the store")
               for line in lines)
    assert len(lines) == 3
    no_late = [{k: v for k, v in r.items() if k != "late_events"} for r in store]
    assert "store rows have no column 'late_events'" in compare_days(rows, no_late)


# -- the month feed -----------------------------------------------------------------------


def test_month_feed_is_deterministic_for_a_seed():
    small = dict(hall_ids=["JS-NJ-0003", "JS-SZ-0006", "JS-WX-0002"], visits_per_day=25)
    a = month_feed(**small)
    assert a == month_feed(**small)
    assert a != month_feed(seed=12, **small)
    assert all(isinstance(m, FeedMessage) and m.topic_kind in ("tickets", "transactions", "surveys") for m in a)


@pytest.fixture(scope="module")
def default_feed():
    return month_feed(hall_ids=DEFAULT_HALLS)


def test_the_default_feed_holds_every_kind_of_disorder(default_feed):
    msgs = default_feed
    assert 60_000 <= len(msgs) <= 110_000
    c = census(msgs)
    for kind in ("jitter", "late_within_grace", "late_beyond_grace", "exact_duplicates", "changed_duplicates",
                 "offset_+08:00", "offset_Z", "offset_+00:00", "offset_+09:00", "same_ms_transfer_and_call",
                 "lost_called_started_remains", "lost_called_and_started_tx_remains", "recalled",
                 "no_show_never_called", "no_show_after_call_and_recall", "served_transferred_no_show",
                 "events_stop_open_visits", "ref_hex", "ref_hex_with_phone_like_run", "ref_masked",
                 "surveys_with_clear_numbers_in_text", "transactions_from_days_before", "surveys_from_days_before",
                 "surveys_answered_on_a_later_day", "surveys_without_visit", "hall_days_silent_over_15_min",
                 "invalid_future", "invalid_no_offset", "invalid_clear_customer_ref", "invalid_unknown_hall",
                 "invalid_negative_handle", "invalid_score_range", "invalid_not_json"):
        assert c.get(kind, 0) > 0, (kind, c)
    n = len(msgs)
    for kind in ("jitter", "late_within_grace", "late_beyond_grace", "exact_duplicates"):
        assert c[kind] < 0.06 * n, (kind, c[kind])
    assert sum(v for k, v in c.items() if k.startswith("invalid_")) < 50
    per_hall = c["per_hall"]
    assert set(per_hall) == set(DEFAULT_HALLS)
    # every hall has audits and complaints; one hall has too few customer surveys
    assert all(p["audits"] > 0 and p["complaints"] > 0 for p in per_hall.values())
    few = [h for h, p in per_hall.items() if p["customer_surveys"] < 30]
    assert few == [DEFAULT_HALLS[-2]] or sorted(few) == sorted(DEFAULT_HALLS[-2:])
    # the message key is the hall of the event
    for m in msgs[:2000]:
        try:
            d = json.loads(m.value)
        except ValueError:
            continue
        if isinstance(d, dict):
            assert m.key == d["hall_id"]


def test_the_oracle_on_a_month_feed():
    # a lighter month than the default (the same roles and disorder), to keep this file fast
    rows = day_figures(month_feed(hall_ids=DEFAULT_HALLS, visits_per_day=50), now=NOW)
    totals = {f: sum(r[f] for k, r in rows.items() if k[2] == "all") for f in FIGURES}
    for f in ("late_events", "expired_visits", "inferred_calls", "silent_minutes", "transfers", "abandoned",
              "complaints_escalated", "audit_n"):
        assert totals[f] > 0, f
    a = assessment(rows=rows, now=NOW)
    assert set(a) == set(DEFAULT_HALLS)
    cities = {r["city"] for r in a.values()}
    assert len(cities) >= 2
    new, few = a[DEFAULT_HALLS[-1]], a[DEFAULT_HALLS[-2]]
    assert not new["assessed"] and new["issued"] < 100
    assert few["assessed"] and few["indicators"]["satisfaction"]["small_sample"]
    full = [h for h, r in a.items() if not any(i["small_sample"] for i in r["indicators"].values())]
    assert len(full) >= 3
    assert len({r["grade"] for r in a.values() if r["assessed"]}) >= 2
