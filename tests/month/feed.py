"""A month of hall events with the disorder of real feeds, in produce order.

``month_feed`` simulates every hall-day of a month with a small queue model (arrivals
with a morning and an afternoon peak, a pool of counters serving first come first
served, impatient customers, transfers, surveys, audits) and then damages the feed the
way real feeds are damaged, each kind deliberately and in countable amounts:

* jitter (a message up to 2 min behind its topic's order), lateness within the 10-minute
  grace (2.5–9 min) and beyond it (15 min – 4 h), a hall's morning of transactions or
  tickets forwarded after an outage, a back-office feed an hour behind, transactions and
  surveys of earlier days arriving when the tickets are days ahead;
* exact re-sends of a message, and a few re-sends of an ``event_id`` with changed content;
* timestamps written with +08:00, +00:00, ``Z`` and +09:00 (the same instants);
* a ``transferred`` and the next ``called`` stamped with the same millisecond, in both
  produce orders;
* lost ``called`` events (the ``started`` and the transaction remain), lost ``called`` and
  ``started`` (only the transaction remains), recalls, both kinds of no-show, served →
  transferred → never came back, visits whose events just stop (they expire);
* SHA-256 hex ``customer_ref`` values, some with digit runs such as ``13812345678``
  inside, masked numbers ``138****1234``; clear phone and ID numbers inside survey
  comments and complaint texts (valid events: the text is masked downstream);
* a handful of invalid events: event times in 2099, timestamps without an offset, clear
  phone or ID numbers as ``customer_ref``, an unknown hall, a negative handle time, survey
  scores out of range, broken JSON;
* hall-days where the hall sends nothing for 40 minutes in its opening hours;
* survey answers on a later day than the visit (some on the first day of next month).

Roles by position in ``hall_ids`` (when there are at least 3 halls): the second to last
hall gets very few customer surveys (its satisfaction has too small a sample), the last
hall opens for business on the 28th of the month with a fraction of the traffic (fewer
than 100 visits: too little data to be assessed).

Standard library only; deterministic for a seed.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import re
import tomllib
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HALLS_TOML = ROOT / "config" / "halls.toml"
SHANGHAI = timezone(timedelta(hours=8))

# Two halls in 南京, two in 苏州, one in 无锡: SZ-0006 (small) has few customer surveys,
# WX-0002 opens on the 28th (not assessed).
DEFAULT_HALLS = ["JS-NJ-0001", "JS-SZ-0002", "JS-NJ-0005", "JS-SZ-0006", "JS-WX-0002"]
UNKNOWN_HALL = "JS-XX-9999"
NEW_HALL_OPENS_ON = 28
TOPIC_KINDS = ("tickets", "transactions", "surveys")
TIME_FIELD = {"tickets": "occurred_at", "transactions": "completed_at", "surveys": "answered_at"}


@dataclass(frozen=True)
class FeedMessage:
    topic_kind: str   # 'tickets' | 'transactions' | 'surveys'
    key: str          # hall_id
    value: bytes      # the JSON bytes as a producer sends them


CATEGORY_MIX = {"consult": 0.22, "payment": 0.17, "plan_change": 0.20, "open_account": 0.10,
                "terminal": 0.10, "broadband": 0.10, "vip": 0.05, "other": 0.06}
LETTER = {"consult": "A", "payment": "B", "plan_change": "C", "open_account": "D", "terminal": "E",
          "broadband": "F", "other": "G", "vip": "V"}
BUSINESS = {"consult": "CONSULT_GENERAL", "payment": "PAYMENT_CASH", "plan_change": "PLAN_CHANGE_4G5G",
            "open_account": "OPEN_ACCOUNT_NEW", "terminal": "TERMINAL_PURCHASE", "broadband": "BROADBAND_NEW",
            "vip": "VIP_SERVICE", "other": "SIM_REPLACE"}
CONSULT_TO = {"plan_change": 0.35, "open_account": 0.2, "broadband": 0.2, "terminal": 0.15, "other": 0.1}
SIZE_LOAD = {"flagship": 1.3, "large": 1.1, "medium": 0.9, "small": 0.6}
PREFIXES = ("134", "135", "136", "138", "139", "150", "151", "158", "159", "182", "187", "188")

# Offsets a timestamp may be written with (the same instant each time).
OFFSETS = (("+08:00", 0.85), ("Z", 0.05), ("+00:00", 0.05), ("+09:00", 0.05))

# Amounts of disorder (shares of messages or visits).
P_JITTER = 0.03            # delayed 5 s – 2 min
P_LATE_GRACE = 0.015       # delayed 2.5 – 9 min
P_LATE_BEYOND = 0.005      # delayed 15 min – 4 h
P_DAYS_BEFORE = 0.003      # transactions and surveys delayed 1 – 3 days
P_DUPLICATE = 0.015        # re-sent exactly, 1 s – 3 h later
P_LOST_CALLED = 0.015      # served visit without its `called`
P_LOST_CALLED_STARTED = 0.006  # served visit without `called` and `started`
P_STOP_AFTER_ISSUED = 0.002    # nothing after `issued` arrives
P_STOP_AFTER_CALLED = 0.002    # nothing after `called` arrives
P_NEVER_BACK = 0.15        # a transferred visit that never comes back (no_show)
P_SAME_MS_CALL = 0.35      # a transferred visit called by the same counter in the same ms
P_HEX_DIGIT_RUN = 0.03     # of hex customer refs: a phone-like digit run inside
P_NEXT_DAY_ANSWER = 0.03   # of sms/app customer surveys: answered the next morning


@dataclass
class _Rec:
    topic: str
    hall: str              # message key
    rec: dict              # field values; timestamps as aware datetimes
    seq: int
    delay: float = 0.0     # seconds between event time and produce time
    raw: str | None = None  # fixed JSON text (broken messages)

    @property
    def time(self) -> datetime:
        return self.rec[TIME_FIELD[self.topic]]


class _Hall:
    def __init__(self, row: dict, defaults: dict):
        self.hall_id = row["hall_id"]
        self.city = row["city"]
        self.size = row["size_class"]
        self.counters = row["counters"]
        self.opens: time = row.get("opens", time(8, 30))
        self.closes: time = row.get("closes", time(18, 0))
        self.handle_s = {c: 60.0 * row.get("standard_handle_min", {}).get(c, defaults["standard_handle_min"][c])
                         for c in CATEGORY_MIX}


def _load_halls(hall_ids: list[str]) -> list[_Hall]:
    with open(HALLS_TOML, "rb") as f:
        doc = tomllib.load(f)
    by_id = {r["hall_id"]: r for r in doc["halls"]}
    missing = [h for h in hall_ids if h not in by_id]
    if missing:
        raise ValueError(f"not in config/halls.toml: {missing}")
    return [_Hall(by_id[h], doc["defaults"]) for h in hall_ids]


def _profile(h: float) -> float:
    """Arrival intensity by hour of day: peaks about 10:15 and 15:00, a lunch dip."""
    f = 0.7 + 0.9 * math.exp(-0.5 * ((h - 10.25) / 0.85) ** 2) + 0.7 * math.exp(-0.5 * ((h - 15.0) / 1.0) ** 2)
    return f * (0.8 if 12.0 <= h < 13.5 else 1.0)


class _Feed:
    def __init__(self, month: str, halls: list[_Hall], seed: int, visits_per_day: int):
        y, m = map(int, month.split("-"))
        self.first = date(y, m, 1)
        self.days = [self.first + timedelta(days=i)
                     for i in range(((date(y + (m == 12), m % 12 + 1, 1)) - self.first).days)]
        self.halls = halls
        self.rng = random.Random(seed)
        self.vpd = visits_per_day
        self.recs: list[_Rec] = []
        self.seq = 0
        n = len(halls)
        self.role = {h.hall_id: "" for h in halls}
        if n >= 3:
            self.role[halls[-2].hall_id] = "few_surveys"
            self.role[halls[-1].hall_id] = "new"
        # Service quality tiers cycle over the halls so the month has a spread of grades.
        tiers = {
            "good": {"efficiency": 0.92, "staffing": 0.5, "csat": 0.4, "audit": 95.0, "complaint_p": 0.00005},
            "poor": {"efficiency": 1.3, "staffing": 0.85, "csat": -0.5, "audit": 78.0, "complaint_p": 0.0012},
            "fair": {"efficiency": 1.08, "staffing": 0.65, "csat": 0.0, "audit": 88.0, "complaint_p": 0.0004},
        }
        self.traits = {}
        for i, h in enumerate(halls):
            r = self.rng
            base = tiers[("good", "poor", "fair")[i % 3]]
            self.traits[h.hall_id] = {
                "load": r.uniform(0.9, 1.1),
                "efficiency": base["efficiency"] * r.uniform(0.97, 1.03),   # handle time vs standard
                "staffing": base["staffing"] * r.uniform(0.95, 1.05),       # utilisation of staffed counters
                "csat": base["csat"] + r.uniform(-0.1, 0.1),                # shift of customer scores
                "audit": base["audit"] + r.uniform(-2, 2),                  # mean audit score
                "survey_p": 0.005 if self.role[h.hall_id] == "few_surveys" else r.uniform(0.2, 0.3),
                "complaint_p": base["complaint_p"],
            }
        self.visits: dict[str, list[_Rec]] = {}   # visit_id -> its ticket and transaction records
        self.outages: dict[tuple[str, date], tuple[datetime, datetime]] = {}
        self._plan_outages()

    # -- small helpers -------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _emit(self, topic: str, hall: str, rec: dict, visit_id: str | None = None) -> _Rec:
        self.seq += 1
        r = _Rec(topic, hall, rec, self.seq)
        self.recs.append(r)
        if visit_id is not None and topic != "surveys":
            self.visits.setdefault(visit_id, []).append(r)
        return r

    def _ticket(self, hall: str, v: dict, event_type: str, t: datetime, category: str, **extra: Any) -> _Rec:
        rec = {"event_id": self._uuid(), "event_type": event_type, "hall_id": hall, "visit_id": v["visit_id"],
               "ticket_no": v["ticket_no"], "category": category}
        rec.update(extra)
        rec["occurred_at"] = t
        return self._emit("tickets", hall, rec, v["visit_id"])

    def _customer_ref(self) -> str | None:
        r = self.rng.random()
        if r < 0.45:
            return f"{self.rng.choice(PREFIXES)}****{self.rng.randrange(10_000):04d}"
        if r < 0.8:
            h = hashlib.sha256(self.rng.getrandbits(64).to_bytes(8, "big")).hexdigest()
            if self.rng.random() < P_HEX_DIGIT_RUN:
                # A phone-like digit run inside the hash, between letters or digits: still a hash.
                at = self.rng.randrange(1, 64 - 12)
                run = self.rng.choice(("13812345678", "13912345678", "18800001111"))
                h = h[:at] + run + h[at + 11:]
            return h
        return None

    def _plan_outages(self) -> None:
        """One or two hall-days per hall with 40 silent minutes in the opening hours."""
        for i, h in enumerate(self.halls):
            if self.role[h.hall_id] == "new":
                continue
            days = self.rng.sample(self.days[2:-2], 2 if i == 0 else 1)
            for d in days:
                start = datetime.combine(d, time(14, 0) if self.rng.random() < 0.5 else time(10, 40), SHANGHAI)
                self.outages[(h.hall_id, d)] = (start, start + timedelta(minutes=40))

    # -- the queue model -----------------------------------------------------------------

    def simulate(self) -> None:
        for d in self.days:
            for h in self.halls:
                if self.role[h.hall_id] == "new" and d.day < NEW_HALL_OPENS_ON:
                    continue
                self._hall_day(h, d)
            self._audits(d)

    def _hall_day(self, h: _Hall, d: date) -> None:
        rng, tr = self.rng, self.traits[h.hall_id]
        opens = datetime.combine(d, h.opens, SHANGHAI)
        closes = datetime.combine(d, h.closes, SHANGHAI)
        outage = self.outages.get((h.hall_id, d))
        weekend = 1.15 if d.weekday() >= 5 else 1.0
        factor = 0.12 if self.role[h.hall_id] == "new" else SIZE_LOAD.get(h.size, 1.0)
        n = max(1, round(self.vpd * factor * tr["load"] * weekend * rng.uniform(0.85, 1.15)))
        # arrivals: thinning of a peaked profile over [opens, closes - 10 min]; the first
        # customers wait at the door
        lo = (opens - datetime.combine(d, time(0), SHANGHAI)).total_seconds()
        hi = (closes - datetime.combine(d, time(0), SHANGHAI)).total_seconds() - 600
        arrivals = [opens + timedelta(milliseconds=rng.randrange(120_000)) for _ in range(2)]
        while len(arrivals) < n:
            s = rng.uniform(lo, hi)
            if rng.random() * 2.3 < _profile(s / 3600):
                t = datetime.combine(d, time(0), SHANGHAI) + timedelta(milliseconds=round(s * 1000))
                if outage and outage[0] - timedelta(minutes=1) <= t <= outage[1]:
                    continue
                arrivals.append(t)
        arrivals.sort()
        mean_service = sum(p * h.handle_s[c] for c, p in CATEGORY_MIX.items()) * tr["efficiency"] + 75
        open_s = hi - lo
        servers = max(1, min(h.counters, math.ceil(n * mean_service / open_s / tr["staffing"])))
        free = [opens] * servers
        ready: list = []
        ticket_counts: Counter = Counter()
        for i, t in enumerate(arrivals):
            cat = rng.choices(list(CATEGORY_MIX), list(CATEGORY_MIX.values()))[0]
            ticket_counts[cat] += 1
            r = rng.random()
            if cat == "vip" or r < 0.03:
                prio, chan = "vip", rng.choice(("kiosk", "manager"))
            elif r < 0.08:
                prio, chan = "reservation", "reservation"
            elif r < 0.16:
                prio, chan = "elderly", rng.choice(("kiosk", "manager"))
            else:
                prio, chan = "normal", ("kiosk" if rng.random() < 0.75 else rng.choice(("app", "manager")))
            patience = timedelta(seconds=rng.uniform(60, 600) if rng.random() < 0.02
                                 else rng.lognormvariate(math.log(40 * 60), 0.5))
            v = {"visit_id": f"{h.hall_id}-{d:%Y%m%d}-{i + 1:04d}",
                 "ticket_no": f"{LETTER[cat]}{ticket_counts[cat]:03d}",
                 "category": cat, "patience": patience, "wait": 0.0, "transferred": False,
                 "issued_day": d, "stop": None, "lost": None}
            u = rng.random()
            if u < P_STOP_AFTER_ISSUED:
                v["stop"] = "after_issued"
            elif u < P_STOP_AFTER_ISSUED + P_STOP_AFTER_CALLED:
                v["stop"] = "after_called"
            u = rng.random()
            if u < P_LOST_CALLED:
                v["lost"] = "called"
            elif u < P_LOST_CALLED + P_LOST_CALLED_STARTED:
                v["lost"] = "called+started"
            extra = {"priority": prio, "channel": chan}
            ref = self._customer_ref()
            if ref is not None:
                extra["customer_ref"] = ref
            self._ticket(h.hall_id, v, "issued", t, cat, **extra)
            heapq.heappush(ready, (t, i, 0, v, cat))
        sub = 0
        while ready:
            t, i, _, v, cat = heapq.heappop(ready)
            k = min(range(servers), key=lambda j: (free[j], j))
            sub = self._serve(h, v, cat, t, k, free, outage, ready, sub)

    def _serve(self, h: _Hall, v: dict, cat: str, t: datetime, k: int, free: list, outage, ready: list,
               sub: int, same_ms: bool = False) -> int:
        rng, tr, hid = self.rng, self.traits[h.hall_id], h.hall_id
        counter, staff = f"{hid}-W{k + 1:02d}", f"{hid}-E{k + 1:03d}"
        recall = rng.uniform(20, 45) if rng.random() < 0.06 else 0.0
        start_after = recall + rng.uniform(10, 50)
        mean = h.handle_s[cat] * tr["efficiency"]
        handle = max(30.0, rng.lognormvariate(math.log(mean) - 0.08, 0.4))
        span = timedelta(seconds=start_after + handle + 2 * 60)
        call = t if same_ms else max(t, free[k])
        if outage and call < outage[1] and call + span > outage[0]:
            call = outage[1] + timedelta(seconds=rng.uniform(5, 60))
        call = call.replace(microsecond=call.microsecond // 1000 * 1000)
        waited = (call - t).total_seconds()
        if waited > v["patience"].total_seconds():
            # gone: cancelled before a call, or called, recalled and marked as no-show
            if rng.random() < 0.5:
                ns = t + v["patience"]
                if outage and outage[0] - timedelta(minutes=1) <= ns <= outage[1] + timedelta(minutes=1):
                    ns = outage[1] + timedelta(seconds=rng.uniform(60, 120))
                self._ticket(hid, v, "no_show", _ms(ns), cat)
                return sub
            self._ticket(hid, v, "called", call, cat, counter_id=counter, staff_id=staff)
            tc = call
            for _ in range(rng.choice((1, 1, 2))):
                tc = _ms(tc + timedelta(seconds=rng.uniform(25, 60)))
                self._ticket(hid, v, "recalled", tc, cat, counter_id=counter)
            tc = _ms(tc + timedelta(seconds=rng.uniform(30, 60)))
            self._ticket(hid, v, "no_show", tc, cat)
            free[k] = tc + timedelta(seconds=rng.uniform(5, 15))
            return sub
        v["wait"] += waited
        stop = v["stop"]
        if stop == "after_issued":
            pass
        elif not (v["lost"] and not v["transferred"]):
            self._ticket(hid, v, "called", call, cat, counter_id=counter, staff_id=staff)
        if recall and stop != "after_issued":
            self._ticket(hid, v, "recalled", _ms(call + timedelta(seconds=recall)), cat, counter_id=counter)
        ts = _ms(call + timedelta(seconds=start_after))
        te = _ms(ts + timedelta(seconds=handle))
        free[k] = te + timedelta(seconds=rng.uniform(5, 25))
        if stop is not None:
            return sub  # the rest of the visit's events never arrive
        if v["lost"] != "called+started" or v["transferred"]:
            self._ticket(hid, v, "started", ts, cat, counter_id=counter, staff_id=staff)
        transfer_to = None
        if not v["transferred"] and rng.random() < (0.15 if cat == "consult" else 0.03):
            if cat == "consult":
                transfer_to = rng.choices(list(CONSULT_TO), list(CONSULT_TO.values()))[0]
            else:
                transfer_to = rng.choice([c for c in ("payment", "plan_change", "other") if c != cat])
        if transfer_to:
            outcome, fcr = "referred", False
        else:
            r = rng.random()
            outcome = "success" if r < 0.91 else "failed" if r < 0.95 else "referred"
            fcr = outcome == "success" and not v["transferred"] and rng.random() < 0.92
        self._emit("transactions", hid, {
            "event_id": self._uuid(), "hall_id": hid, "visit_id": v["visit_id"], "ticket_no": v["ticket_no"],
            "counter_id": counter, "staff_id": staff, "category": cat, "business_code": BUSINESS[cat],
            "started_at": ts, "completed_at": te, "outcome": outcome, "resolved_first_contact": fcr,
        }, v["visit_id"])
        if transfer_to:
            self._ticket(hid, v, "transferred", te, cat, to_category=transfer_to)
            v["transferred"] = True
            v["patience"] = timedelta(seconds=rng.lognormvariate(math.log(40 * 60), 0.5))
            if rng.random() < P_NEVER_BACK:
                # served, transferred, never came back: a no-show in the new queue
                ns = _ms(te + timedelta(minutes=rng.uniform(10, 40)))
                if outage and outage[0] - timedelta(minutes=1) <= ns <= outage[1] + timedelta(minutes=1):
                    ns = outage[1] + timedelta(seconds=rng.uniform(60, 120))
                if rng.random() < 0.4:
                    self._ticket(hid, v, "called", ns, transfer_to, counter_id=counter, staff_id=staff)
                    ns = _ms(ns + timedelta(seconds=rng.uniform(25, 50)))
                    self._ticket(hid, v, "recalled", ns, transfer_to, counter_id=counter)
                    ns = _ms(ns + timedelta(seconds=rng.uniform(30, 60)))
                self._ticket(hid, v, "no_show", ns, transfer_to)
            elif rng.random() < P_SAME_MS_CALL:
                # the same counter calls the visit in its new queue at once: same millisecond
                return self._serve(h, v, transfer_to, te, k, free, outage, ready, sub, same_ms=True)
            else:
                sub += 1
                heapq.heappush(ready, (te, 10**6 + sub, sub, v, transfer_to))
        else:
            self._feedback(h, v, staff, te, outcome)
        return sub

    def _feedback(self, h: _Hall, v: dict, staff: str, te: datetime, outcome: str) -> None:
        rng, tr, hid = self.rng, self.traits[h.hall_id], h.hall_id
        w = v["wait"] / 60
        complaint = None
        if rng.random() < tr["complaint_p"] + 0.01 * min(1.0, max(0.0, (w - 12) / 20)):
            ccat = "wait_time" if w > 10 and rng.random() < 0.75 else rng.choice(
                ("attitude", "billing", "business_error", "environment", "other"))
            text = "服务有问题，希望尽快回复"
            if ccat == "wait_time":
                text = f"排队时间太长，等了{round(w)}分钟才叫到号"
            complaint = {"category": ccat, "severity": "escalated" if rng.random() < 0.25 else "normal", "text": text}
            if rng.random() < 0.3:
                complaint["text"] += "，请回电" + rng.choice(("13912345678", "139-1234-5678", "139 1234 5678"))
        elif rng.random() >= tr["survey_p"]:
            return
        c = rng.random()
        channel = "pad" if c < 0.55 else "sms" if c < 0.93 else "app"
        if complaint and channel == "pad":
            channel = "sms"
        if channel != "pad" and rng.random() < P_NEXT_DAY_ANSWER:
            next_day = datetime.combine(te.astimezone(SHANGHAI).date() + timedelta(days=1), time(8), SHANGHAI)
            ta = next_day + timedelta(seconds=rng.uniform(0, 4 * 3600))
        else:
            lo, hi = {"pad": (5, 40), "sms": (120, 2700), "app": (600, 7200)}[channel]
            ta = te + timedelta(seconds=rng.uniform(lo, hi))
        if complaint:
            score = rng.randint(1, 4)
        else:
            s = rng.gauss(9.35 + tr["csat"], 0.8) - 0.12 * max(0.0, w - 5) - (2.5 if outcome == "failed" else 0.0)
            score = min(10, max(1, round(s)))
        rec: dict[str, Any] = {"event_id": self._uuid(), "hall_id": hid, "kind": "customer",
                               "visit_id": v["visit_id"], "staff_id": staff, "channel": channel,
                               "answered_at": _ms(ta), "score": score}
        if channel == "pad":
            rec["dimensions"] = {k: min(10, max(1, score + rng.choice((-1, 0, 0, 1))))
                                 for k in ("attitude", "efficiency", "professionalism", "environment")}
        if complaint:
            rec["complaint"] = complaint
        if complaint or rng.random() < 0.15:
            rec["comment"] = self._comment(score)
        self._emit("surveys", hid, rec)

    def _comment(self, score: int) -> str:
        rng = self.rng
        good = ("服务很好，办理很快", "营业员很耐心", "环境整洁")
        poor = ("等的时间有点长", "希望多开几个窗口", "排队太久了")
        text = rng.choice(good if score >= 9 else poor)
        u = rng.random()
        if u < 0.06:
            text += "，有问题请回电" + rng.choice(("13912345678", "139-1234-5678", "138 0013 8000"))
        elif u < 0.08:
            text += "，身份证号" + rng.choice(("32010219900101123X", "320102199001011234"))
        return text

    def _audits(self, d: date) -> None:
        rng = self.rng
        for h in self.halls:
            if self.role[h.hall_id] == "new" and d.day < NEW_HALL_OPENS_ON:
                continue
            tr = self.traits[h.hall_id]
            for kind, p in (("inspection", 0.3), ("mystery_shopper", 0.15)):
                if rng.random() >= p:
                    continue
                opens = datetime.combine(d, h.opens, SHANGHAI)
                t = _ms(opens + timedelta(seconds=rng.uniform(1800, 7 * 3600)))
                score = min(100, max(0, round(rng.gauss(tr["audit"], 5))))
                rec: dict[str, Any] = {"event_id": self._uuid(), "hall_id": h.hall_id, "kind": kind,
                                       "channel": "onsite" if kind == "inspection" else rng.choice(("app", "onsite")),
                                       "answered_at": t, "score": score,
                                       "dimensions": {k: min(100, max(0, score + rng.randint(-5, 5)))
                                                      for k in ("attitude", "efficiency", "environment")}}
                if kind == "mystery_shopper":
                    rec["staff_id"] = f"{h.hall_id}-E{rng.randint(1, 2):03d}"
                if score < 75:
                    rec["complaint"] = {"category": "attitude", "severity": "normal",
                                        "text": "暗访发现服务不规范"}
                self._emit("surveys", h.hall_id, rec)

    # -- additions and damage ------------------------------------------------------------

    def extra_surveys(self) -> None:
        """Per hall: surveys without a visit, or naming an unknown visit (they count in 'all'
        only), and complaints whose text holds clear numbers."""
        rng = self.rng
        for h in self.halls:
            days = self.days[NEW_HALL_OPENS_ON - 1:] if self.role[h.hall_id] == "new" else self.days
            for j in range(4):
                d = rng.choice(days)
                t = _ms(datetime.combine(d, time(19, 30), SHANGHAI) + timedelta(seconds=rng.uniform(0, 3600)))
                rec: dict[str, Any] = {"event_id": self._uuid(), "hall_id": h.hall_id, "kind": "customer",
                                       "channel": "app", "answered_at": t, "score": rng.randint(6, 10)}
                if j == 3:
                    rec["visit_id"] = f"{h.hall_id}-{d:%Y%m%d}-GHOST"
                if j == 2:
                    rec["score"] = 2
                    rec["complaint"] = {"category": "billing", "severity": "escalated",
                                        "text": "话费有误，我的号码13812345678，身份证320102199001011234"}
                    rec["comment"] = "联系电话 138-1234-5678"
                self._emit("surveys", h.hall_id, rec)

    def invalid_events(self) -> None:
        """A handful of events the pipeline must exclude."""
        rng = self.rng
        tickets = [r for r in self.recs if r.topic == "tickets"]
        issued = [r for r in tickets if r.rec["event_type"] == "issued"]
        called = [r for r in tickets if r.rec["event_type"] == "called"]
        txs = [r for r in self.recs if r.topic == "transactions"]
        surveys = [r for r in self.recs if r.topic == "surveys" and r.rec["kind"] == "customer"]
        # a kiosk with a wrong clock: issued in 2099 (the visit then has no valid issue)
        for r in rng.sample(issued, 4):
            r.rec["occurred_at"] = r.rec["occurred_at"].replace(year=2099)
        # clear numbers as customer_ref
        for r, ref in zip(rng.sample(issued, 5), ("13812345678", "139-1234-5678", "tel:13912345678",
                                                   "138 1234 5678", "32010219900101123X")):
            r.rec["customer_ref"] = ref
        # timestamps without an offset
        for r in rng.sample(called, 2) + rng.sample(txs, 2) + rng.sample(surveys, 2):
            r.rec["_naive"] = TIME_FIELD[r.topic]
        # a negative handle time and out-of-range scores: extra events with their own ids
        for r in rng.sample(txs, 2):
            bad = dict(r.rec, event_id=self._uuid(), started_at=r.rec["completed_at"],
                       completed_at=r.rec["started_at"])
            self._emit("transactions", r.hall, bad)
        for r, score in zip(rng.sample(surveys, 2), (11, 0)):
            self._emit("surveys", r.hall, dict(r.rec, event_id=self._uuid(), score=score))
        # an unknown hall: three complete visits
        d = self.days[len(self.days) // 2]
        for i in range(3):
            t = datetime.combine(d, time(10, 0), SHANGHAI) + timedelta(minutes=7 * i)
            v = {"visit_id": f"{UNKNOWN_HALL}-{d:%Y%m%d}-{i + 1:04d}", "ticket_no": f"A{i + 1:03d}"}
            self._ticket(UNKNOWN_HALL, v, "issued", t, "consult", priority="normal", channel="kiosk")
            self._ticket(UNKNOWN_HALL, v, "called", t + timedelta(minutes=3), "consult",
                         counter_id="XX-W01", staff_id="XX-E001")
            self._emit("transactions", UNKNOWN_HALL, {
                "event_id": self._uuid(), "hall_id": UNKNOWN_HALL, "visit_id": v["visit_id"],
                "ticket_no": v["ticket_no"], "counter_id": "XX-W01", "staff_id": "XX-E001", "category": "consult",
                "business_code": "CONSULT_GENERAL", "started_at": t + timedelta(minutes=3, seconds=20),
                "completed_at": t + timedelta(minutes=7), "outcome": "success", "resolved_first_contact": True})
        # broken messages
        some = rng.sample(self.recs[:len(self.recs) // 2], 3)
        for j, r in enumerate(some):
            text = json.dumps(_plain(r.rec), ensure_ascii=False)
            raw = "[1, 2, 3]" if j == 2 else text[: len(text) // 2]
            self.seq += 1
            self.recs.append(_Rec(r.topic, r.hall, dict(r.rec), self.seq, delay=5.0, raw=raw))

    def disorder(self) -> list[tuple[datetime, int, _Rec]]:
        """Produce times: each record's event time plus its delay; re-sends added."""
        rng = self.rng
        hall_ids = [h.hall_id for h in self.halls]
        # a hall's morning forwarded after an outage (transactions; for one hall also tickets)
        for i, hid in enumerate(hall_ids):
            if self.role[hid] == "new":
                continue
            for j, d in enumerate(rng.sample(self.days[1:-3], 3)):
                topic = "tickets" if (j == 2 and i == 0) else "transactions"
                forward = datetime.combine(d, time(13, 0), SHANGHAI)
                cut = datetime.combine(d, time(11, 30), SHANGHAI)
                for r in self.recs:
                    if r.hall == hid and r.topic == topic and r.raw is None and _in_day(r.time, d) \
                            and r.time < cut:
                        # forwarded in event order, a millisecond apart per second of the morning
                        since_midnight = (r.time - forward.replace(hour=0)).total_seconds()
                        r.delay = (forward - r.time).total_seconds() + since_midnight / 1000
            # a back-office feed an hour behind for a whole day
            d = rng.choice(self.days[1:-3])
            for r in self.recs:
                if r.hall == hid and r.topic == "transactions" and _in_day(r.time, d) and r.delay == 0:
                    r.delay = 3600.0
            # a day of SMS surveys forwarded two days later
            d = rng.choice(self.days[1:-3])
            for r in self.recs:
                if r.hall == hid and r.topic == "surveys" and r.rec.get("channel") == "sms" \
                        and _in_day(r.time, d) and r.delay == 0:
                    r.delay = 2 * 86400.0 + rng.uniform(0, 600)
        for r in self.recs:
            if r.delay or r.raw is not None:
                continue
            u = rng.random()
            if u < P_JITTER:
                r.delay = rng.uniform(5, 120)
            elif u < P_JITTER + P_LATE_GRACE:
                r.delay = rng.uniform(150, 540)
            elif u < P_JITTER + P_LATE_GRACE + P_LATE_BEYOND:
                r.delay = rng.uniform(15 * 60, 4 * 3600)
            elif r.topic != "tickets" and u < P_JITTER + P_LATE_GRACE + P_LATE_BEYOND + P_DAYS_BEFORE:
                r.delay = rng.uniform(86400, 3 * 86400)
        # same-ms transferred + called: for half, the call is produced before the transfer
        for recs in self.visits.values():
            tr = [r for r in recs if r.topic == "tickets" and r.rec["event_type"] == "transferred"]
            for t in tr:
                if any(r.rec["event_type"] == "called" and r.rec["occurred_at"] == t.rec["occurred_at"]
                       for r in recs if r.topic == "tickets") and rng.random() < 0.5 and t.delay == 0:
                    t.delay = rng.uniform(1, 30)
        order = [(self._produce_time(r), r.seq, r) for r in self.recs]
        # re-sends: exact copies later, and a few with changed content
        dups = []
        for at, _, r in order:
            if r.raw is None and rng.random() < P_DUPLICATE:
                self.seq += 1
                dups.append((at + timedelta(seconds=rng.uniform(1, 3 * 3600)), self.seq, r))
        for hid in hall_ids:
            mine = [(at, r) for at, _, r in order if r.hall == hid and r.topic == "surveys" and r.raw is None
                    and r.rec["kind"] == "customer" and "_naive" not in r.rec and 1 <= r.rec["score"] <= 10]
            for at, r in rng.sample(mine, min(2, len(mine))):
                changed = _Rec(r.topic, r.hall, dict(r.rec, score=1 + r.rec["score"] % 10,
                                                     comment="修改后的评价"), 0, raw=None)
                self.seq += 1
                changed.seq = self.seq
                dups.append((at + timedelta(minutes=rng.uniform(5, 90)), self.seq, changed))
        return sorted(order + dups, key=lambda x: (x[0], x[1]))

    def _produce_time(self, r: _Rec) -> datetime:
        t = r.rec[TIME_FIELD[r.topic]]
        if t.year > 2090:
            t = t.replace(year=self.first.year)
        return t + timedelta(seconds=r.delay)


