"""Synthetic business-hall traffic for demos, load tests and the dead-letter path.

Each hall and day is a small discrete-event simulation (arrivals with a morning and an
afternoon peak, a fixed number of staffed counters, impatient customers) so that queues,
long waits, no-shows and complaints *arise* from load instead of being drawn at random,
and the live metrics and alerts have something true to find. Every draw comes from RNGs
seeded by (seed, hall, day, start), so a seed replays byte for byte and two halls never
disturb each other's stream.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from typing import IO, Any

from schemas.catalogue import Catalogue, Hall, load_catalogue
from schemas.privacy import is_safe_customer_ref

# Asia/Shanghai has had no DST since 1991: a fixed offset always prints "+08:00".
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TOPIC_KINDS = ("tickets", "transactions", "surveys")
UNKNOWN_HALL = "XX-UNKNOWN-0001"
BAD_KINDS = ("malformed_json", "no_offset", "clear_phone", "unknown_hall", "score_range")

CATEGORY_MIX: dict[str, float] = {
    "consult": 0.22, "payment": 0.17, "plan_change": 0.20, "open_account": 0.10,
    "terminal": 0.10, "broadband": 0.10, "vip": 0.05, "other": 0.06,
}
TICKET_LETTER = {
    "consult": "A", "payment": "B", "plan_change": "C", "open_account": "D",
    "terminal": "E", "broadband": "F", "other": "G", "vip": "V",
}
BUSINESS_CODES = {
    "consult": ["CONSULT_GENERAL", "CONSULT_BILL_QUERY", "CONSULT_PLAN_ADVICE"],
    "payment": ["PAYMENT_CASH", "PAYMENT_INVOICE", "PAYMENT_ARREARS"],
    "plan_change": ["PLAN_CHANGE_4G5G", "PLAN_CHANGE_FAMILY", "PLAN_CHANGE_DATA_PACK"],
    "open_account": ["OPEN_ACCOUNT_NEW", "OPEN_ACCOUNT_PORT_IN", "OPEN_ACCOUNT_SECONDARY"],
    "terminal": ["TERMINAL_PURCHASE", "TERMINAL_CONTRACT", "TERMINAL_REPAIR"],
    "broadband": ["BROADBAND_NEW", "BROADBAND_MOVE", "BROADBAND_REPAIR"],
    "vip": ["VIP_SERVICE", "VIP_SIM_REPLACE", "VIP_PLAN_REVIEW"],
    "other": ["SIM_REPLACE", "REAL_NAME_UPDATE", "NUMBER_CANCEL"],
}
# Consultations often end at another queue (业务咨询前移 finds the real need).
TRANSFER_P = {"consult": 0.15}
TRANSFER_P_DEFAULT = 0.03
CONSULT_TRANSFER_TO = {"plan_change": 0.35, "open_account": 0.2, "broadband": 0.2, "terminal": 0.15, "other": 0.1}
PHONE_PREFIXES = ("134", "135", "136", "138", "139", "147", "150", "151", "157", "158",
                  "159", "182", "183", "187", "188", "198")

COMPLAINT_TEXT = {
    "wait_time": ["排队时间太长，等了{w}分钟才叫到号", "窗口开得太少，高峰期等了很久", "取号后等了{w}分钟，没人引导"],
    "attitude": ["营业员态度冷淡，问了两遍都不耐烦", "工作人员说话不客气"],
    "billing": ["话费扣费有疑问，没有解释清楚", "套餐费用和宣传不一致"],
    "business_error": ["业务办理出错，需要再跑一趟", "套餐变更没有生效"],
    "environment": ["厅里太吵，座位不够", "自助机坏了没人管"],
    "other": ["其他问题，希望尽快回复"],
}
COMMENTS_GOOD = ["服务很好，办理很快", "营业员很耐心，讲解清楚", "感谢工作人员的帮助", "环境整洁，体验不错"]
COMMENTS_MID = ["等的时间有点长", "办理还行，就是排队久了点", "希望多开几个窗口"]
COMMENTS_BAD = ["排队太久了，窗口开得太少", "业务没办成，还要再跑一趟", "体验很差"]

LUNCH = (12 * 3600.0, 13.5 * 3600.0)  # staff rotate for lunch: fewer counters open
EVENING = 18 * 3600.0                  # late-opening halls run an evening shift


@dataclass(frozen=True)
class SimMessage:
    topic_kind: str          # 'tickets' | 'transactions' | 'surveys'
    key: str                 # hall_id (for bad events still the hall_id used)
    value: bytes             # the JSON message bytes exactly as sent to Kafka
    event_time: datetime     # aware


class SimulationArgumentError(ValueError):
    """Bad arguments (e.g. more halls than the catalogue has): a usage error, not a crash."""


class SimulationOutputError(RuntimeError):
    """The broker could not be reached or did not take every message."""


def default_start(now: datetime | None = None, minutes: float = 0.0) -> datetime:
    """A window that lies in the past, because the worker refuses events from the future
    (domain.md §2): the one ending now when it runs from 09:00 to 18:00 today (the halls
    are open and live then); else from today's 09:00 if that window has ended, else from
    yesterday's."""
    now = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
    nine = now.replace(hour=9, minute=0, second=0, microsecond=0)
    ending_now = (now - timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    if ending_now >= nine and now.hour < 18:
        return ending_now
    return nine if nine + timedelta(minutes=minutes) <= now else nine - timedelta(days=1)


def normalise_start(start: datetime | None, minutes: float = 0.0) -> datetime:
    """Shanghai time at millisecond precision, so the window bounds match event timestamps."""
    if start is None:
        return default_start(minutes=minutes)
    if start.tzinfo is None:
        raise SimulationArgumentError("start needs a UTC offset, e.g. 2026-11-23T09:00:00+08:00")
    start = start.astimezone(SHANGHAI)
    return start.replace(microsecond=start.microsecond // 1000 * 1000)


def generate(catalogue: Catalogue, *, halls: int, minutes: float, seed: int = 1,
             start: datetime | None = None, bad_share: float = 0.0) -> Iterator[SimMessage]:
    """All messages of the run, sorted by event time. Arguments are checked at call time."""
    if halls < 1:
        raise SimulationArgumentError("halls must be at least 1")
    if halls > len(catalogue.halls):
        raise SimulationArgumentError(
            f"asked for {halls} halls but the catalogue has only {len(catalogue.halls)}")
    if not minutes > 0:
        raise SimulationArgumentError("minutes must be positive")
    if not 0.0 <= bad_share <= 1.0:
        raise SimulationArgumentError("bad_share must be between 0 and 1")
    start = normalise_start(start, minutes)
    return _generate(catalogue, catalogue.halls[:halls], start, start + timedelta(minutes=minutes),
                     seed, bad_share)


def _generate(catalogue: Catalogue, halls: list[Hall], start: datetime, end: datetime,
              seed: int, bad_share: float) -> Iterator[SimMessage]:
    # A run tag in visit ids keeps two runs over the same day from merging their visits.
    run_tag = hashlib.sha256(f"{seed}|{start.isoformat()}".encode()).hexdigest()[:6]
    traits = [_HallTraits.draw(catalogue, h, seed) for h in halls]
    day = start.date()
    while True:
        midnight = datetime.combine(day, dtime(0), SHANGHAI)
        if midnight >= end:
            return
        # Days are simulated one at a time: every hall is closed and drained before
        # midnight, so a day's messages all precede the next day's (bounded memory).
        lo_ms = max(0, _ms_between(midnight, start))
        hi_ms = min(86_400_000, _ms_between(midnight, end))
        streams = [
            _HallDay(catalogue, hall, idx, tr, day, midnight, lo_ms, hi_ms, seed, start, run_tag,
                     bad_share).messages()
            for idx, (hall, tr) in enumerate(zip(halls, traits))
        ]
        for item in heapq.merge(*streams):
            yield item[3]
        day += timedelta(days=1)


def _ms_between(a: datetime, b: datetime) -> int:
    d = b - a
    return (d.days * 86_400 + d.seconds) * 1000 + d.microseconds // 1000


@dataclass(frozen=True)
class _HallTraits:
    """What stays the same about a hall across days: how busy it is and how fast its clerks are."""

    load: float
    efficiency: float
    staff_speed: tuple[float, ...]
    capacity_per_s: float  # customers per second all counters can serve at mean pace

    @classmethod
    def draw(cls, catalogue: Catalogue, hall: Hall, seed: int) -> "_HallTraits":
        rng = random.Random(f"hallpulse-traits|{seed}|{hall.hall_id}")
        load = rng.uniform(0.72, 1.0)
        efficiency = rng.uniform(0.88, 1.15)
        staff = tuple(rng.uniform(0.85, 1.25) for _ in range(hall.counters))
        mean_handle = sum(p * catalogue.standard_handle_s(hall.hall_id, c) for c, p in CATEGORY_MIX.items())
        per_customer = mean_handle * efficiency * (sum(staff) / len(staff)) + 60.0  # walk-up, wrap-up
        return cls(load, efficiency, staff, hall.counters / per_customer)


def _profile(h: float) -> float:
    """Relative arrival intensity by hour of day: two peaks (about 10:15 and 15:00)."""
    f = 0.45 + 0.95 * math.exp(-0.5 * ((h - 10.25) / 0.85) ** 2) + 0.8 * math.exp(-0.5 * ((h - 15.0) / 1.0) ** 2)
    if 12.0 <= h < 13.5:
        f *= 0.75
    elif h >= 18.0:
        f *= 0.7
    return f


_PROFILE_MAX = 0.45 + 0.95 + 0.8


class _Visit:
    __slots__ = ("visit_id", "ticket_no", "category", "priority", "customer_ref", "leaves_at",
                 "seg_start", "wait_total", "transferred", "seq")

    def __init__(self, **kw: Any) -> None:
        for k, v in kw.items():
            setattr(self, k, v)


_ARRIVE, _REQUEUE, _FREE, _WAKE, _AUDIT = range(5)


class _HallDay:
    """One hall on one day: a queue, counters, and the messages they produce."""

    def __init__(self, catalogue: Catalogue, hall: Hall, idx: int, traits: _HallTraits, day: date,
                 midnight: datetime, lo_ms: int, hi_ms: int, seed: int, start: datetime,
                 run_tag: str, bad_share: float) -> None:
        self.cat, self.hall, self.idx, self.tr = catalogue, hall, idx, traits
        self.hid = hall.hall_id
        self.day, self.midnight, self.lo_ms, self.hi_ms = day, midnight, lo_ms, hi_ms
        self.run_tag, self.bad_share = run_tag, bad_share
        base = f"{seed}|{hall.hall_id}|{day.isoformat()}|{start.isoformat()}"
        # Separate streams: ids and corruption never shift the simulation itself.
        self.rng = random.Random("sim|" + base)
        self.id_rng = random.Random("id|" + base)
        self.bad_rng = random.Random("bad|" + base)
        self.out: list[tuple[int, int, str, dict]] = []
        self.ticket_counts: dict[str, int] = {}
        self.visit_seq = 0
        self.heap: list[tuple[float, int, int, Any]] = []
        self.hseq = 0
        self.queue: list[tuple[int, float, int, _Visit]] = []
        self.busy_until = [0.0] * hall.counters
        self.handle = {c: catalogue.standard_handle_s(self.hid, c) for c in CATEGORY_MIX}
        self.counter_ids = [f"{self.hid}-W{k + 1:02d}" for k in range(hall.counters)]
        self.staff_ids = [f"{self.hid}-E{k + 1:03d}" for k in range(hall.counters)]
        self.categories = list(CATEGORY_MIX)
        self.cat_weights = list(CATEGORY_MIX.values())

    # -- time and output -------------------------------------------------------------

    def _emit(self, t: float, kind: str, record: dict) -> None:
        ms = round(t * 1000)
        if self.lo_ms <= ms < self.hi_ms:
            self.out.append((ms, len(self.out), kind, record))

    def _ts(self, t: float) -> str:
        return (self.midnight + timedelta(milliseconds=round(t * 1000))).isoformat(timespec="milliseconds")

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.id_rng.getrandbits(128), version=4))

    def _push(self, t: float, what: int, data: Any = None) -> None:
        self.hseq += 1
        heapq.heappush(self.heap, (t, self.hseq, what, data))

    def _staffed(self, t: float) -> int:
        n = self.hall.counters
        if LUNCH[0] <= t < LUNCH[1]:
            return max(1, math.ceil(n * 0.6))
        if t >= EVENING:
            return max(1, math.ceil(n * 0.5))
        return n

    # -- the simulation ---------------------------------------------------------------

    def messages(self) -> list[tuple[int, int, int, SimMessage]]:
        self._simulate()
        self.out.sort(key=lambda r: (r[0], r[1]))
        return [(ms, self.idx, seq, self._encode(ms, kind, rec)) for ms, seq, kind, rec in self.out]

    def _simulate(self) -> None:
        opens = self.hall.opens.hour * 3600 + self.hall.opens.minute * 60 + self.hall.opens.second
        closes = self.hall.closes.hour * 3600 + self.hall.closes.minute * 60 + self.hall.closes.second
        lo, hi = self.lo_ms / 1000, self.hi_ms / 1000
        t0, t1 = max(opens, lo), min(closes, hi)
        if t0 >= t1:
            return
        self._arrivals(t0, t1)
        if t0 < LUNCH[1] < t1:
            self._push(LUNCH[1], _WAKE)
        self._audits(opens, closes)
        heap = self.heap
        while heap:
            t, _, what, data = heapq.heappop(heap)
            if t >= hi:
                break  # nothing after the window end is emitted
            if what == _ARRIVE:
                self._issue(t)
            elif what == _REQUEUE:
                self._enqueue(data, cls=1)
            elif what == _AUDIT:
                self._audit(t, data)
            self._dispatch(t)

    def _arrivals(self, t0: float, t1: float) -> None:
        """Non-homogeneous Poisson arrivals by thinning."""
        rng = self.rng
        scale = self.tr.capacity_per_s * self.tr.load * rng.uniform(0.9, 1.1)
        lam_max = scale * _PROFILE_MAX
        t = t0
        while True:
            t += rng.expovariate(lam_max)
            if t >= t1:
                return
            if rng.random() * _PROFILE_MAX < _profile(t / 3600):
                self._push(t, _ARRIVE)

    def _audits(self, opens: float, closes: float) -> None:
        """About one inspection and two-thirds of a mystery shopper visit per hall and day."""
        for kind, per_day in (("inspection", 1.2), ("mystery_shopper", 0.8)):
            n, acc = 0, self.rng.expovariate(1.0)
            while acc < per_day:
                n += 1
                acc += self.rng.expovariate(1.0)
            for _ in range(n):
                self._push(self.rng.uniform(opens + 900, closes - 900), _AUDIT, kind)

    def _issue(self, t: float) -> None:
        rng = self.rng
        category = rng.choices(self.categories, self.cat_weights)[0]
        r = rng.random()
        if category == "vip" or r < 0.03:
            priority, channel = "vip", rng.choice(("kiosk", "manager"))
        elif r < 0.08:
            priority, channel = "reservation", "reservation"
        elif r < 0.16:
            priority, channel = "elderly", rng.choice(("kiosk", "manager", "manager"))
        else:
            priority = "normal"
            c = rng.random()
            channel = "kiosk" if c < 0.72 else "app" if c < 0.9 else "manager"
        letter = TICKET_LETTER[category]
        n = self.ticket_counts[letter] = self.ticket_counts.get(letter, 0) + 1
        self.visit_seq += 1
        # Patience: most wait half an hour or more; a few leave early for their own reasons.
        if rng.random() < 0.02:
            leaves_at = t + rng.uniform(60, 600)
        else:
            leaves_at = t + rng.lognormvariate(math.log(35 * 60), 0.55) * (1.4 if priority != "normal" else 1.0)
        v = _Visit(visit_id=f"{self.hid}-{self.day:%Y%m%d}-{self.run_tag}-{self.visit_seq:05d}",
                   ticket_no=f"{letter}{n:03d}", category=category, priority=priority,
                   customer_ref=self._customer_ref(), leaves_at=leaves_at, seg_start=t,
                   wait_total=0.0, transferred=False, seq=self.visit_seq)
        rec = self._ticket(v, "issued", priority=priority, channel=channel)
        if v.customer_ref is not None:
            rec["customer_ref"] = v.customer_ref
        self._emit(t, "tickets", self._stamp(rec, t))
        cls = 0 if priority in ("vip", "reservation") else 1 if priority == "elderly" else 2
        self._enqueue(v, cls)

    def _enqueue(self, v: _Visit, cls: int) -> None:
        heapq.heappush(self.queue, (cls, v.seg_start, v.seq, v))

    def _dispatch(self, t: float) -> None:
        if not self.queue:
            return
        busy = self.busy_until
        for k in range(self._staffed(t)):
            if busy[k] <= t:
                self._serve(k, t, heapq.heappop(self.queue)[3])
                if not self.queue:
                    return

    def _serve(self, k: int, t: float, v: _Visit) -> None:
        rng = self.rng
        counter, staff = self.counter_ids[k], self.staff_ids[k]
        wait = t - v.seg_start
        v.wait_total += wait
        self._emit(t, "tickets", self._stamp(self._ticket(v, "called", counter_id=counter, staff_id=staff), t))
        if t > v.leaves_at:  # gone: called, recalled, then 过号
            tc = t
            for _ in range(rng.choice((0, 1, 1, 2))):
                tc += rng.uniform(25, 60)
                self._emit(tc, "tickets", self._stamp(self._ticket(v, "recalled", counter_id=counter), tc))
            tc += rng.uniform(30, 60)
            self._emit(tc, "tickets", self._stamp(self._ticket(v, "no_show"), tc))
            self._free(k, tc + rng.uniform(3, 10))
            return
        tc = t
        if rng.random() < 0.06:  # did not hear the first call
            tc += rng.uniform(20, 45)
            self._emit(tc, "tickets", self._stamp(self._ticket(v, "recalled", counter_id=counter), tc))
        ts = tc + rng.uniform(10, 50)
        self._emit(ts, "tickets", self._stamp(self._ticket(v, "started", counter_id=counter, staff_id=staff), ts))
        mean = self.handle[v.category] * self.tr.efficiency * self.tr.staff_speed[k]
        sigma = 0.45
        te = ts + max(30.0, rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))
        transfer_to = None
        if not v.transferred and rng.random() < TRANSFER_P.get(v.category, TRANSFER_P_DEFAULT):
            if v.category == "consult":
                transfer_to = rng.choices(list(CONSULT_TRANSFER_TO), list(CONSULT_TRANSFER_TO.values()))[0]
            else:
                transfer_to = rng.choice([c for c in ("payment", "plan_change", "other") if c != v.category])
        if transfer_to:
            outcome, rfc = "referred", False
        else:
            r = rng.random()
            outcome = "success" if r < 0.91 else "failed" if r < 0.95 else "referred"
            rfc = outcome == "success" and not v.transferred and rng.random() < 0.92
        self._emit(te, "transactions", {
            "event_id": self._uuid(), "hall_id": self.hid, "visit_id": v.visit_id,
            "ticket_no": v.ticket_no, "counter_id": counter, "staff_id": staff,
            "category": v.category, "business_code": rng.choice(BUSINESS_CODES[v.category]),
            "started_at": self._ts(ts), "completed_at": self._ts(te),
            "outcome": outcome, "resolved_first_contact": rfc,
        })
        if transfer_to:
            self._emit(te, "tickets", self._stamp(self._ticket(v, "transferred", to_category=transfer_to), te))
            v.category, v.transferred, v.seg_start = transfer_to, True, te
            v.leaves_at = te + rng.lognormvariate(math.log(40 * 60), 0.5)
            self._push(te, _REQUEUE, v)
        else:
            self._feedback(te, v, staff, outcome)
        self._free(k, te + rng.uniform(5, 25))

    def _free(self, k: int, t: float) -> None:
        self.busy_until[k] = t
        self._push(t, _FREE)

    # -- surveys ----------------------------------------------------------------------

    def _feedback(self, te: float, v: _Visit, staff: str, outcome: str) -> None:
        """A share of served customers rate the visit; long waits lower scores and raise complaints."""
        rng = self.rng
        w = v.wait_total / 60
        # Real rates are a few per 10,000 served; the wait term concentrates them at busy peaks.
        p_complaint = 0.0003 + 0.045 * min(1.0, max(0.0, (w - 10) / 20)) + (0.01 if outcome == "failed" else 0.0)
        complaint = None
        if rng.random() < p_complaint:
            if w > 10 and rng.random() < 0.75:
                ccat = "wait_time"
            else:
                ccat = rng.choices(("attitude", "billing", "business_error", "environment", "other"),
                                   (0.3, 0.25, 0.25, 0.1, 0.1))[0]
            severe = rng.random() < (0.25 if w > 25 else 0.1)
            complaint = {"category": ccat, "severity": "escalated" if severe else "normal",
                         "text": rng.choice(COMPLAINT_TEXT[ccat]).format(w=round(w))}
        elif rng.random() >= 0.3:
            return
        c = rng.random()
        channel = "pad" if c < 0.6 else "sms" if c < 0.95 else "app"
        if complaint and channel == "pad":
            channel = "sms"  # complaints come through the follow-up, not the counter pad
        delay = {"pad": (5, 40), "sms": (120, 2700), "app": (600, 7200)}[channel]
        ta = te + rng.uniform(*delay)
        pen = 0.13 * max(0.0, w - 5)
        if complaint:
            score = rng.randint(1, 4)
        else:
            s = rng.gauss(9.45, 0.8) - pen - (2.5 if outcome == "failed" else 0.0) - (0.8 if v.transferred else 0.0)
            score = min(10, max(1, round(s)))
        rec: dict[str, Any] = {"event_id": self._uuid(), "hall_id": self.hid, "kind": "customer",
                               "visit_id": v.visit_id, "staff_id": staff, "channel": channel,
                               "answered_at": self._ts(ta), "score": score}
        if channel == "pad":
            rec["dimensions"] = self._dimensions(score, pen, 1, 10, 0.7)
        if complaint:
            rec["complaint"] = complaint
        if complaint or rng.random() < 0.15:
            rec["comment"] = self._comment(score)
        self._emit(ta, "surveys", rec)

    def _audit(self, t: float, kind: str) -> None:
        """A mystery shopper or inspector scores what they see, including the queue right now."""
        rng = self.rng
        longest = max((t - e[1] for e in self.queue), default=0.0) / 60
        pen = min(30.0, 2.0 * max(0.0, longest - 5))
        score = min(100, max(0, round(rng.gauss(91, 4.5) - pen)))
        rec: dict[str, Any] = {"event_id": self._uuid(), "hall_id": self.hid, "kind": kind,
                               "channel": "onsite" if kind == "inspection" else rng.choice(("app", "onsite")),
                               "answered_at": self._ts(t), "score": score,
                               "dimensions": self._dimensions(score, pen, 0, 100, 5.0)}
        if kind == "mystery_shopper":
            rec["staff_id"] = rng.choice(self.staff_ids)
        if score < 70:
            ccat = "wait_time" if longest > 10 else "attitude"
            rec["complaint"] = {"category": ccat, "severity": "normal",
                                "text": rng.choice(COMPLAINT_TEXT[ccat]).format(w=round(longest))}
        if rng.random() < 0.5:
            rec["comment"] = f"暗访/检查：当前最长等候约{round(longest)}分钟" if longest > 5 else "现场秩序良好"
        self._emit(t, "surveys", rec)

    def _dimensions(self, score: int, pen: float, lo: int, hi: int, sd: float) -> dict[str, int]:
        rng = self.rng
        scale = (hi - lo) / 9 if hi == 100 else 1.0

        def dim(centre: float) -> int:
            return min(hi, max(lo, round(rng.gauss(centre, sd))))

        return {"attitude": dim(score + 0.3 * scale), "efficiency": dim(score - 0.5 * pen),
                "professionalism": dim(score + 0.2 * scale), "environment": dim(score + 0.1 * scale)}

    def _comment(self, score: int) -> str:
        rng = self.rng
        text = rng.choice(COMMENTS_GOOD if score >= 9 else COMMENTS_MID if score >= 6 else COMMENTS_BAD)
        if rng.random() < 0.08:  # customers do type their number; the pipeline must mask it
            text += f"，有问题请回电{self._clear_phone()}"
        return text

    # -- records -----------------------------------------------------------------------

    def _ticket(self, v: _Visit, event_type: str, **extra: Any) -> dict:
        rec = {"event_id": self._uuid(), "event_type": event_type, "hall_id": self.hid,
               "visit_id": v.visit_id, "ticket_no": v.ticket_no, "category": v.category}
        rec.update(extra)
        return rec

    def _stamp(self, rec: dict, t: float) -> dict:
        rec["occurred_at"] = self._ts(t)
        return rec

    def _clear_phone(self) -> str:
        return self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10 ** 8):08d}"

    def _customer_ref(self) -> str | None:
        r = self.rng.random()
        if r < 0.6:
            return f"{self.rng.choice(PHONE_PREFIXES)}****{self.rng.randrange(10_000):04d}"
        if r < 0.9:
            while True:  # a hex hash can, rarely, contain 11 digits that look like a phone
                ref = f"{self.rng.getrandbits(128):032x}"
                if is_safe_customer_ref(ref):
                    return ref
        return None

    def _encode(self, ms: int, kind: str, rec: dict) -> SimMessage:
        key = self.hid
        if self.bad_share and self.bad_rng.random() < self.bad_share:
            key, text = _corrupt(kind, rec, self.bad_rng)
        else:
            text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
        return SimMessage(kind, key, text.encode("utf-8"), self.midnight + timedelta(milliseconds=ms))


