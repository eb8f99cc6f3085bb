"""An independent computation of the day figures and the period assessment, straight
from ``../shared/domain.md`` and the product's rulings (listed below).

It shares no code with the pipeline: only the standard library is imported, and the
hall catalogue is read from ``config/halls.toml`` as plain data. The assessment scheme
is the default of domain.md §5, written out below (``SCHEME``); a unit test checks that
``config/assessment.toml`` still holds the same numbers.

Rulings followed (where domain.md leaves room):

1. Validity. An event is excluded everywhere when its value is not a JSON object or breaks
   the contract's types, enums or required fields; a timestamp lacks a UTC offset; its
   event time (tickets ``occurred_at``, transactions ``completed_at``, surveys
   ``answered_at``) is more than ``future_s`` ahead of ``now``; its hall is not in the
   catalogue; a transaction completes before it starts; a survey score (or dimension) is
   out of range; its ``customer_ref`` is, or holds as a token delimited by characters
   other than ``[0-9A-Za-z]``, a clear mobile number (1 and 10 digits, optionally 3-4-4
   with spaces or dashes) or an 18-character ID number (full-width digits read as
   ASCII). Numbers inside a comment or a complaint text never make an event invalid; in
   an identifier (event_id, hall_id, visit_id, ticket_no, counter_id, staff_id,
   business_code, a dimension's name) they do. A timestamp before 2000-01-01 (UTC) is
   invalid, and so is a transaction whose handle time is longer than 12 hours.
2. Duplicates: a repeated ``event_id`` on the same topic counts once; the first valid
   occurrence in produce order wins, even when the content differs.
3. Late: an accepted event is late when its event time is more than ``grace_s`` behind
   the largest event time of the previously accepted events of its hall on its topic.
   ``late_events`` counts it on its own day, category ``all``; it counts everywhere else
   like any other event.
4. Visit fold, in fold time (event time; a transaction at its ``started_at``), events at
   one instant taken by the lifecycle priority (see ``_PRIORITY_*``). The first ``issued``
   opens wait segment 0; ``transferred`` opens a new segment in ``to_category``;
   ``called`` closes the open wait; ``started`` or a transaction closes it as an inferred
   call; ``recalled`` changes nothing; ``no_show`` ends the visit (an open wait stays
   uncalled). served = a transaction; abandoned = the last event is a ``no_show``;
   open = not abandoned and a wait is open (a visit called and never closed by a
   transaction is in service, not open); expired = open at the end and closing time +
   30 min ≤ now.
5. Counting on Asia/Shanghai days (see ``day_figures``).
6. Silent minutes per hall-day row that has at least one ticket or transaction event that
   day: gaps longer than 15 min between the hall's ticket and transaction instants inside
   its opening hours (opening and closing included); 0 on a day with none.
7. The assessment of domain.md §5 (see ``assessment``).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

ROOT = Path(__file__).resolve().parents[2]
HALLS_TOML = ROOT / "config" / "halls.toml"

# Asia/Shanghai has kept +08:00 without daylight saving since 1991.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

CATEGORIES = ("consult", "open_account", "plan_change", "payment", "terminal", "broadband", "vip", "other")
TICKET_TYPES = ("issued", "called", "recalled", "transferred", "started", "no_show")
PRIORITIES = ("normal", "vip", "elderly", "reservation")
TICKET_CHANNELS = ("kiosk", "app", "reservation", "manager")
OUTCOMES = ("success", "failed", "referred")
SURVEY_KINDS = ("customer", "mystery_shopper", "inspection")
SURVEY_CHANNELS = ("sms", "pad", "app", "onsite")
COMPLAINT_CATEGORIES = ("wait_time", "attitude", "billing", "business_error", "environment", "other")
SEVERITIES = ("normal", "escalated")

FIGURES = ("issued", "visits_served", "abandoned", "expired_visits", "transfers", "called", "within_target",
           "wait_sum_s", "wait_max_s", "inferred_calls", "transactions", "handle_sum_s", "handle_ratio_sum",
           "first_contact", "csat_n", "csat_sum", "csat_satisfied", "audit_n", "audit_sum", "complaints",
           "complaints_escalated", "late_events", "silent_minutes")
FLOAT_FIGURES = ("wait_sum_s", "wait_max_s", "handle_sum_s", "handle_ratio_sum", "silent_minutes")

EXPIRY_AFTER_CLOSE = timedelta(minutes=30)
SILENT_AFTER = timedelta(minutes=15)


# -- the hall catalogue, as data ---------------------------------------------------------


class Hall:
    def __init__(self, row: dict, defaults: dict):
        self.hall_id: str = row["hall_id"]
        self.name: str = row["name"]
        self.name_en: str = row.get("name_en", "")
        self.city: str = row["city"]
        self.province: str = row["province"]
        self.opens: time = row.get("opens", time(8, 30))
        self.closes: time = row.get("closes", time(18, 0))
        self.target_wait_s = {c: 60.0 * row.get("target_wait_min", {}).get(c, defaults["target_wait_min"][c])
                              for c in CATEGORIES}
        self.standard_handle_s = {c: 60.0 * row.get("standard_handle_min", {}).get(
            c, defaults["standard_handle_min"][c]) for c in CATEGORIES}

    def opening(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, SHANGHAI), datetime.combine(day, self.closes, SHANGHAI))


def load_halls(path: Path | str = HALLS_TOML) -> dict[str, Hall]:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    return {row["hall_id"]: Hall(row, doc["defaults"]) for row in doc["halls"]}


# -- validity (ruling 1) -----------------------------------------------------------------

_NOT_TOKEN_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_TOKEN_AFTER = r"(?![0-9A-Za-z])"
CLEAR_PHONE = re.compile(_NOT_TOKEN_BEFORE + r"1[0-9]{2}[ \-]?[0-9]{4}[ \-]?[0-9]{4}" + _NOT_TOKEN_AFTER)
CLEAR_ID = re.compile(_NOT_TOKEN_BEFORE + r"[0-9]{17}[0-9Xx]" + _NOT_TOKEN_AFTER)


# full-width digits, dash, space and X (a Chinese input method) read as their ASCII forms
_FULL_WIDTH = {**{0xFF10 + i: str(i) for i in range(10)}, 0xFF0D: "-", 0x3000: " ", 0xFF38: "X", 0xFF58: "x"}


def ref_is_clear(ref: str) -> bool:
    """A customer_ref (or an identifier) that is or holds, as a delimited token, a phone or
    ID number, in ASCII or full-width digits."""
    ref = ref.translate(_FULL_WIDTH)
    return bool(CLEAR_PHONE.search(ref) or CLEAR_ID.search(ref))


EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_HANDLE = timedelta(hours=12)


class Invalid(Exception):
    pass


class Event:
    """One valid event: its topic, hall, id, event time and the decoded JSON."""

    __slots__ = ("topic", "hall_id", "event_id", "time", "data", "started_at")

    def __init__(self, topic: str, data: dict, time_: datetime, started_at: datetime | None = None):
        self.topic = topic
        self.hall_id = data["hall_id"].strip()
        self.event_id = data["event_id"].strip()
        self.time = time_
        self.data = data
        self.started_at = started_at

    def __repr__(self) -> str:
        return f"Event({self.topic}, {self.event_id}, {self.time.isoformat()})"


def _text(d: dict, key: str, *, required: bool = True, max_len: int = 128) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise Invalid(f"{key} missing")
        return None
    if not isinstance(v, str) or not (1 <= len(v.strip()) <= max_len):
        raise Invalid(f"{key} is not a non-empty string")
    if ref_is_clear(v):
        raise Invalid(f"{key} holds a clear phone or ID number")
    return v


def _enum(d: dict, key: str, values: tuple[str, ...], *, required: bool = True) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise Invalid(f"{key} missing")
        return None
    if not isinstance(v, str) or v not in values:
        raise Invalid(f"{key}={v!r} not one of {values}")
    return v


def _timestamp(d: dict, key: str) -> datetime:
    v = d.get(key)
    if not isinstance(v, str):
        raise Invalid(f"{key} missing or not a string")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise Invalid(f"{key}={v!r} is not ISO 8601") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise Invalid(f"{key}={v!r} has no UTC offset")
    if t < EARLIEST:
        raise Invalid(f"{key}={v!r} is before 2000")
    return t


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_event(topic: str, value: bytes | str, halls: dict[str, Hall], now: datetime,
                future_s: float = 300) -> Event:
    """The event if it is valid (ruling 1), else raises Invalid with the reason."""
    try:
        d = json.loads(value)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid("not JSON") from None
    if not isinstance(d, dict):
        raise Invalid("not a JSON object")
    _text(d, "event_id")
    hall_id = _text(d, "hall_id")
    started = None
    if topic == "tickets":
        et = _enum(d, "event_type", TICKET_TYPES)
        _text(d, "visit_id")
        _text(d, "ticket_no")
        _enum(d, "category", CATEGORIES)
        prio = _enum(d, "priority", PRIORITIES, required=False)
        chan = _enum(d, "channel", TICKET_CHANNELS, required=False)
        counter = _text(d, "counter_id", required=False)
        staff = _text(d, "staff_id", required=False)
        to_cat = _enum(d, "to_category", CATEGORIES, required=False)
        t = _timestamp(d, "occurred_at")
        ref = d.get("customer_ref")
        if ref is not None:
            if not isinstance(ref, str) or len(ref) > 128:
                raise Invalid("customer_ref is not a string")
            if ref_is_clear(ref):
                raise Invalid("customer_ref holds a clear phone or ID number")
        if et == "issued" and (prio is None or chan is None):
            raise Invalid("issued needs priority and channel")
        if et in ("called", "recalled", "started") and counter is None:
            raise Invalid(f"{et} needs counter_id")
        if et in ("called", "started") and staff is None:
            raise Invalid(f"{et} needs staff_id")
        if et == "transferred" and to_cat is None:
            raise Invalid("transferred needs to_category")
    elif topic == "transactions":
        for k in ("visit_id", "ticket_no", "counter_id", "staff_id", "business_code"):
            _text(d, k)
        _enum(d, "category", CATEGORIES)
        _enum(d, "outcome", OUTCOMES)
        if not isinstance(d.get("resolved_first_contact"), bool):
            raise Invalid("resolved_first_contact is not a boolean")
        started = _timestamp(d, "started_at")
        t = _timestamp(d, "completed_at")
        if t < started:
            raise Invalid("completed_at before started_at")
        if t - started > MAX_HANDLE:
            raise Invalid("handle time longer than 12 h")
    elif topic == "surveys":
        kind = _enum(d, "kind", SURVEY_KINDS)
        _text(d, "visit_id", required=False)
        _text(d, "staff_id", required=False)
        _enum(d, "channel", SURVEY_CHANNELS)
        t = _timestamp(d, "answered_at")
        lo, hi = (1, 10) if kind == "customer" else (0, 100)
        score = d.get("score")
        if not _int(score) or not lo <= score <= hi:
            raise Invalid(f"score {score!r} out of {lo}..{hi}")
        dims = d.get("dimensions")
        if dims is not None:
            if not isinstance(dims, dict) or not all(_int(x) and lo <= x <= hi for x in dims.values()):
                raise Invalid("dimensions out of range")
            for name in dims:
                _text({"name": name}, "name")
        c = d.get("complaint")
        if c is not None:
            if not isinstance(c, dict):
                raise Invalid("complaint is not an object")
            _enum(c, "category", COMPLAINT_CATEGORIES)
            _enum(c, "severity", SEVERITIES, required=False)
            if c.get("text") is not None and (not isinstance(c["text"], str) or len(c["text"]) > 4000):
                raise Invalid("complaint.text is not a string")
        cm = d.get("comment")
        if cm is not None and (not isinstance(cm, str) or len(cm) > 4000):
            raise Invalid("comment is not a string")
    else:
        raise Invalid(f"unknown topic kind {topic!r}")
    if (t - now).total_seconds() > future_s:
        raise Invalid("event time in the future")
    if hall_id.strip() not in halls:
        raise Invalid("hall not in the catalogue")
    return Event(topic, d, t, started)


def _parts(m: Any) -> tuple[str, str, bytes]:
    if isinstance(m, (tuple, list)):
        return m[0], m[1], m[2]
    return m.topic_kind, m.key, m.value


def accepted_events(messages: Iterable[Any], *, now: datetime, grace_s: float = 600, future_s: float = 300,
                    halls: dict[str, Hall] | None = None) -> list[tuple[Event, bool]]:
    """Valid first occurrences in produce order (rulings 1–2), each with its late flag (ruling 3)."""
    halls = halls if halls is not None else load_halls()
    seen: set[tuple[str, str]] = set()
    seen_bytes: set[tuple[str, bytes]] = set()
    high: dict[tuple[str, str], datetime] = {}
    out = []
    for m in messages:
        topic, _key, value = _parts(m)
        # An exact copy of an earlier message is invalid like it, or a repeated event_id.
        if (topic, value) in seen_bytes:
            continue
        seen_bytes.add((topic, value))
        try:
            e = parse_event(topic, value, halls, now, future_s)
        except Invalid:
            continue
        if (topic, e.event_id) in seen:
            continue
        seen.add((topic, e.event_id))
        hk = (e.hall_id, topic)
        late = hk in high and (high[hk] - e.time).total_seconds() > grace_s
        if hk not in high or e.time > high[hk]:
            high[hk] = e.time
        out.append((e, late))
    return out


# -- the visit fold (ruling 4) -----------------------------------------------------------

_PRIORITY_WAITING = {"called": 0, "started": 1, "transaction": 2, "recalled": 3, "transferred": 4,
                     "issued": 5, "no_show": 6}
_PRIORITY_NOT_WAITING = {"issued": 0, "transferred": 1, "called": 2, "recalled": 3, "started": 4,
                         "transaction": 5, "no_show": 6}


class Segment:
    def __init__(self, start: datetime, category: str):
        self.start = start
        self.category = category
        self.close: datetime | None = None
        self.inferred = False


class Visit:
    """The outcome of folding one visit's events."""

    def __init__(self, hall_id: str, visit_id: str):
        self.hall_id = hall_id
        self.visit_id = visit_id
        self.issued_at: datetime | None = None
        self.category: str | None = None
        self.segments: list[Segment] = []
        self.transfers: list[tuple[datetime, str]] = []
        self.served = False
        self.abandoned = False
        self.open = False
        self.expired = False


