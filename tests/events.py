"""Builders of valid contract events for tests: short to write, explicit in what they set."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 23, tzinfo=CST)


def at(hhmm: str, day: datetime = DAY, seconds: float = 0) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return day.replace(hour=h, minute=m) + timedelta(seconds=seconds)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


class Maker:
    """Numbers events so every event_id is unique and readable: the hall's number and a
    count (the contract's ids are unique; a second maker for one hall takes a ``series``).
    A new maker gives the same ids again, so a test can send its events twice."""

    def __init__(self, hall_id: str = "JS-NJ-0002", series: str = ""):
        self.hall_id = hall_id
        self.prefix = hall_id.rsplit("-", 1)[-1] + series
        self.n = 0

    def _id(self, kind: str) -> str:
        self.n += 1
        return f"{kind}-{self.prefix}-{self.n:05d}"

    def ticket(self, event_type: str, visit: str, t: datetime, category: str = "consult", **extra) -> tuple[str, bytes]:
        e = {"event_id": self._id(event_type), "event_type": event_type, "hall_id": self.hall_id, "visit_id": visit,
             "ticket_no": extra.pop("ticket_no", f"A{visit[-3:]}"), "category": category, "occurred_at": iso(t)}
        if event_type == "issued":
            e.update(priority="normal", channel="kiosk")
        if event_type in ("called", "recalled", "started"):
            e["counter_id"] = extra.pop("counter_id", "C01")
        if event_type in ("called", "started"):
            e["staff_id"] = extra.pop("staff_id", "S01")
        e.update(extra)
        return "tickets", json.dumps(e).encode()

    def tx(self, visit: str, start: datetime, end: datetime, category: str = "consult", fcr: bool = True, **extra) -> tuple[str, bytes]:
        e = {"event_id": self._id("tx"), "hall_id": self.hall_id, "visit_id": visit, "ticket_no": f"A{visit[-3:]}",
             "counter_id": extra.pop("counter_id", "C01"), "staff_id": extra.pop("staff_id", "S01"), "category": category,
             "business_code": "CONSULT_GENERAL", "started_at": iso(start), "completed_at": iso(end),
             "outcome": "success", "resolved_first_contact": fcr}
        e.update(extra)
        return "transactions", json.dumps(e).encode()

    def survey(self, t: datetime, score: int, kind: str = "customer", complaint: dict | None = None, **extra) -> tuple[str, bytes]:
        e = {"event_id": self._id("sv"), "hall_id": self.hall_id, "kind": kind, "channel": "sms",
             "answered_at": iso(t), "score": score}
        if complaint:
            e["complaint"] = complaint
        e.update(extra)
        return "surveys", json.dumps(e).encode()
