"""The worker's brain without Kafka: one raw message in, what to persist and publish out.

The Faust agents are thin: they hand every message to :meth:`Engine.process` and apply the
:class:`Outcome` (table writes, alert events, a dead letter). Tests drive the same engine
directly. Persistent state is the Faust tables (visit steps, surveys, alert states); the
:class:`HallBook` indices and clocks are derived from them and rebuilt by
:meth:`Engine.restore` after a restart or a rebalance.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import ValidationError

from hallpulse.catalogue import Catalogue
from schemas.events import AlertEvent, SurveyEvent, TicketEvent, TransactionEvent, describe_error
from schemas.privacy import mask_text
from streams.alerts import (AlertRules, AlertState, ComplaintFigures, QueueFigures, evaluate_complaints,
                            evaluate_queue)
from streams.hallbook import CATEGORIES, HallBook
from streams.visits import from_ms, step_from_ticket, step_from_transaction, to_ms
from streams.windows import MINUTE_MS, SHANGHAI, minute_of

MODELS = {"tickets": TicketEvent, "transactions": TransactionEvent, "surveys": SurveyEvent}
# Faust table names (also the keys of Outcome.writes)
VISITS, SURVEYS, ALERTS = "visits", "surveys", "alert_states"
PURGE_EVERY_MS = 10 * MINUTE_MS
# A tick moves a hall's alert clock only when the hall is live: its events are this recent.
LIVE_WINDOW_MS = 30 * MINUTE_MS


@dataclass
class DeadLetter:
    """A message the pipeline could not use, kept with why. Phone and ID numbers in the
    original are masked: the dead-letter topic is storage too (五条禁令)."""

    reason_code: str
    reason: str
    topic: str
    partition: int | None
    offset: int | None
    key: str | None
    original: bytes
    attempts: int = 1

    def to_json(self) -> bytes:
        try:
            text, enc = self.original.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, enc = base64.b64encode(self.original).decode(), "base64"
        return json.dumps({
            "reason_code": self.reason_code, "reason": self.reason, "topic": self.topic,
            "partition": self.partition, "offset": self.offset, "key": self.key,
            "original": text, "original_encoding": enc, "attempts": self.attempts,
            "dead_at": datetime.now(timezone.utc).isoformat(),
        }, ensure_ascii=False).encode()

    @staticmethod
    def parse(value: bytes) -> dict:
        d = json.loads(value)
        raw = d["original"].encode() if d.get("original_encoding") == "utf-8" else base64.b64decode(d["original"])
        d["original_bytes"] = raw
        return d


@dataclass
class Outcome:
    hall_id: str | None = None
    dead_letter: DeadLetter | None = None
    duplicate: bool = False
    writes: list[tuple[str, str, Any]] = field(default_factory=list)  # (table, key, value | None = delete)
    alerts: list[AlertEvent] = field(default_factory=list)


@dataclass
class Pending:
    """What the ClickHouse sink has yet to write, per hall."""

    minutes: set[int] = field(default_factory=set)
    visits: set[str] = field(default_factory=set)
    surveys: set[str] = field(default_factory=set)


def _reason_code(message: str) -> str:
    if "no UTC offset" in message:
        return "timestamp_without_offset"
    if "clear phone or ID number" in message:
        return "clear_personal_number"
    return "schema_violation"


def survey_record(e: SurveyEvent) -> dict:
    """Compact, masked form of a survey, as kept in the Faust table and the store."""
    rec = {"id": e.event_id, "h": e.hall_id, "t": to_ms(e.answered_at), "kind": e.kind.value,
           "score": e.score, "vid": e.visit_id or "", "stf": e.staff_id or "", "ch": e.channel.value,
           "dims": dict(e.dimensions or {}), "cm": mask_text(e.comment or "")}
    if e.complaint:
        rec.update(cmp=e.complaint.category.value, sev=e.complaint.severity.value,
                   ctext=mask_text(e.complaint.text))
    return rec


class Engine:
    def __init__(self, catalogue: Catalogue, rules: AlertRules, *, grace_s: float = 600, retention_h: float = 26):
        self.catalogue = catalogue
        self.rules = rules
        self.grace_ms = int(grace_s * 1000)
        self.retention_ms = int(retention_h * 3600 * 1000)
        self.books: dict[str, HallBook] = {}
        self.alert_states: dict[str, AlertState] = {}
        self.pending: dict[str, Pending] = {}
        self.pending_alerts: list[AlertEvent] = []
        self._last_purge: dict[str, int] = {}
        self.partition_of: dict[str, int] = {}  # hall -> input partition, learnt from its events
        self.counts: dict[str, int] = {"processed": 0, "duplicates": 0, "dead_letters": 0}

    # ---- state ---------------------------------------------------------------------
    def book(self, hall_id: str) -> HallBook:
        b = self.books.get(hall_id)
        if b is None:
            b = self.books[hall_id] = HallBook(self.catalogue.by_id[hall_id], self.catalogue)
        return b

    def _pending(self, hall_id: str) -> Pending:
        return self.pending.setdefault(hall_id, Pending())

    def restore(self, visits: Iterable[tuple[str, dict]], surveys: Iterable[tuple[str, dict]],
                alert_states: Iterable[tuple[str, dict]]) -> None:
        """Rebuild the books from the tables, and mark everything for rewriting: the sink's
        writes are idempotent, and whatever was not flushed before a crash is then written."""
        self.books.clear()
        self.alert_states.clear()
        for vid, rec in visits:
            if rec["h"] in self.catalogue:
                b = self.book(rec["h"])
                visit = b.set_visit(vid, list(rec["s"]))
                p = self._pending(rec["h"])
                p.visits.add(vid)
                p.minutes |= b.minutes_spanned(visit)
        for sid, rec in surveys:
            if rec["h"] in self.catalogue:
                self.book(rec["h"]).add_survey(rec)
                p = self._pending(rec["h"])
                p.surveys.add(sid)
                p.minutes.add(minute_of(rec["t"]))
        for key, st in alert_states:
            self.alert_states[key] = AlertState.from_dict(st)
        for book in self.books.values():
            # a topic's clock is the latest event time accepted from it: derived, not stored
            for v in book.visits.values():
                for st in v.steps:
                    book.advance("transactions" if st["k"] == "tx" else "tickets", st["t"])
            for sv in book.surveys.values():
                book.advance("surveys", sv["t"])

    # ---- one message ------------------------------------------------------------------
    def process(self, kind: str, raw: bytes, *, topic: str = "", partition: int | None = None,
                offset: int | None = None, key: str | None = None) -> Outcome:
        def dead(code: str, reason: str, hall: str | None = None) -> Outcome:
            self.counts["dead_letters"] += 1
            self.counts[f"dead:{code}"] = self.counts.get(f"dead:{code}", 0) + 1
            masked = mask_text(raw.decode("utf-8", errors="replace")).encode() if _has_digits(raw) else raw
            return Outcome(hall_id=hall, dead_letter=DeadLetter(code, reason, topic, partition, offset, key, masked))

        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            return dead("malformed_json", f"not valid JSON: {e}")
        if not isinstance(payload, dict):
            return dead("malformed_json", "a message must be one JSON object")
        try:
            event = MODELS[kind].model_validate(payload)
        except ValidationError as e:
            msg = describe_error(e)
            return dead(_reason_code(msg), msg, payload.get("hall_id") if isinstance(payload.get("hall_id"), str) else None)
        hall_id = event.hall_id
        if hall_id not in self.catalogue:
            return dead("unknown_hall", f"hall_id {hall_id!r} is not in the hall catalogue", hall_id)
        book = self.book(hall_id)
        if partition is not None:
            self.partition_of[hall_id] = partition
        if self._seen(book, kind, event):
            self.counts["duplicates"] += 1
            return Outcome(hall_id=hall_id, duplicate=True)
        t = to_ms(event.occurred_at)
        clock = book.clock(kind)
        if clock and t < clock - self.grace_ms:
            return dead("late", f"event time is {(clock - t) / 1000:.0f} s behind this hall's {kind} "
                                f"(grace {self.grace_ms / 1000:.0f} s)", hall_id)
        out = Outcome(hall_id=hall_id)
        if kind == "surveys":
            self._survey(book, event, out)
        else:
            self._visit_step(book, kind, event, out)
        self.counts["processed"] += 1
        self._maybe_purge(book, out)
        return out

    @staticmethod
    def _seen(book: HallBook, kind: str, event) -> bool:
        """A repeated ``event_id`` (within the retention horizon) is dropped."""
        if kind == "surveys":
            return event.event_id in book.surveys
        v = book.visits.get(event.visit_id)
        return v is not None and any(s["id"] == event.event_id for s in v.steps)

    def _visit_step(self, book: HallBook, kind: str, event, out: Outcome) -> None:
        step = step_from_ticket(event) if kind == "tickets" else step_from_transaction(event)
        existing = book.visits.get(event.visit_id)
        steps = [*existing.steps, step] if existing else [step]  # a repeat was dropped by _seen
        book.advance(kind, step["t"])
        book.set_visit(event.visit_id, steps)
        out.writes.append((VISITS, event.visit_id, {"h": book.hall_id, "s": steps}))
        p = self._pending(book.hall_id)
        p.visits.add(event.visit_id)
        p.minutes |= {minute_of(s["t"]) for s in steps}
        p.minutes |= set(range(minute_of(step["t"]), minute_of(book.now_ms) + MINUTE_MS, MINUTE_MS))
        self._evaluate_queue(book, out)

    def _survey(self, book: HallBook, event: SurveyEvent, out: Outcome) -> None:
        rec = survey_record(event)
        book.add_survey(rec)
        book.advance("surveys", rec["t"])
        out.writes.append((SURVEYS, rec["id"], rec))
        p = self._pending(book.hall_id)
        p.surveys.add(rec["id"])
        p.minutes.add(minute_of(rec["t"]))
        if rec.get("cmp"):
            self._evaluate_complaints(book, out)

    # ---- time passing without events ----------------------------------------------------
    def tick(self, partition: int | None, t_ms: int) -> Outcome:
        """Wall-clock time reached ``t_ms`` in ``partition``. For the live halls of that
        partition (their last event within :data:`LIVE_WINDOW_MS`) waits grow and alerts
        are evaluated at ``t_ms``: an alert can close, or a long wait raise one, while no
        event arrives. Halls replaying the past are not live, so replays are unaffected."""
        out = Outcome()
        for hall_id, book in self.books.items():
            if partition is not None and self.partition_of.get(hall_id) != partition:
                continue
            clock = book.now_ms
            if not clock or not clock < t_ms <= clock + LIVE_WINDOW_MS or t_ms <= book.live_ms:
                continue
            book.live_ms = t_ms
            self._evaluate_queue(book, out, t_ms)
            key = f"{hall_id}|all|complaint_spike"
            if key in self.alert_states:
                self._evaluate_complaints(book, out, max(t_ms, book.clock("surveys")))
        return out

    # ---- alerts -------------------------------------------------------------------------
    def _thresholds(self, book: HallBook):
        return self.rules.for_size_class(book.hall.size_class)

    def _evaluate_queue(self, book: HallBook, out: Outcome, at_ms: int | None = None) -> None:
        now = max(at_ms or 0, book.now_ms, book.live_ms)
        if not book.now_ms:
            return
        at = from_ms(now).astimezone(SHANGHAI)
        th = self._thresholds(book)
        gauges = book.gauges_at(now)
        for cat in CATEGORIES:
            key = f"{book.hall_id}|{cat}|queue"
            state = self.alert_states.get(key)
            g = gauges[cat]
            if state is None and g.waiting == 0:
                continue
            figures = QueueFigures(waiting=g.waiting, longest_wait_s=g.longest_wait_s, estimated_wait_s=g.est_wait_s)
            new_state, events = evaluate_queue(state, figures, th, hall_id=book.hall_id, category=cat, at=at)
            self._apply_alert(key, state, new_state, events, out)

    def _evaluate_complaints(self, book: HallBook, out: Outcome, at_ms: int | None = None) -> None:
        now = at_ms or book.clock("surveys")
        th = self._thresholds(book)
        n, esc = book.complaints_in(now, int(th.complaint_spike_window_min * MINUTE_MS))
        key = f"{book.hall_id}|all|complaint_spike"
        state = self.alert_states.get(key)
        if state is None and n == 0:
            return
        new_state, events = evaluate_complaints(state, ComplaintFigures(complaints_in_window=n, escalated_in_window=esc),
                                                th, hall_id=book.hall_id, at=from_ms(now).astimezone(SHANGHAI))
        self._apply_alert(key, state, new_state, events, out)

    def _apply_alert(self, key: str, old: AlertState | None, new: AlertState | None,
                     events: list[AlertEvent], out: Outcome) -> None:
        if new is None:
            if old is not None:
                del self.alert_states[key]
                out.writes.append((ALERTS, key, None))
        elif events or old is None or new.level != old.level or new.below_since != old.below_since:
            # persist only when something that decides a future event changed
            self.alert_states[key] = new
            out.writes.append((ALERTS, key, new.to_dict()))
        else:
            self.alert_states[key] = new
        out.alerts.extend(events)
        self.pending_alerts.extend(events)

    def open_alerts(self, hall_id: str) -> list[AlertState]:
        prefix = hall_id + "|"
        return [s for k, s in self.alert_states.items() if k.startswith(prefix)]

    # ---- retention ------------------------------------------------------------------------
    def _maybe_purge(self, book: HallBook, out: Outcome) -> None:
        now = max(book.clocks.values(), default=0)
        if now - self._last_purge.get(book.hall_id, 0) < PURGE_EVERY_MS:
            return
        self._last_purge[book.hall_id] = now
        visits, surveys = book.purge(now - self.retention_ms)
        out.writes.extend((VISITS, vid, None) for vid in visits)
        out.writes.extend((SURVEYS, sid, None) for sid in surveys)

    # ---- the sink's share ------------------------------------------------------------------
    def take_pending(self) -> tuple[dict[str, Pending], list[AlertEvent]]:
        pending, alerts = self.pending, self.pending_alerts
        self.pending, self.pending_alerts = {}, []
        return pending, alerts

    def requeue(self, pending: dict[str, Pending], alerts: list[AlertEvent]) -> None:
        """Put back what a failed flush could not write; it is retried at the next flush."""
        for hall_id, p in pending.items():
            q = self._pending(hall_id)
            q.minutes |= p.minutes
            q.visits |= p.visits
            q.surveys |= p.surveys
        self.pending_alerts[:0] = alerts


def _has_digits(raw: bytes) -> bool:
    return any(48 <= b <= 57 for b in raw)

