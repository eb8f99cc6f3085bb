"""Published versions (结果公示): frozen, numbered, insert-only.

A version row holds the scheme and the full results as JSON, so reading it never
depends on today's data, catalogue or scheme file. Nothing here updates or deletes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sinks.assessment.indicators import sql
from sinks.assessment.times import now_shanghai, shanghai
from sinks.store import Store
from sinks.tables import AssessmentVersionRow


class PublicationError(RuntimeError):
    """A publication or appeal request that the rules refuse."""


@dataclass
class VersionInfo:
    period: str
    version: int
    version_id: str
    published_at: datetime
    published_by: str
    reason: str
    appeal_ids: list[str]
    appeals: list[dict]
    scheme: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    forced: bool = False   # published before the period ended (publish --force)


def _info(period: str, r: dict) -> VersionInfo:
    return VersionInfo(period, int(r["version"]), r["version_id"], shanghai(r["published_at"]), r["published_by"],
                       r["reason"], list(r["appeal_ids"]), json.loads(r["appeals"] or "[]"),
                       json.loads(r["scheme"]) if r.get("scheme") else {},
                       json.loads(r["results"]) if r.get("results") else {}, bool(r.get("forced")))


def list_versions(store: Store, period: str) -> list[VersionInfo]:
    """Every version of the period, oldest first, without scheme and results."""
    seen, out = set(), []
    for r in store.query(sql("versions_list"), {"period": period}, readonly=True).dicts():
        if r["version"] in seen:
            continue  # a raced duplicate: the first row is the version
        seen.add(r["version"])
        out.append(_info(period, r))
    return out


def get_version(store: Store, period: str, version: int) -> VersionInfo | None:
    rows = store.query(sql("version_get"), {"period": period, "version": int(version)}, readonly=True).dicts()
    return _info(period, rows[0]) if rows else None


def latest_version(store: Store, period: str) -> VersionInfo | None:
    versions = list_versions(store, period)
    return get_version(store, period, versions[-1].version) if versions else None


def insert_version(store: Store, period: str, version: int, by: str, reason: str, appeals: list[dict],
                   scheme: dict, results: dict, now: datetime | None = None, forced: bool = False) -> VersionInfo:
    """Write a new version row; refuse if that number exists already (checked before and
    after the insert, since an insert-only table cannot enforce uniqueness itself)."""
    if any(v.version == version for v in list_versions(store, period)):
        raise PublicationError(f"{period} version {version} is already published")
    info = VersionInfo(period, version, uuid.uuid4().hex, shanghai(now or now_shanghai()), by, reason,
                       [a["appeal_id"] for a in appeals], appeals, scheme, results, forced)
    store.record(AssessmentVersionRow(
        info.period, info.version, info.version_id, info.published_at, info.published_by, info.reason,
        info.appeal_ids, json.dumps(appeals, ensure_ascii=False), json.dumps(scheme, ensure_ascii=False),
        json.dumps(results, ensure_ascii=False), int(forced)))
    winner = next(v for v in list_versions(store, period) if v.version == version)
    if winner.version_id != info.version_id:
        raise PublicationError(f"{period} version {version} was published concurrently by {winner.published_by}; "
                               "this attempt is void")
    return info
