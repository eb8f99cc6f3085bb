"""The life of one visit, derived from the set of its events (domain.md §2–§3).

A visit's state is a pure function of the *set* of its events, so events that arrive out
of order, late, or across topics give the same state as in-order ones. (A repeated
``event_id`` never reaches a visit: the engine and the fact writer drop it first.)

The fold follows "When the events leave a visit unclear" in domain.md §3:

* Events are taken in *fold time*: their event time, except a transaction, which sits at
  its ``started_at`` (the service began then; it completed later).
* Events at the same instant are applied in the order the lifecycle allows: while a wait
  is open a ``called`` (or ``started``, or a transaction) closes it before a
  ``transferred`` opens the next; while none is open a ``transferred`` opens one before a
  ``called`` closes it. So a transfer and the next call stamped with the same millisecond
  give a second wait of 0 s, whatever order they arrive in.
* A ``started`` or a transaction that finds a wait open closes it at its own fold time:
  an *inferred call* (the ``called`` was lost, or has not arrived yet).
* A visit whose last event is a ``no_show`` is abandoned, even if it was served before
  (served, transferred, never came back).
* A visit still waiting (a wait open, not ended by a ``no_show``) when its *expiry* instant
  (the hall's closing time on its issue day + 30 min) has passed is *expired*: it leaves
  the queue and counts in no wait (not even an earlier, called segment) and no
  abandonment.

Events are kept as compact, JSON-friendly dicts ("steps") because the list of a visit's
steps is what the worker stores in its Faust table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

from schemas.events import TicketEvent, TransactionEvent

# Priority of kinds among events at the same instant, by whether a wait is open then.
WHILE_WAITING = {"called": 0, "started": 1, "tx": 2, "recalled": 3, "transferred": 4, "issued": 5, "no_show": 6}
WHILE_NOT_WAITING = {"issued": 0, "transferred": 1, "called": 2, "recalled": 3, "started": 4, "tx": 5, "no_show": 6}
CLOSES_WAIT = {"called": False, "started": True, "tx": True}  # kind -> the close is inferred


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


class _cached:
    """:func:`functools.cached_property` without its lock: before Python 3.12 it takes one on
    every first read, a real cost where a visit is derived for every event. (The value is
    computed from a visit no one changes, so two threads computing it agree.)"""

    def __init__(self, func: Callable):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


def fold_ms(step: dict) -> int:
    """Where a step sits in the visit's life: a transaction at its start, others at their time."""
    return step["st"] if step["k"] == "tx" else step["t"]


@dataclass
class Segment:
    """One wait: from issue (or transfer) to the next first call, in one category's queue."""

    seg_no: int
    category: str
    from_ms: int
    called_ms: int | None = None
    counter_id: str = ""
    staff_id: str = ""
    inferred: bool = False   # closed by a `started` or a transaction, not by a `called`

    @property
    def wait_s(self) -> float | None:
        return None if self.called_ms is None else (self.called_ms - self.from_ms) / 1000.0


