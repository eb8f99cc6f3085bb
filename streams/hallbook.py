"""Everything one hall needs for its live figures and minute aggregates (domain.md §3).

A :class:`HallBook` holds the hall's live visits (derived from their steps) and surveys for
the retention horizon, plus sorted indices over them (calls, transactions, counter activity,
issues, transfers) so that any figure *at any instant* is a range query: the live
snapshot is "the figures at the hall's clock", and a minute's queue gauges are "the
gauges at its end". Stored counts and sums are not made here: they are derived by SQL from
the facts in the store (``sinks/queries/rollup_*.sql``), so nothing the book forgets can
change them.
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from sortedcontainers import SortedList

from schemas.catalogue import Catalogue, Hall
from schemas.events import Category
from streams.sortedtuples import SortedTuples
from streams.trend import MinuteRing
from streams.visits import Visit, derive
from streams.windows import (MINUTE_MS, business_day, day_start_ms, opening_interval_ms, silent_ms,
                             visit_expiry_ms, wait_stats)

CATEGORIES = [c.value for c in Category]
ALL = "all"
MIN15, MIN60, H24 = 15 * MINUTE_MS, 60 * MINUTE_MS, 24 * 60 * MINUTE_MS

# positions in HallBook._indices
_ISSUES, _CALLS, _TXS, _ACTIVITY, _TRANSFERS, _SURVEY_TIMES, _ENDS, _SPANS = range(8)
_ACTIVITY_OF = {c: 8 + i for i, c in enumerate(CATEGORIES)}
_HANDLES_OF = {c: 8 + len(CATEGORIES) + i for i, c in enumerate(CATEGORIES)}
# steps that show a counter at work (its activity in the last 15 minutes)
_ACTIVE_KINDS = frozenset(("called", "started", "recalled", "tx"))

GAUGE_COLUMNS = ["hall_id", "category", "minute", "queue_len", "longest_wait_s", "active_counters", "est_wait_s"]


class Gauge(NamedTuple):
    """Queue figures of one category (or the hall) at an instant. (A named tuple: nine are
    made per evaluation, and a frozen dataclass costs several times as much to build.)"""

    waiting: int
    longest_wait_s: float
    longest_ticket_no: str | None
    active_counters: int
    est_wait_s: float


class HallBook:
    def __init__(self, hall: Hall, catalogue: Catalogue, *, expire_after_ms: int = 30 * MINUTE_MS,
                 silent_after_ms: int = 15 * MINUTE_MS, grace_ms: int = 10 * MINUTE_MS):
        self.hall = hall
        self.grace_ms = grace_ms
        self.expire_after_ms = expire_after_ms
        self.silent_after_ms = silent_after_ms
        self.hall_id = hall.hall_id
        self.catalogue = catalogue
        self.target_s = {c: catalogue.target_wait_s(self.hall_id, c) for c in CATEGORIES}
        self.standard_s = {c: catalogue.standard_handle_s(self.hall_id, c) for c in CATEGORIES}
        self.visits: dict[str, Visit] = {}
        self.surveys: dict[str, dict] = {}
        self.clocks: dict[str, int] = {}
        self.live_ms = 0  # the latest tick that found this hall live (see Engine.tick)
        self.gauge_upto = 0  # the latest minute whose queue gauges are due (see Engine._time_passes)
        self.late_by_day: dict[str, int] = {}  # accepted events later than the grace, per business day
        # sorted indices; every tuple ends with ids so entries are unique and removable. The
        # ones a visit step changes are SortedTuples (C bisection, a plain list: a hall's
        # retention holds thousands of entries, where inserting into a list is cheap)
        self.issues = SortedTuples()    # (issued_ms, visit_id)
        self.calls = SortedTuples()     # (called_ms, category, wait_s, within, visit_id, seg_no)
        self.txs = SortedTuples()       # (completed_ms, category, handle_s, ratio, fcr, staff_id, visit_id, step_id)
        self.activity = SortedTuples(column=1)  # (ms, counter_id, category, step_id)
        # the same per category, for the gauges' windows: counter ids, handle times as columns
        self.activity_of = {c: SortedTuples(column=1) for c in CATEGORIES}
        self.handles_of = {c: SortedTuples(column=2) for c in CATEGORIES}
        self.transfers = SortedTuples()  # (ms, to_category, visit_id, step_id)
        self.survey_times = SortedList()  # (answered_ms, survey_id)
        self.ends = SortedTuples()      # (ended_ms, visit_id): what retention may forget, oldest first
        # waits that ended (called, abandoned, expired, transferred on), by their end: the
        # queue at a past instant t is the open waits begun by t plus those ending after t
        self.spans = SortedTuples()     # (until_ms, from_ms, category, ticket_no, visit_id, seg_no)
        # visits waiting now (at the latest state): visit_id -> (category, since_ms, ticket_no)
        self.waiting: dict[str, tuple[str, int, str]] = {}
        # no waiting visit expires before this (a lower bound; None: unknown), so that
        # expire() need not look at the queue after every event
        self._expiry_floor: int | None = None
        # the same, per category in order of their wait's start: how many wait and who
        # longest is a bisection, not a scan of the hall's queue
        self.queues: dict[str, SortedTuples] = {c: SortedTuples() for c in CATEGORIES}  # (since, ticket, vid)
        # each visit's (and survey's, key "s:" + id) entries in the indices, as (index number
        # in _indices, item): a set, so that re-deriving a visit moves only what changed
        self._indices = (self.issues, self.calls, self.txs, self.activity, self.transfers, self.survey_times,
                         self.ends, self.spans, *self.activity_of.values(), *self.handles_of.values())
        self._entries: dict[str, set[tuple[int, tuple]]] = {}
        # visits at a counter now (called, no transaction since): visit_id -> (since_ms,
        # counter, staff, category, ticket); the clerk strip of the lobby page
        self.serving: dict[str, tuple[int, str, str, str, str]] = {}
        # the hall's queue at the end of each of the last 120 minutes (sparklines)
        self.trend = MinuteRing()

    # ---- clocks ------------------------------------------------------------------
    def clock(self, kind: str = "tickets") -> int:
        """Event-time clock of one input topic for this hall (0 when nothing seen)."""
        return self.clocks.get(kind, 0)

    @property
    def now_ms(self) -> int:
        """The hall's clock for queue figures: the latest ticket event, else any event."""
        return self.clocks.get("tickets") or max(self.clocks.values(), default=0)

    @property
    def view_ms(self) -> int:
        """The instant live figures are shown at: the hall's clock, or a later tick."""
        return max(self.now_ms, self.live_ms)

    @property
    def gauge_ms(self) -> int:
        """The instant the minute gauges are written up to: the queue machine's clock or a
        later tick, never another topic's (transactions read ahead of the tickets would
        write minutes before their queue is known); 0 before the first ticket or tick."""
        return max(self.clocks.get("tickets", 0), self.live_ms)

    @property
    def last_event_ms(self) -> int:
        """The latest event the hall's own systems sent (queue machine, back office)."""
        return max(self.clocks.get("tickets", 0), self.clocks.get("transactions", 0))

    def opening(self, ms: int) -> tuple[int, int]:
        """Opening hours [opens, closes) of the business day holding ``ms``."""
        return opening_interval_ms(business_day(ms), self.hall.opens, self.hall.closes)

    def expiry_ms(self, issued_ms: int) -> int:
        return visit_expiry_ms(self.hall, issued_ms, self.expire_after_ms)

    def silent_since(self, at_ms: int) -> int | None:
        """When the hall went silent (数据中断), if it is silent at ``at_ms``: no event for
        ``silent_after_ms`` during opening hours."""
        opens, closes = self.opening(at_ms)
        if not opens <= at_ms < closes:
            return None
        since = max(self.last_event_ms, opens) + self.silent_after_ms
        return since if at_ms >= since else None

    def advance(self, kind: str, ms: int) -> None:
        if ms > self.clocks.get(kind, 0):
            self.clocks[kind] = ms

    # ---- applying state ---------------------------------------------------------
    def derive(self, visit_id: str, steps: list[dict]) -> Visit:
        """A visit's state as the live view sees it: expired once the view passed its expiry."""
        return derive(visit_id, self.hall_id, steps, expiry_of=self.expiry_ms, as_of_ms=self.view_ms)

    def set_visit(self, visit_id: str, steps: list[dict]) -> Visit:
        """Replace a visit's steps; re-derive it and its index entries (only the entries that
        changed move: most events add one step to a visit and change one or two of them)."""
        v = self.derive(visit_id, steps)
        self.visits[visit_id] = v
        entries = self._entries_of(v)
        old = self._entries.get(visit_id)
        indices = self._indices
        if old:
            for n, item in old - entries:
                indices[n].remove(item)
            for n, item in entries - old:
                indices[n].add(item)
        else:
            for n, item in entries:
                indices[n].add(item)
        self._entries[visit_id] = entries
        seg = v.open_segment
        self._set_waiting(visit_id, (seg.category, seg.from_ms, v.ticket_no) if seg is not None else None)
        floor = self._expiry_floor
        if seg is not None and floor is not None and v.expires_ms is not None and v.expires_ms < floor:
            self._expiry_floor = v.expires_ms
        if v.in_service:
            self.serving[visit_id] = _service_of(v)
        else:
            self.serving.pop(visit_id, None)
        return v

    def _entries_of(self, v: Visit) -> set[tuple[int, tuple]]:
        """A visit's entries in the indices, as (index number in ``_indices``, item)."""
        visit_id = v.visit_id
        entries: set[tuple[int, tuple]] = set()
        add = entries.add
        if v.issued_ms is not None:
            add((_ISSUES, (v.issued_ms, visit_id)))
            if not v.expired:
                target_s = self.target_s
                for seg in v.segments:
                    if seg.called_ms is not None:
                        wait_s = seg.wait_s
                        within = 1 if wait_s <= target_s[seg.category] else 0
                        add((_CALLS, (seg.called_ms, seg.category, wait_s, within, visit_id, seg.seg_no)))
        for seg_no, frm, until in v.wait_spans():
            if until is not None:
                add((_SPANS, (until, frm, v.segments[seg_no].category, v.ticket_no, visit_id, seg_no)))
        for s in v.steps:
            k = s["k"]
            if k in _ACTIVE_KINDS and s.get("ctr"):
                item = (s["t"], s["ctr"], s["c"], s["id"])
                add((_ACTIVITY, item))
                add((_ACTIVITY_OF[s["c"]], item))
            if k == "tx":
                handle = max(0.0, (s["t"] - s["st"]) / 1000.0)
                ratio = handle / self.standard_s[s["c"]]
                item = (s["t"], s["c"], handle, ratio, 1 if s["fcr"] else 0, s.get("stf", ""), visit_id, s["id"])
                add((_TXS, item))
                add((_HANDLES_OF[s["c"]], item))
            elif k == "transferred":
                add((_TRANSFERS, (s["t"], s.get("to") or s["c"], visit_id, s["id"])))
        if v.ended_ms is not None:
            add((_ENDS, (v.ended_ms, visit_id)))
        return entries

    def _set_waiting(self, visit_id: str, entry: tuple[str, int, str] | None) -> None:
        old = self.waiting.get(visit_id)
        if old == entry:
            return
        if old is not None:
            self.queues[old[0]].remove((old[1], old[2], visit_id))
            del self.waiting[visit_id]
        if entry is not None:
            self.waiting[visit_id] = entry
            self.queues[entry[0]].add((entry[1], entry[2], visit_id))

    def _drop_entries(self, key: str) -> None:
        for n, item in self._entries.pop(key, ()):
            self._indices[n].remove(item)

    def add_survey(self, survey: dict) -> bool:
        if survey["id"] in self.surveys:
            return False
        self.surveys[survey["id"]] = survey
        item = (survey["t"], survey["id"])
        self.survey_times.add(item)
        self._entries["s:" + survey["id"]] = {(_SURVEY_TIMES, item)}
        return True

    def expire(self, as_of_ms: int) -> list[str]:
        """Visits still waiting or in service whose expiry has passed at ``as_of_ms`` leave
        the queue (domain.md §3); returns their ids."""
        floor = self._expiry_floor
        if floor is not None and as_of_ms < floor:
            return []
        due = [vid for vid in self.waiting
               if (v := self.visits[vid]).expires_ms is not None and v.expires_ms <= as_of_ms]
        for vid in due:
            self.set_visit(vid, list(self.visits[vid].steps))
        self._expiry_floor = min((e for vid in self.waiting if (e := self.visits[vid].expires_ms) is not None),
                                 default=float("inf"))
        return due

    def count_late(self, event_ms: int) -> None:
        """One more event that arrived later than the grace, on its own business day."""
        day = business_day(event_ms).isoformat()
        self.late_by_day[day] = self.late_by_day.get(day, 0) + 1

    def purge(self, before_ms: int) -> tuple[list[str], list[str]]:
        """Forget visits that ended, and surveys answered, before ``before_ms``; return their
        keys. An open visit is kept until it ends or expires, however old."""
        visits = [vid for _, vid in self.ends.before(before_ms)]
        for vid in visits:
            self._drop_entries(vid)
            del self.visits[vid]
            self._set_waiting(vid, None)
            self.serving.pop(vid, None)
        surveys = [sid for sid, s in self.surveys.items() if s["t"] < before_ms]
        for sid in surveys:
            self._drop_entries("s:" + sid)
            del self.surveys[sid]
        return visits, surveys

    # ---- gauges -----------------------------------------------------------------
    def queue_at(self, t_ms: int) -> tuple[dict[str, int], dict[str, tuple[int, str] | None]]:
        """Who waits at instant ``t_ms``, per category: how many, and the longest waiting
        ``(since_ms, ticket_no)`` (None when nobody waits)."""
        # the waits open now that began by t (a bisection of the category's queue), and the
        # ended ones that began by t and ended after it (a transaction topic read ahead of
        # the tickets knows calls after t); only the waits ended after t are visited, not
        # the day's history
        count: dict[str, int] = {}
        longest: dict[str, tuple[int, str] | None] = {}
        bound = (t_ms, "\uffff")
        for c, queue in self.queues.items():
            keys = queue.keys
            if not keys:
                count[c], longest[c] = 0, None
                continue
            # nearly always every open wait began by t: no bisection
            n = count[c] = len(keys) if keys[-1] < t_ms else queue.count_upto(bound)
            longest[c] = queue.items[0][:2] if n else None
        spans = self.spans
        if spans and spans[-1][0] > t_ms:
            for until, since, cat, ticket, *_ in spans.irange((t_ms + 1,)):
                if since <= t_ms:
                    count[cat] += 1
                    if longest[cat] is None or (since, ticket) < longest[cat]:
                        longest[cat] = (since, ticket)
        return count, longest

    def gauges_at(self, t_ms: int, queue: tuple[dict, dict] | None = None,
                  categories: list[str] | None = None) -> dict[str, Gauge]:
        """Queue figures per category and for the hall (key ``all``) at instant ``t_ms``.
        ``queue``: :meth:`queue_at` of the same instant, when the caller has it; with
        ``categories``, only the figures of those (and no ``all``), for a caller that needs
        a few of them."""
        count, longest = queue or self.queue_at(t_ms)
        # counters active in the last 15 minutes, handle times of the last 60 (per category,
        # in time order: the mean is summed in that order)
        act = (t_ms - MIN15 + 1,), (t_ms, "\uffff")
        txs = (t_ms - MIN60 + 1,), (t_ms, "\uffff")
        activity_of, handles_of, standard_s = self.activity_of, self.handles_of, self.standard_s
        all_counters = None  # the hall's active counters: needed only where a category has none
        out: dict[str, Gauge] = {}
        for c in categories or CATEGORIES:
            n = activity_of[c].distinct_in(*act)
            waiting, standard = count[c], standard_s[c]
            if not waiting and 0 <= standard < math.inf:
                # nobody ahead: the estimate is 0 whatever the handle times (all >= 0) and counters
                out[c] = Gauge(0, 0.0, None, n, 0.0)
                continue
            if n:
                serving = n
            else:
                if all_counters is None:
                    all_counters = self.activity.distinct_in(*act)
                serving = all_counters
            mean_handle = handles_of[c].mean_in(*txs)
            out[c] = self._gauge(t_ms, waiting, longest[c], n, serving, standard if mean_handle is None else mean_handle)
        if categories is not None:
            return out
        if all_counters is None:
            all_counters = self.activity.distinct_in(*act)
        est = max((g.est_wait_s for g in out.values()), default=0.0)
        first = min((w for w in longest.values() if w is not None), default=None)
        out[ALL] = Gauge(sum(count.values()), (t_ms - first[0]) / 1000.0 if first else 0.0,
                         first[1] if first else None, all_counters, est)
        return out

    @staticmethod
    def _gauge(t_ms: int, waiting: int, longest: tuple[int, str] | None, counters: int, serving: int,
               mean_handle: float) -> Gauge:
        """Estimated wait = people ahead × recent mean handle time ÷ active counters.
        Without recent transactions the category's standard handle time is used. Counters
        serve several categories, so when none served this one in the last 15 minutes the
        hall's active counters are taken; with no counter active at all, one is assumed."""
        est = waiting * mean_handle / max(1, serving)
        return Gauge(waiting, (t_ms - longest[0]) / 1000.0 if longest else 0.0,
                     longest[1] if longest else None, counters, est)

    # ---- minute gauges -------------------------------------------------------------
    def gauge_rows(self, minute_ms: int) -> list[list]:
        """The queue gauges at the end of one minute, in :data:`GAUGE_COLUMNS` order (minute
        as epoch ms): ``all`` and each category with someone waiting or a counter active.
        A category that empties gets no row here; the writer zeroes its earlier row."""
        gauges = self.gauges_at(minute_ms + MINUTE_MS - 1)
        self.trend.put(minute_ms, gauges[ALL].waiting, gauges[ALL].longest_wait_s)
        rows = []
        for cat in [*CATEGORIES, ALL]:
            g = gauges[cat]
            if cat == ALL or g.waiting or g.active_counters:
                rows.append([self.hall_id, cat, minute_ms, g.waiting, round(g.longest_wait_s, 3), g.active_counters,
                             round(g.est_wait_s, 3)])
        return rows

    def trend_window(self, now_ms: int) -> dict:
        """The hall's queue length and longest wait at the end of each of the 120 minutes
        completed before ``now_ms``; ``None`` before the hall's first ticket. The minutes
        within the grace are computed from the indices each time (an event arriving late,
        within the grace, still changes them, whatever the order of arrival); older ones
        come from the ring, and are computed once when it lacks them (a restarted worker).
        Events later than the grace do not reopen the screen's past (domain.md §3)."""
        if not now_ms or not self.issues:
            return {"minutes": [], "queue": [], "longest_wait_s": []}
        upto = (now_ms // MINUTE_MS) * MINUTE_MS - MINUTE_MS
        first = self.issues[0][0] // MINUTE_MS * MINUTE_MS
        fresh = upto - self.grace_ms
        for m in self.trend.minutes(upto):
            if m >= first and (m > fresh or m not in self.trend):
                g = self.gauges_at(m + MINUTE_MS - 1)[ALL]
                self.trend.put(m, g.waiting, g.longest_wait_s)
        w = self.trend.window(upto)
        for i, m in enumerate(w["minutes"]):
            if m < first:
                w["queue"][i] = w["longest_wait_s"][i] = None
        return w

    def serving_now(self, now_ms: int) -> list[dict]:
        """Who is at a counter now: one row per counter (its latest visit), with the
        service's time so far against the category's standard handle time."""
        latest: dict[str, tuple[int, str, str, str, str]] = {}
        for row in self.serving.values():
            key = row[1] or row[2]
            if key not in latest or row[0] > latest[key][0]:
                latest[key] = row
        out = []
        for since, counter, staff, cat, ticket in sorted(latest.values(), key=lambda r: (r[1], r[2])):
            handle = max(0.0, (now_ms - since) / 1000.0)
            standard = self.standard_s.get(cat)
            out.append({"counter_id": counter or None, "staff_id": staff or None, "category": cat,
                        "ticket_no": ticket or None, "since_ms": since, "handle_s": round(handle, 1),
                        "standard_s": standard, "ratio": round(handle / standard, 3) if standard else None})
        return out

    # ---- live figures -----------------------------------------------------------------
    def wait_window(self, now_ms: int, span_ms: int, category: str | None = None) -> tuple[list[float], int]:
        """Waits whose first call fell in ``(now - span, now]``, and how many were within target."""
        waits, within = [], 0
        for ms, cat, wait_s, w, *_ in self.calls.irange((now_ms - span_ms + 1,), (now_ms, "\uffff")):
            if category is None or cat == category:
                waits.append(wait_s)
                within += w
        return waits, within

    def surveys_between(self, start_ms: int, end_ms: int) -> Iterable[dict]:
        for ms, sid in self.survey_times.irange((start_ms + 1, ""), (end_ms, "\uffff")):
            yield self.surveys[sid]

    def complaints_in(self, now_ms: int, span_ms: int) -> tuple[int, int]:
        n = esc = 0
        for s in self.surveys_between(now_ms - span_ms, now_ms):
            if s.get("cmp"):
                n += 1
                esc += s.get("sev") == "escalated"
        return n, esc

    def snapshot(self) -> dict:
        """The live figures of ``GET /api/halls/{id}/now`` (without alerts), at the hall's clock."""
        now = self.view_ms
        gauges = self.gauges_at(now)
        cats = []
        for c in CATEGORIES:
            g = gauges[c]
            w15, _ = self.wait_window(now, MIN15, c)
            w60, in60 = self.wait_window(now, MIN60, c)
            if not (g.waiting or w60 or g.active_counters):
                continue
            cats.append({"category": c, "waiting": g.waiting, "longest_wait_s": round(g.longest_wait_s, 1),
                         "longest_ticket_no": g.longest_ticket_no, "est_wait_s": round(g.est_wait_s, 1),
                         "active_counters": g.active_counters, "target_wait_s": self.target_s[c],
                         "wait_15m": wait_stats(w15).as_dict(), "wait_60m": wait_stats(w60).as_dict(),
                         "within_target_60m": _ratio(in60, len(w60))})
        g = gauges[ALL]
        w15, _ = self.wait_window(now, MIN15)
        w60, in60 = self.wait_window(now, MIN60)
        return {
            "hall_id": self.hall_id, "name": self.hall.name, "name_en": self.hall.name_en,
            "city": self.hall.city, "size_class": self.hall.size_class,
            "as_of_ms": now,
            "queue": {"waiting": g.waiting, "longest_wait_s": round(g.longest_wait_s, 1),
                      "longest_ticket_no": g.longest_ticket_no, "active_counters": g.active_counters,
                      "est_wait_s": round(g.est_wait_s, 1)},
            "categories": cats,
            "wait_15m": wait_stats(w15).as_dict(), "wait_60m": wait_stats(w60).as_dict(),
            "within_target_60m": _ratio(in60, len(w60)),
            "today": self.day_figures(now),
            "feed": self.feed_figures(now),
            "quality_today": self.quality_figures(now),
            "satisfaction_60m": self.satisfaction(now - MIN60, now),
            "complaints_24h": self.complaint_rate(now),
            "handle": self.handle_figures(day_start_ms(now) if now else 0, now, by="category"),
            "clerks": self.handle_figures(day_start_ms(now) if now else 0, now, by="staff"),
            "serving": self.serving_now(now),
            "trend": self.trend_window(now),
        }

    def day_figures(self, now_ms: int) -> dict:
        start = day_start_ms(now_ms) if now_ms else 0
        issued = served = abandoned = 0
        for issued_ms, vid in self.issues.irange((start, ""), (now_ms, "\uffff")):
            v = self.visits[vid]
            issued += 1
            served += v.served
            abandoned += v.abandoned
        sat = self.satisfaction(start - 1, now_ms)
        n, esc = self.complaints_in(now_ms, now_ms - start + 1)
        return {"issued": issued, "served": served, "abandoned": abandoned,
                "abandonment_rate": _ratio(abandoned, issued), "csat_n": sat["n"], "csat_mean": sat["mean"],
                "csat_satisfied_share": sat["satisfied_share"], "complaints": n, "complaints_escalated": esc}

    def feed_figures(self, now_ms: int) -> dict:
        """Whether the hall's feed has gone silent (数据中断), as of ``now_ms``."""
        since = self.silent_since(now_ms) if now_ms else None
        last = self.last_event_ms
        return {"silent": since is not None, "silent_since_ms": since, "last_event_ms": last or None}

    def quality_figures(self, now_ms: int) -> dict:
        """Today's data-quality figures (domain.md §3), from what the worker holds: calls
        inferred from a start or a transaction, visits expired at closing, minutes the
        feed was silent in opening hours, events that arrived later than the grace. The
        stored day figures (``day_metrics``) are the authoritative ones."""
        if not now_ms:
            return {"inferred_calls": 0, "expired_visits": 0, "silent_minutes": 0.0, "late_events": 0}
        start = day_start_ms(now_ms)
        inferred = sum(1 for v in self.visits.values() if not v.expired for seg in v.segments
                       if seg.inferred and seg.called_ms is not None and start <= seg.called_ms <= now_ms)
        expired = sum(1 for v in self.visits.values() if v.expired and v.issued_ms is not None
                      and start <= v.issued_ms <= now_ms)
        opens, closes = self.opening(now_ms)
        times = [s["t"] for v in self.visits.values() for s in v.steps if start <= s["t"] <= now_ms]
        silent = silent_ms(times, opens, min(closes, now_ms), self.silent_after_ms) if now_ms > opens else 0
        day = business_day(now_ms).isoformat()
        return {"inferred_calls": inferred, "expired_visits": expired, "silent_minutes": round(silent / MINUTE_MS, 1),
                "late_events": self.late_by_day.get(day, 0)}

    def satisfaction(self, start_ms: int, end_ms: int) -> dict:
        scores = [s["score"] for s in self.surveys_between(start_ms, end_ms) if s["kind"] == "customer"]
        return {"n": len(scores), "mean": round(sum(scores) / len(scores), 3) if scores else None,
                "satisfied_share": _ratio(sum(1 for x in scores if x >= 9), len(scores))}

    def complaint_rate(self, now_ms: int) -> dict:
        """Complaints per 10,000 customers served over the last 24 hours (万客户投诉率)."""
        n, esc = self.complaints_in(now_ms, H24)
        served = len({t[6] for t in self.txs.irange((now_ms - H24 + 1,), (now_ms, "\uffff"))})
        return {"complaints": n, "escalated": esc, "served": served,
                "per_10k": round(n / served * 10_000, 2) if served else None}

    def handle_figures(self, start_ms: int, end_ms: int, by: str) -> list[dict]:
        groups: dict[str, list[tuple[float, int]]] = {}
        for ms, cat, handle, ratio, fcr, staff, *_ in self.txs.irange((start_ms,), (end_ms, "\uffff")):
            groups.setdefault(cat if by == "category" else staff, []).append((handle, fcr))
        key = "category" if by == "category" else "staff_id"
        out = [{key: k, "n": len(v), "mean_s": round(sum(h for h, _ in v) / len(v), 1),
                "first_contact_rate": _ratio(sum(f for _, f in v), len(v))} for k, v in sorted(groups.items())]
        return out if by == "category" else sorted(out, key=lambda r: -r["mean_s"])


def _service_of(v: Visit) -> tuple[int, str, str, str, str]:
    """``(since_ms, counter, staff, category, ticket)`` of a visit at a counter: since its
    latest call, or the service's start when a ``started`` came after it."""
    seg = v.segments[-1]
    since = seg.called_ms or 0
    counter, staff = seg.counter_id, seg.staff_id
    for s in v.steps:
        if s["k"] == "started" and s["t"] >= since:
            since = s["t"]
            counter, staff = s.get("ctr") or counter, s.get("stf") or staff
    return since, counter, staff, seg.category, v.ticket_no


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None

