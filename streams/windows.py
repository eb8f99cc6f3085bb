"""Window arithmetic in event time: minute buckets, rolling windows, percentiles.

Percentiles use linear interpolation between closest ranks (the "inclusive" method,
numpy's default, ClickHouse's ``quantileExactInclusive``), so live figures and SQL over
the stored facts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE_MS = 60_000


def minute_of(ms: int) -> int:
    """Start of the minute holding ``ms`` (epoch milliseconds)."""
    return ms - ms % MINUTE_MS


def business_day(ms: int) -> date:
    """The Asia/Shanghai calendar day of an instant: days and periods are counted there."""
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).date()


def day_start_ms(ms: int) -> int:
    d = business_day(ms)
    return int(datetime(d.year, d.month, d.day, tzinfo=SHANGHAI).timestamp() * 1000)


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