_TIME_FIELD = {"tickets": "occurred_at", "transactions": "completed_at", "surveys": "answered_at"}


def _corrupt(kind: str, rec: dict, rng: random.Random) -> tuple[str, str]:
    """One deliberate contract violation, of a sort that can occur on this topic."""
    options = ["malformed_json", "no_offset", "unknown_hall"]
    if kind == "tickets":
        options.append("clear_phone")
    if kind == "surveys":
        options.append("score_range")
    how = rng.choice(options)
    rec = dict(rec)
    key = rec["hall_id"]
    if how == "no_offset":
        field = _TIME_FIELD[kind]
        rec[field] = rec[field][:-6]  # drop "+08:00"
    elif how == "unknown_hall":
        rec["hall_id"] = key = UNKNOWN_HALL
    elif how == "clear_phone":
        rec["customer_ref"] = rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
    elif how == "score_range":
        rec["score"] = rng.choice((0, 11, 15)) if rec["kind"] == "customer" else rng.choice((-5, 101, 130))
    text = json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
    if how == "malformed_json":
        text = text[: rng.randint(1, len(text) - 2)]  # a truncated message
    return key, text


# -- output ------------------------------------------------------------------------------


class _KafkaSink:
    def __init__(self, settings: Any) -> None:
        from kafka import KafkaProducer  # imported here: tests and file output need no broker client
        from kafka.errors import KafkaError

        self.kafka_error = KafkaError
        try:
            self.producer = KafkaProducer(bootstrap_servers=settings.kafka.servers, linger_ms=20, acks="all")
        except KafkaError as e:  # 2.x: NoBrokersAvailable, 3.x: KafkaTimeoutError
            raise SimulationOutputError(
                f"no Kafka broker at {settings.kafka.servers} (start one with 'hallpulse kafka up' "
                "or set KAFKA_BOOTSTRAP), or write a file with --out") from e
        self.topics = {k: getattr(settings.topics, k) for k in TOPIC_KINDS}
        self.errors: list[BaseException] = []

    def send(self, msg: SimMessage) -> None:
        try:
            fut = self.producer.send(self.topics[msg.topic_kind], key=msg.key.encode("utf-8"), value=msg.value)
        except self.kafka_error as e:  # e.g. topic metadata never arrived
            raise SimulationOutputError(f"sending to {self.topics[msg.topic_kind]} failed: {e}") from e
        fut.add_errback(self.errors.append)

    def close(self) -> None:
        try:
            self.producer.flush()
        finally:
            self.producer.close()
        if self.errors:
            raise SimulationOutputError(f"{len(self.errors)} messages were not delivered, first: {self.errors[0]!r}")


