"""The assessment scheme (考核方案, domain.md §5): indicators, bounds, grades, rules.

It lives in ``config/assessment.toml`` so a quality office can re-weigh without a
release; validation here refuses a scheme that would score nonsense (weights not
summing to 100, bounds the wrong way round for their direction, grades out of order).
A published version stores the scheme it was computed with (``Scheme.model_dump``), so
recomputing it after an appeal uses the same rules even if the file changed since.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The indicator keys the SQL computes values for (sinks/assessment/indicators.py).
INDICATOR_KEYS = ("within_target", "mean_wait", "satisfaction", "complaints", "handle", "abandonment", "audit")

Direction = Literal["higher", "lower"]
SampleBasis = Literal["visits", "csat", "audit"]


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    name_zh: str
    name_en: str
    unit: str = ""
    weight: float = Field(gt=0)
    direction: Direction
    full_at: float
    zero_at: float
    sample: SampleBasis
    min_sample: int = Field(ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> "Indicator":
        if self.direction == "higher" and not self.full_at > self.zero_at:
            raise ValueError(f"{self.key}: higher is better, so full_at ({self.full_at}) must exceed zero_at ({self.zero_at})")
        if self.direction == "lower" and not self.full_at < self.zero_at:
            raise ValueError(f"{self.key}: lower is better, so full_at ({self.full_at}) must be below zero_at ({self.zero_at})")
        return self

    def name(self, lang: str) -> str:
        return self.name_en if lang == "en" else self.name_zh


class Grade(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name_zh: str
    name_en: str
    min_score: float = Field(ge=0, le=100)
    failing: bool = False


class FailureRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rectification_after: int = Field(default=2, ge=1)
    escalation_after: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _order(self) -> "FailureRules":
        if self.escalation_after <= self.rectification_after:
            raise ValueError("failures.escalation_after must exceed rectification_after")
        return self


class AppealRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(default=10, ge=0)
    # Who may decide appeals (appeal decide --by). Empty: anyone but the appeal's filer.
    reviewers: list[str] = Field(default_factory=list)


class Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    indicators: list[Indicator]
    grades: list[Grade]
    # A hall is graded only when its indicators with enough sample carry at least this share
    # of the scheme's weight; otherwise it is listed as not assessed (不参评, domain.md §5).
    min_graded_weight_share: float = Field(default=0.5, gt=0, le=1)
    # A graded hall whose indicators with enough sample carry less than this share of the
    # weight is flagged 指标不足 in every report: graded, but on few indicators.
    few_indicators_below: float = Field(default=0.8, gt=0, le=1)
    failures: FailureRules = FailureRules()
    appeals: AppealRules = AppealRules()

    @model_validator(mode="after")
    def _consistent(self) -> "Scheme":
        keys = [i.key for i in self.indicators]
        if len(set(keys)) != len(keys):
            raise ValueError(f"indicator keys repeat: {keys}")
        unknown = set(keys) - set(INDICATOR_KEYS)
        if unknown:
            raise ValueError(f"unknown indicators {sorted(unknown)}; known: {', '.join(INDICATOR_KEYS)}")
        total = sum(i.weight for i in self.indicators)
        if abs(total - 100) > 1e-9:
            raise ValueError(f"indicator weights sum to {total:g}, not 100")
        if not self.grades:
            raise ValueError("at least one grade is needed")
        mins = [g.min_score for g in self.grades]
        if any(a <= b for a, b in zip(mins, mins[1:])):
            raise ValueError("grades must be listed from the highest min_score down, without repeats")
        if mins[-1] != 0:
            raise ValueError("the last grade must have min_score = 0 so every total gets a grade")
        if sum(g.failing for g in self.grades) != 1:
            raise ValueError("exactly one grade must be marked failing = true")
        return self

    @property
    def by_key(self) -> dict[str, Indicator]:
        return {i.key: i for i in self.indicators}

    def grade_for(self, total: float) -> Grade:
        for g in self.grades:
            if total >= g.min_score:
                return g
        return self.grades[-1]

    @property
    def failing_grade(self) -> Grade:
        return next(g for g in self.grades if g.failing)


def load_scheme(path: Path) -> Scheme:
    with open(path, "rb") as f:
        return Scheme.model_validate(tomllib.load(f))
