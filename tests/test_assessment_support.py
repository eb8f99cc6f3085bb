"""Seeding helpers shared by the assessment tests (no tests here).

Rows go straight into the analytic tables of an embedded store under tmp_path, as the
worker would have written them.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

from schemas.catalogue import load_catalogue
from hallpulse.config import Settings
from sinks.catalogue_mirror import mirror_catalogue
from sinks.migrate import apply_migrations
from sinks.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SCHEME_FILE = ROOT / "config" / "assessment.toml"

SUMS = ["issued", "visits_served", "abandoned", "called", "within_target", "wait_sum_s", "transactions",
        "handle_ratio_sum", "csat_n", "csat_sum", "audit_n", "audit_sum", "complaints"]
SURVEY_COLS = ["event_id", "hall_id", "kind", "visit_id", "staff_id", "category", "channel", "answered_at",
               "score", "dimensions", "has_complaint", "complaint_category", "complaint_severity",
               "complaint_text", "comment"]

# A healthy day: 200 visits, 95 % called within target, 6 min mean wait, satisfaction 9.2,
# handle at 110 % of standard, 1.5 % abandoned, 2 audits at 90.
HEALTHY = dict(issued=200, visits_served=190, abandoned=3, called=200, within_target=190, wait_sum_s=200 * 360.0,
               transactions=190, handle_ratio_sum=190 * 1.1, csat_n=40, csat_sum=368, audit_n=2, audit_sum=180,
               complaints=0)


def open_seeded(tmp_path: Path):
    """An embedded store under tmp_path with the schema and the sample catalogue."""
    s = Settings(var_dir=tmp_path)
    st = open_store(s, hold=True)
    apply_migrations(st, 36)
    mirror_catalogue(st, load_catalogue(s.catalogue_file))
    return s, st


# Data-quality columns of day_metrics (domain.md §3); 0 unless a test names them.
QUALITY = ["inferred_calls", "expired_visits", "silent_minutes", "late_events"]


def add_days(store, hall_id: str, days: list[date], category: str = "all", **sums) -> None:
    """One day_metrics row (category 'all' unless given) per day with the given sums
    (HEALTHY by default) and data-quality figures (0 by default)."""
    vals = {**HEALTHY, **dict.fromkeys(QUALITY, 0), **sums}
    cols = SUMS + QUALITY
    store.insert("day_metrics", [[hall_id, category, d, *[vals[k] for k in cols], 1] for d in days],
                 ["hall_id", "category", "day", *cols, "version"])


def add_minute(store, hall_id: str, minute: datetime, **sums) -> None:
    vals = {k: 0 for k in SUMS} | sums
    store.insert("minute_metrics", [[hall_id, "all", minute, *[vals[k] for k in SUMS], 1]],
                 ["hall_id", "category", "minute", *SUMS, "version"])


def add_survey(store, event_id: str, hall_id: str, kind: str, answered_at: datetime, score: int,
               complaint: bool = False) -> None:
    store.insert("surveys", [[event_id, hall_id, kind, "", "", "", "sms", answered_at, score, {}, int(complaint),
                              "wait_time" if complaint else "", "normal" if complaint else "", "", ""]],
                 SURVEY_COLS)


def month_days(year: int, month: int) -> list[date]:
    d, out = date(year, month, 1), []
    while d.month == month:
        out.append(d)
        d = date.fromordinal(d.toordinal() + 1)
    return out


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
