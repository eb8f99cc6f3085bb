"""Deterministic seed data for the analytic store: a small, realistic set of halls.

``seed_events`` plays each hall and business day as a queue and returns the contract events
(domain.md §2) that the producers would have sent: tickets, transactions, surveys.
``seed_store`` feeds them, in event-time order, through the worker's own engine
(``streams.engine.Engine``, alert rules from config/alerts.toml), keeping the facts and
alerts it sends (``tests.recording.RecordingEngine``), and writes them as the sink would
(``sinks.facts.FactWriter``, which stores the facts and derives the minute, hour and day
aggregates from them by SQL), in one write at the end. So the visits, wait segments,
transactions, surveys, alerts and minute/hour/day metrics in the store are exactly what
the pipeline would write for those events. The same arguments always
give the same events, hence the same rows (the sink's ``version`` columns aside).

The queue: tickets arrive with a morning and an afternoon rush; the customer first in line
(by issue or transfer time) goes to whichever counter staffed in that hour frees first,
the lowest-numbered on a tie; each hour is staffed for its expected load. Waits,
abandonment, alerts and scores follow from that. A few patterns are planted on purpose so
tests can assert answers; the summary names them:

* ``slow_peak_hall`` (``halls[1]``) staffs its peak hours (10:00-12:00 and 14:00-16:00
  Asia/Shanghai) about one counter short: peak waits average ~10 minutes against ~2
  elsewhere, and its queue spills into the hour after each rush.
* ``falling_satisfaction_hall`` (``halls[2]``): customer scores drop by ~2.5 points from
  the first day of ``second_month`` (the calendar month after ``start_day``'s), and a
  burst of four escalated attitude complaints on the first weekday of that month sets off
  a complaint-spike alert.
* ``high_abandonment`` (``halls[3]`` at 17:00): a third of the tickets issued in that hour
  end in no_show.
* ``slow_clerk`` (``halls[0]``, the clerk of counter C02): handle times ~1.8x the category
  standard. ``busy_counter`` (``halls[0]``, C01): C01 serves the most in every hall.
* ``low_fcr_business_code`` (``BROADBAND_FAULT``): resolved at first contact ~45 % of
  the time, every other code ~80-90 %.
* ``low_audit_hall`` (``halls[-1]``): mystery-shopper and inspection scores ~62, others ~89.

Complaint texts and comments carry clear phone numbers, as customers type them; the
engine masks them before anything is stored. A hall uses at most six counters, one clerk
each; a customer abandons only at the first call.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.catalogue import Catalogue
from hallpulse.config import PROJECT_ROOT
from schemas.events import Category
from sinks.store import Store
from sinks.facts import FactWriter
from sinks.tables import values
from streams.alerts import load_alert_rules
from tests.recording import RecordingEngine

SHANGHAI = ZoneInfo("Asia/Shanghai")
PEAK_HOURS = (10, 11, 14, 15)
ALERT_RULES_FILE = PROJECT_ROOT / "config" / "alerts.toml"

CATEGORY_WEIGHTS = {"consult": 20, "open_account": 8, "plan_change": 20, "payment": 18,
                    "terminal": 10, "broadband": 10, "vip": 6, "other": 8}
TICKET_PREFIX = {"consult": "A", "open_account": "B", "plan_change": "C", "payment": "D",
                 "terminal": "E", "broadband": "F", "vip": "V", "other": "G"}
# category -> [(business_code, weight, first-contact resolution probability)]
BUSINESS_CODES = {
    "consult": [("CONSULT_GENERAL", 1, 0.95)],
    "open_account": [("OPEN_ACCOUNT_NEW", 3, 0.92), ("NUMBER_PORT_IN", 1, 0.85)],
    "plan_change": [("PLAN_CHANGE_4G5G", 3, 0.93), ("PLAN_DOWNGRADE", 1, 0.88)],
    "payment": [("BILL_PAYMENT", 1, 0.97)],
    "terminal": [("TERMINAL_PURCHASE", 2, 0.94), ("TERMINAL_REPAIR", 1, 0.86)],
    "broadband": [("BROADBAND_INSTALL", 1, 0.90), ("BROADBAND_FAULT", 1, 0.45)],
    "vip": [("VIP_SERVICE", 1, 0.96)],
    "other": [("OTHER_SERVICE", 1, 0.90)],
}
TRANSFER_FROM = ("consult", "plan_change", "other")
TRANSFER_TO = ("plan_change", "terminal", "broadband", "open_account")
HOUR_WEIGHTS = {8: 0.5, 9: 0.9, 10: 1.6, 11: 1.6, 12: 0.9, 13: 0.9, 14: 1.5, 15: 1.5,
                16: 1.0, 17: 0.8, 18: 0.6, 19: 0.5}
VISITS_PER_DAY = {"flagship": 50, "large": 36, "medium": 30, "small": 24}
SERVICE_MIN = 8.5  # mean minutes a counter spends per customer: walk-up plus handle time
COMPLAINT_WEIGHTS = {"attitude": 35, "billing": 20, "business_error": 20, "environment": 10, "other": 15}
COMPLAINT_TEXT = {
    "wait_time": "等候{m}分钟仍未叫号，客户要求回电 {phone}",
    "attitude": "营业员态度生硬，客户 {phone} 要求道歉",
    "billing": "话费扣费有误，联系电话 {phone}",
    "business_error": "套餐办理错误需重新办理，客户电话 {phone}",
    "environment": "大厅空调温度过低，排队区座位不足",
    "other": "建议增加自助终端",
}
COMMENTS = ["服务热情", "办理很快", "等太久了", "请回电 {phone}", "引导清楚"]
DIMENSIONS = ("attitude", "efficiency", "professionalism", "environment")


@dataclass
class _Segment:
    category: str
    waited_from: datetime
    called_at: datetime
    counter_id: str
    staff_id: str

    @property
    def wait_s(self) -> float:
        return (self.called_at - self.waited_from).total_seconds()


@dataclass
class _Service:
    started: datetime
    completed: datetime
    business_code: str
    outcome: str
    resolved: bool


@dataclass
class _Visit:
    visit_id: str
    hall_id: str
    category: str
    ticket_no: str
    priority: str
    channel: str
    issued: datetime
    transfer_to: str | None
    segments: list[_Segment] = field(default_factory=list)
    services: list[_Service] = field(default_factory=list)  # services[i] follows segments[i]
    abandoned: bool = False

    @property
    def total_wait_s(self) -> float:
        return sum(s.wait_s for s in self.segments)


@dataclass(frozen=True)
class _Survey:
    hall_id: str
    kind: str
    answered: datetime
    score: int
    complaint: str  # complaint category, '' for none
    severity: str


def _serve(rng: random.Random, day_visits: list[_Visit], *, counters: list[str], staff: dict[str, str],
           staffed: dict[int, int], open_at: datetime, standard: dict[str, float], slow_staff: str | None,
           abandon_p) -> None:
    """One business day of a hall as a FIFO queue in front of the counters staffed in each
    hour. A no_show holds its counter for two minutes of recalls; a transfer re-enters the
    queue in its new category when the first service ends."""
    free_at = dict.fromkeys(counters, open_at)
    heap = [(v.issued, i, v, v.category) for i, v in enumerate(day_visits)]
    heapq.heapify(heap)
    order = len(heap)
    while heap:
        ready, _, v, cat = heapq.heappop(heap)
        first = not v.segments
        eligible = counters[:staffed[ready.astimezone(SHANGHAI).hour]]
        counter = min(eligible, key=lambda c: max(free_at[c], ready))
        called = max(free_at[counter], ready) + timedelta(seconds=rng.randint(5, 30))
        seg = _Segment(cat, ready, called, counter, staff[counter])
        v.segments.append(seg)
        if first and rng.random() < abandon_p(v, seg.wait_s):
            v.abandoned = True
            free_at[counter] = called + timedelta(seconds=120)
            continue
        started = called + timedelta(seconds=rng.randint(20, 90))
        slow = 1.8 if seg.staff_id == slow_staff else 1.0
        handle = max(30, round(standard[cat] * rng.lognormvariate(0, 0.25) * slow))
        completed = started + timedelta(seconds=handle)
        codes = BUSINESS_CODES[cat]
        code, _, fcr = rng.choices(codes, [w for _, w, _ in codes])[0]
        transfer = first and v.transfer_to is not None
        if transfer:
            outcome, resolved = "referred", False
        else:
            outcome = rng.choices(["success", "failed", "referred"], [92, 5, 3])[0]
            resolved = outcome == "success" and rng.random() < fcr
        v.services.append(_Service(started, completed, code, outcome, resolved))
        free_at[counter] = completed
        if transfer:
            heapq.heappush(heap, (completed, order, v, v.transfer_to))
            order += 1


class _Stream:
    """The contract events of the run, as the producers would send them."""

    def __init__(self) -> None:
        self.items: list[tuple[datetime, int, str, dict]] = []

    def add(self, kind: str, at: datetime, payload: dict) -> None:
        self.items.append((at, len(self.items), kind, payload))

    def ticket(self, v: _Visit, event_type: str, n: int, at: datetime, category: str, **extra) -> None:
        self.add("tickets", at, {"event_id": f"{v.visit_id}:{event_type}:{n}", "event_type": event_type,
                                 "hall_id": v.hall_id, "visit_id": v.visit_id, "ticket_no": v.ticket_no,
                                 "category": category, "occurred_at": _iso(at), **extra})

    def visit(self, v: _Visit) -> None:
        self.ticket(v, "issued", 0, v.issued, v.category, priority=v.priority, channel=v.channel)
        for i, seg in enumerate(v.segments):
            where = {"counter_id": seg.counter_id}
            self.ticket(v, "called", i, seg.called_at, seg.category, **where, staff_id=seg.staff_id)
            if v.abandoned:
                self.ticket(v, "recalled", i, seg.called_at + timedelta(seconds=60), seg.category, **where)
                self.ticket(v, "no_show", i, seg.called_at + timedelta(seconds=120), seg.category)
                return
            svc = v.services[i]
            self.ticket(v, "started", i, svc.started, seg.category, **where, staff_id=seg.staff_id)
            self.add("transactions", svc.completed, {
                "event_id": f"{v.visit_id}:tx:{i}", "hall_id": v.hall_id, "visit_id": v.visit_id,
                "ticket_no": v.ticket_no, "counter_id": seg.counter_id, "staff_id": seg.staff_id,
                "category": seg.category, "business_code": svc.business_code, "started_at": _iso(svc.started),
                "completed_at": _iso(svc.completed), "outcome": svc.outcome,
                "resolved_first_contact": svc.resolved})
            if i + 1 < len(v.segments):
                self.ticket(v, "transferred", i, svc.completed, seg.category, to_category=v.segments[i + 1].category)

    def messages(self) -> list[tuple[datetime, str, bytes]]:
        return [(at, kind, json.dumps(p, ensure_ascii=False).encode()) for at, _, kind, p in sorted(
            self.items, key=lambda x: (x[0], x[1]))]


def _iso(t: datetime) -> str:
    return t.astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def _local(day: date, t: time) -> datetime:
    return datetime.combine(day, t, SHANGHAI)


def _month_of(t: datetime) -> date:
    return t.astimezone(SHANGHAI).date().replace(day=1)


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _phone(rng: random.Random) -> str:
    """A clear mobile number, as a customer would type it."""
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


def seed_events(catalogue: Catalogue, *, start_day: date, days: int, halls: list[str],
                seed: int = 1) -> tuple[list[tuple[datetime, str, bytes]], dict]:
    """The contract events of ``days`` business days from ``start_day`` at ``halls``
    (catalogue ids, at least four), as ``(event time, topic kind, JSON bytes)`` sorted by
    event time, and the summary of what they hold (see :func:`seed_store`)."""
    if len(halls) < 4:
        raise ValueError("seeding needs at least four halls (it plants patterns on halls[0..3])")
    unknown = [h for h in halls if h not in catalogue]
    if unknown:
        raise ValueError(f"halls not in the catalogue: {unknown}")
    if catalogue.get(halls[0]).counters < 2:
        raise ValueError(f"{halls[0]} has one counter; halls[0] needs two (its C02 clerk is the slow one)")
    rng = random.Random(seed)
    day_list = [start_day + timedelta(days=i) for i in range(days)]
    second_month = _next_month(start_day)
    roles = {"busy_hall": halls[0], "slow_peak_hall": halls[1], "falling_satisfaction_hall": halls[2],
             "high_abandonment_hall": halls[3], "low_audit_hall": halls[-1]}
    burst_day = next((d for d in day_list if d >= second_month and d.weekday() < 5), None)
    stream = _Stream()
    visits: list[_Visit] = []
    surveys: list[_Survey] = []

    for hall_index, hall_id in enumerate(halls):
        hall = catalogue.get(hall_id)
        target = {c.value: catalogue.target_wait_s(hall_id, c) for c in Category}
        standard = {c.value: catalogue.standard_handle_s(hall_id, c) for c in Category}
        counters = [f"C{i:02d}" for i in range(1, min(hall.counters, 6) + 1)]
        staff = {c: f"{hall_id}-S{i:02d}" for i, c in enumerate(counters, 1)}
        slow_staff = staff[counters[1]] if hall_id == roles["busy_hall"] else None
        hall_mood = rng.uniform(-0.2, 0.2)
        open_min = hall.opens.hour * 60 + hall.opens.minute
        slots = list(range(open_min, hall.closes.hour * 60 + hall.closes.minute - 15))
        slot_weights = [HOUR_WEIGHTS.get(m // 60, 0.3) for m in slots]
        hour_share = {h: sum(w for m, w in zip(slots, slot_weights) if m // 60 == h) / sum(slot_weights)
                      for h in range(24)}

        def abandon_p(v: _Visit, wait_s: float) -> float:
            if hall_id == roles["high_abandonment_hall"] and v.issued.astimezone(SHANGHAI).hour == 17:
                return 0.35
            return 0.02 + (0.08 if wait_s > 1200 else 0.03 if wait_s > 600 else 0.0)

        for day_index, day in enumerate(day_list):
            n = int(VISITS_PER_DAY.get(hall.size_class, 40) * (1.25 if day.weekday() >= 5 else 1.0)
                    * rng.uniform(0.9, 1.1))
            day_visits = []
            seq: Counter = Counter()
            for v_no, start_min in enumerate(sorted(rng.choices(slots, slot_weights, k=n)), 1):
                issued = _local(day, time(start_min // 60, start_min % 60, rng.randrange(60)))
                category = rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
                seq[category] += 1
                channel = rng.choices(["kiosk", "app", "reservation", "manager"], [60, 25, 10, 5])[0]
                priority = ("vip" if category == "vip" else "reservation" if channel == "reservation"
                            else "elderly" if rng.random() < 0.05 else "normal")
                transfer_to = (rng.choice([c for c in TRANSFER_TO if c != category])
                               if category in TRANSFER_FROM and rng.random() < 0.05 else None)
                day_visits.append(_Visit(f"{hall_id}-{day:%Y%m%d}-{v_no:04d}", hall_id, category,
                                         f"{TICKET_PREFIX[category]}{seq[category]:03d}", priority, channel,
                                         issued, transfer_to))
            # counters staffed per hour for the day's expected load; the slow hall runs its
            # peak hours about one counter short
            staffed = {}
            for h, share in hour_share.items():
                load = n * share * SERVICE_MIN / 60
                per_counter = 1.2 if (hall_id == roles["slow_peak_hall"] and h in PEAK_HOURS) else 0.45
                staffed[h] = min(len(counters), max(1, math.ceil(load / per_counter)))
            _serve(rng, day_visits, counters=counters, staff=staff, staffed=staffed,
                   open_at=_local(day, hall.opens), standard=standard, slow_staff=slow_staff, abandon_p=abandon_p)

            burst_left = 4 if (hall_id == roles["falling_satisfaction_hall"] and day == burst_day) else 0
            for v in day_visits:
                visits.append(v)
                stream.visit(v)
                if v.abandoned:
                    continue
                # the customer's survey, if any
                last, seg = v.services[-1], v.segments[-1]
                forced = burst_left > 0 and 11 <= last.completed.hour < 12
                if not forced and rng.random() >= 0.35:
                    continue
                if forced:
                    burst_left -= 1
                    survey_channel, delay = "pad", rng.randint(5, 60)
                else:
                    survey_channel = rng.choices(["pad", "sms", "app"], [45, 45, 10])[0]
                    delay = {"pad": rng.randint(5, 60), "sms": rng.randint(120, 2400),
                             "app": rng.randint(300, 7200)}[survey_channel]
                answered = last.completed + timedelta(seconds=delay)
                wait_over = v.total_wait_s / target[v.category]
                falling = hall_id == roles["falling_satisfaction_hall"] and answered.date() >= second_month
                mu = 9.1 + hall_mood
                if wait_over > 1:
                    mu -= min(3.0, 1.2 * (wait_over - 1) + 0.8)
                if falling:
                    mu -= 2.5
                if seg.staff_id == slow_staff:
                    mu -= 0.6
                score = 2 if forced else min(10, max(1, round(rng.gauss(mu, 0.9))))
                complaint = forced or (score <= 4 and rng.random() < 0.6) or (score <= 6 and rng.random() < 0.15)
                payload = {"event_id": f"sv-{v.visit_id}", "hall_id": hall_id, "kind": "customer",
                           "visit_id": v.visit_id, "staff_id": seg.staff_id, "channel": survey_channel,
                           "answered_at": _iso(answered), "score": score,
                           "dimensions": {d: min(10, max(1, score + rng.randint(-1, 1)
                                                         - (2 if d == "efficiency" and wait_over > 1 else 0)))
                                          for d in DIMENSIONS}}
                c_cat = c_sev = ""
                if complaint:
                    if forced:
                        c_cat = "attitude"
                    elif wait_over > 1.5 and rng.random() < 0.8:
                        c_cat = "wait_time"
                    elif falling and rng.random() < 0.6:
                        c_cat = "attitude"
                    else:
                        c_cat = rng.choices(list(COMPLAINT_WEIGHTS), list(COMPLAINT_WEIGHTS.values()))[0]
                    c_sev = "escalated" if forced or rng.random() < 0.25 else "normal"
                    payload["complaint"] = {"category": c_cat, "severity": c_sev, "text": COMPLAINT_TEXT[c_cat].format(
                        m=round(v.total_wait_s / 60), phone=_phone(rng))}
                if rng.random() < 0.2:
                    payload["comment"] = rng.choice(COMMENTS).format(phone=_phone(rng))
                stream.add("surveys", answered, payload)
                surveys.append(_Survey(hall_id, "customer", answered, score, c_cat, c_sev))

            # mystery shoppers and inspections
            for kind, due in (("mystery_shopper", (day_index + hall_index) % 9 == 0),
                              ("inspection", (day_index + 2 * hall_index) % 6 == 3)):
                if not due:
                    continue
                answered = _local(day, time(rng.randint(10, 15), rng.randrange(60)))
                score = min(100, max(0, round(rng.gauss(62 if hall_id == roles["low_audit_hall"] else 89, 4))))
                stream.add("surveys", answered, {
                    "event_id": f"au-{hall_id}-{day:%Y%m%d}-{kind}", "hall_id": hall_id, "kind": kind,
                    "staff_id": rng.choice(list(staff.values())), "channel": "onsite", "answered_at": _iso(answered),
                    "score": score, "dimensions": {d: min(100, max(0, score + rng.randint(-6, 6))) for d in DIMENSIONS}})
                surveys.append(_Survey(hall_id, kind, answered, score, "", ""))

    return stream.messages(), _summary(halls, day_list, second_month, burst_day, roles, visits, surveys)


def seed_store(store: Store, catalogue: Catalogue, *, start_day: date, days: int, halls: list[str],
               seed: int = 1) -> dict:
    """Fill ``store`` (migrated, catalogue mirrored) with the events of :func:`seed_events`,
    through the worker's engine and sink, and return a summary.

    The summary holds ``halls``, ``start_day``, ``end_day`` (the last seeded day,
    inclusive), ``second_month``, ``complaint_burst_day``; ``counts`` (visits,
    wait_segments, transactions, surveys, complaints, events; alert_events, alerts =
    distinct alert ids, minute_metrics = distinct rows); the planted roles
    (``slow_peak_hall``, ``falling_satisfaction_hall``, ``low_audit_hall``,
    ``high_abandonment`` {hall_id, hour}, ``slow_clerk`` {hall_id, staff_id},
    ``busy_counter`` {hall_id, counter_id}, ``low_fcr_business_code``); and facts:
    ``visits_by_hall``, ``wait_segments_by_hall``, ``peak_mean_wait_s`` (by hall, waits
    called in a peak hour), ``csat_mean_by_hall_month`` {(hall, month start): mean customer
    score}, ``complaints_by_month_category`` {(month start, category): n},
    ``escalated_by_hall``, and ``alerts_by_hall`` {hall: {alerts, critical, closed, open_s,
    complaint_spike}} from the alerts the engine raised. Days and months are Asia/Shanghai."""
    messages, summary = seed_events(catalogue, start_day=start_day, days=days, halls=halls, seed=seed)
    # The worker flushes every few seconds; rows are full recomputations, so one flush at the
    # end writes the same rows, provided the engine keeps every visit until then.
    engine = RecordingEngine(catalogue, load_alert_rules(ALERT_RULES_FILE), retention_h=24 * (days + 2))
    for _, kind, raw in messages:
        out = engine.process(kind, raw)
        if out.dead_letter is not None:
            raise RuntimeError(f"the engine refused a seed event ({out.dead_letter.reason}): {raw!r}")
    batch = engine.take_batch()
    FactWriter(store, catalogue).write(batch)
    alerts = values(FactWriter._alert_row(e) for e in batch.alerts)  # tuples in the alerts table's order
    minutes = {tuple(r) for r in store.query("SELECT hall_id, category, minute FROM minute_metrics FINAL").rows}

    summary["counts"].update(events=len(messages), alert_events=len(alerts), alerts=len({a[0] for a in alerts}),
                             minute_metrics=len(minutes))
    by_alert: dict[str, dict] = {}
    for alert_id, action, hall_id, _, rule, level, occurred_at, opened_at, *_ in alerts:
        a = by_alert.setdefault(alert_id, {"hall_id": hall_id, "rule": rule, "opened_at": opened_at,
                                           "closed_at": None, "critical": False})
        a["critical"] |= level == "critical"
        if action == "closed":
            a["closed_at"] = occurred_at
    per_hall = {h: {"alerts": 0, "critical": 0, "closed": 0, "open_s": 0.0, "complaint_spike": 0} for h in halls}
    for a in by_alert.values():
        agg = per_hall[a["hall_id"]]
        agg["alerts"] += 1
        agg["critical"] += a["critical"]
        agg["complaint_spike"] += a["rule"] == "complaint_spike"
        if a["closed_at"] is not None:
            agg["closed"] += 1
            agg["open_s"] += (a["closed_at"] - a["opened_at"]).total_seconds()
    summary["alerts_by_hall"] = per_hall
    return summary


def _summary(halls, day_list, second_month, burst_day, roles, visits: list[_Visit], surveys: list[_Survey]) -> dict:
    segments = [(v.hall_id, s) for v in visits for s in v.segments]
    complaints = [s for s in surveys if s.complaint]
    peak_waits: dict[str, list[float]] = defaultdict(list)
    for hall_id, s in segments:
        if s.called_at.hour in PEAK_HOURS:
            peak_waits[hall_id].append(s.wait_s)
    csat: dict[tuple[str, date], list[int]] = defaultdict(list)
    for s in surveys:
        if s.kind == "customer":
            csat[(s.hall_id, _month_of(s.answered))].append(s.score)
    return {
        "halls": list(halls),
        "start_day": day_list[0],
        "end_day": day_list[-1],
        "second_month": second_month,
        "complaint_burst_day": burst_day,
        "counts": {"visits": len(visits), "wait_segments": len(segments),
                   "transactions": sum(len(v.services) for v in visits), "surveys": len(surveys),
                   "complaints": len(complaints)},
        "slow_peak_hall": roles["slow_peak_hall"],
        "falling_satisfaction_hall": roles["falling_satisfaction_hall"],
        "low_audit_hall": roles["low_audit_hall"],
        "high_abandonment": {"hall_id": roles["high_abandonment_hall"], "hour": 17},
        "slow_clerk": {"hall_id": roles["busy_hall"], "staff_id": f"{roles['busy_hall']}-S02"},
        "busy_counter": {"hall_id": roles["busy_hall"], "counter_id": "C01"},
        "low_fcr_business_code": "BROADBAND_FAULT",
        "visits_by_hall": dict(Counter(v.hall_id for v in visits)),
        "wait_segments_by_hall": dict(Counter(h for h, _ in segments)),
        "peak_mean_wait_s": {h: sum(w) / len(w) for h, w in peak_waits.items()},
        "csat_mean_by_hall_month": {k: sum(v) / len(v) for k, v in csat.items()},
        "complaints_by_month_category": dict(Counter((_month_of(s.answered), s.complaint) for s in complaints)),
        "escalated_by_hall": dict(Counter(s.hall_id for s in complaints if s.severity == "escalated")),
    }