def _kind(e: Event) -> str:
    return "transaction" if e.topic == "transactions" else e.data["event_type"]


def _fold_time(e: Event) -> datetime:
    return e.started_at if e.topic == "transactions" else e.time


def fold_visit(hall: Hall, visit_id: str, events: list[Event], now: datetime) -> Visit:
    v = Visit(hall.hall_id, visit_id)
    by_instant: dict[datetime, list[Event]] = defaultdict(list)
    for e in events:
        by_instant[_fold_time(e)].append(e)
    open_seg: Segment | None = None
    last_kind = None
    tx_times: list[datetime] = []
    for instant in sorted(by_instant):
        remaining = list(by_instant[instant])
        while remaining:
            prio = _PRIORITY_WAITING if open_seg is not None else _PRIORITY_NOT_WAITING
            e = min(remaining, key=lambda x: (prio[_kind(x)], x.event_id))
            remaining.remove(e)
            k = _kind(e)
            last_kind = k
            if k == "issued":
                if v.issued_at is None:
                    v.issued_at = instant
                    v.category = e.data["category"]
                    open_seg = Segment(instant, e.data["category"])
                    v.segments.append(open_seg)
            elif k == "transferred":
                v.transfers.append((instant, e.data["to_category"]))
                open_seg = Segment(instant, e.data["to_category"])
                v.segments.append(open_seg)
            elif k == "called":
                if open_seg is not None:
                    open_seg.close = instant
                    open_seg = None
            elif k in ("started", "transaction"):
                if open_seg is not None:
                    open_seg.close = instant
                    open_seg.inferred = True
                    open_seg = None
                if k == "transaction":
                    v.served = True
                    tx_times.append(instant)
            elif k == "no_show":
                open_seg = None
            # recalled: nothing
    v.abandoned = last_kind == "no_show"
    v.open = not v.abandoned and open_seg is not None
    if v.issued_at is not None and v.open:
        day = v.issued_at.astimezone(SHANGHAI).date()
        v.expired = datetime.combine(day, hall.closes, SHANGHAI) + EXPIRY_AFTER_CLOSE <= now
    return v


