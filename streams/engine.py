"""The worker's brain without Kafka: one raw message in, what to persist and publish out.

The Faust agents are thin: they hand every message to :meth:`Engine.process` and apply the
:class:`Outcome` (table writes, alert events, a dead letter). Tests drive the same engine
directly. Persistent state is the Faust tables (visit steps, surveys, alert states); the
:class:`HallBook` indices and clocks are derived from them and rebuilt by
:meth:`Engine.restore` after a restart or a rebalance.

The engine keeps only what *live* figures need. The figures that decide a grade come from
the facts the fact writer stores (``sinks/facts.py``): every accepted event leaves in
:attr:`Outcome.facts` (the agent sends them to the facts topic in the same transaction as
the state), however late it is, and a visit's facts are re-derived in the store from all
of its events. So what the engine keeps and forgets decides nothing stored:

* **Time** is per hall and topic (the latest event time accepted from it), so topics read
  at uneven pace do not make each other's events late. An event more than the grace behind
  its topic's clock is *late*: it is stored and counted, and only updates a visit the live
  view still holds; it never reopens the live past or an alert. An event more than
  ``future_s`` ahead of the wall clock is invalid (domain.md §2): one kiosk with a wrong
  clock cannot move a hall's time.
* **Retention** follows the slowest input: per partition, the minimum over the three
  topics of their clocks (a watermark). A visit is forgotten once it ended (or expired)
  ``retention_h`` before that watermark.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from pydantic import ValidationError

from schemas.catalogue import Catalogue
from schemas.events import AlertEvent, SurveyEvent, TicketEvent, TransactionEvent, describe_error
from schemas.privacy import mask_text
from streams.alerts import (AlertRules, AlertState, ComplaintFigures, QueueFigures, evaluate_complaints,
                            evaluate_feed, evaluate_queue, queue_fires)
from streams.hallbook import CATEGORIES, HallBook
from streams.visits import from_ms, step_from_ticket, step_from_transaction, to_ms
from streams.windows import MINUTE_MS, SHANGHAI, day_start_ms, minute_of

MODELS = {"tickets": TicketEvent, "transactions": TransactionEvent, "surveys": SurveyEvent}
# Faust table names (also the keys of Outcome.writes)
VISITS, SURVEYS, ALERTS = "visits", "surveys", "alert_states"
# Retention runs when a partition's watermark moved this far and this many events passed
# (a backlog moves event time by hours in a second: not a purge every few events).
PURGE_EVERY_MS = 10 * MINUTE_MS
PURGE_AFTER_EVENTS = 1000
# A tick moves a hall's alert clock only when the hall is live: its events are this recent.
LIVE_WINDOW_MS = 30 * MINUTE_MS
# Queue gauges are written for each minute the hall's clock passes, at most this far back.
GAUGE_BACKFILL_MS = 120 * MINUTE_MS
TOPIC_KINDS = ("tickets", "transactions", "surveys")
# An event is a few hundred bytes: a message this large is not one, and is not parsed.
MAX_MESSAGE_BYTES = 256 * 1024
# What a dead letter keeps of a message too large to read: an excerpt this long.
EXCERPT_CHARS = 2048
# A visit is a dozen steps or so (issue, calls, a transfer, a few transactions). A feed that
# repeats itself with new event ids (a stuck kiosk re-sending `recalled`) would otherwise grow
# one visit without bound: every event re-derives the whole visit (quadratic), and past about
# 7,000 steps its changelog record is over the 1 MiB Kafka takes, which would stop the worker
# at every restart. Events beyond this many steps are dead letters (``visit_too_long``).
MAX_VISIT_STEPS = 200


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
    original_size: int | None = None  # set when ``original`` is only an excerpt

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
            **({"original_size": self.original_size, "original_truncated": True}
               if self.original_size is not None else {}),
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
    # what the fact writer must store (sinks/facts.py), sent to the facts topic in the same
    # transaction as the state: {"k": "visit", "h", "v", "s": [new steps]} (no steps: re-derive
    # it, e.g. it expired), {"k": "survey", "r": record}, {"k": "gauges", "h", "rows"},
    # {"k": "day", "h", "d": day start ms} (a day that ended: re-aggregate it)
    facts: list[dict] = field(default_factory=list)


def _reason_code(message: str) -> str:
    if "clear phone or ID number" in message:
        return "clear_personal_number"
    if "no UTC offset" in message:
        return "timestamp_without_offset"
    if "before 2000-01-01" in message:
        return "timestamp_out_of_range"
    if "handle time" in message:
        return "absurd_duration"
    return "schema_violation"


# Fields that only one topic's events have: a message holding them, and failing its own
# topic's contract, was most likely sent to the wrong topic.
_TELLTALE = {"tickets": ("event_type", "occurred_at"), "transactions": ("started_at", "completed_at", "business_code"),
             "surveys": ("answered_at", "score")}
_NAMES = {"tickets": "ticket", "transactions": "transaction", "surveys": "survey"}


def _wrong_topic(kind: str, payload: dict) -> str | None:
    """'looks like a survey (has answered_at, score) on the tickets topic', or None."""
    for other, fields in _TELLTALE.items():
        if other != kind and all(f in payload for f in fields):
            return f"looks like a {_NAMES[other]} (has {', '.join(fields)}) on the {kind} topic"
    return None


def _masked(raw: bytes, limit: int | None = None) -> bytes:
    """``raw`` with every phone and ID number masked (valid UTF-8 stays byte for byte
    otherwise; other bytes are read with replacement characters: there is nothing to
    replay in them). With ``limit``: at most that many characters, cut so that no part of
    a number is left whole at the end."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
    if limit is None:
        return mask_text(text).encode()
    cut = mask_text(text[:limit + 64])[:limit]
    return cut.rstrip("0123456789０１２３４５６７８９ -").encode()


