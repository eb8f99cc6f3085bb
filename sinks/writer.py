"""Writes what the engine has pending into ClickHouse, in batches, idempotently.

Every row is a full recomputation from the engine's state (never an increment), written
into a ReplacingMergeTree keyed by its natural identity; so a late event that rewrites
its minute, a flush retried after a failure, or a whole replay of the same events leaves
the same rows. Hour and day roll-ups are recomputed from ``minute_metrics FINAL`` for the
hours and days a flush touched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schemas.events import AlertEvent
from sinks.sql import load_sql
from sinks.store import Store
from streams.engine import Engine, Pending
from streams.hallbook import MINUTE_COLUMNS, HallBook
from streams.visits import Visit, from_ms
from streams.windows import SHANGHAI

VISIT_COLUMNS = ["visit_id", "hall_id", "category", "ticket_no", "priority", "channel", "issued_at",
                 "first_called_at", "ended_at", "status", "served", "abandoned", "segments", "total_wait_s",
                 "transactions", "version"]
SEGMENT_COLUMNS = ["visit_id", "seg_no", "hall_id", "category", "ticket_no", "waited_from", "called_at", "wait_s",
                   "target_s", "within_target", "counter_id", "staff_id", "version"]
TX_COLUMNS = ["event_id", "hall_id", "visit_id", "ticket_no", "counter_id", "staff_id", "category", "business_code",
              "started_at", "completed_at", "handle_s", "standard_handle_s", "outcome", "resolved_first_contact"]
SURVEY_COLUMNS = ["event_id", "hall_id", "kind", "visit_id", "staff_id", "category", "channel", "answered_at", "score",
                  "dimensions", "has_complaint", "complaint_category", "complaint_severity", "complaint_text", "comment"]
ALERT_COLUMNS = ["alert_id", "action", "hall_id", "category", "rule", "level", "occurred_at", "opened_at", "triggers",
                 "figures", "suggested_action"]


@dataclass
class Batch:
    minutes: list[list]
    visits: list[list]
    segments: list[list]
    transactions: list[list]
    surveys: list[list]
    alerts: list[list]
    hours: dict[str, set[datetime]]
    days: dict[str, set[date]]

    @property
    def rows(self) -> int:
        return sum(len(x) for x in (self.minutes, self.visits, self.segments, self.transactions, self.surveys, self.alerts))


def visit_rows(book: HallBook, v: Visit) -> tuple[list[list], list[list], list[list]]:
    """(visit row, wait segment rows, transaction rows) of one visit; a visit whose
    ``issued`` has not arrived yet has no visit row and no first segment yet."""
    version = len(v.steps)
    visits, segs, txs = [], [], []
    if v.issued_ms is not None:
        waits = [s.wait_s for s in v.segments if s.wait_s is not None]
        first_call = v.segments[0].called_ms if v.segments else None
        ended = v.ended_ms
        visits.append([v.visit_id, book.hall_id, v.category, v.ticket_no, v.priority, v.channel, from_ms(v.issued_ms),
                       from_ms(first_call) if first_call else None, from_ms(ended) if ended else None, v.status,
                       int(v.served), int(v.abandoned), len(v.segments), sum(waits), len(v.transactions), version])
        for seg in v.segments:
            if seg.called_ms is None:
                continue
            target = book.target_s[seg.category]
            segs.append([v.visit_id, seg.seg_no, book.hall_id, seg.category, v.ticket_no, from_ms(seg.from_ms),
                         from_ms(seg.called_ms), seg.wait_s, target, int(seg.wait_s <= target), seg.counter_id,
                         seg.staff_id, version])
    for s in v.transactions:
        handle = max(0.0, (s["t"] - s["st"]) / 1000.0)
        txs.append([s["id"], book.hall_id, v.visit_id, s.get("tk", ""), s.get("ctr", ""), s.get("stf", ""), s["c"],
                    s.get("bc", ""), from_ms(s["st"]), from_ms(s["t"]), handle, book.standard_s[s["c"]], s["out"],
                    int(bool(s["fcr"]))])
    return visits, segs, txs


def survey_row(book: HallBook, s: dict) -> list:
    v = book.visits.get(s.get("vid") or "")
    return [s["id"], book.hall_id, s["kind"], s.get("vid", ""), s.get("stf", ""), v.category if v else "",
            s.get("ch", ""), from_ms(s["t"]), s["score"], s.get("dims", {}), int(bool(s.get("cmp"))),
            s.get("cmp", ""), s.get("sev", ""), s.get("ctext", ""), s.get("cm", "")]


def alert_row(e: AlertEvent) -> list:
    return [e.alert_id, e.action.value, e.hall_id, str(e.category), e.rule.value, e.level.value, e.occurred_at,
            e.opened_at, list(e.triggers), {k: float(v) for k, v in e.figures.items()}, e.suggested_action]


def build_batch(engine: Engine, pending: dict[str, Pending], alerts: list[AlertEvent]) -> Batch:
    version = time.time_ns() // 1000
    b = Batch([], [], [], [], [], [], {}, {})
    for hall_id, p in pending.items():
        book = engine.books.get(hall_id)
        if book is None:
            continue
        for m in sorted(p.minutes):
            for row in book.minute_rows(m):
                row[2] = from_ms(row[2])
                b.minutes.append([*row, version])
            start = from_ms(m)
            b.hours.setdefault(hall_id, set()).add(start.replace(minute=0, second=0, microsecond=0))
            b.days.setdefault(hall_id, set()).add(start.astimezone(SHANGHAI).date())
        for vid in sorted(p.visits):
            v = book.visits.get(vid)
            if v is not None:
                vr, sr, tr = visit_rows(book, v)
                b.visits += vr
                b.segments += sr
                b.transactions += tr
        for sid in sorted(p.surveys):
            s = book.surveys.get(sid)
            if s is not None:
                b.surveys.append(survey_row(book, s))
    b.alerts = [alert_row(e) for e in alerts]
    return b


class MetricsWriter:
    """Writes batches into the store; roll-ups follow the minutes they were made from."""

    def __init__(self, store: Store, batch_rows: int = 5000):
        self.store = store
        self.batch_rows = batch_rows
        self._rollup_hour = load_sql("rollup_hour")
        self._rollup_day = load_sql("rollup_day")

    def write(self, b: Batch) -> None:
        for table, rows, cols in (("minute_metrics", b.minutes, MINUTE_COLUMNS + ["version"]),
                                  ("visits", b.visits, VISIT_COLUMNS), ("wait_segments", b.segments, SEGMENT_COLUMNS),
                                  ("transactions", b.transactions, TX_COLUMNS), ("surveys", b.surveys, SURVEY_COLUMNS),
                                  ("alerts", b.alerts, ALERT_COLUMNS)):
            for i in range(0, len(rows), self.batch_rows):
                self.store.insert(table, rows[i:i + self.batch_rows], cols)
        version = time.time_ns() // 1000
        # one statement per distinct range, for all the halls that touched it
        for ranges, sql, lo_name, hi_name, step in ((b.hours, self._rollup_hour, "from", "to", timedelta(hours=1)),
                                                    (b.days, self._rollup_day, "from_day", "to_day", timedelta(days=1))):
            by_range: dict[tuple, list[str]] = {}
            for hall_id, points in ranges.items():
                for run in _runs(sorted(points), step):
                    by_range.setdefault(run, []).append(hall_id)
            for (lo, hi), halls in sorted(by_range.items()):
                self.store.command(sql, {"halls": sorted(halls), lo_name: lo, hi_name: hi, "version": version})

def _runs(points: list, step: timedelta) -> list[tuple]:
    """Contiguous runs of hour/day starts as half-open [from, to) ranges."""
    runs = []
    for p in points:
        if runs and runs[-1][1] == p:
            runs[-1][1] = p + step
        else:
            runs.append([p, p + step])
    return [(a, b) for a, b in runs]