# -- day figures (rulings 5, 6) ----------------------------------------------------------


def _day(t: datetime) -> str:
    return t.astimezone(SHANGHAI).date().isoformat()


class _Rows:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], dict[str, float]] = {}

    def row(self, key: tuple[str, str, str]) -> dict[str, float]:
        r = self.rows.get(key)
        if r is None:
            r = self.rows[key] = {f: 0 for f in FIGURES}
            for f in FLOAT_FIGURES:
                r[f] = 0.0
        return r

    def add(self, hall: str, day: str, category: str | None, name: str, value: float) -> None:
        keys = [(hall, day, "all")] + ([(hall, day, category)] if category else [])
        for k in keys:
            r = self.row(k)
            if name == "wait_max_s":
                r[name] = max(r[name], value)
            else:
                r[name] += value


def day_figures(messages: list[Any], *, now: datetime, grace_s: float = 600, future_s: float = 300,
                halls: dict[str, Hall] | None = None) -> dict[tuple[str, str, str], dict[str, float]]:
    """Per (hall_id, Shanghai day 'YYYY-MM-DD', category or 'all'): the figures of ruling 5.

    A row exists when one of its figures (silent minutes aside) is not zero."""
    halls = halls if halls is not None else load_halls()
    acc = accepted_events(messages, now=now, grace_s=grace_s, future_s=future_s, halls=halls)
    R = _Rows()

    # late events (ruling 3)
    for e, late in acc:
        if late:
            R.add(e.hall_id, _day(e.time), None, "late_events", 1)

    # visits (ruling 4)
    per_visit: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e, _ in acc:
        if e.topic in ("tickets", "transactions"):
            per_visit[(e.hall_id, e.data["visit_id"].strip())].append(e)
    visits: dict[tuple[str, str], Visit] = {}
    for (hall_id, visit_id), evs in per_visit.items():
        v = fold_visit(halls[hall_id], visit_id, evs, now)
        if v.issued_at is None:
            continue
        visits[(hall_id, visit_id)] = v
        hall = halls[hall_id]
        d = _day(v.issued_at)
        R.add(hall_id, d, v.category, "issued", 1)
        if v.served:
            R.add(hall_id, d, v.category, "visits_served", 1)
        if v.abandoned:
            R.add(hall_id, d, v.category, "abandoned", 1)
        if v.expired:
            R.add(hall_id, d, v.category, "expired_visits", 1)
        for t, to_cat in v.transfers:
            R.add(hall_id, _day(t), to_cat, "transfers", 1)
        if v.expired:
            continue
        for s in v.segments:
            if s.close is None:
                continue
            wait = (s.close - s.start).total_seconds()
            cd = _day(s.close)
            R.add(hall_id, cd, s.category, "called", 1)
            R.add(hall_id, cd, s.category, "wait_sum_s", wait)
            R.add(hall_id, cd, s.category, "wait_max_s", wait)
            if wait <= hall.target_wait_s[s.category]:
                R.add(hall_id, cd, s.category, "within_target", 1)
            if s.inferred:
                R.add(hall_id, cd, s.category, "inferred_calls", 1)

    # transactions and surveys
    for e, _ in acc:
        hall = halls[e.hall_id]
        d = _day(e.time)
        if e.topic == "transactions":
            cat = e.data["category"]
            handle = (e.time - e.started_at).total_seconds()
            R.add(e.hall_id, d, cat, "transactions", 1)
            R.add(e.hall_id, d, cat, "handle_sum_s", handle)
            R.add(e.hall_id, d, cat, "handle_ratio_sum", handle / hall.standard_handle_s[cat])
            if e.data["resolved_first_contact"]:
                R.add(e.hall_id, d, cat, "first_contact", 1)
        elif e.topic == "surveys":
            vid = e.data.get("visit_id")
            v = visits.get((e.hall_id, vid.strip())) if isinstance(vid, str) else None
            cat = v.category if v is not None else None
            score = e.data["score"]
            if e.data["kind"] == "customer":
                R.add(e.hall_id, d, cat, "csat_n", 1)
                R.add(e.hall_id, d, cat, "csat_sum", score)
                if score >= 9:
                    R.add(e.hall_id, d, cat, "csat_satisfied", 1)
            else:
                R.add(e.hall_id, d, cat, "audit_n", 1)
                R.add(e.hall_id, d, cat, "audit_sum", score)
            c = e.data.get("complaint")
            if c is not None:
                R.add(e.hall_id, d, cat, "complaints", 1)
                if c.get("severity") == "escalated":
                    R.add(e.hall_id, d, cat, "complaints_escalated", 1)

    rows = {k: r for k, r in R.rows.items() if any(r[f] for f in FIGURES if f != "silent_minutes")}

    # silent minutes (ruling 6)
    instants: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for e, _ in acc:
        if e.topic in ("tickets", "transactions"):
            instants[(e.hall_id, _day(e.time))].append(e.time)
    for (hall_id, day, cat), r in rows.items():
        if cat != "all" or not instants.get((hall_id, day)):
            continue
        r["silent_minutes"] = silent_minutes(halls[hall_id], date.fromisoformat(day),
                                             instants.get((hall_id, day), []))
    return rows


