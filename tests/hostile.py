"""A catalogue of hostile input (issue 10 part 5): messages a real feed, a broken kiosk or an
attacker can put on the input topics, each with what the pipeline must make of it.

:func:`catalogue` gives :class:`Hostile` messages for one hall at one event time: each a
name, the topic kind, the key, the bytes, and ``expect``: the dead letter's reason code,
``ACCEPTED`` (a valid event: counted like any other, its free text masked before storage,
its injection strings stored as inert text), or ``DUPLICATE`` (an exact re-send, dropped).
The unit test drives the engine with every one (tests/test_hostile_input.py); the chaos
trial sends them through the real topics between valid events of the same partition
(tests/chaos/test_hostile_input.py).

Pure data: no Kafka, nothing of the pipeline imported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

ACCEPTED = "accepted"      # a valid event; numbers in its free text are masked before storage
DUPLICATE = "duplicate"    # an exact re-send: dropped, counted once

PHONE = "13812345678"
PHONE_344 = "139-1234-5678"
PHONE_FULL_WIDTH = "１３８１２３４５６７８"
ID_NUMBER = "32010219900101123X"
SQL = "x'); DROP TABLE day_metrics; --"
SQL_UNION = "' OR 1=1 UNION SELECT name FROM system.tables --"
HTML = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=1</script>"
INJECTIONS = {"sql": SQL, "sql_union": SQL_UNION, "html": HTML, "script": SCRIPT}
NUMBERS = {"phone": f"请回电 {PHONE}", "phone_344": f"tel {PHONE_344}", "id": f"身份证{ID_NUMBER}"}

# A clear mobile or ID number as the product's rule reads it (schemas/privacy.py, oracle
# ruling 1): standing on its own, not inside a longer token of ASCII letters and digits.
CLEAR_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:1[3-9]\d[ \-]?\d{4}[ \-]?\d{4}|\d{6}[ \-]?\d{8}[ \-]?\d{3}[\dXx])"
                          r"(?![0-9A-Za-z])")

# text fields per topic (dotted: inside an object); the free text ones are masked, not refused
TEXT_FIELDS = {
    "tickets": ("event_id", "hall_id", "visit_id", "ticket_no", "counter_id", "staff_id", "customer_ref"),
    "transactions": ("event_id", "hall_id", "visit_id", "ticket_no", "counter_id", "staff_id", "business_code"),
    "surveys": ("event_id", "hall_id", "visit_id", "staff_id", "comment", "complaint.text", "dimensions.[name]"),
}
FREE_TEXT = ("comment", "complaint.text")


@dataclass(frozen=True)
class Hostile:
    name: str
    topic_kind: str
    key: str
    value: bytes
    expect: str  # a dead letter's reason code, ACCEPTED or DUPLICATE

    @property
    def bad(self) -> bool:
        return self.expect not in (ACCEPTED, DUPLICATE)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


class _Base:
    """Valid events of one hall at one time, each with fresh ids under ``prefix``."""

    def __init__(self, hall_id: str, at: datetime, prefix: str):
        self.hall_id, self.at, self.prefix, self.n = hall_id, at, prefix, 0

    def _id(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n:03d}"

    def ticket(self) -> dict:
        i = self._id()
        return {"event_id": f"e-{i}", "event_type": "called", "hall_id": self.hall_id, "visit_id": f"v-{i}",
                "ticket_no": "H001", "category": "consult", "counter_id": "C01", "staff_id": "S01",
                "occurred_at": _iso(self.at)}

    def issued(self) -> dict:
        d = self.ticket()
        d.update(event_type="issued", priority="normal", channel="kiosk")
        del d["counter_id"], d["staff_id"]
        return d

    def tx(self) -> dict:
        i = self._id()
        return {"event_id": f"e-{i}", "hall_id": self.hall_id, "visit_id": f"v-{i}", "ticket_no": "H002",
                "counter_id": "C01", "staff_id": "S01", "category": "consult", "business_code": "CONSULT_GENERAL",
                "started_at": _iso(self.at.replace(second=0, microsecond=0)), "completed_at": _iso(self.at),
                "outcome": "success", "resolved_first_contact": True}

    def survey(self) -> dict:
        i = self._id()
        return {"event_id": f"e-{i}", "hall_id": self.hall_id, "kind": "customer", "channel": "sms",
                "answered_at": _iso(self.at), "score": 8, "dimensions": {"attitude": 9},
                "complaint": {"category": "wait_time", "severity": "normal", "text": "等太久"},
                "comment": "还行"}

    def of(self, kind: str) -> dict:
        return {"tickets": self.ticket, "transactions": self.tx, "surveys": self.survey}[kind]()


def _set(d: dict, field: str, value: str) -> dict:
    if field == "dimensions.[name]":
        d["dimensions"] = {value: 5}
    elif "." in field:
        outer, inner = field.split(".")
        d[outer] = {**d[outer], inner: value}
    else:
        d[field] = value
    return d


def _bytes(d) -> bytes:
    return json.dumps(d, ensure_ascii=False).encode()


def catalogue(hall_id: str, at: datetime, prefix: str = "hx", *, unknown_hall: str = "XX-NOWHERE-0001",
              huge_bytes: int = 5 * 1024 * 1024) -> list[Hostile]:
    """Every hostile kind for hall ``hall_id``, its events stamped ``at`` (aware), ids under
    ``prefix`` (unique per call). In the order to send them: a conflicting duplicate comes
    after the event it repeats."""
    b = _Base(hall_id, at, prefix)
    out: list[Hostile] = []

    def add(name: str, kind: str, value: bytes | dict, expect: str, key: str = hall_id) -> None:
        out.append(Hostile(name, kind, key, value if isinstance(value, bytes) else _bytes(value), expect))

    # -- not an event at all
    add("not_json", "tickets", b"hello, this is not JSON {", "malformed_json")
    add("empty", "tickets", b"", "malformed_json")
    add("invalid_utf8", "tickets", _bytes(b.ticket())[:-20] + b"\xff\xfe\xc3\x28" + b'"}', "malformed_json")
    add("nul_bytes", "surveys", _bytes(b.survey()).replace(b'"sms"', b'"s\x00ms"') + b"\x00\x00", "malformed_json")
    add("json_array", "tickets", b"[1, 2, 3]", "malformed_json")
    add("json_string", "transactions", b'"13812345678"', "malformed_json")
    add("nested_10000_deep", "tickets", b"[" * 10_000 + b"]" * 10_000, "malformed_json")
    add("nested_10000_deep_in_a_field", "surveys",
        _bytes(b.survey())[:-1] + b', "extra": ' + b"{\"a\":" * 10_000 + b"1" + b"}" * 10_000 + b"}",
        "malformed_json")
    add("garbage_with_a_phone_number", "surveys", f"投诉 {PHONE} 身份证 {ID_NUMBER} <<<".encode(), "malformed_json")
    huge = b.survey()
    chunk = f"{PHONE} {ID_NUMBER} "
    huge["comment"] = (chunk * (huge_bytes // len(chunk) + 1))[:huge_bytes]
    add("message_5mb", "surveys", huge, "too_large")
    # -- the contract broken
    add("wrong_type_score", "surveys", {**b.survey(), "score": "8"}, "schema_violation")
    add("wrong_type_bool", "transactions", {**b.tx(), "resolved_first_contact": "yes"}, "schema_violation")
    add("wrong_type_id", "tickets", {**b.ticket(), "visit_id": 12345}, "schema_violation")
    add("missing_fields", "tickets", {k: v for k, v in b.ticket().items() if k not in ("visit_id", "staff_id")},
        "schema_violation")
    add("unknown_enum", "tickets", {**b.ticket(), "event_type": "teleported"}, "schema_violation")
    add("unknown_category", "transactions", {**b.tx(), "category": "mortgage"}, "schema_violation")
    add("unknown_hall", "tickets", {**b.issued(), "hall_id": unknown_hall}, "unknown_hall", key=unknown_hall)
    add("wrong_topic_survey_on_tickets", "tickets", b.survey(), "wrong_topic")
    add("wrong_topic_ticket_on_transactions", "transactions", b.ticket(), "wrong_topic")
    # -- time
    add("timestamp_without_offset", "tickets", {**b.ticket(), "occurred_at": _iso(at)[:-6]},
        "timestamp_without_offset")
    add("timestamp_epoch_number", "surveys", {**b.survey(), "answered_at": int(at.timestamp())}, "schema_violation")
    add("timestamp_2099", "tickets", {**b.issued(), "occurred_at": _iso(at.replace(year=2099))}, "future_timestamp")
    add("timestamp_year_9999", "surveys", {**b.survey(), "answered_at": "9999-12-31T23:59:59-12:00"},
        "future_timestamp")
    add("timestamp_1970", "tickets", {**b.ticket(), "occurred_at": "1970-01-01T00:00:00+00:00"},
        "timestamp_out_of_range")
    add("timestamp_year_1", "transactions", {**b.tx(), "started_at": "0001-01-01T00:00:00+14:00"},
        "timestamp_out_of_range")
    add("timestamp_not_a_date", "tickets", {**b.ticket(), "occurred_at": "2026-13-45T99:99:99+08:00"},
        "schema_violation")
    add("negative_handle_time", "transactions",
        {**b.tx(), "started_at": _iso(at), "completed_at": _iso(at - timedelta(minutes=5))}, "absurd_duration")
    add("handle_time_30_days", "transactions", {**b.tx(), "started_at": _iso(at - timedelta(days=30))},
        "absurd_duration")
    # -- numbers
    add("score_out_of_range", "surveys", {**b.survey(), "score": 11}, "schema_violation")
    # -- the same event_id twice
    first = b.issued()
    add("first_of_a_pair", "tickets", first, ACCEPTED)
    add("exact_resend", "tickets", first, DUPLICATE)
    add("same_event_id_other_content", "tickets", {**first, "ticket_no": "Z999"}, "conflicting_duplicate")
    # -- customer data and injection strings in every text field
    for kind, fields in TEXT_FIELDS.items():
        for field in fields:
            for label, text in NUMBERS.items():
                d = _set(b.of(kind), field, text)
                expect = ACCEPTED if field in FREE_TEXT else "clear_personal_number"
                add(f"{label}_in_{kind}.{field}", kind, d, expect, key=hall_id)
            for label, text in INJECTIONS.items():
                # ids stay unique (a repeated event_id or visit_id is another kind): prefixed
                d = _set(b.of(kind), field, f"{b._id()} {text}" if field in ("event_id", "visit_id") else text)
                expect = "unknown_hall" if field == "hall_id" else ACCEPTED
                add(f"{label}_in_{kind}.{field}", kind, d, expect)
    add("full_width_phone_in_customer_ref", "tickets", {**b.ticket(), "customer_ref": PHONE_FULL_WIDTH},
        "clear_personal_number")
    return out


def clear_numbers(text: str) -> list[str]:
    """The clear phone and ID numbers in ``text`` (full-width digits read as ASCII)."""
    norm = text.translate({0xFF10 + i: str(i) for i in range(10)} | {0xFF0D: "-", 0x3000: " "})
    return [m.group(0) for m in CLEAR_NUMBER.finditer(norm)]
