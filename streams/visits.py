"""The life of one visit, derived from the set of its events (domain.md §2–§3).

A visit's state is a pure function of the *set* of its events: they are sorted by event
time (ties by a fixed order of kinds, then event id) and folded. So events that arrive out
of order, or across topics, give the same state as in-order ones. (A repeated
``event_id`` never reaches a visit: the engine drops it first.)

Events are kept as compact, JSON-friendly dicts ("steps") because the list of a visit's
steps is what the worker stores in its Faust table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

from schemas.events import TicketEvent, TransactionEvent

# Order of kinds at the same instant: a call ends a wait before a transfer opens the next.
KIND_ORDER = {"issued": 0, "called": 1, "recalled": 2, "started": 3, "tx": 4, "transferred": 5, "no_show": 6}


def to_ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def step_from_ticket(e: TicketEvent) -> dict:
    d = {"id": e.event_id, "t": to_ms(e.occurred_at), "k": e.event_type.value, "c": e.category.value,
         "tk": e.ticket_no}
    if e.to_category:
        d["to"] = e.to_category.value
    if e.counter_id:
        d["ctr"] = e.counter_id
    if e.staff_id:
        d["stf"] = e.staff_id
    if e.priority:
        d["pri"] = e.priority.value
    if e.channel:
        d["ch"] = e.channel.value
    return d


def step_from_transaction(e: TransactionEvent) -> dict:
    return {"id": e.event_id, "t": to_ms(e.completed_at), "k": "tx", "c": e.category.value,
            "tk": e.ticket_no, "ctr": e.counter_id, "stf": e.staff_id, "st": to_ms(e.started_at),
            "bc": e.business_code, "out": e.outcome.value, "fcr": e.resolved_first_contact}


@dataclass
class Segment:
    """One wait: from issue (or transfer) to the next first call, in one category's queue."""

    seg_no: int
    category: str
    from_ms: int
    called_ms: int | None = None
    counter_id: str = ""
    staff_id: str = ""

    @property
    def wait_s(self) -> float | None:
        return None if self.called_ms is None else (self.called_ms - self.from_ms) / 1000.0


@dataclass
class Visit:
    visit_id: str
    hall_id: str
    steps: list[dict]
    issued_ms: int | None = None
    category: str = ""            # the category it was issued in
    ticket_no: str = ""
    priority: str = ""
    channel: str = ""
    segments: list[Segment] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    no_show_ms: int | None = None
    last_call_ms: int | None = None
    last_ms: int = 0

    @property
    def served(self) -> bool:
        return bool(self.transactions)

    @property
    def abandoned(self) -> bool:
        return self.no_show_ms is not None and not self.served

    @property
    def open_segment(self) -> Segment | None:
        """The wait in progress, if the visit is waiting now."""
        if self.no_show_ms is not None or not self.segments:
            return None
        seg = self.segments[-1]
        return seg if seg.called_ms is None else None

    @property
    def status(self) -> str:
        if self.abandoned:
            return "abandoned"
        if self.open_segment is not None:
            return "waiting"
        if self.last_call_ms is not None and not any(t["t"] >= self.last_call_ms for t in self.transactions):
            return "in_service"
        return "served" if self.served else "in_service"

    @property
    def ended_ms(self) -> int | None:
        if self.status in ("served", "abandoned"):
            return self.last_ms
        return None

    def waiting_at(self, ms: int) -> Segment | None:
        """The segment this visit was waiting in at instant ``ms`` (for gauges of past minutes)."""
        for seg in self.segments:
            if seg.from_ms <= ms and (seg.called_ms is None or seg.called_ms > ms):
                if self.no_show_ms is not None and self.no_show_ms <= ms:
                    return None
                return seg
        return None


def derive(visit_id: str, hall_id: str, steps: Iterable[dict]) -> Visit:
    """Fold a visit's steps, in event-time order, into its state."""
    ordered = sorted(steps, key=lambda s: (s["t"], KIND_ORDER[s["k"]], s["id"]))
    v = Visit(visit_id, hall_id, ordered)
    for s in ordered:
        k, t = s["k"], s["t"]
        v.last_ms = max(v.last_ms, t)
        v.ticket_no = v.ticket_no or s.get("tk", "")
        if k == "issued":
            if v.issued_ms is None:
                v.issued_ms, v.category = t, s["c"]
                v.ticket_no, v.priority, v.channel = s.get("tk", ""), s.get("pri", ""), s.get("ch", "")
                v.segments.insert(0, Segment(0, s["c"], t))
        elif k == "transferred":
            v.segments.append(Segment(len(v.segments), s.get("to") or s["c"], t))
        elif k == "called":
            v.last_call_ms = t
            seg = v.segments[-1] if v.segments else None
            if seg is not None and seg.called_ms is None:
                seg.called_ms, seg.counter_id, seg.staff_id = t, s.get("ctr", ""), s.get("stf", "")
        elif k == "no_show":
            if v.no_show_ms is None:
                v.no_show_ms = t
        elif k == "tx":
            v.transactions.append(s)
    for i, seg in enumerate(v.segments):
        seg.seg_no = i
    return v
