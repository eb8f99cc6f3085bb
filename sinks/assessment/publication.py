"""Publication and appeals (公示与申诉): the workflow over the insert-only tables.

* ``publish`` freezes version 1 of a period.
* ``file_appeal`` records a hall's request to exclude an interval or a survey.
* ``accept_appeal`` recomputes the period without the data of *all* accepted appeals of
  that period and writes the next version; ``reject_appeal`` only logs the decision.

A recomputation uses the scheme frozen in the period's latest version, so a change to
config/assessment.toml never re-scores a published period behind the analysts' back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sinks.assessment.engine import compute_report
from sinks.assessment.indicators import Exclusions, Interval, sql
from sinks.assessment.periods import Period
from sinks.assessment.scheme import Scheme
from sinks.assessment.versions import PublicationError, VersionInfo, insert_version, latest_version, list_versions
from sinks.store import Store
from sinks.tables import AppealDecisionRow, AppealRow

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Appeal:
    appeal_id: str
    period: str
    hall_id: str
    kind: str                 # interval | survey
    exclude_from: datetime | None
    exclude_to: datetime | None
    survey_id: str
    reason: str
    filed_by: str
    filed_at: datetime
    against_version: int
    status: str               # pending | accepted | rejected
    decided_by: str = ""
    decided_at: datetime | None = None
    decision_reason: str = ""
    decided_version: int = 0

    def as_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {"appeal_id": self.appeal_id, "period": self.period, "hall_id": self.hall_id, "kind": self.kind,
                "exclude_from": iso(self.exclude_from), "exclude_to": iso(self.exclude_to),
                "survey_id": self.survey_id, "reason": self.reason, "filed_by": self.filed_by,
                "filed_at": iso(self.filed_at), "against_version": self.against_version, "status": self.status,
                "decided_by": self.decided_by, "decided_at": iso(self.decided_at),
                "decision_reason": self.decision_reason, "decided_version": self.decided_version}


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _require_by(by: str) -> str:
    if not by or not by.strip():
        raise PublicationError("who does it (--by) is required")
    return by.strip()


def publish(store: Store, scheme: Scheme, period: Period, by: str, reason: str = "") -> VersionInfo:
    """Freeze version 1. Later versions come only from accepted appeals."""
    by = _require_by(by)
    existing = list_versions(store, str(period))
    if existing:
        raise PublicationError(f"{period} is already published (latest version {existing[-1].version}); "
                               "new versions come from accepted appeals")
    report = compute_report(store, scheme, period)
    if not report["halls"]:
        raise PublicationError(f"no data for {period}: nothing to publish")
    return insert_version(store, str(period), 1, by, reason or "initial publication", [],
                          scheme.model_dump(), report)


def list_appeals(store: Store, period: str) -> list[Appeal]:
    out = []
    for r in store.query(sql("appeals_list"), {"period": period}, readonly=True).dicts():
        decided = int(r["decisions"] or 0) > 0
        interval = r["kind"] == "interval"
        out.append(Appeal(
            r["appeal_id"], r["period"], r["hall_id"], r["kind"],
            _utc(r["exclude_from"]) if interval else None, _utc(r["exclude_to"]) if interval else None,
            r["survey_id"], r["reason"], r["filed_by"], _utc(r["filed_at"]), int(r["against_version"]),
            r["decision"] if decided else "pending",
            r["decided_by"] if decided else "", _utc(r["decided_at"]) if decided else None,
            r["decision_reason"] if decided else "", int(r["decided_version"] or 0) if decided else 0))
    return out


def get_appeal(store: Store, appeal_id: str) -> Appeal:
    rows = store.query(sql("appeal_period"), {"appeal_id": appeal_id}, readonly=True).rows
    if not rows:
        raise PublicationError(f"no appeal {appeal_id}")
    return next(a for a in list_appeals(store, rows[0][0]) if a.appeal_id == appeal_id)


def file_appeal(store: Store, period: Period, hall_id: str, by: str, reason: str, *,
                interval: tuple[datetime, datetime] | None = None, survey_id: str | None = None,
                now: datetime | None = None) -> Appeal:
    """Record an appeal against the published results of ``period`` for one hall."""
    by = _require_by(by)
    if not reason or not reason.strip():
        raise PublicationError("an appeal needs a reason")
    if (interval is None) == (survey_id is None):
        raise PublicationError("an appeal excludes either an interval or a survey")
    now = now or _now()
    versions = list_versions(store, str(period))
    if not versions:
        raise PublicationError(f"{period} is not published: there is nothing to appeal against")
    latest = latest_version(store, str(period))
    window = timedelta(days=Scheme.model_validate(latest.scheme).appeals.window_days)
    closes = versions[0].published_at + window
    if now > closes:
        raise PublicationError(f"the appeal window of {period} closed at {closes.isoformat()}")
    if hall_id not in {h["hall_id"] for h in latest.results.get("halls", [])}:
        raise PublicationError(f"hall {hall_id} is not in the published results of {period}")
    start = end = EPOCH
    if interval is not None:
        start, end = interval
        if start.tzinfo is None or end.tzinfo is None:
            raise PublicationError("interval bounds need an explicit UTC offset")
        if not start < end:
            raise PublicationError("the interval must end after it starts")
        if start < period.starts_at or end > period.ends_at:
            raise PublicationError(f"the interval must lie within {period} "
                                   f"({period.starts_at.isoformat()} .. {period.ends_at.isoformat()})")
    else:
        rows = store.query(sql("survey_get"), {"event_id": survey_id}, readonly=True).dicts()
        if not rows:
            raise PublicationError(f"no survey {survey_id}")
        s = rows[0]
        if s["hall_id"] != hall_id:
            raise PublicationError(f"survey {survey_id} belongs to hall {s['hall_id']}, not {hall_id}")
        if not period.starts_at <= _utc(s["answered_at"]) < period.ends_at:
            raise PublicationError(f"survey {survey_id} was answered outside {period}")
    appeal_id = "AP-" + uuid.uuid4().hex[:12]
    kind = "interval" if interval is not None else "survey"
    store.record(AppealRow(appeal_id, str(period), hall_id, kind, start, end, survey_id or "", reason.strip(),
                           by, now, latest.version))
    return get_appeal(store, appeal_id)


def _exclusions(appeals: list[Appeal]) -> Exclusions:
    ex = Exclusions()
    for a in appeals:
        if a.kind == "interval":
            ex.intervals.append(Interval(a.hall_id, a.exclude_from, a.exclude_to))
        else:
            ex.surveys.append((a.hall_id, a.survey_id))
    return ex


def _pending(store: Store, appeal_id: str) -> Appeal:
    a = get_appeal(store, appeal_id)
    if a.status != "pending":
        raise PublicationError(f"appeal {appeal_id} is already {a.status} (by {a.decided_by} at "
                               f"{a.decided_at.isoformat() if a.decided_at else '?'})")
    return a


def accept_appeal(store: Store, appeal_id: str, by: str, reason: str = "",
                  now: datetime | None = None) -> VersionInfo:
    """Accept, and publish the next version without the data of every accepted appeal of
    the period (this one included). The version row lists those appeals with who filed
    and accepted them, when, and why."""
    by = _require_by(by)
    appeal = _pending(store, appeal_id)
    now = now or _now()
    period = Period.parse(appeal.period)
    latest = latest_version(store, appeal.period)
    scheme = Scheme.model_validate(latest.scheme)
    appeal.status, appeal.decided_by, appeal.decided_at, appeal.decision_reason = "accepted", by, now, reason
    appeal.decided_version = latest.version + 1
    accepted = [a for a in list_appeals(store, appeal.period) if a.status == "accepted"] + [appeal]
    report = compute_report(store, scheme, period, _exclusions(accepted))
    info = insert_version(store, appeal.period, latest.version + 1, by,
                          f"appeal {appeal_id} accepted" + (f": {reason}" if reason else ""),
                          [a.as_dict() for a in accepted], latest.scheme, report, now=now)
    store.record(AppealDecisionRow(appeal_id, "accepted", by, now, reason, info.version))
    return info


def reject_appeal(store: Store, appeal_id: str, by: str, reason: str, now: datetime | None = None) -> Appeal:
    by = _require_by(by)
    if not reason or not reason.strip():
        raise PublicationError("a rejection needs a reason")
    _pending(store, appeal_id)
    store.record(AppealDecisionRow(appeal_id, "rejected", by, now or _now(), reason.strip(), 0))
    return get_appeal(store, appeal_id)