class _FileSink:
    def __init__(self, settings: Any, out: str | Path) -> None:
        self.topics = {k: getattr(settings.topics, k) for k in TOPIC_KINDS}
        self.own = str(out) != "-"
        self.f: IO[str] = open(out, "w", encoding="utf-8") if self.own else sys.stdout

    def send(self, msg: SimMessage) -> None:
        line = {"topic": self.topics[msg.topic_kind], "key": msg.key, "value": msg.value.decode("utf-8")}
        self.f.write(json.dumps(line, ensure_ascii=False) + "\n")

    def close(self) -> None:
        if self.own:
            self.f.close()
        else:
            self.f.flush()


def run(settings: Any, *, halls: int, minutes: float, speed: float = 0.0, seed: int = 1,
        start: datetime | None = None, out: str | Path | None = None, bad_share: float = 0.0,
        progress: bool = True) -> dict[str, int]:
    """Send a simulated run to Kafka (or a JSONL file); returns how many messages per topic kind."""
    catalogue = load_catalogue(settings.path(Path(settings.catalogue_file)))
    start = normalise_start(start, minutes)
    messages = generate(catalogue, halls=halls, minutes=minutes, seed=seed, start=start, bad_share=bad_share)
    if speed < 0:
        raise SimulationArgumentError("speed must be 0 (as fast as possible) or positive")
    counts = dict.fromkeys(TOPIC_KINDS, 0)
    long_run = halls * minutes >= 10_000 or (speed > 0 and minutes * 60 / speed >= 30)
    bar = None
    if progress and (sys.stderr.isatty() or long_run):
        from tqdm import tqdm

        bar = tqdm(total=round(minutes), unit="min", desc="simulated", file=sys.stderr,
                   mininterval=0.5 if sys.stderr.isatty() else 15.0)
    sink: _KafkaSink | _FileSink = _FileSink(settings, out) if out is not None else _KafkaSink(settings)
    wall0 = time.monotonic()
    done_min = 0
    try:
        for msg in messages:
            if speed > 0:  # pace by event time: X simulated seconds per real second
                due = wall0 + (msg.event_time - start).total_seconds() / speed
                lag = due - time.monotonic()
                if lag > 0:
                    time.sleep(lag)
            sink.send(msg)
            counts[msg.topic_kind] += 1
            if bar is not None:
                m = int((msg.event_time - start).total_seconds() // 60)
                if m > done_min:
                    bar.update(m - done_min)
                    done_min = m
    finally:
        try:
            sink.close()
        finally:
            if bar is not None:
                bar.close()
    return counts
