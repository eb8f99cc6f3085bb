"""Publication and appeals (公示与申诉): the workflow over the insert-only tables.

* ``publish`` freezes version 1 of a period, once the period has ended in Asia/Shanghai
  (earlier only with ``force``, recorded in the version row).
* ``file_appeal`` records a hall's request to exclude an interval or a survey.
* ``decide_appeal`` accepts or rejects it, by someone other than its filer (and one of the
  configured reviewers, if any). Accepting recomputes the period without the data of
  *all* accepted appeals of that period and writes the next version; rejecting only logs
  the decision. ``preview_appeal`` computes what accepting would publish, writing nothing.

A recomputation uses the scheme frozen in the period's latest version, so a change to
config/assessment.toml never re-scores a published period behind the analysts' back.
Every time kept on an ``Appeal`` or a version is in Asia/Shanghai (``times.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Literal

from sinks.assessment.engine import compute_report
from sinks.assessment.indicators import Exclusions, Interval, sql
from sinks.assessment.periods import Period
from sinks.assessment.scheme import Scheme
from sinks.assessment.times import local_iso, now_shanghai, shanghai
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
        iso = lambda d: local_iso(d, "milliseconds") if d else None  # noqa: E731
        return {"appeal_id": self.appeal_id, "period": self.period, "hall_id": self.hall_id, "kind": self.kind,
                "exclude_from": iso(self.exclude_from), "exclude_to": iso(self.exclude_to),
                "survey_id": self.survey_id, "reason": self.reason, "filed_by": self.filed_by,
                "filed_at": iso(self.filed_at), "against_version": self.against_version, "status": self.status,
                "decided_by": self.decided_by, "decided_at": iso(self.decided_at),
                "decision_reason": self.decision_reason, "decided_version": self.decided_version}


def _now() -> datetime:
    return now_shanghai()


def _require_by(by: str) -> str:
    if not by or not by.strip():
        raise PublicationError("who does it (--by) is required")
    return by.strip()


def publish(store: Store, scheme: Scheme, period: Period, by: str, reason: str = "", *, force: bool = False,
            now: datetime | None = None) -> VersionInfo:
    """Freeze version 1. Later versions come only from accepted appeals.

    A period that has not ended yet (Asia/Shanghai) is refused: its results would be
    frozen on part of its data. ``force`` publishes it anyway and the version row records
    it (``forced = 1``, and the reason says so); after the end, ``force`` changes nothing."""
    by = _require_by(by)
    now = shanghai(now or _now())
    existing = list_versions(store, str(period))
    if existing:
        raise PublicationError(f"{period} is already published (latest version {existing[-1].version}); "
                               "new versions come from accepted appeals")
    early = now < period.ends_at
    if early and not force:
        raise PublicationError(f"{period} has not ended: it ends at {local_iso(period.ends_at)} and it is "
                               f"{local_iso(now)}; publishing it now would freeze part of its data "
                               "(--force publishes it anyway, and the version records that it was forced)")
    report = compute_report(store, scheme, period)
    if not report["halls"]:
        raise PublicationError(f"no data for {period}: nothing to publish")
    reason = reason or "initial publication"
    if early:
        reason += f" [forced before the period ended at {local_iso(period.ends_at)}]"
    return insert_version(store, str(period), 1, by, reason, [], scheme.model_dump(), report, now=now,
                          forced=early)


def list_appeals(store: Store, period: str) -> list[Appeal]:
    out = []
    for r in store.query(sql("appeals_list"), {"period": period}, readonly=True).dicts():
        decided = int(r["decisions"] or 0) > 0
        interval = r["kind"] == "interval"
        out.append(Appeal(
            r["appeal_id"], r["period"], r["hall_id"], r["kind"],
            shanghai(r["exclude_from"]) if interval else None, shanghai(r["exclude_to"]) if interval else None,
            r["survey_id"], r["reason"], r["filed_by"], shanghai(r["filed_at"]), int(r["against_version"]),
            r["decision"] if decided else "pending",
            r["decided_by"] if decided else "", shanghai(r["decided_at"]) if decided else None,
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
        if not period.starts_at <= shanghai(s["answered_at"]) < period.ends_at:
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


def _check_decider(appeal: Appeal, by: str, reviewers: Iterable[str] = ()) -> str:
    """Who decides: not the filer (domain.md §5), and one of ``reviewers`` when the scheme
    names any."""
    by = _require_by(by)
    if by.casefold() == appeal.filed_by.strip().casefold():
        raise PublicationError(f"{by} filed appeal {appeal.appeal_id}: it must be decided by someone else")
    reviewers = [r.strip() for r in reviewers if r.strip()]
    if reviewers and by not in reviewers:
        raise PublicationError(f"{by} is not a reviewer of appeals (reviewers: {', '.join(reviewers)}; "
                               "config/assessment.toml [appeals] reviewers)")
    return by


@dataclass
class NextVersion:
    """What accepting an appeal would publish: the version it follows, the appeals the new
    one applies (this one last) and its results."""

    latest: VersionInfo
    accepted: list[Appeal]
    report: dict


def _next_version(store: Store, appeal: Appeal, by: str, reason: str, now: datetime) -> NextVersion:
    period = Period.parse(appeal.period)
    latest = latest_version(store, appeal.period)
    scheme = Scheme.model_validate(latest.scheme)
    appeal.status, appeal.decided_by, appeal.decided_at, appeal.decision_reason = "accepted", by, now, reason
    appeal.decided_version = latest.version + 1
    accepted = [a for a in list_appeals(store, appeal.period) if a.status == "accepted"] + [appeal]
    return NextVersion(latest, accepted, compute_report(store, scheme, period, _exclusions(accepted)))


def preview_appeal(store: Store, appeal_id: str, by: str, reviewers: Iterable[str] = (),
                   now: datetime | None = None) -> NextVersion:
    """What ``decide_appeal(..., "accepted")`` would publish now, writing nothing. The same
    checks apply (pending, not the filer, a reviewer), so a dry run refuses what the real
    decision would."""
    appeal = _pending(store, appeal_id)
    by = _check_decider(appeal, by, reviewers)
    return _next_version(store, appeal, by, "", shanghai(now or _now()))


def decide_appeal(store: Store, appeal_id: str, decision: Literal["accepted", "rejected"], by: str,
                  reason: str = "", reviewers: Iterable[str] = (), now: datetime | None = None
                  ) -> VersionInfo | Appeal:
    """Accept (publish the next version; returns it) or reject (log it; returns the
    appeal). Refused when the decider filed the appeal or is not a configured reviewer."""
    if decision not in ("accepted", "rejected"):
        raise PublicationError(f"a decision is accepted or rejected, not {decision!r}")
    appeal = _pending(store, appeal_id)
    by = _check_decider(appeal, by, reviewers)
    now = shanghai(now or _now())
    reason = (reason or "").strip()
    if decision == "rejected":
        if not reason:
            raise PublicationError("a rejection needs a reason")
        store.record(AppealDecisionRow(appeal_id, "rejected", by, now, reason, 0))
        return get_appeal(store, appeal_id)
    nxt = _next_version(store, appeal, by, reason, now)
    info = insert_version(store, appeal.period, nxt.latest.version + 1, by,
                          f"appeal {appeal_id} accepted" + (f": {reason}" if reason else ""),
                          [a.as_dict() for a in nxt.accepted], nxt.latest.scheme, nxt.report, now=now)
    store.record(AppealDecisionRow(appeal_id, "accepted", by, now, reason, info.version))
    return info


def accept_appeal(store: Store, appeal_id: str, by: str, reason: str = "", reviewers: Iterable[str] = (),
                  now: datetime | None = None) -> VersionInfo:
    """Accept, and publish the next version without the data of every accepted appeal of
    the period (this one included). The version row lists those appeals with who filed
    and accepted them, when, and why."""
    return decide_appeal(store, appeal_id, "accepted", by, reason, reviewers, now)


def reject_appeal(store: Store, appeal_id: str, by: str, reason: str, reviewers: Iterable[str] = (),
                  now: datetime | None = None) -> Appeal:
    return decide_appeal(store, appeal_id, "rejected", by, reason, reviewers, now)