def _ms(t: datetime) -> datetime:
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def _in_day(t: datetime, d: date) -> bool:
    return t.astimezone(SHANGHAI).date() == d


def _plain(rec: dict) -> dict:
    return {k: (v.isoformat(timespec="milliseconds") if isinstance(v, datetime) else v)
            for k, v in rec.items() if not k.startswith("_")}


def _render_ts(t: datetime, style: str) -> str:
    if style == "naive":
        return t.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="milliseconds")
    if style == "+08:00":
        return t.astimezone(SHANGHAI).isoformat(timespec="milliseconds")
    if style == "+09:00":
        return t.astimezone(timezone(timedelta(hours=9))).isoformat(timespec="milliseconds")
    s = t.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return s.replace("+00:00", "Z") if style == "Z" else s


def _encode(r: _Rec, rng: random.Random, cache: dict[int, bytes]) -> bytes:
    if r.raw is not None:
        return r.raw.encode("utf-8")
    key = id(r)
    if key in cache:            # an exact re-send: the same bytes
        return cache[key]
    out = {}
    naive = r.rec.get("_naive")
    for k, v in r.rec.items():
        if k.startswith("_"):
            continue
        if isinstance(v, datetime):
            if k == naive:
                style = "naive"
            else:
                u, style = rng.random(), OFFSETS[0][0]
                acc = 0.0
                for name, p in OFFSETS:
                    acc += p
                    if u < acc:
                        style = name
                        break
            v = _render_ts(v, style)
        out[k] = v
    b = json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    cache[key] = b
    return b