def silent_minutes(hall: Hall, day: date, instants: Iterable[datetime]) -> float:
    opens, closes = hall.opening(day)
    pts = [opens] + sorted(t for t in instants if opens <= t <= closes) + [closes]
    total = 0.0
    for a, b in zip(pts, pts[1:]):
        gap = (b - a) - SILENT_AFTER
        if gap > timedelta(0):
            total += gap.total_seconds() / 60.0
    return total


# -- assessment (ruling 7, domain.md §5) -------------------------------------------------

# key, weight, direction, full marks at, zero at, sample basis, minimum sample
SCHEME = (
    ("within_target", 25, "higher", 95.0, 60.0, "visits", 100),
    ("mean_wait", 10, "lower", 5.0, 20.0, "visits", 100),
    ("satisfaction", 25, "higher", 95.0, 70.0, "csat", 30),
    ("complaints", 15, "lower", 1.0, 10.0, "visits", 100),
    ("handle", 10, "lower", 100.0, 150.0, "visits", 100),
    ("abandonment", 5, "lower", 2.0, 10.0, "visits", 100),
    ("audit", 10, "higher", 95.0, 60.0, "audit", 1),
)
GRADES = (("优秀", "Excellent", 90.0), ("良好", "Good", 80.0), ("合格", "Pass", 60.0), ("不合格", "Fail", 0.0))
FAILING_GRADE = "不合格"
RECTIFICATION_AFTER, ESCALATION_AFTER = 2, 3
SUM_NAMES = ("issued", "visits_served", "abandoned", "called", "within_target", "wait_sum_s", "transactions",
             "handle_ratio_sum", "csat_n", "csat_sum", "audit_n", "audit_sum", "complaints")