def _event_key(step: dict) -> tuple[str, str]:
    """A held step's (topic kind, event_id): event ids are unique per topic (oracle ruling 2)."""
    return ("transactions" if step["k"] == "tx" else "tickets", step["id"])


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
    def __init__(self, catalogue: Catalogue, rules: AlertRules, *, grace_s: float = 600, retention_h: float = 26,
                 future_s: float = 300, expire_after_min: float = 30, wall_ms=None,
                 purge_after_events: int = PURGE_AFTER_EVENTS, max_message_bytes: int = MAX_MESSAGE_BYTES,
                 max_visit_steps: int = MAX_VISIT_STEPS):
        self.catalogue = catalogue
        self.rules = rules
        self.grace_ms = int(grace_s * 1000)
        self.retention_ms = int(retention_h * 3600 * 1000)
        self.future_ms = int(future_s * 1000)
        self.expire_after_ms = int(expire_after_min * MINUTE_MS)
        self.wall_ms = wall_ms or (lambda: int(time.time() * 1000))
        self.books: dict[str, HallBook] = {}
        # every visit the worker holds (the Faust table's mirror), also in its hall's book
        self.held: dict[str, dict] = {}
        # the held visit of each accepted event id per topic kind, and the hall of each held
        # survey: the same event_id again under another visit (or hall) is a duplicate too
        self.visit_of_event: dict[tuple[str, str], str] = {}
        self.hall_of_survey: dict[str, str] = {}
        self.alert_states: dict[str, AlertState] = {}
        self.partition_of: dict[str, int] = {}  # hall -> input partition, learnt from its events or state
        self.part_clocks: dict[int | None, dict[str, int]] = {}  # partition -> topic kind -> latest event time
        self._last_purge: dict[int | None, int] = {}
        self._since_purge: dict[int | None, int] = {}
        self.purge_after_events = purge_after_events
        self.max_message_bytes = max_message_bytes
        self.max_visit_steps = max_visit_steps
        self._queue_keys_of: dict[str, list[tuple[str, str]]] = {}  # at most one entry per catalogue hall
        self.counts: dict[str, int] = {"processed": 0, "duplicates": 0, "dead_letters": 0, "late": 0}

    # ---- state ---------------------------------------------------------------------
    def book(self, hall_id: str) -> HallBook:
        b = self.books.get(hall_id)
        if b is None:
            th = self.rules.for_size_class(self.catalogue.by_id[hall_id].size_class)
            b = self.books[hall_id] = HallBook(self.catalogue.by_id[hall_id], self.catalogue,
                                               expire_after_ms=self.expire_after_ms, grace_ms=self.grace_ms,
                                               silent_after_ms=int(th.silent_after_min * MINUTE_MS))
        return b

    def restore(self, visits: Iterable[tuple[str, dict]], surveys: Iterable[tuple[str, dict]],
                alert_states: Iterable[tuple[str, dict]], partitions: set[int] | None = None) -> None:
        """Rebuild the books from the tables. (Nothing is written again: the facts of every
        event committed to the tables are on the facts topic.) With ``partitions``, only
        the records of those input partitions: after a rebalance Faust's in-memory tables
        still hold the keys of partitions now owned by another worker."""
        if partitions is not None:
            visits = [(k, r) for k, r in visits if r.get("p") is None or r["p"] in partitions]
            surveys = [(k, r) for k, r in surveys if r.get("p") is None or r["p"] in partitions]
        self.books.clear()
        self.held.clear()
        self.visit_of_event.clear()
        self.hall_of_survey.clear()
        self.alert_states.clear()
        self.part_clocks.clear()
        late_steps: list[tuple[HallBook, int]] = []
        for vid, rec in visits:
            hall = rec["h"]
            if hall not in self.catalogue:
                continue
            b = self.book(hall)
            self.held[vid] = rec
            if rec.get("p") is not None:
                self.partition_of[hall] = rec["p"]
            for st in rec["s"]:
                key = _event_key(st)
                self.visit_of_event[key] = vid
                kind = key[0]
                b.advance(kind, st["t"])
                self._advance_partition(rec.get("p"), kind, st["t"])
                if st.get("lt"):
                    late_steps.append((b, st["t"]))
        for sid, rec in surveys:
            hall = rec["h"]
            if hall not in self.catalogue:
                continue
            b = self.book(hall)
            if b.add_survey(rec):
                self.hall_of_survey[sid] = hall
            b.advance("surveys", rec["t"])
            self._advance_partition(rec.get("p"), "surveys", rec["t"])
            if rec.get("p") is not None:
                self.partition_of[hall] = rec["p"]
            if rec.get("lt"):
                late_steps.append((b, rec["t"]))
        for b, t in late_steps:
            b.count_late(t)
        # derive live visits once every clock is known (expiry depends on the hall's clock)
        for vid, rec in self.held.items():
            self.books[rec["h"]].set_visit(vid, list(rec["s"]))
        for key, st in alert_states:
            hall = key.split("|", 1)[0]
            # the state's own partition (the table knows it, see streams/app.py); a hall whose
            # visits have all ended has no held visit to tell it, and its open alert must come
            # back all the same, or the next breach opens a second one beside it
            partition = st.get("p", self.partition_of.get(hall))
            if partitions is not None and partition not in partitions:
                continue  # a hall of another worker's partitions
            if partition is not None and hall in self.catalogue:
                self.partition_of[hall] = partition
            self.alert_states[key] = AlertState.from_dict(st)
        for book in self.books.values():
            book.gauge_upto = minute_of(book.gauge_ms) - MINUTE_MS if book.gauge_ms else 0

    def _advance_partition(self, partition: int | None, kind: str, t: int) -> None:
        clocks = self.part_clocks.setdefault(partition, {})
        if t > clocks.get(kind, 0):
            clocks[kind] = t

    def watermark(self, partition: int | None) -> int:
        """The slowest input of a partition: the least of its topics' clocks (topics that
        have sent nothing there yet do not hold it back)."""
        return min(self.part_clocks.get(partition, {}).values(), default=0)

    # ---- one message ------------------------------------------------------------------
    def process(self, kind: str, raw: bytes, *, topic: str = "", partition: int | None = None,
                offset: int | None = None, key: str | None = None) -> Outcome:
        """One message: its outcome, or a dead letter saying why it cannot be used. Never
        raises: a message that breaks the engine is a dead letter too (``internal_error``),
        so that one poison message cannot stop the worker (it would be read again after
        every restart)."""
        def dead(code: str, reason: str, hall: str | None = None) -> Outcome:
            self.counts["dead_letters"] += 1
            self.counts[f"dead:{code}"] = self.counts.get(f"dead:{code}", 0) + 1
            # the dead-letter topic and the logs are storage too: numbers masked everywhere
            hall = mask_text(hall) if hall is not None else None
            too_large = len(raw) > self.max_message_bytes
            original = _masked(raw, EXCERPT_CHARS if too_large else None)
            return Outcome(hall_id=hall, dead_letter=DeadLetter(
                code, mask_text(reason), topic, partition, offset, mask_text(key) if key else key, original,
                original_size=len(raw) if too_large else None))

        if len(raw) > self.max_message_bytes:
            return dead("too_large", f"message of {len(raw):,} bytes, more than the {self.max_message_bytes:,} "
                                     f"an event may have; not read (the dead letter keeps its first "
                                     f"{EXCERPT_CHARS:,} characters)")
        try:
            return self._process(kind, raw, dead, partition)
        except Exception as e:  # a defect of ours, shown by this message: keep it, carry on
            return dead("internal_error", f"the worker failed on this message: {type(e).__name__}: {str(e)[:200]}")

    def _process(self, kind: str, raw: bytes, dead, partition: int | None) -> Outcome:
        try:
            # nearly every message is a valid event: read and validate it in one pass over the
            # bytes (pydantic's JSON mode). Any failure takes the path below, which alone words
            # dead letters (JSON mode refuses some input json.loads accepts, e.g. a UTF-8 BOM,
            # and words its errors differently); a valid event is the same model either way.
            event = MODELS[kind].model_validate_json(raw)
        except Exception:
            event = self._validate_slowly(kind, raw, dead)
            if isinstance(event, Outcome):
                return event
        hall_id = event.hall_id
        if hall_id not in self.catalogue:
            return dead("unknown_hall", f"hall_id {hall_id!r} is not in the hall catalogue", hall_id)
        t = to_ms(event.occurred_at)
        ahead = t - self.wall_ms()
        if ahead > self.future_ms:
            return dead("future_timestamp", f"event time is {ahead / 1000:.0f} s ahead of this worker's clock "
                                            f"(at most {self.future_ms / 1000:.0f} s allowed)", hall_id)
        book = self.book(hall_id)
        if partition is not None:
            self.partition_of[hall_id] = partition
        seen = self._seen(book, kind, event)
        if seen == "conflict":
            return dead("conflicting_duplicate", f"event_id {event.event_id!r} was accepted before with other "
                                                 f"content; the first one stands", hall_id)
        if seen:
            self.counts["duplicates"] += 1
            return Outcome(hall_id=hall_id, duplicate=True)
        if kind != "surveys" and (rec := self.held.get(event.visit_id)) is not None \
                and len(rec["s"]) >= self.max_visit_steps:
            return dead("visit_too_long", f"visit {event.visit_id!r} already has {len(rec['s'])} events, the most one "
                                          f"visit may have ([worker].max_visit_steps): its first ones stand, this one "
                                          f"is kept here (a feed repeating itself?)", hall_id)
        clock = book.clock(kind)
        late = bool(clock) and t < clock - self.grace_ms
        if late:
            self.counts["late"] += 1
            book.count_late(t)
        out = Outcome(hall_id=hall_id)
        self._advance_partition(partition, kind, t)
        if kind == "surveys":
            self._survey(book, event, out, partition, late)
        else:
            self._visit_step(book, kind, event, out, partition, late)
        self.counts["processed"] += 1
        self._maybe_purge(partition, out)
        return out

    def _validate_slowly(self, kind: str, raw: bytes, dead):
        """The event in ``raw``, or the dead letter (an :class:`Outcome`) saying why it is not one."""
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as e:
            why = "nested too deeply" if isinstance(e, RecursionError) else str(e)[:200]
            return dead("malformed_json", f"not valid JSON: {why}")
        if not isinstance(payload, dict):
            return dead("malformed_json", "a message must be one JSON object")
        hall_of = payload.get("hall_id") if isinstance(payload.get("hall_id"), str) else None
        try:
            event = MODELS[kind].model_validate(payload)
        except ValidationError as e:
            msg = describe_error(e)
            wrong = _wrong_topic(kind, payload)
            if wrong:
                return dead("wrong_topic", f"{wrong}: {msg}", hall_of)
            return dead(_reason_code(msg), msg, hall_of)
        except RecursionError:
            return dead("schema_violation", "the event is nested too deeply to be one of ours", hall_of)
        return event

    def _seen(self, book: HallBook, kind: str, event) -> bool | str:
        """A repeated ``event_id`` is dropped (here while the visit or survey is held; the
        fact writer drops a repeat of one already stored): True for a plain repeat, and
        ``"conflict"`` when what it says differs from the first one (domain: first wins),
        which becomes a dead letter rather than being lost without a word. An id already
        accepted under another visit (or a survey's under another hall) says something
        else than the first one: a conflict."""
        if kind == "surveys":
            if self.hall_of_survey.get(event.event_id, book.hall_id) != book.hall_id:
                return "conflict"
            first = book.surveys.get(event.event_id)
            if first is None:
                return False
            again = survey_record(event)
            return True if all(first.get(k) == v for k, v in again.items()) else "conflict"
        rec = self.held.get(event.visit_id)
        first = next((s for s in rec["s"] if s["id"] == event.event_id), None) if rec is not None else None
        if first is None:
            return "conflict" if (kind, event.event_id) in self.visit_of_event else False
        again = step_from_ticket(event) if kind == "tickets" else step_from_transaction(event)
        same = all(first.get(k) == v for k, v in again.items()) and first.get("k") == again["k"]
        return True if same else "conflict"

    def _visit_step(self, book: HallBook, kind: str, event, out: Outcome, partition: int | None,
                    late: bool) -> None:
        step = step_from_ticket(event) if kind == "tickets" else step_from_transaction(event)
        if late:
            step["lt"] = 1
        vid = event.visit_id
        out.facts.append({"k": "visit", "h": book.hall_id, "v": vid, "s": [step]})
        if late and vid not in book.visits:
            return  # a visit the live view does not show: for the store only
        rec = self.held.get(vid)
        steps = [*rec["s"], step] if rec else [step]
        before = book.view_ms
        book.advance(kind, step["t"])
        book.set_visit(vid, steps)
        rec = {"h": book.hall_id, "p": partition, "s": steps}
        self.held[vid] = rec
        self.visit_of_event[_event_key(step)] = vid
        out.writes.append((VISITS, vid, rec))
        if late:
            return
        self._time_passes(book, before, out)
        if kind == "tickets" and minute_of(step["t"]) < book.gauge_upto + MINUTE_MS:
            # the queue of the minutes since this event changed (within the grace): again
            lo = max(minute_of(step["t"]), book.gauge_upto - self.grace_ms)
            self._emit_gauges(book, range(lo, book.gauge_upto + MINUTE_MS, MINUTE_MS), out)
        self._close_feed(book, out)
        self._evaluate_queue(book, out)

    def _survey(self, book: HallBook, event: SurveyEvent, out: Outcome, partition: int | None, late: bool) -> None:
        rec = survey_record(event)
        rec["p"] = partition
        if late:
            rec["lt"] = 1
        book.add_survey(rec)
        self.hall_of_survey[rec["id"]] = book.hall_id
        book.advance("surveys", rec["t"])
        out.writes.append((SURVEYS, rec["id"], rec))
        out.facts.append({"k": "survey", "r": rec})
        if rec.get("cmp") and not late:
            self._evaluate_complaints(book, out)

    # ---- time passing ------------------------------------------------------------------
    def _time_passes(self, book: HallBook, before_ms: int, out: Outcome) -> None:
        """The hall's view moved from ``before_ms`` to ``book.view_ms``: visits whose expiry
        passed leave the queue (their facts are re-derived), a day that ended is
        re-aggregated, and the queue gauges of the minutes completed are written."""
        now = book.view_ms
        for vid in book.expire(now):
            out.facts.append({"k": "visit", "h": book.hall_id, "v": vid, "s": []})
        if before_ms and day_start_ms(before_ms) != day_start_ms(now):
            # the day that ended: its last gap and its expiries are final now
            out.facts.append({"k": "day", "h": book.hall_id, "d": day_start_ms(before_ms)})
        last_done = minute_of(book.gauge_ms) - MINUTE_MS
        upto = book.gauge_upto
        if last_done > upto:
            start = max(upto + MINUTE_MS, last_done - GAUGE_BACKFILL_MS) if upto else last_done
            self._emit_gauges(book, range(start, last_done + MINUTE_MS, MINUTE_MS), out)
            book.gauge_upto = last_done

    @staticmethod
    def _emit_gauges(book: HallBook, minutes: range, out: Outcome) -> None:
        rows = [r for m in minutes for r in book.gauge_rows(m)]
        if rows:
            out.facts.append({"k": "gauges", "h": book.hall_id, "rows": rows})

    def tick(self, partition: int | None, t_ms: int) -> Outcome:
        """Wall-clock time reached ``t_ms`` in ``partition``. For the live halls of that
        partition (their last event within :data:`LIVE_WINDOW_MS`, or their feed silent)
        time passes to ``t_ms``: waits grow, visits expire, the feed alert opens after 15
        minutes without an event, and queue alerts are evaluated, while no event arrives.
        A hall that fell quiet at closing time reaches its day's end (see
        :meth:`_day_end_due`). Halls replaying the past are not live, so replays are
        unaffected."""
        out = Outcome()
        for hall_id, book in self.books.items():
            if partition is not None and self.partition_of.get(hall_id) != partition:
                continue
            clock = book.now_ms
            if not clock or t_ms <= book.view_ms:
                continue
            feed_open = f"{hall_id}|all|feed" in self.alert_states
            if t_ms <= clock + LIVE_WINDOW_MS or feed_open:
                to = t_ms
            else:
                to = self._day_end_due(book, t_ms)
                if to is None:
                    continue
            before = book.view_ms
            book.live_ms = to
            self._time_passes(book, before, out)
            self._evaluate_feed(book, out, to)
            self._evaluate_queue(book, out, to)
            key = f"{hall_id}|all|complaint_spike"
            if key in self.alert_states:
                self._evaluate_complaints(book, out, max(to, book.clock("surveys")))
        return out

    def _day_end_due(self, book: HallBook, t_ms: int) -> int | None:
        """A hall that went quiet at its closing time (its last event within the live window
        before closing) still reaches its day's end: at closing + the expiry margin its
        waiting visits expire. A hall replaying an afternoon of the past is left alone."""
        view = book.view_ms
        closes = book.opening(view)[1]
        end = closes + self.expire_after_ms
        if view >= closes - LIVE_WINDOW_MS and view < end <= t_ms:
            return end
        return None

    # ---- alerts -------------------------------------------------------------------------
    def _thresholds(self, book: HallBook):
        return self.rules.for_size_class(book.hall.size_class)

    def _evaluate_queue(self, book: HallBook, out: Outcome, at_ms: int | None = None) -> None:
        now = max(at_ms or 0, book.now_ms, book.live_ms)
        if not book.now_ms:
            return
        at = None
        th = self._thresholds(book)
        queue = book.queue_at(now)
        count, states = queue[0], self.alert_states
        # where nobody waits every figure is 0: no rule can fire, only an open alert needs them
        needed = [(cat, key, state) for cat, key in self._queue_keys(book.hall_id)
                  if (state := states.get(key)) is not None or count[cat]]
        if not needed:
            return
        gauges = book.gauges_at(now, queue, [cat for cat, _, _ in needed])
        for cat, key, state in needed:
            g = gauges[cat]
            if state is None and not queue_fires(g.waiting, g.longest_wait_s, g.est_wait_s, th):
                continue  # no alert open and none would open: nothing to evaluate
            at = at or from_ms(now).astimezone(SHANGHAI)
            figures = QueueFigures(waiting=g.waiting, longest_wait_s=g.longest_wait_s, estimated_wait_s=g.est_wait_s)
            new_state, events = evaluate_queue(state, figures, th, hall_id=book.hall_id, category=cat, at=at)
            self._apply_alert(key, state, new_state, events, out)

    def _queue_keys(self, hall_id: str) -> list[tuple[str, str]]:
        """``(category, alert state key)`` of a hall's queue alerts, made once per hall."""
        keys = self._queue_keys_of.get(hall_id)
        if keys is None:
            keys = self._queue_keys_of[hall_id] = [(cat, f"{hall_id}|{cat}|queue") for cat in CATEGORIES]
        return keys

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

    def _evaluate_feed(self, book: HallBook, out: Outcome, at_ms: int) -> None:
        key = f"{book.hall_id}|all|feed"
        state = self.alert_states.get(key)
        silent = book.silent_since(at_ms) is not None
        if state is None and not silent:
            return
        new_state, events = evaluate_feed(state, silent=silent, last_event_at=from_ms(book.last_event_ms),
                                          th=self._thresholds(book), hall_id=book.hall_id,
                                          at=from_ms(at_ms).astimezone(SHANGHAI))
        self._apply_alert(key, state, new_state, events, out)

    def _close_feed(self, book: HallBook, out: Outcome) -> None:
        """The hall's next event ends a silence (domain.md §3)."""
        if f"{book.hall_id}|all|feed" in self.alert_states:
            self._evaluate_feed(book, out, max(book.view_ms, book.last_event_ms))

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

    def open_alerts(self, hall_id: str) -> list[AlertState]:
        prefix = hall_id + "|"
        return [s for k, s in self.alert_states.items() if k.startswith(prefix)]

    # ---- retention ------------------------------------------------------------------------
    def _maybe_purge(self, partition: int | None, out: Outcome) -> None:
        since = self._since_purge[partition] = self._since_purge.get(partition, 0) + 1
        if since < self.purge_after_events:
            return  # most events: the watermark need not even be looked at
        mark = self.watermark(partition)
        if mark - self._last_purge.get(partition, 0) < PURGE_EVERY_MS:
            return
        self._last_purge[partition] = mark
        self._since_purge[partition] = 0
        before = mark - self.retention_ms
        for hall_id, book in self.books.items():
            if self.partition_of.get(hall_id) != partition:
                continue
            visits, surveys = book.purge(before)
            for vid in visits:
                rec = self.held.pop(vid, None)
                for st in rec["s"] if rec else ():
                    if self.visit_of_event.get(key := _event_key(st)) == vid:
                        del self.visit_of_event[key]
            for sid in surveys:
                if self.hall_of_survey.get(sid) == hall_id:
                    del self.hall_of_survey[sid]
            out.writes.extend((VISITS, vid, None) for vid in visits)
            out.writes.extend((SURVEYS, sid, None) for sid in surveys)


