"""Writes the facts into ClickHouse and derives the aggregates from them there.

What the workers send on the facts topic (:class:`FactBatch`, gathered by the sink
process, ``sinks/sink.py``) is *what they accepted*: every event, however late, new
surveys, the queue gauges of the minutes that passed, visits to re-derive (expired), days
that ended; alerts come from the alerts topic. The writer never needs a worker to hold a
visit whole:

1. It reads the visit's events already stored (``visit_events``), adds the ones it lacks
   (a repeated ``event_id`` is dropped: the first one stays), and re-derives the visit and
   its wait segments from *all* of them with the same fold the live view uses
   (``streams/visits.py``). A transaction or a survey that arrives a week after the
   worker forgot its visit still completes that visit's facts.
2. It rewrites the minute, hour and day aggregates of every (hall, hour) and (hall, day)
   the change touched with SQL that the store runs over the facts
   (``sinks/queries/rollup_*.sql``). Nothing there comes from the worker's memory but the
   queue gauges, so catching up on a backlog, a replay or a restart in the middle gives
   the same rows.

Rows go into ReplacingMergeTree tables keyed by natural identity: a retried write, a
replay, or the same batch written twice leaves the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable

import msgspec

from schemas.catalogue import Catalogue
from schemas.events import AlertEvent
from schemas.facts import DayFact, Fact, GaugesFact, SurveyFact, VisitFact
from sinks.sql import load_sql
from sinks.store import Store
from sinks.tables import (AlertRow, GaugeRow, Row, SegmentRow, SurveyRow, TransactionRow, VisitEventRow, VisitRow,
                          columns, values)
from streams.visits import Visit, derive, fold_ms, from_ms
from streams.windows import MINUTE_MS, SHANGHAI, business_day, visit_expiry_ms

MAX_IN_LIST = 5000  # ids per look-up statement
HOUR = timedelta(hours=1)


@dataclass
class FactBatch:
    """What one write stores: gathered from the facts and alerts topics by the sink."""

    visits: dict[str, tuple[str, list[dict]]] = field(default_factory=dict)  # visit_id -> (hall_id, steps)
    surveys: list[dict] = field(default_factory=list)                        # masked survey records
    gauges: list[list] = field(default_factory=list)                         # GaugeRow but version, minute in ms
    alerts: list[AlertEvent] = field(default_factory=list)
    days: set[tuple[str, date]] = field(default_factory=set)                 # re-aggregate although unchanged

    def __bool__(self) -> bool:
        return bool(self.visits or self.surveys or self.gauges or self.alerts or self.days)


@dataclass
class WriteResult:
    events: int = 0
    duplicates: int = 0
    visits: int = 0
    segments: int = 0
    transactions: int = 0
    surveys: int = 0
    gauges: int = 0
    alerts: int = 0
    hours: int = 0
    days: int = 0

    @property
    def rows(self) -> int:
        return self.events + self.visits + self.segments + self.transactions + self.surveys + self.gauges + self.alerts


def batch_from_facts(facts: Iterable[Fact], alerts: Iterable[AlertEvent] = ()) -> FactBatch:
    """Gather the facts of the facts topic (``schemas.facts``, decoded) and the alerts into
    one batch: the steps of a visit from several messages are merged. Steps and survey
    records go on as the plain dicts the domain fold (``streams.visits``) works on."""
    b = FactBatch(alerts=list(alerts))
    for f in facts:
        match f:
            case VisitFact():
                hall_id, steps = b.visits.setdefault(f.v, (f.h, []))
                steps.extend(msgspec.to_builtins(f.s))
            case SurveyFact():
                b.surveys.append(msgspec.to_builtins(f.r))
            case GaugesFact():
                b.gauges.extend(list(r) for r in f.rows)
            case DayFact():
                b.days.add((f.h, business_day(f.d)))
            case _:
                raise ValueError(f"not a fact: {f!r:.80}")
    return b


def _chunks(items: list, n: int = MAX_IN_LIST):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _hour(ms: int) -> datetime:
    return from_ms(ms - ms % 3_600_000).replace(tzinfo=None)


class FactWriter:
    """The store's only writer of facts and aggregates (see the module docstring)."""

    def __init__(self, store: Store, catalogue: Catalogue, *, expire_after_min: float = 30,
                 silent_after_min: float = 15, batch_rows: int = 5000, wall_ms=None):
        self.store = store
        self.catalogue = catalogue
        self.expire_after_ms = int(expire_after_min * MINUTE_MS)
        self.silent_after_s = float(silent_after_min * 60)
        self.batch_rows = batch_rows
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))

    # ---- the steps <-> rows mapping ---------------------------------------------------------
    @staticmethod
    def _event_row(hall_id: str, vid: str, s: dict, received: datetime) -> VisitEventRow:
        return VisitEventRow(
            hall_id=hall_id, visit_id=vid, event_id=s["id"], kind=s["k"], occurred_at=from_ms(s["t"]),
            started_at=from_ms(s["st"]) if "st" in s else None, category=s["c"], to_category=s.get("to", ""),
            ticket_no=s.get("tk", ""), counter_id=s.get("ctr", ""), staff_id=s.get("stf", ""),
            priority=s.get("pri", ""), channel=s.get("ch", ""), business_code=s.get("bc", ""),
            outcome=s.get("out", ""), resolved_first_contact=int(bool(s.get("fcr"))), late=int(bool(s.get("lt"))),
            received_at=received)

    @staticmethod
    def _step(r: tuple) -> dict:
        (_vid, eid, kind, t, st, cat, to, tk, ctr, stf, pri, ch, bc, out, fcr, late) = r
        s = {"id": eid, "t": int(t), "k": kind, "c": cat, "tk": tk}
        for key, val in (("to", to), ("ctr", ctr), ("stf", stf), ("pri", pri), ("ch", ch)):
            if val:
                s[key] = val
        if kind == "tx":
            s.update(st=int(st), bc=bc, out=out, fcr=bool(fcr))
        if late:
            s["lt"] = 1
        return s

    def _stored_steps(self, halls: list[str], vids: list[str]) -> dict[str, dict[str, dict]]:
        stored: dict[str, dict[str, dict]] = {}
        for chunk in _chunks(vids):
            for r in self.store.query(load_sql("visit_events_get"), {"halls": halls, "visits": chunk}).rows:
                stored.setdefault(r[0], {}).setdefault(r[1], self._step(r))
        return stored

    def _visit_rows(self, hall_id: str, v: Visit, version: int) -> tuple[list[VisitRow], list[SegmentRow]]:
        if v.issued_ms is None:
            return [], []
        counted = not v.expired
        waits = [s.wait_s for s in v.segments if s.wait_s is not None]
        first_call = v.segments[0].called_ms if v.segments else None
        ended = v.ended_ms
        visit = VisitRow(
            visit_id=v.visit_id, hall_id=hall_id, category=v.category, ticket_no=v.ticket_no, priority=v.priority,
            channel=v.channel, issued_at=from_ms(v.issued_ms), first_called_at=from_ms(first_call) if first_call else None,
            ended_at=from_ms(ended) if ended else None, status=v.status, served=int(v.served),
            abandoned=int(v.abandoned), expired=int(v.expired), segments=len(v.segments), total_wait_s=sum(waits),
            transactions=len(v.transactions), inferred_calls=v.inferred_calls,
            expires_at=from_ms(v.expires_ms) if v.expires_ms else None, version=version)
        segs = []
        for seg in v.segments:
            if seg.called_ms is None:
                continue
            target = self.catalogue.target_wait_s(hall_id, seg.category)
            segs.append(SegmentRow(
                visit_id=v.visit_id, seg_no=seg.seg_no, hall_id=hall_id, category=seg.category, ticket_no=v.ticket_no,
                waited_from=from_ms(seg.from_ms), called_at=from_ms(seg.called_ms), wait_s=seg.wait_s, target_s=target,
                within_target=int(seg.wait_s <= target), inferred=int(seg.inferred), counted=int(counted),
                counter_id=seg.counter_id, staff_id=seg.staff_id, version=version))
        return [visit], segs

    def _tx_row(self, hall_id: str, vid: str, s: dict) -> TransactionRow:
        return TransactionRow(
            event_id=s["id"], hall_id=hall_id, visit_id=vid, ticket_no=s.get("tk", ""), counter_id=s.get("ctr", ""),
            staff_id=s.get("stf", ""), category=s["c"], business_code=s.get("bc", ""), started_at=from_ms(s["st"]),
            completed_at=from_ms(s["t"]), handle_s=max(0.0, (s["t"] - s["st"]) / 1000.0),
            standard_handle_s=self.catalogue.standard_handle_s(hall_id, s["c"]), outcome=s.get("out", ""),
            resolved_first_contact=int(bool(s.get("fcr"))))

    @staticmethod
    def _survey_row(s: dict) -> SurveyRow:
        return SurveyRow(
            event_id=s["id"], hall_id=s["h"], kind=s["kind"], visit_id=s.get("vid", ""), staff_id=s.get("stf", ""),
            category="", channel=s.get("ch", ""), answered_at=from_ms(s["t"]), score=s["score"],
            dimensions=s.get("dims", {}), has_complaint=int(bool(s.get("cmp"))), complaint_category=s.get("cmp", ""),
            complaint_severity=s.get("sev", ""), complaint_text=s.get("ctext", ""), comment=s.get("cm", ""),
            late=int(bool(s.get("lt"))))

    @staticmethod
    def _alert_row(e: AlertEvent) -> AlertRow:
        return AlertRow(
            alert_id=e.alert_id, action=e.action.value, hall_id=e.hall_id, category=str(e.category),
            rule=e.rule.value, level=e.level.value, occurred_at=e.occurred_at, opened_at=e.opened_at,
            triggers=list(e.triggers), figures={k: float(v) for k, v in e.figures.items()},
            suggested_action=e.suggested_action)

    def _insert(self, record: type[Row], rows: list[Row]) -> None:
        for chunk in _chunks(rows, self.batch_rows):
            self.store.insert(record.table, values(chunk), columns(record))

    # ---- one flush --------------------------------------------------------------------------
    def write(self, b: FactBatch) -> WriteResult:
        now_ms = self.wall_ms()
        received = from_ms(now_ms)
        res = WriteResult()
        hours: set[tuple[str, int]] = set()   # (hall, hour start ms)
        days: set[tuple[str, date]] = set(b.days)

        def touch(hall_id: str, ms: int) -> None:
            hours.add((hall_id, ms - ms % 3_600_000))
            days.add((hall_id, business_day(ms)))

        # 1. visits: stored events + what the worker holds, re-derived whole
        halls = sorted({h for h, _ in b.visits.values()} | {s["h"] for s in b.surveys})
        vids = sorted(b.visits)
        stored = self._stored_steps(halls, vids) if vids else {}
        events, visits, segs, txs = [], [], [], []
        for vid in vids:
            hall_id, steps = b.visits[vid]
            have = stored.get(vid, {})
            for s in steps:
                if s["id"] in have:  # stored already (first one wins), or held and written before
                    continue
                have[s["id"]] = s
                events.append(self._event_row(hall_id, vid, s, received))
                if s["k"] == "tx":
                    txs.append(self._tx_row(hall_id, vid, s))
            hall = self.catalogue.by_id[hall_id]
            v = derive(vid, hall_id, have.values(), as_of_ms=now_ms,
                       expiry_of=lambda ms, h=hall: visit_expiry_ms(h, ms, self.expire_after_ms))
            vr, sr = self._visit_rows(hall_id, v, len(have))
            visits += vr
            segs += sr
            for s in have.values():
                touch(hall_id, s["t"])
                touch(hall_id, fold_ms(s))
        # 2. surveys: new ones only; and those of touched visits follow their category
        surveys = []
        if b.surveys or vids:
            known_ids: set[str] = set()
            sids = [s["id"] for s in b.surveys]
            for chunk_s in _chunks(sids) if sids else [[]]:
                for chunk_v in _chunks(vids) if vids else [[]]:
                    for eid, vid, t in self.store.query(load_sql("surveys_known"),
                                                        {"halls": halls, "surveys": chunk_s, "visits": chunk_v}).rows:
                        known_ids.add(eid)
                        if vid in b.visits:
                            touch(b.visits[vid][0], int(t))
            for s in b.surveys:
                if s["id"] in known_ids:
                    res.duplicates += 1
                    continue
                known_ids.add(s["id"])
                surveys.append(self._survey_row(s))
                touch(s["h"], s["t"])
        # 3. gauges, zeroing a category whose queue emptied since its last row
        gauges = self._gauges(b.gauges)
        for row in gauges:
            touch(row[0], row[2])
            row[2] = _utc(row[2])
        version = time.time_ns() // 1000
        self._insert(VisitEventRow, events)
        self._insert(VisitRow, visits)
        self._insert(SegmentRow, segs)
        self._insert(TransactionRow, txs)
        self._insert(SurveyRow, surveys)
        self._insert(GaugeRow, [GaugeRow(*r, version) for r in gauges])
        self._insert(AlertRow, [self._alert_row(e) for e in b.alerts])
        # 4. aggregates, by SQL over the facts
        self._rollups(hours, days, now_ms, version)
        res.events, res.visits, res.segments, res.transactions = len(events), len(visits), len(segs), len(txs)
        res.surveys, res.gauges, res.alerts, res.hours, res.days = (len(surveys), len(gauges), len(b.alerts),
                                                                    len(hours), len(days))
        return res

    def _gauges(self, rows: list[list]) -> list[list]:
        """The batch's gauge rows (minute as epoch ms), and a zero row for each category
        stored for one of their minutes that has none now (its queue emptied)."""
        if not rows:
            return []
        fresh = {(r[0], r[1], r[2]) for r in rows}
        minutes = {(r[0], r[2]) for r in rows}
        lo, hi = min(r[2] for r in rows), max(r[2] for r in rows) + MINUTE_MS
        halls = sorted({r[0] for r in rows})
        out = [list(r) for r in rows]
        for hall_id, cat, minute in self.store.query(load_sql("gauge_keys"), {
                "halls": halls, "lo": _utc(lo), "hi": _utc(hi)}).rows:
            minute = int(minute)
            if (hall_id, minute) in minutes and (hall_id, cat, minute) not in fresh:
                out.append([hall_id, cat, minute, 0, 0.0, 0, 0.0])
        return out

    def _rollups(self, hours: set[tuple[str, int]], days: set[tuple[str, date]], now_ms: int, version: int) -> None:
        common = {"now": from_ms(now_ms), "silent_after_s": self.silent_after_s, "version": version}
        if hours:
            lo, hi = min(t for _, t in hours), max(t for _, t in hours) + 3_600_000
            params = {**common, "halls": sorted({h for h, _ in hours}), "lo": from_ms(lo), "hi": from_ms(hi),
                      "keys": sorted((h, _utc(t)) for h, t in hours)}
            self.store.command(load_sql("rollup_minute"), params)
            self.store.command(load_sql("rollup_hour"), params)  # from the minute rows just written
        if days:
            first, last = min(d for _, d in days), max(d for _, d in days)
            lo = datetime(first.year, first.month, first.day, tzinfo=SHANGHAI)
            hi = datetime(last.year, last.month, last.day, tzinfo=SHANGHAI) + timedelta(days=1)
            self.store.command(load_sql("rollup_day"), {
                **common, "halls": sorted({h for h, _ in days}), "lo": lo.astimezone(timezone.utc),
                "hi": hi.astimezone(timezone.utc), "keys": sorted(days)})


def _utc(ms: int) -> datetime:
    """A naive UTC datetime for ``DateTime('UTC')`` columns and parameters."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).replace(tzinfo=None)