def period_days(period: str) -> tuple[date, date]:
    """[from, to) business days of 'YYYY-MM', 'YYYY-Qn' or 'YYYY'."""
    if re.fullmatch(r"\d{4}-\d{2}", period):
        y, m = int(period[:4]), int(period[5:])
        return date(y, m, 1), (date(y + 1, 1, 1) if m == 12 else date(y, m + 1, 1))
    if re.fullmatch(r"\d{4}-[Qq][1-4]", period):
        y, q = int(period[:4]), int(period[-1])
        return date(y, 3 * q - 2, 1), (date(y + 1, 1, 1) if q == 4 else date(y, 3 * q + 1, 1))
    if re.fullmatch(r"\d{4}", period):
        y = int(period)
        return date(y, 1, 1), date(y + 1, 1, 1)
    raise ValueError(f"period {period!r}")


def previous_period(period: str, n: int = 1) -> str:
    if re.fullmatch(r"\d{4}-\d{2}", period):
        k = int(period[:4]) * 12 + int(period[5:]) - 1 - n
        return f"{k // 12:04d}-{k % 12 + 1:02d}"
    if re.fullmatch(r"\d{4}-[Qq][1-4]", period):
        k = int(period[:4]) * 4 + int(period[-1]) - 1 - n
        return f"{k // 4:04d}-Q{k % 4 + 1}"
    return f"{int(period) - n:04d}"