def month_feed(*, month: str = "2026-10", hall_ids: list[str], seed: int = 11,
               visits_per_day: int = 150) -> list[FeedMessage]:
    """A month of events for ``hall_ids`` (from config/halls.toml), in produce order."""
    halls = _load_halls(list(hall_ids))
    f = _Feed(month, halls, seed, visits_per_day)
    f.simulate()
    f.extra_surveys()
    f.invalid_events()
    order = f.disorder()
    cache: dict[int, bytes] = {}
    return [FeedMessage(r.topic, r.hall, _encode(r, f.rng, cache)) for _, _, r in order]


# -- a census of what a feed holds (independent of how it was made) -------------------------

_PHONE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])1[0-9]{2}[ \-]?[0-9]{4}[ \-]?[0-9]{4}(?![0-9A-Za-z])")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


def _parse_ts(s: Any) -> datetime | None:
    if not isinstance(s, str):
        return None
    try:
        t = datetime.fromisoformat(s)
    except ValueError:
        return None
    return t


def census(messages: list[FeedMessage], halls_toml: Path = HALLS_TOML) -> dict[str, Any]:
    """Count, from the messages alone, each kind of disorder the feed is meant to hold."""
    with open(halls_toml, "rb") as fh:
        catalogue = {r["hall_id"]: r for r in tomllib.load(fh)["halls"]}
    c: Counter = Counter()
    seen_bytes: set[tuple[str, bytes]] = set()
    seen_ids: dict[tuple[str, str], bytes] = {}
    high: dict[tuple[str, str], datetime] = {}
    tickets_high: dict[str, datetime] = {}
    visits: dict[str, list[dict]] = defaultdict(list)
    instants: dict[tuple[str, date], list[datetime]] = defaultdict(list)
    issue_day: dict[str, date] = {}
    survey_visits: list[tuple[str, date]] = []
    per_hall: dict[str, Counter] = defaultdict(Counter)
    for m in messages:
        c[f"messages_{m.topic_kind}"] += 1
        if (m.topic_kind, m.value) in seen_bytes:
            c["exact_duplicates"] += 1
            continue
        seen_bytes.add((m.topic_kind, m.value))
        try:
            d = json.loads(m.value)
        except ValueError:
            c["invalid_not_json"] += 1
            continue
        if not isinstance(d, dict):
            c["invalid_not_object"] += 1
            continue
        eid = d.get("event_id")
        if (m.topic_kind, eid) in seen_ids:
            c["changed_duplicates"] += 1
            continue
        seen_ids[(m.topic_kind, eid)] = m.value
        for k, v in d.items():
            if k in ("occurred_at", "started_at", "completed_at", "answered_at") and isinstance(v, str):
                suffix = "Z" if v.endswith("Z") else v[-6:] if re.search(r"[+-]\d\d:\d\d$", v) else "none"
                c[f"offset_{suffix}"] += 1
        t = _parse_ts(d.get(TIME_FIELD[m.topic_kind]))
        if t is None or t.tzinfo is None:
            c["invalid_no_offset"] += 1
            continue
        if t.year >= 2090:
            c["invalid_future"] += 1
            continue
        hall = d.get("hall_id")
        if hall not in catalogue:
            c["invalid_unknown_hall"] += 1
            continue
        ref = d.get("customer_ref")
        if isinstance(ref, str):
            if _PHONE_IN_TEXT.search(ref) or _ID_IN_TEXT.search(ref):
                c["invalid_clear_customer_ref"] += 1
                continue
            if "****" in ref:
                c["ref_masked"] += 1
            elif re.fullmatch(r"[0-9a-f]{64}", ref):
                c["ref_hex"] += 1
                if re.search(r"1[0-9]{10}", ref):
                    c["ref_hex_with_phone_like_run"] += 1
        if m.topic_kind == "transactions":
            st = _parse_ts(d.get("started_at"))
            if st is not None and st.tzinfo is not None and t < st:
                c["invalid_negative_handle"] += 1
                continue
        if m.topic_kind == "surveys":
            lo, hi = (1, 10) if d.get("kind") == "customer" else (0, 100)
            if not lo <= d.get("score", -1) <= hi:
                c["invalid_score_range"] += 1
                continue
        key = (hall, m.topic_kind)
        if key in high:
            behind = (high[key] - t).total_seconds()
            if 0 < behind <= 120:
                c["jitter"] += 1
            elif 120 < behind <= 600:
                c["late_within_grace"] += 1
            elif behind > 600:
                c["late_beyond_grace"] += 1
        if key not in high or t > high[key]:
            high[key] = t
        day = t.astimezone(SHANGHAI).date()
        if m.topic_kind == "tickets":
            if hall not in tickets_high or t > tickets_high[hall]:
                tickets_high[hall] = t
        elif hall in tickets_high and tickets_high[hall].astimezone(SHANGHAI).date() > day:
            c[f"{m.topic_kind}_from_days_before"] += 1
        if m.topic_kind in ("tickets", "transactions"):
            visits[d["visit_id"]].append({"k": d.get("event_type", "tx"), "t": t, "st": _parse_ts(d.get("started_at"))})
            instants[(hall, day)].append(t)
            if d.get("event_type") == "issued":
                issue_day[d["visit_id"]] = day
                per_hall[hall]["issued"] += 1
            if d.get("event_type") == "recalled":
                c["recalled"] += 1
        else:
            kind = d.get("kind")
            per_hall[hall]["customer_surveys" if kind == "customer" else "audits"] += 1
            if d.get("complaint"):
                per_hall[hall]["complaints"] += 1
            texts = [d.get("comment") or "", (d.get("complaint") or {}).get("text", "")]
            if any(_PHONE_IN_TEXT.search(x) or _ID_IN_TEXT.search(x) for x in texts):
                c["surveys_with_clear_numbers_in_text"] += 1
            if d.get("visit_id"):
                survey_visits.append((d["visit_id"], day))
            else:
                c["surveys_without_visit"] += 1
    for vid, evs in visits.items():
        kinds = [e["k"] for e in evs]
        if "issued" not in kinds:
            continue
        transferred = [e["t"] for e in evs if e["k"] == "transferred"]
        calls = [e["t"] for e in evs if e["k"] == "called"]
        if any(t in calls for t in transferred):
            c["same_ms_transfer_and_call"] += 1
        if "called" not in kinds and "started" in kinds:
            c["lost_called_started_remains"] += 1
        if "called" not in kinds and "started" not in kinds and "tx" in kinds:
            c["lost_called_and_started_tx_remains"] += 1
        last = max(evs, key=lambda e: e["t"])
        if "no_show" in kinds:
            if "called" not in kinds and "tx" not in kinds:
                c["no_show_never_called"] += 1
            elif "recalled" in kinds and "tx" not in kinds:
                c["no_show_after_call_and_recall"] += 1
            if "tx" in kinds and "transferred" in kinds and last["k"] == "no_show":
                c["served_transferred_no_show"] += 1
        elif "tx" not in kinds:
            c["events_stop_open_visits"] += 1
    for vid, day in survey_visits:
        if vid in issue_day and day > issue_day[vid]:
            c["surveys_answered_on_a_later_day"] += 1
    for (hall, day), ts in instants.items():
        row = catalogue[hall]
        opens = datetime.combine(day, row.get("opens", time(8, 30)), SHANGHAI)
        closes = datetime.combine(day, row.get("closes", time(18)), SHANGHAI)
        pts = [opens] + sorted(t for t in ts if opens <= t <= closes) + [closes]
        if any(b - a > timedelta(minutes=15) for a, b in zip(pts, pts[1:])):
            c["hall_days_silent_over_15_min"] += 1
    c["messages"] = len(messages)
    return {**dict(sorted(c.items())), "per_hall": {h: dict(v) for h, v in sorted(per_hall.items())}}
