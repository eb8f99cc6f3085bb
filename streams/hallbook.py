"""Everything one hall needs for its live figures and minute aggregates (domain.md §3).

A :class:`HallBook` holds the hall's visits (derived from their steps) and surveys for the
retention horizon, plus sorted indices over them (calls, transactions, counter activity,
issues, transfers) so that any figure *at any instant* is a range query: the live
snapshot is "the figures at the hall's clock", and a minute aggregate is "the counts in
that minute and the gauges at its end". Because both are recomputed from the events, a
late event just marks the minutes it touches for rewriting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sortedcontainers import SortedList

from hallpulse.catalogue import Catalogue, Hall
from schemas.events import Category
from streams.visits import Visit, derive
from streams.windows import MINUTE_MS, day_start_ms, minute_of, wait_stats

CATEGORIES = [c.value for c in Category]
ALL = "all"
MIN15, MIN60, H24 = 15 * MINUTE_MS, 60 * MINUTE_MS, 24 * 60 * MINUTE_MS
# A visit waiting longer than this is not looked for when computing past gauges.
MAX_WAIT_LOOKBACK_MS = 12 * 60 * MINUTE_MS

MINUTE_COLUMNS = [
    "hall_id", "category", "minute", "issued", "visits_served", "abandoned", "transfers", "called",
    "within_target", "wait_sum_s", "wait_max_s", "transactions", "handle_sum_s", "handle_ratio_sum",
    "first_contact", "csat_n", "csat_sum", "csat_satisfied", "audit_n", "audit_sum", "complaints",
    "complaints_escalated", "queue_len", "longest_wait_s", "active_counters", "est_wait_s",
]
_COUNT_FIELDS = MINUTE_COLUMNS[3:22]


@dataclass(frozen=True)
class Gauge:
    """Queue figures of one category (or the hall) at an instant."""

    waiting: int
    longest_wait_s: float
    longest_ticket_no: str | None
    active_counters: int
    est_wait_s: float


class HallBook:
    def __init__(self, hall: Hall, catalogue: Catalogue):
        self.hall = hall
        self.hall_id = hall.hall_id
        self.catalogue = catalogue
        self.target_s = {c: catalogue.target_wait_s(self.hall_id, c) for c in CATEGORIES}
        self.standard_s = {c: catalogue.standard_handle_s(self.hall_id, c) for c in CATEGORIES}
        self.visits: dict[str, Visit] = {}
        self.surveys: dict[str, dict] = {}
        self.clocks: dict[str, int] = {}
        self.live_ms = 0  # the latest tick that found this hall live (see Engine.tick)
        # sorted indices; every tuple ends with ids so entries are unique and removable
        self.issues = SortedList()      # (issued_ms, visit_id)
        self.calls = SortedList()       # (called_ms, category, wait_s, within, visit_id, seg_no)
        self.txs = SortedList()         # (completed_ms, category, handle_s, ratio, fcr, staff_id, visit_id, step_id)
        self.activity = SortedList()    # (ms, counter_id, category, step_id)
        self.transfers = SortedList()   # (ms, to_category, visit_id, step_id)
        self.survey_times = SortedList()  # (answered_ms, survey_id)
        # visits waiting now (at the latest state): visit_id -> (category, since_ms, ticket_no)
        self.waiting: dict[str, tuple[str, int, str]] = {}
        self._entries: dict[str, list[tuple[SortedList, tuple]]] = {}

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

    def advance(self, kind: str, ms: int) -> None:
        if ms > self.clocks.get(kind, 0):
            self.clocks[kind] = ms

    # ---- applying state ---------------------------------------------------------
    def set_visit(self, visit_id: str, steps: list[dict]) -> Visit:
        """Replace a visit's steps; re-derive it and its index entries."""
        self._drop_entries(visit_id)
        v = derive(visit_id, self.hall_id, steps)
        self.visits[visit_id] = v
        entries: list[tuple[SortedList, tuple]] = []
        if v.issued_ms is not None:
            entries.append((self.issues, (v.issued_ms, visit_id)))
        for seg in v.segments:
            if seg.called_ms is not None and (seg.seg_no > 0 or v.issued_ms is not None):
                within = 1 if seg.wait_s <= self.target_s[seg.category] else 0
                entries.append((self.calls, (seg.called_ms, seg.category, seg.wait_s, within, visit_id, seg.seg_no)))
        for s in v.steps:
            if s["k"] in ("called", "started", "recalled", "tx") and s.get("ctr"):
                entries.append((self.activity, (s["t"], s["ctr"], s["c"], s["id"])))
            if s["k"] == "tx":
                handle = max(0.0, (s["t"] - s["st"]) / 1000.0)
                ratio = handle / self.standard_s[s["c"]]
                entries.append((self.txs, (s["t"], s["c"], handle, ratio, 1 if s["fcr"] else 0, s.get("stf", ""), visit_id, s["id"])))
            elif s["k"] == "transferred":
                entries.append((self.transfers, (s["t"], s.get("to") or s["c"], visit_id, s["id"])))
        for lst, item in entries:
            lst.add(item)
        self._entries[visit_id] = entries
        seg = v.open_segment
        if seg is not None:
            self.waiting[visit_id] = (seg.category, seg.from_ms, v.ticket_no)
        else:
            self.waiting.pop(visit_id, None)
        return v

    def _drop_entries(self, key: str) -> None:
        for lst, item in self._entries.pop(key, []):
            lst.remove(item)

    def add_survey(self, survey: dict) -> bool:
        if survey["id"] in self.surveys:
            return False
        self.surveys[survey["id"]] = survey
        item = (survey["t"], survey["id"])
        self.survey_times.add(item)
        self._entries["s:" + survey["id"]] = [(self.survey_times, item)]
        return True

    def purge(self, before_ms: int) -> tuple[list[str], list[str]]:
        """Forget visits and surveys last touched before ``before_ms``; return their keys."""
        visits = [vid for vid, v in self.visits.items() if v.last_ms < before_ms and v.open_segment is None]
        for vid in visits:
            self._drop_entries(vid)
            del self.visits[vid]
            self.waiting.pop(vid, None)
        surveys = [sid for sid, s in self.surveys.items() if s["t"] < before_ms]
        for sid in surveys:
            self._drop_entries("s:" + sid)
            del self.surveys[sid]
        return visits, surveys

    # ---- minutes a change touches -------------------------------------------------
    @staticmethod
    def minutes_spanned(v: Visit) -> set[int]:
        """Every minute from a visit's first event to its last: the minutes whose counts or
        gauges (it may have been waiting through them) it takes part in."""
        if not v.steps:
            return set()
        first, last = minute_of(v.steps[0]["t"]), minute_of(v.steps[-1]["t"])
        return set(range(first, last + MINUTE_MS, MINUTE_MS))

    # ---- gauges -----------------------------------------------------------------
    def gauges_at(self, t_ms: int) -> dict[str, Gauge]:
        """Queue figures per category and for the hall (key ``all``) at instant ``t_ms``."""
        waiting: dict[str, list[tuple[int, str]]] = {c: [] for c in CATEGORIES}
        if t_ms >= self.clock("tickets"):
            # at the hall's clock the waiting index is the answer (every queue event is <= it)
            for cat, since, ticket in self.waiting.values():
                waiting[cat].append((since, ticket))
        else:
            for issued_ms, vid in self.issues.irange((t_ms - MAX_WAIT_LOOKBACK_MS, ""), (t_ms, "\uffff")):
                seg = self.visits[vid].waiting_at(t_ms)
                if seg is not None:
                    waiting[seg.category].append((seg.from_ms, self.visits[vid].ticket_no))
        counters: dict[str, set[str]] = {c: set() for c in CATEGORIES}
        for ms, ctr, cat, _ in self.activity.irange((t_ms - MIN15 + 1,), (t_ms, "\uffff")):
            counters[cat].add(ctr)
        handle: dict[str, list[float]] = {c: [] for c in CATEGORIES}
        for ms, cat, h, *_ in self.txs.irange((t_ms - MIN60 + 1,), (t_ms, "\uffff")):
            handle[cat].append(h)
        all_counters = set().union(*counters.values())
        out: dict[str, Gauge] = {}
        for c in CATEGORIES:
            out[c] = self._gauge(t_ms, waiting[c], len(counters[c]), len(counters[c]) or len(all_counters),
                                 handle[c], self.standard_s[c])
        all_waiting = [w for c in CATEGORIES for w in waiting[c]]
        est = max((g.est_wait_s for g in out.values()), default=0.0)
        longest = min(all_waiting, default=None)
        out[ALL] = Gauge(len(all_waiting), (t_ms - longest[0]) / 1000.0 if longest else 0.0,
                         longest[1] if longest else None, len(all_counters), est)
        return out

    @staticmethod
    def _gauge(t_ms: int, waiting: list[tuple[int, str]], counters: int, serving: int, handles: list[float],
               standard_s: float) -> Gauge:
        """Estimated wait = people ahead × recent mean handle time ÷ active counters.
        Without recent transactions the category's standard handle time is used. Counters
        serve several categories, so when none served this one in the last 15 minutes the
        hall's active counters are taken; with no counter active at all, one is assumed."""
        longest = min(waiting, default=None)
        mean_handle = sum(handles) / len(handles) if handles else standard_s
        est = len(waiting) * mean_handle / max(1, serving)
        return Gauge(len(waiting), (t_ms - longest[0]) / 1000.0 if longest else 0.0,
                     longest[1] if longest else None, counters, est)

    # ---- minute aggregates ----------------------------------------------------------
    def minute_rows(self, minute_ms: int) -> list[list]:
        """The minute's aggregate rows (each category with activity, and ``all``), in
        :data:`MINUTE_COLUMNS` order without the trailing version."""
        end = minute_ms + MINUTE_MS
        acc: dict[str, dict[str, float]] = {}

        def row(cat: str) -> dict[str, float]:
            return acc.setdefault(cat, dict.fromkeys(_COUNT_FIELDS, 0))

        def add(cat: str | None, field: str, value: float = 1) -> None:
            for key in ((cat, ALL) if cat else (ALL,)):
                r = row(key)
                if field == "wait_max_s":
                    r[field] = max(r[field], value)
                else:
                    r[field] += value

        for issued_ms, vid in self.issues.irange((minute_ms, ""), (end - 1, "\uffff")):
            v = self.visits[vid]
            add(v.category, "issued")
            if v.served:
                add(v.category, "visits_served")
            if v.abandoned:
                add(v.category, "abandoned")
        for ms, cat, *_ in self.transfers.irange((minute_ms,), (end - 1, "\uffff")):
            add(cat, "transfers")
        for ms, cat, wait_s, within, *_ in self.calls.irange((minute_ms,), (end - 1, "\uffff")):
            add(cat, "called")
            add(cat, "within_target", within)
            add(cat, "wait_sum_s", wait_s)
            add(cat, "wait_max_s", wait_s)
        for ms, cat, handle, ratio, fcr, *_ in self.txs.irange((minute_ms,), (end - 1, "\uffff")):
            add(cat, "transactions")
            add(cat, "handle_sum_s", handle)
            add(cat, "handle_ratio_sum", ratio)
            add(cat, "first_contact", fcr)
        for ms, sid in self.survey_times.irange((minute_ms, ""), (end - 1, "\uffff")):
            s = self.surveys[sid]
            cat = s.get("cat") or None
            if s["kind"] == "customer":
                add(cat, "csat_n")
                add(cat, "csat_sum", s["score"])
                add(cat, "csat_satisfied", 1 if s["score"] >= 9 else 0)
            else:
                add(cat, "audit_n")
                add(cat, "audit_sum", s["score"])
            if s.get("cmp"):
                add(cat, "complaints")
                add(cat, "complaints_escalated", 1 if s.get("sev") == "escalated" else 0)
        gauges = self.gauges_at(min(end - 1, max(self.now_ms, minute_ms)))
        rows = []
        for cat in [*CATEGORIES, ALL]:
            g = gauges[cat]
            if cat not in acc and g.waiting == 0 and cat != ALL:
                continue
            r = acc.get(cat) or dict.fromkeys(_COUNT_FIELDS, 0)
            rows.append([self.hall_id, cat, minute_ms, *[r[f] for f in _COUNT_FIELDS],
                         g.waiting, round(g.longest_wait_s, 3), g.active_counters, round(g.est_wait_s, 3)])
        return rows

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
            "satisfaction_60m": self.satisfaction(now - MIN60, now),
            "complaints_24h": self.complaint_rate(now),
            "handle": self.handle_figures(day_start_ms(now) if now else 0, now, by="category"),
            "clerks": self.handle_figures(day_start_ms(now) if now else 0, now, by="staff"),
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


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None