def _competition_ranks(items: list[tuple[str, float]]) -> dict[str, int]:
    """Highest first; equal totals share a rank and the next rank skips (1, 2, 2, 4)."""
    out = {}
    ordered = sorted(items, key=lambda x: -x[1])
    for hall_id, total in ordered:
        out[hall_id] = 1 + sum(1 for _, other in ordered if other > total)
    return out


def _score_period(rows: dict, halls: dict[str, Hall], period: str) -> dict[str, dict]:
    lo, hi = period_days(period)
    lo_s, hi_s = lo.isoformat(), hi.isoformat()
    sums: dict[str, dict[str, float]] = {}
    for (hall_id, day, cat), r in rows.items():
        if cat != "all" or not (lo_s <= day < hi_s):
            continue
        s = sums.setdefault(hall_id, {k: 0 for k in SUM_NAMES})
        for k in SUM_NAMES:
            s[k] += r[k]
    out = {}
    for hall_id, s in sums.items():
        hall = halls[hall_id]

        def ratio(num: float, den: float, scale: float) -> float | None:
            return scale * num / den if den > 0 else None

        values = {
            "within_target": ratio(s["within_target"], s["called"], 100.0),
            "mean_wait": ratio(s["wait_sum_s"], s["called"], 1 / 60),
            "satisfaction": ratio(s["csat_sum"], s["csat_n"], 10.0),
            "complaints": ratio(s["complaints"], s["visits_served"], 10_000.0),
            "handle": ratio(s["handle_ratio_sum"], s["transactions"], 100.0),
            "abandonment": ratio(s["abandoned"], s["issued"], 100.0),
            "audit": ratio(s["audit_sum"], s["audit_n"], 1.0),
        }
        samples = {"visits": int(s["issued"]), "csat": int(s["csat_n"]), "audit": int(s["audit_n"])}
        small = {key: values[key] is None or samples[basis] < max(n, 1)
                 for key, _w, _d, _f, _z, basis, n in SCHEME}
        usable_weight = sum(w for key, w, *_ in SCHEME if not small[key])
        indicators = {}
        for key, w, _direction, full_at, zero_at, basis, _n in SCHEME:
            if small[key]:
                eff, pts = 0.0, None
            else:
                eff = w * 100.0 / usable_weight
                frac = (values[key] - zero_at) / (full_at - zero_at)
                pts = eff * min(1.0, max(0.0, frac))
            indicators[key] = {"value": values[key], "sample": samples[basis], "small_sample": small[key],
                               "weight": eff, "points": pts}
        assessed = usable_weight >= 50.0
        total = grade = grade_en = None
        if assessed:
            # The published total is rounded to 2 decimals before grading and ranking.
            total = round(sum(i["points"] for i in indicators.values() if i["points"] is not None), 2)
            grade, grade_en = next((zh, en) for zh, en, floor in GRADES if total >= floor)
        out[hall_id] = {
            "hall_id": hall_id, "name": hall.name, "name_en": hall.name_en, "city": hall.city,
            "province": hall.province, "issued": int(s["issued"]), "sums": s, "indicators": indicators,
            "usable_weight": usable_weight, "assessed": assessed, "total": total, "grade": grade,
            "grade_en": grade_en, "failing": grade == FAILING_GRADE, "rank_city": None, "rank_province": None,
        }
    graded = [r for r in out.values() if r["assessed"]]
    for key, setter in ((lambda r: (r["province"], r["city"]), "rank_city"),
                        (lambda r: r["province"], "rank_province")):
        groups: dict = defaultdict(list)
        for r in graded:
            groups[key(r)].append((r["hall_id"], r["total"]))
        for members in groups.values():
            for hall_id, rank in _competition_ranks(members).items():
                out[hall_id][setter] = rank
    return out


