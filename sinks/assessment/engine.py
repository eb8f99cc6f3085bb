"""One period's assessment, end to end: SQL figures → scoring → a report dict.

The report dict is what every output format renders and what a published version
freezes (as JSON), so a live assessment and a published one look the same.
"""

from __future__ import annotations

from sinks.assessment.indicators import Exclusions, hall_figures
from sinks.assessment.periods import Period
from sinks.assessment.scheme import Scheme
from sinks.assessment.scoring import assess, score_hall
from sinks.assessment.times import local_iso, now_shanghai

APPEAL_TIMES = ("exclude_from", "exclude_to", "filed_at", "decided_at")
from sinks.assessment.versions import VersionInfo, latest_version
from sinks.store import Store


def previous_grades(store: Store, scheme: Scheme, period: Period) -> dict[str, list[str | None]]:
    """Grades of the preceding periods of the same kind, most recent first, as many as the
    escalation rule needs. A published period counts with its latest version (the official
    record, appeals included); an unpublished one is computed live from its data."""
    n = scheme.failures.escalation_after - 1
    per_period: list[dict[str, str | None]] = []
    for i in range(1, n + 1):
        p = period.previous(i)
        v = latest_version(store, str(p))
        if v is not None:
            per_period.append({h["hall_id"]: h["grade"] for h in v.results.get("halls", [])})
        else:
            per_period.append({f.hall_id: score_hall(scheme, f).grade for f in hall_figures(store, p)})
    hall_ids = set().union(*per_period) if per_period else set()
    return {h: [grades.get(h) for grades in per_period] for h in hall_ids}


def compute_report(store: Store, scheme: Scheme, period: Period, exclusions: Exclusions | None = None) -> dict:
    exclusions = exclusions or Exclusions()
    figures = hall_figures(store, period, exclusions)
    result = assess(scheme, figures, previous_grades(store, scheme, period))
    return {
        "period": str(period),
        "kind": period.kind,
        "from_day": period.from_day.isoformat(),
        "to_day": period.to_day.isoformat(),
        "computed_at": now_shanghai().isoformat(timespec="seconds"),
        "exclusions": exclusions.as_dict(),
        "sums": {f.hall_id: f.sums for f in figures},
        **result.as_dict(),
    }


def live_report(store: Store, scheme: Scheme, period: Period) -> dict:
    """The unpublished assessment, as it would be published now (no appeal applied)."""
    report = compute_report(store, scheme, period)
    report.update(version=None, published_at=None, published_by=None, reason="", appeals=[], forced=False,
                  scheme=scheme.model_dump())
    return report


def published_report(info: VersionInfo) -> dict:
    """A published version as a report dict (the frozen results plus who/when/why)."""
    report = dict(info.results)
    # versions published before times were kept in Asia/Shanghai hold UTC strings
    appeals = [{**a, **{k: local_iso(a[k], "milliseconds") or None for k in APPEAL_TIMES if k in a}}
               for a in info.appeals]
    if report.get("computed_at"):
        report["computed_at"] = local_iso(report["computed_at"])
    report.update(version=info.version, published_at=info.published_at.isoformat(),
                  published_by=info.published_by, reason=info.reason, forced=info.forced, appeals=appeals,
                  scheme=info.scheme)
    return report

