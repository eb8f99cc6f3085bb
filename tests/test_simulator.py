"""The simulator must produce valid, reproducible and *realistic* traffic: later stages
(metrics, alerts, assessment) are demonstrated and load-tested with it."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from hallpulse import simulator
from schemas.catalogue import load_catalogue
from hallpulse.cli import main
from hallpulse.config import Settings
from schemas.events import Category, SurveyEvent, TicketEvent, TransactionEvent
from schemas.privacy import is_safe_customer_ref

MODELS = {"tickets": TicketEvent, "transactions": TransactionEvent, "surveys": SurveyEvent}
START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$")


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(Settings().catalogue_file)


@pytest.fixture(scope="module")
def day(catalogue):
    """The whole province, 09:00-18:00: both peaks, the lunch dip, and enough rare events
    (escalated complaints, mystery shoppers) that the assertions hold for any seed."""
    msgs = list(simulator.generate(catalogue, halls=36, minutes=540, seed=7, start=START))
    events = [(m, MODELS[m.topic_kind].model_validate_json(m.value)) for m in msgs]
    return events


def _visits(day):
    visits = defaultdict(list)
    for m, ev in day:
        if m.topic_kind == "tickets":
            visits[ev.visit_id].append(ev)
    return visits


def _wait_segments(day):
    """(visit_id, hall_id, category, wait minutes, called_at) per wait segment (domain.md §3)."""
    open_seg, out = {}, []
    for m, ev in day:
        if m.topic_kind != "tickets":
            continue
        t = ev.event_type.value
        if t == "issued":
            open_seg[ev.visit_id] = (ev.occurred_at, ev.category.value)
        elif t == "transferred":
            open_seg[ev.visit_id] = (ev.occurred_at, ev.to_category.value)
        elif t == "called" and ev.visit_id in open_seg:
            since, cat = open_seg.pop(ev.visit_id)
            assert cat == ev.category.value  # the call comes from the queue the visit waited in
            out.append((ev.visit_id, ev.hall_id, cat, (ev.occurred_at - since).total_seconds() / 60, ev.occurred_at))
    return out


def test_same_seed_same_bytes_and_other_seed_differs(catalogue):
    def run(seed):
        return [(m.topic_kind, m.key, m.value, m.event_time)
                for m in simulator.generate(catalogue, halls=3, minutes=120, seed=seed, start=START)]

    a, b, c = run(5), run(5), run(6)
    assert len(a) > 500
    assert a == b
    assert a != c
    ids = lambda msgs: {json.loads(v)["event_id"] for _, _, v, _ in msgs}  # noqa: E731
    assert not ids(a) & ids(c), "event ids of different seeds must not collide (they would be deduplicated)"


def test_every_event_validates_and_is_well_formed(day, catalogue):
    assert len(day) > 5000
    seen_ids = set()
    kinds = Counter()
    for m, ev in day:
        kinds[m.topic_kind] += 1
        assert m.key == ev.hall_id and ev.hall_id in catalogue
        assert ev.event_id not in seen_ids
        seen_ids.add(ev.event_id)
        raw = json.loads(m.value)
        for field in ("occurred_at", "started_at", "completed_at", "answered_at"):
            if field in raw:
                assert TS_RE.match(raw[field]), raw[field]
        assert m.event_time.utcoffset() is not None
        if m.topic_kind == "tickets" and ev.customer_ref is not None:
            ref = ev.customer_ref
            assert is_safe_customer_ref(ref)
            assert re.fullmatch(r"1\d\d\*{4}\d{4}", ref) or re.fullmatch(r"[0-9a-f]{32}", ref)
    assert set(kinds) == {"tickets", "transactions", "surveys"}
    assert kinds["tickets"] > kinds["transactions"] > kinds["surveys"]
    assert {m.key for m, _ in day} == {h.hall_id for h in catalogue.halls}


def test_messages_sorted_and_visits_start_with_issued_in_order(day):
    times = [m.event_time for m, _ in day]
    assert times == sorted(times)
    assert times[0] >= START
    visits = _visits(day)
    halls_of_visit = defaultdict(set)
    for vid, evs in visits.items():
        assert evs[0].event_type.value == "issued", vid
        assert sum(e.event_type.value == "issued" for e in evs) == 1
        assert [e.occurred_at for e in evs] == sorted(e.occurred_at for e in evs)
        assert len({e.ticket_no for e in evs}) == 1
        halls_of_visit[vid] |= {e.hall_id for e in evs}
        last = evs[-1].event_type.value
        # after a no-show or the end of service nothing else happens at the queue
        if "no_show" in [e.event_type.value for e in evs]:
            assert last == "no_show"
    assert all(len(h) == 1 for h in halls_of_visit.values())


def test_ticket_numbers_count_up_per_category_letter(day):
    assert set(simulator.CATEGORY_MIX) == set(simulator.TICKET_LETTER) == {c.value for c in Category}
    assert len(set(simulator.TICKET_LETTER.values())) == len(Category)  # a letter names one queue
    assert abs(sum(simulator.CATEGORY_MIX.values()) - 1) < 1e-9
    per = defaultdict(list)
    for m, ev in day:
        if m.topic_kind == "tickets" and ev.event_type.value == "issued":
            letter = simulator.TICKET_LETTER[ev.category.value]
            assert ev.ticket_no[0] == letter
            per[(ev.hall_id, letter)].append(int(ev.ticket_no[1:]))
    for nums in per.values():
        assert nums == list(range(1, len(nums) + 1))


def test_one_transaction_per_served_segment_and_counters_limited(day, catalogue):
    started = {}
    tx_by_visit = Counter()
    per_counter = defaultdict(list)
    handle = defaultdict(list)
    for m, ev in day:
        if m.topic_kind == "tickets" and ev.event_type.value == "started":
            started.setdefault(ev.visit_id, []).append(ev.occurred_at)
        elif m.topic_kind == "transactions":
            tx_by_visit[ev.visit_id] += 1
            assert ev.started_at in started[ev.visit_id]  # the service began with 'started'
            assert ev.handle_seconds >= 30
            per_counter[(ev.hall_id, ev.counter_id)].append((ev.started_at, ev.completed_at))
            handle[ev.category.value].append(ev.handle_seconds / catalogue.standard_handle_s(ev.hall_id, ev.category))
    for vid, n in tx_by_visit.items():
        assert n <= len(started[vid])
    # a counter serves one customer at a time, and a hall has no more counters than catalogued
    for spans in per_counter.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    used = Counter(h for h, _ in per_counter)
    assert all(used[h] <= catalogue.get(h).counters for h in used)
    # service times scatter around the standard handle time of their category
    for cat, ratios in handle.items():
        mean = sum(ratios) / len(ratios)
        assert 0.75 < mean < 1.4, (cat, mean)


def test_queues_build_up_at_peak(day, catalogue):
    segs = _wait_segments(day)
    assert len(segs) > 2000

    def mean_wait(lo, hi):
        w = [s[3] for s in segs if lo <= s[4].hour + s[4].minute / 60 < hi]
        return sum(w) / len(w)

    peak, early, lunch = mean_wait(10, 11.5), mean_wait(9, 9.5), mean_wait(12.5, 13.5)
    assert peak > 2 * early and peak > 2 * lunch, (peak, early, lunch)
    long_at_peak = Counter(s[1] for s in segs if s[3] > 10 and 10 <= s[4].hour < 12)
    assert long_at_peak, "no wait above the 10-minute promise at the morning peak"
    # the busiest hall breaks the promise for many customers, not just one
    assert long_at_peak.most_common(1)[0][1] >= 10


def test_noshows_transfers_complaints_and_audits_happen(day):
    types = Counter(ev.event_type.value for m, ev in day if m.topic_kind == "tickets")
    issued = types["issued"]
    assert 0.005 < types["no_show"] / issued < 0.12
    assert 0.01 < types["transferred"] / issued < 0.15
    assert types["recalled"] > 0

    waits = defaultdict(float)
    for vid, _, _, w, _ in _wait_segments(day):
        waits[vid] += w
    visits = _visits(day)
    noshow = [waits[v] for v, evs in visits.items() if evs[-1].event_type.value == "no_show"]
    served = [waits[v] for v, evs in visits.items() if any(e.event_type.value == "started" for e in evs)]
    assert sum(noshow) / len(noshow) > 2 * sum(served) / len(served), "no-shows should follow long waits"

    # a transfer opens a second wait in another category, served with a second transaction
    for vid, evs in visits.items():
        tr = [e for e in evs if e.event_type.value == "transferred"]
        if tr:
            assert tr[0].to_category != tr[0].category
            after = [e for e in evs if e.occurred_at >= tr[0].occurred_at and e.event_type.value == "called"]
            assert all(e.category == tr[0].to_category for e in after)

    surveys = [ev for m, ev in day if m.topic_kind == "surveys"]
    by_kind = Counter(s.kind.value for s in surveys)
    assert by_kind["customer"] > 300 and by_kind["mystery_shopper"] > 0 and by_kind["inspection"] > 0
    assert all(0 <= s.score <= 100 for s in surveys if s.kind.value != "customer")
    complaints = [s for s in surveys if s.complaint]
    cats = Counter(s.complaint.category.value for s in complaints)
    assert cats.most_common(1)[0][0] == "wait_time"
    assert any(s.complaint.severity.value == "escalated" for s in complaints)
    cust = [s for s in surveys if s.kind.value == "customer"]
    long_wait = [s.score for s in cust if waits[s.visit_id] > 15]
    short_wait = [s.score for s in cust if waits[s.visit_id] < 3]
    assert sum(long_wait) / len(long_wait) < sum(short_wait) / len(short_wait) - 1
    assert any(re.search(r"1\d{10}", s.comment or "") for s in cust), "comments sometimes carry a clear phone"


def test_bad_share_produces_invalid_messages_and_leaves_the_rest_alone(catalogue):
    kw = dict(halls=4, minutes=240, seed=11, start=START)
    good = list(simulator.generate(catalogue, **kw))
    mixed = list(simulator.generate(catalogue, bad_share=0.2, **kw))
    assert [(m.topic_kind, m.event_time) for m in good] == [(m.topic_kind, m.event_time) for m in mixed]
    reasons = Counter()
    for g, m in zip(good, mixed):
        if g == m:
            continue
        try:
            ev = MODELS[m.topic_kind].model_validate_json(m.value)
        except ValidationError as e:
            text = str(e)
            reason = ("malformed_json" if "json_invalid" in text or "Invalid JSON" in text
                      else "no_offset" if "no UTC offset" in text
                      else "clear_phone" if "clear phone" in text
                      else "score_range" if "out of range" in text else text)
            reasons[reason] += 1
            continue
        assert ev.hall_id not in catalogue, f"a changed message still validates: {m.value!r}"
        assert m.key == ev.hall_id == simulator.UNKNOWN_HALL
        reasons["unknown_hall"] += 1
    assert set(reasons) == set(simulator.BAD_KINDS), reasons
    share = sum(reasons.values()) / len(mixed)
    assert 0.17 < share < 0.23, share


def test_arguments_are_checked(catalogue):
    with pytest.raises(simulator.SimulationArgumentError, match="only 36"):
        simulator.generate(catalogue, halls=37, minutes=10)
    with pytest.raises(simulator.SimulationArgumentError, match="offset"):
        simulator.generate(catalogue, halls=1, minutes=10, start=datetime(2026, 11, 23, 9))
    start = simulator.default_start(datetime.fromisoformat("2026-11-23T07:00:00+08:00"), 60)
    assert (start.hour, start.minute, start.utcoffset().total_seconds()) == (9, 0, 8 * 3600)


@pytest.mark.parametrize("now,minutes,expected", [
    ("2026-11-23T15:00:00+08:00", 240, "2026-11-23T11:00:00+08:00"),  # in the afternoon: the window ending now
    ("2026-11-23T11:00:00+08:00", 240, "2026-11-22T09:00:00+08:00"),  # the morning would reach the future
    ("2026-11-23T07:00:00+08:00", 60, "2026-11-22T09:00:00+08:00"),   # before opening: yesterday
    ("2026-11-23T20:00:00+08:00", 240, "2026-11-23T09:00:00+08:00"),  # evening: today's opening hours
])
def test_the_default_window_lies_in_the_past(now, minutes, expected):
    """The worker refuses events more than 5 minutes ahead of its clock (domain.md §2)."""
    start = simulator.default_start(datetime.fromisoformat(now), minutes)
    assert start == datetime.fromisoformat(expected)
    assert start + timedelta(minutes=minutes) <= datetime.fromisoformat(now)


def test_cli_writes_jsonl_that_round_trips(tmp_path):
    out = tmp_path / "events.jsonl"
    settings = Settings()
    result = CliRunner().invoke(main, ["simulate", "--halls", "2", "--minutes", "30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines
    by_topic = {settings.topics.tickets: TicketEvent, settings.topics.transactions: TransactionEvent,
                settings.topics.surveys: SurveyEvent}
    halls = {h.hall_id for h in load_catalogue(settings.catalogue_file).halls[:2]}
    counts = Counter()
    for line in lines:
        rec = json.loads(line)
        assert set(rec) == {"topic", "key", "value"}
        ev = by_topic[rec["topic"]].model_validate_json(rec["value"])
        assert rec["key"] == ev.hall_id and ev.hall_id in halls
        counts[rec["topic"]] += 1
    assert counts[settings.topics.tickets] > 0
    assert f"simulated {len(lines)} messages" in result.stdout
    assert f"tickets={counts[settings.topics.tickets]}" in result.stdout


def test_cli_is_deterministic_and_rejects_too_many_halls(tmp_path):
    args = ["simulate", "--halls", "2", "--minutes", "20", "--seed", "4",
            "--start", "2026-11-23T10:00:00+08:00", "--bad-share", "0.1"]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for f in (a, b):
        assert CliRunner().invoke(main, [*args, "--out", str(f)]).exit_code == 0
    assert a.read_bytes() == b.read_bytes() and a.stat().st_size > 0
    bad = CliRunner().invoke(main, ["simulate", "--halls", "99", "--minutes", "5", "--out", str(a)])
    assert bad.exit_code == 2 and "only 36" in bad.output
    naive = CliRunner().invoke(main, ["simulate", "--start", "2026-11-23T09:00:00", "--out", str(a)])
    assert naive.exit_code == 2 and "offset" in naive.output