def assessment(messages: list[Any] | None = None, *, period: str = "2026-10", now: datetime,
               grace_s: float = 600, future_s: float = 300, halls: dict[str, Hall] | None = None,
               rows: dict | None = None) -> dict[str, dict]:
    """Per hall with data in the period: indicator values (scheme units), samples, small-sample
    flags, effective weights, points, total (None when not assessed: the usable indicators
    carry less than half the weight), grade, ranks in city and province among graded halls,
    and the failure streak over the preceding periods of the same kind.

    ``rows`` (from ``day_figures``) may be given to skip recomputing them."""
    halls = halls if halls is not None else load_halls()
    if rows is None:
        rows = day_figures(messages or [], now=now, grace_s=grace_s, future_s=future_s, halls=halls)
    result = _score_period(rows, halls, period)
    before = [_score_period(rows, halls, previous_period(period, n)) for n in range(1, ESCALATION_AFTER)]
    for hall_id, r in result.items():
        streak = 0
        if r["failing"]:
            streak = 1
            for prev in before:
                if prev.get(hall_id, {}).get("failing"):
                    streak += 1
                else:
                    break
        r["failure_streak"] = streak
        r["flag"] = ("escalated" if streak >= ESCALATION_AFTER else
                     "rectification" if streak >= RECTIFICATION_AFTER else "")
        r["grade_display"] = r["grade"] or "不参评"
    return result


# -- comparisons -------------------------------------------------------------------------


def _close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


def _num(v: Any) -> float | None:
    if v is None:
        return None
    return float(v)


