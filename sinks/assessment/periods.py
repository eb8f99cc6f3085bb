"""Assessment periods: calendar month, quarter or year in Asia/Shanghai.

A period is a half-open range of business days [from_day, to_day); everything is
computed from that range's own data, never from the sub-periods' scores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
Kind = Literal["month", "quarter", "year"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, order=True)
class Period:
    kind: Kind
    year: int
    index: int  # month 1-12, quarter 1-4, 1 for a year

    @classmethod
    def parse(cls, text: str) -> "Period":
        text = text.strip()
        if m := _MONTH.match(text):
            month = int(m.group(2))
            if not 1 <= month <= 12:
                raise ValueError(f"no month {month} in {text!r}")
            return cls("month", int(m.group(1)), month)
        if m := _QUARTER.match(text):
            return cls("quarter", int(m.group(1)), int(m.group(2)))
        if m := _YEAR.match(text):
            return cls("year", int(m.group(1)), 1)
        raise ValueError(f"period {text!r} is not YYYY-MM, YYYY-Qn or YYYY")

    def __str__(self) -> str:
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        if self.kind == "quarter":
            return f"{self.year:04d}-Q{self.index}"
        return f"{self.year:04d}"

    @property
    def from_day(self) -> date:
        if self.kind == "month":
            return date(self.year, self.index, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * self.index - 2, 1)
        return date(self.year, 1, 1)

    @property
    def to_day(self) -> date:
        """The first day after the period (exclusive bound)."""
        return self.next().from_day

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.from_day, time(0), SHANGHAI)

    @property
    def ends_at(self) -> datetime:
        return datetime.combine(self.to_day, time(0), SHANGHAI)

    def _step(self, delta: int) -> "Period":
        per_year = {"month": 12, "quarter": 4, "year": 1}[self.kind]
        n = self.year * per_year + (self.index - 1) + delta
        return Period(self.kind, n // per_year, n % per_year + 1)

    def next(self) -> "Period":
        return self._step(1)

    def previous(self, n: int = 1) -> "Period":
        return self._step(-n)

    def label(self, lang: str = "zh") -> str:
        if lang == "en":
            return {"month": f"{self.year} month {self.index:02d}", "quarter": f"{self.year} Q{self.index}",
                    "year": f"year {self.year}"}[self.kind]
        return {"month": f"{self.year}年{self.index}月", "quarter": f"{self.year}年第{self.index}季度",
                "year": f"{self.year}年度"}[self.kind]