@dataclass(eq=False)
class Visit:
    """A visit's state as :func:`derive` leaves it; not changed afterwards (its derived
    properties are cached)."""

    visit_id: str
    hall_id: str
    steps: list[dict]                 # in fold order
    issued_ms: int | None = None
    category: str = ""                # the category it was issued in
    ticket_no: str = ""
    priority: str = ""
    channel: str = ""
    segments: list[Segment] = field(default_factory=list)
    transactions: list[dict] = field(default_factory=list)
    no_show_ms: int | None = None
    last_close_ms: int | None = None  # when the latest wait was closed (a call, real or inferred)
    last_tx_ms: int | None = None     # fold time of the latest transaction
    last_ms: int = 0                  # latest event time of any step
    expires_ms: int | None = None     # closing time of the issue day + the expiry margin
    expired: bool = False             # open when expires_ms had passed (see derive's as_of_ms)

    @property
    def served(self) -> bool:
        return bool(self.transactions)

    @_cached
    def abandoned(self) -> bool:
        """Ends in ``no_show`` (domain.md §3), whether or not it was served before."""
        return bool(self.steps) and self.steps[-1]["k"] == "no_show"

    @_cached
    def open_segment(self) -> Segment | None:
        """The wait in progress, if the visit is waiting now."""
        if self.abandoned or self.expired or not self.segments:
            return None
        seg = self.segments[-1]
        return seg if seg.called_ms is None else None

    @_cached
    def in_service(self) -> bool:
        """Called (really or inferred), with no transaction since: at a counter now."""
        if self.abandoned or self.expired or not self.segments or self.segments[-1].called_ms is None:
            return False
        return self.last_tx_ms is None or self.last_close_ms > self.last_tx_ms

    @property
    def is_open(self) -> bool:
        """Still in a queue (ignoring expiry): what expiry takes out of it. A visit called to
        a counter and never closed by a transaction is *in service*, not open: it is in no
        queue, and its waits were observed."""
        return not self.abandoned and bool(self.segments) and self.segments[-1].called_ms is None

    @_cached
    def status(self) -> str:
        if self.abandoned:
            return "abandoned"
        if self.expired:
            return "expired"
        if self.open_segment is not None:
            return "waiting"
        if self.in_service:
            return "in_service"
        return "served" if self.served else "in_service"

    @_cached
    def ended_ms(self) -> int | None:
        if self.expired:
            return self.expires_ms
        if self.status in ("served", "abandoned"):
            return self.last_ms
        return None

    @property
    def inferred_calls(self) -> int:
        return sum(1 for s in self.segments if s.inferred and s.called_ms is not None)

    def wait_spans(self) -> list[tuple[int, int, int | None]]:
        """Each wait as ``(seg_no, from_ms, until_ms)``: waiting in ``[from, until)``, until
        None while it is still open. A wait ends at its call; one never called ends where
        the next wait begins (transferred on), at the ``no_show`` of an abandoned visit, or
        at the expiry of an expired one. Empty spans are left out."""
        out = []
        last = len(self.segments) - 1
        for i, seg in enumerate(self.segments):
            until = seg.called_ms
            if until is None and i < last:
                until = self.segments[i + 1].from_ms
            if self.abandoned and self.no_show_ms is not None:
                until = self.no_show_ms if until is None else min(until, self.no_show_ms)
            if self.expired and self.expires_ms is not None:
                until = self.expires_ms if until is None else min(until, self.expires_ms)
            if until is None or until > seg.from_ms:
                out.append((i, seg.from_ms, until))
        return out


def _fold_order(steps: Iterable[dict]) -> list[list[dict]]:
    """Steps grouped by fold instant, in time order (each group sorted by event id)."""
    groups: dict[int, list[dict]] = {}
    for s in steps:
        groups.setdefault(fold_ms(s), []).append(s)
    ordered = [groups[t] for t in sorted(groups)]
    return [g if len(g) == 1 else sorted(g, key=lambda s: s["id"]) for g in ordered]


def derive(visit_id: str, hall_id: str, steps: Iterable[dict], *, expiry_of: Callable[[int], int] | None = None,
           as_of_ms: int | None = None) -> Visit:
    """Fold a visit's steps into its state. ``expiry_of`` gives the expiry instant of a
    visit issued at a time; a visit still open at the end whose expiry is not later than
    ``as_of_ms`` is expired."""
    v = Visit(visit_id, hall_id, [])
    segments = v.segments
    for group in _fold_order(steps):
        if len(group) == 1:  # nearly always: no order among simultaneous steps to decide
            _apply(v, group[0], bool(segments) and segments[-1].called_ms is None)
            continue
        while group:
            waiting = bool(segments) and segments[-1].called_ms is None
            prio = WHILE_WAITING if waiting else WHILE_NOT_WAITING
            s = min(group, key=lambda x: (prio[x["k"]], x["id"]))
            group.remove(s)
            _apply(v, s, waiting)
    for i, seg in enumerate(segments):
        seg.seg_no = i
    if expiry_of is not None and v.issued_ms is not None:
        v.expires_ms = expiry_of(v.issued_ms)
        v.expired = as_of_ms is not None and as_of_ms >= v.expires_ms and v.is_open
    return v


def _apply(v: Visit, s: dict, waiting: bool) -> None:
    k, t = s["k"], fold_ms(s)
    v.steps.append(s)
    v.last_ms = max(v.last_ms, s["t"])
    v.ticket_no = v.ticket_no or s.get("tk", "")
    if k == "issued":
        if v.issued_ms is None:
            v.issued_ms, v.category = s["t"], s["c"]
            v.ticket_no, v.priority, v.channel = s.get("tk", ""), s.get("pri", ""), s.get("ch", "")
            v.segments.insert(0, Segment(0, s["c"], t))  # the first wait, even after an earlier-stamped transfer
    elif k == "transferred":
        v.segments.append(Segment(len(v.segments), s.get("to") or s["c"], t))
    elif k in CLOSES_WAIT and waiting:
        seg = v.segments[-1]
        seg.called_ms, seg.inferred = t, CLOSES_WAIT[k]
        seg.counter_id, seg.staff_id = s.get("ctr", ""), s.get("stf", "")
        v.last_close_ms = t
    elif k == "no_show":
        if v.no_show_ms is None:
            v.no_show_ms = t
    if k == "tx":
        v.transactions.append(s)
        v.last_tx_ms = t if v.last_tx_ms is None else max(v.last_tx_ms, t)