def compare_assessment(oracle: dict[str, dict], assess_json: dict | str) -> list[str]:
    """Mismatches between the oracle and ``hallpulse assess --level hall --format json``.

    Counts exact, indicator values to 1e-9 relative, weights, points and totals to 1e-6."""
    doc = json.loads(assess_json) if isinstance(assess_json, (str, bytes)) else assess_json
    out: list[str] = []
    if doc.get("level", "hall") != "hall":
        return [f"JSON is level {doc.get('level')!r}, expected 'hall'"]
    rows = {r["hall_id"]: r for r in doc.get("rows", [])}
    for hall_id in sorted(set(oracle) - set(rows)):
        out.append(f"{hall_id}: in the oracle, missing from the JSON")
    for hall_id in sorted(set(rows) - set(oracle)):
        out.append(f"{hall_id}: in the JSON, not in the oracle")
    for hall_id in sorted(set(oracle) & set(rows)):
        o, j = oracle[hall_id], rows[hall_id]
        p = f"{hall_id}:"
        for k in ("name", "city", "province", "issued", "grade", "rank_city", "rank_province", "failure_streak",
                  "flag"):
            if o.get(k) != j.get(k) and not (k == "flag" and not o.get(k) and not j.get(k)):
                out.append(f"{p} {k} oracle={o.get(k)!r} json={j.get(k)!r}")
        ot, jt = o["total"], _num(j.get("total"))
        if (ot is None) != (jt is None) or (ot is not None and not _close(ot, jt, 0, 1e-6)):
            why = "" if o["assessed"] else f" (usable weight {o['usable_weight']:g} < 50: not assessed)"
            out.append(f"{p} total oracle={ot!r} json={jt!r}{why}")
        jinds = j.get("indicators", {})
        for key, oi in o["indicators"].items():
            ji = jinds.get(key)
            if ji is None:
                out.append(f"{p} indicator {key} missing from the JSON")
                continue
            ov, jv = oi["value"], _num(ji.get("value"))
            if (ov is None) != (jv is None) or (ov is not None and not _close(ov, jv, 1e-9, 1e-12)):
                out.append(f"{p} {key}.value oracle={ov!r} json={jv!r}")
            if oi["sample"] != ji.get("sample"):
                out.append(f"{p} {key}.sample oracle={oi['sample']!r} json={ji.get('sample')!r}")
            if oi["small_sample"] != bool(ji.get("small_sample")):
                out.append(f"{p} {key}.small_sample oracle={oi['small_sample']!r} json={ji.get('small_sample')!r}")
            if not o["assessed"]:
                continue  # a hall not assessed is listed with its values; its points mean nothing
            if not _close(oi["weight"], float(ji.get("weight") or 0.0), 0, 1e-6):
                out.append(f"{p} {key}.weight oracle={oi['weight']!r} json={ji.get('weight')!r}")
            op, jp = oi["points"], _num(ji.get("points"))
            if (op is None) != (jp is None) or (op is not None and not _close(op, jp, 0, 1e-6)):
                out.append(f"{p} {key}.points oracle={op!r} json={jp!r}")
    return out


def _row_map(rows: Any) -> dict[tuple[str, str, str], dict]:
    if isinstance(rows, dict):
        return {tuple(k): v for k, v in rows.items()}
    out = {}
    for r in rows:
        day = r["day"]
        day = day.isoformat() if hasattr(day, "isoformat") else str(day)[:10]
        out[(str(r["hall_id"]), day, str(r["category"]))] = r
    return out


def compare_days(oracle_rows: Any, store_rows: Any, figures: Iterable[str] = FIGURES) -> list[str]:
    """Mismatches between day figures: the oracle's (dict from ``day_figures`` or a list of
    dicts) and the store's (dicts with hall_id, day, category and the figures). A store row
    whose figures are all zero counts as absent. Counts exact, float figures to 1e-9 relative."""
    o_map, s_map = _row_map(oracle_rows), _row_map(store_rows)
    figures = tuple(figures)
    absent_cols = set()
    out: list[str] = []

    def nonzero(r: dict) -> bool:
        return any(_num(r.get(f)) for f in figures if f != "silent_minutes")

    for key in sorted(set(o_map) | set(s_map)):
        o, s = o_map.get(key), s_map.get(key)
        o = o if o is not None and nonzero(o) else None
        s = s if s is not None and nonzero(s) else None
        name = "/".join(key)
        if o is None and s is None:
            continue
        if s is None:
            out.append(f"{name}: missing from the store (oracle {_brief(o, figures)})")
            continue
        if o is None:
            out.append(f"{name}: not in the oracle (store {_brief(s, figures)})")
            continue
        for f in figures:
            if f not in s:
                absent_cols.add(f)
                continue
            ov, sv = float(o.get(f, 0)), _num(s.get(f)) or 0.0
            ok = _close(ov, sv, 1e-9, 1e-9) if f in FLOAT_FIGURES else ov == sv
            if not ok:
                out.append(f"{name}: {f} oracle={ov:g} store={sv:g}")
    for f in sorted(absent_cols):
        out.append(f"store rows have no column {f!r}")
    return out


def _brief(r: dict, figures: Iterable[str]) -> str:
    return ", ".join(f"{f}={float(r.get(f, 0)):g}" for f in figures if r.get(f))
