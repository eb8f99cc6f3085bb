"""Times that a person reads: in Asia/Shanghai, with the offset (+08:00).

The store keeps UTC; everything the assessment shows or writes for people (publication
and appeal times, the report's "generated" line, the JSON of a version) is turned into
Shanghai time here. An appeal filed at 10:00+08:00 reads 10:00+08:00, not 02:00+00:00.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sinks.assessment.periods import SHANGHAI


def shanghai(dt: datetime) -> datetime:
    """``dt`` in Asia/Shanghai; a naive datetime is taken as UTC (as the store returns it)."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(SHANGHAI)


def now_shanghai() -> datetime:
    return datetime.now(SHANGHAI)


def local_iso(value: datetime | str | None, timespec: str = "seconds") -> str:
    """ISO 8601 in Asia/Shanghai with its offset, e.g. ``2026-10-08T10:00:00+08:00``.
    Takes a datetime or an ISO string (versions published before this stored UTC
    strings); '' for None or ''."""
    if value is None or value == "":
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return shanghai(dt).isoformat(timespec=timespec)


def local_text(value: datetime | str | None) -> str:
    """The same for a page or a sheet: ``2026-10-08 10:00:00 +08:00``."""
    if value is None or value == "":
        return ""
    dt = shanghai(datetime.fromisoformat(value) if isinstance(value, str) else value)
    return dt.strftime("%Y-%m-%d %H:%M:%S ") + dt.strftime("%z")[:3] + ":" + dt.strftime("%z")[3:]
