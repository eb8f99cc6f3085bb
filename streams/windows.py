"""Window arithmetic in event time: minute buckets, rolling windows, percentiles.

Percentiles use linear interpolation between closest ranks (the "inclusive" method,
numpy's default, ClickHouse's ``quantileExactInclusive``), so live figures and SQL over
the stored facts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE_MS = 60_000


def minute_of(ms: int) -> int:
    """Start of the minute holding ``ms`` (epoch milliseconds)."""
    return ms - ms % MINUTE_MS


# The business day looked up last, as (start ms, next day's start ms, date): the engine asks
# for the day of nearly every event, and consecutive events are nearly always on one day.
_last_day: tuple[int, int, date | None] = (0, 0, None)
DAY_MS = 24 * 60 * MINUTE_MS


def business_day(ms: int) -> date:
    """The Asia/Shanghai calendar day of an instant: days and periods are counted there."""
    start, end, day = _last_day
    if start <= ms < end:
        return day
    return _look_up_day(ms)[2]


def day_start_ms(ms: int) -> int:
    start, end, _ = _last_day
    if start <= ms < end:
        return start
    return _look_up_day(ms)[0]


def _midnight_ms(d: date) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=SHANGHAI).timestamp() * 1000)


def _offset(ms: int) -> timedelta | None:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).utcoffset()


def _look_up_day(ms: int) -> tuple[int, int, date]:
    """``ms``'s business day and its bounds; remembered when the day is a plain 24 hours
    at one UTC offset (every day since 1992), where every instant between the bounds is
    on that day."""
    global _last_day
    d = datetime.fromtimestamp(ms / 1000, SHANGHAI).date()
    found = (_midnight_ms(d), _midnight_ms(d + timedelta(days=1)), d)
    start, end, _ = found
    if end - start == DAY_MS and start <= ms < end and _offset(start) == _offset(end - 1):
        _last_day = found
    return found


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile of already sorted values; ``q`` in [0, 1]."""
    n = len(sorted_values)
    if n == 0:
        return None
    pos = (n - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class WaitStats:
    n: int
    mean_s: float | None
    p50_s: float | None
    p90_s: float | None
    max_s: float | None

    def as_dict(self) -> dict:
        return {"n": self.n, "mean_s": _r(self.mean_s), "p50_s": _r(self.p50_s),
                "p90_s": _r(self.p90_s), "max_s": _r(self.max_s)}


def wait_stats(values: Iterable[float]) -> WaitStats:
    vals = sorted(values)
    if not vals:
        return WaitStats(0, None, None, None, None)
    return WaitStats(len(vals), sum(vals) / len(vals), percentile(vals, 0.5), percentile(vals, 0.9), vals[-1])


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


@lru_cache(maxsize=4096)
def opening_interval_ms(day: date, opens: time, closes: time) -> tuple[int, int]:
    """A hall's opening hours on one business day, as epoch milliseconds [opens, closes)."""
    def at(t: time) -> int:
        return int(datetime.combine(day, t, SHANGHAI).timestamp() * 1000)
    return at(opens), at(closes)


def visit_expiry_ms(hall, issued_ms: int, after_ms: int) -> int:
    """A visit still open ``after_ms`` after its hall's closing time on its issue day is
    expired (domain.md §3). ``hall`` is anything with ``opens`` and ``closes`` times."""
    return opening_interval_ms(business_day(issued_ms), hall.opens, hall.closes)[1] + after_ms


def silent_ms(event_ms: Iterable[int], open_ms: int, close_ms: int, silent_after_ms: int) -> int:
    """How long, within [open, close), the hall had gone ``silent_after_ms`` without an event
    (domain.md §3, 数据中断): each gap between consecutive events (the opening and the
    closing count as bounds) beyond the threshold. Events outside the interval are ignored."""
    points = sorted(t for t in event_ms if open_ms <= t <= close_ms)
    total, last = 0, open_ms
    for t in [*points, close_ms]:
        total += max(0, t - last - silent_after_ms)
        last = t
    return total
