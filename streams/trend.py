"""The last two hours of a hall's queue, minute by minute, for the lobby page's sparklines.

A :class:`MinuteRing` keeps, for at most ``capacity`` minutes (120 by default), the hall's
queue length and longest current wait at the end of each minute: the same figures as the
``gauges`` facts of category ``all`` (``HallBook.gauge_rows``), which fill it as the
minutes complete. It is bounded (older minutes fall out as newer ones arrive) and holds
only memory: after a restart the book refills the missing minutes from its indices on the
first request (``HallBook.trend``). Plain Python, unit-tested in tests/test_trend.py.
"""

from __future__ import annotations

MINUTE_MS = 60_000
TREND_MINUTES = 120


class MinuteRing:
    """Per-minute ``(queue, longest_wait_s)``, keyed by the minute's start (epoch ms)."""

    __slots__ = ("capacity", "_points", "_newest")

    def __init__(self, capacity: int = TREND_MINUTES):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._points: dict[int, tuple[int, float]] = {}
        self._newest: int | None = None  # every minute held is within capacity of this one

    def __len__(self) -> int:
        return len(self._points)

    def __contains__(self, minute_ms: int) -> bool:
        return minute_ms in self._points

    def put(self, minute_ms: int, queue: int, longest_wait_s: float) -> None:
        """Set one minute (again, when a late event changed it); drop the oldest minutes
        beyond the capacity, counted back from the newest minute held. (It runs for every
        minute of every hall: the minutes that fall out are found by their keys, not by
        looking at all that are held.)"""
        if minute_ms % MINUTE_MS:
            raise ValueError(f"not a minute's start: {minute_ms}")
        point = (int(queue), round(float(longest_wait_s), 1))
        span = (self.capacity - 1) * MINUTE_MS
        newest = self._newest
        if newest is None or minute_ms > newest:
            if newest is not None:
                floor, points = minute_ms - span, self._points
                if floor > newest:  # a jump past everything held
                    points.clear()
                else:  # at most the capacity's minutes, usually one
                    for m in range(newest - span, floor, MINUTE_MS):
                        points.pop(m, None)
            self._newest = minute_ms
        elif minute_ms < newest - span:
            return  # older than the window: not kept
        self._points[minute_ms] = point

    def minutes(self, upto_ms: int) -> list[int]:
        """The ``capacity`` minutes ending with the minute ``upto_ms`` (a minute's start)."""
        return [upto_ms - i * MINUTE_MS for i in range(self.capacity - 1, -1, -1)]

    def missing(self, upto_ms: int, since_ms: int = 0) -> list[int]:
        """Minutes of the window ending at ``upto_ms`` (not before ``since_ms``) not held."""
        return [m for m in self.minutes(upto_ms) if m >= since_ms and m not in self._points]

    def window(self, upto_ms: int) -> dict:
        """The window ending at minute ``upto_ms``, oldest first; ``None`` where a minute is
        not known (before the hall's first event, or not yet refilled)."""
        minutes = self.minutes(upto_ms)
        points = [self._points.get(m) for m in minutes]
        return {"minutes": minutes,
                "queue": [p[0] if p else None for p in points],
                "longest_wait_s": [p[1] if p else None for p in points]}
