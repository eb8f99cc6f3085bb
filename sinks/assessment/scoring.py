"""Scoring, pure Python (domain.md §5): no store, so every rule is unit-testable.

Indicator values → linear points between the scheme's bounds → weighted total (with
small-sample weights shared out) → grade → rank in city and province → city and
province scores weighted by visits issued → consecutive-failure flags.

Totals are rounded to 2 decimals before grading and ranking, so the figure a hall sees
is the one that decided its grade and rank (89.996 shows as 90.00 and is 优秀).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from sinks.assessment.scheme import Indicator, Scheme

FLAG_RECTIFICATION = "rectification"  # 整改
FLAG_ESCALATED = "escalated"          # 升级督办

# Data-quality figures of a hall over the period (domain.md §3), shown beside its results
# and never scored: calls inferred from a start or a transaction, visits expired after
# closing, minutes of opening hours the feed was silent, events later than the grace.
DATA_QUALITY_KEYS = ("inferred_calls", "expired_visits", "silent_minutes", "late_events")


@dataclass
class HallFigures:
    """What the SQL gives for one hall and period: indicator values in the scheme's units
    (None when the denominator is zero) and the sample counts that guard them."""

    hall_id: str
    name: str
    city: str
    province: str
    issued: int
    values: dict[str, float | None]
    samples: dict[str, int]  # "visits" (issued), "csat" (customer surveys), "audit"
    name_en: str = ""
    sums: dict[str, float] = field(default_factory=dict)  # raw sums, kept for the record
    quality: dict[str, float] | None = None  # DATA_QUALITY_KEYS; informational, not scored


@dataclass
class IndicatorScore:
    key: str
    value: float | None
    sample: int
    small_sample: bool
    weight: float   # effective weight after sharing out small-sample weights
    points: float   # 0..weight


@dataclass
class HallResult:
    hall_id: str
    name: str
    name_en: str
    city: str
    province: str
    issued: int
    indicators: list[IndicatorScore]
    total: float | None
    grade: str | None
    grade_en: str | None
    failing: bool = False
    rank_city: int | None = None
    rank_province: int | None = None
    failure_streak: int = 0
    flag: str = ""
    previous_grades: list[str | None] = field(default_factory=list)
    data_quality: dict[str, float] | None = None  # copied from HallFigures.quality, never scored
    # Share (0..1) of the scheme's weight carried by indicators with enough sample; the hall
    # is graded only at min_graded_weight_share or more, and flagged below few_indicators_below.
    covered_weight: float = 1.0
    few_indicators: bool = False

    def indicator(self, key: str) -> IndicatorScore | None:
        return next((i for i in self.indicators if i.key == key), None)


@dataclass
class AreaResult:
    """A city or the province: the volume-weighted total of its graded halls."""

    level: str          # "city" | "province"
    name: str
    province: str
    halls: int
    graded_halls: int
    issued: int
    total: float | None
    grade: str | None
    grade_en: str | None
    rank: int | None = None   # cities: in their province; provinces: among provinces
    grade_counts: dict[str, int] = field(default_factory=dict)
    rectification: int = 0
    escalated: int = 0


@dataclass
class Assessment:
    halls: list[HallResult]
    cities: list[AreaResult]
    provinces: list[AreaResult]

    def as_dict(self) -> dict:
        """Plain dicts for JSON. Hand-written: dataclasses.asdict deep-copies every value
        and was most of the time of a 3,000-hall assessment."""
        def hall(h: HallResult) -> dict:
            d = dict(h.__dict__)
            d["indicators"] = [dict(i.__dict__) for i in h.indicators]
            d["previous_grades"] = list(h.previous_grades)
            d["data_quality"] = dict(h.data_quality) if h.data_quality is not None else None
            return d

        def area(a: AreaResult) -> dict:
            d = dict(a.__dict__)
            d["grade_counts"] = dict(a.grade_counts)
            return d
        return {"halls": [hall(h) for h in self.halls], "cities": [area(c) for c in self.cities],
                "provinces": [area(p) for p in self.provinces]}


def linear_fraction(ind: Indicator, value: float) -> float:
    """Share of full marks, 0..1: linear from zero_at to full_at, clamped outside.
    The same formula serves both directions because the bounds are ordered by it."""
    frac = (value - ind.zero_at) / (ind.full_at - ind.zero_at)
    return 0.0 if frac < 0.0 else 1.0 if frac > 1.0 else frac


def effective_weights(scheme: Scheme, usable: Iterable[str]) -> dict[str, float]:
    """The usable indicators' weights scaled up so they sum to 100 again (each keeps its
    share of the others); unusable ones get 0."""
    usable = set(usable)
    base = sum(i.weight for i in scheme.indicators if i.key in usable)
    return {i.key: (i.weight * 100.0 / base if i.key in usable and base > 0 else 0.0) for i in scheme.indicators}


def score_hall(scheme: Scheme, fig: HallFigures) -> HallResult:
    inds = scheme.indicators
    values = [fig.values.get(ind.key) for ind in inds]
    samples = [int(fig.samples.get(ind.sample, 0)) for ind in inds]
    # A missing value (zero denominator) can never be scored, whatever the threshold.
    small = [v is None or n < max(ind.min_sample, 1) for ind, v, n in zip(inds, values, samples)]
    usable_weight = sum(ind.weight for ind, sm in zip(inds, small) if not sm)
    scores = []
    for ind, v, n, sm in zip(inds, values, samples, small):
        w = 0.0 if sm else ind.weight * 100.0 / usable_weight   # = effective_weights()
        pts = 0.0 if sm else w * linear_fraction(ind, v)
        scores.append(IndicatorScore(ind.key, v, n, sm, w, pts))
    total = grade = grade_en = None
    failing = False
    scheme_weight = sum(i.weight for i in inds)
    covered = round(usable_weight / scheme_weight, 4)
    # The coverage rule (domain.md §5): graded only when the indicators with enough sample
    # carry at least half the weight. A hall with its mystery-shopper score alone (10 %)
    # is listed as not assessed (不参评) and not ranked.
    graded = usable_weight > 0 and usable_weight >= scheme.min_graded_weight_share * scheme_weight
    if graded:
        total = round(sum(s.points for s in scores), 2)
        g = scheme.grade_for(total)
        grade, grade_en, failing = g.name_zh, g.name_en, g.failing
    return HallResult(fig.hall_id, fig.name, fig.name_en, fig.city, fig.province, int(fig.issued),
                      scores, total, grade, grade_en, failing,
                      data_quality=dict(fig.quality) if fig.quality is not None else None,
                      covered_weight=covered, few_indicators=graded and usable_weight < scheme.few_indicators_below * scheme_weight)


def competition_ranks(values: Sequence[float | None]) -> list[int | None]:
    """Rank from the highest; equal values share a rank and the next rank skips
    (1, 2, 2, 4). None is not ranked."""
    ordered = sorted((v for v in values if v is not None), reverse=True)
    first = {}
    for pos, v in enumerate(ordered, start=1):
        first.setdefault(v, pos)
    return [first[v] if v is not None else None for v in values]


def _rank_within(items: list, group_key, value_key, setter) -> None:
    groups: dict = {}
    for it in items:
        groups.setdefault(group_key(it), []).append(it)
    for members in groups.values():
        for it, r in zip(members, competition_ranks([value_key(m) for m in members])):
            setter(it, r)


def volume_weighted(pairs: Iterable[tuple[float | None, int]]) -> float | None:
    """Σ total × visits ÷ Σ visits over the graded members; None when none is graded
    or they have no visits."""
    num = den = 0.0
    for total, issued in pairs:
        if total is not None and issued > 0:
            num += total * issued
            den += issued
    return round(num / den, 2) if den > 0 else None


def failure_streak(current_failing: bool, previous_failing: Sequence[bool | None]) -> int:
    """Consecutive failing periods ending with this one; previous, most recent first.
    A period without a grade (None) breaks the streak."""
    if not current_failing:
        return 0
    n = 1
    for f in previous_failing:
        if not f:
            break
        n += 1
    return n


def failure_flag(scheme: Scheme, streak: int) -> str:
    if streak >= scheme.failures.escalation_after:
        return FLAG_ESCALATED
    if streak >= scheme.failures.rectification_after:
        return FLAG_RECTIFICATION
    return ""


def _area(scheme: Scheme, level: str, name: str, province: str, halls: list[HallResult]) -> AreaResult:
    total = volume_weighted((h.total, h.issued) for h in halls)
    g = scheme.grade_for(total) if total is not None else None
    counts = {gr.name_zh: 0 for gr in scheme.grades}
    for h in halls:
        if h.grade:
            counts[h.grade] += 1
    return AreaResult(level, name, province, len(halls), sum(h.total is not None for h in halls),
                      sum(h.issued for h in halls), total, g.name_zh if g else None, g.name_en if g else None,
                      grade_counts=counts,
                      rectification=sum(h.flag == FLAG_RECTIFICATION for h in halls),
                      escalated=sum(h.flag == FLAG_ESCALATED for h in halls))


def assess(scheme: Scheme, figures: Sequence[HallFigures],
           previous_grades: dict[str, list[str | None]] | None = None) -> Assessment:
    """Score every hall, rank it, roll up cities and provinces, flag repeated failures.

    ``previous_grades``: per hall, the grade names (zh) of the preceding periods of the
    same kind, most recent first (None where the hall was not graded).
    """
    previous_grades = previous_grades or {}
    failing_name = scheme.failing_grade.name_zh
    halls = [score_hall(scheme, f) for f in figures]
    for h in halls:
        prev = previous_grades.get(h.hall_id, [])
        h.previous_grades = list(prev)
        h.failure_streak = failure_streak(h.failing, [(g == failing_name) if g else None for g in prev])
        h.flag = failure_flag(scheme, h.failure_streak)
    _rank_within(halls, lambda h: (h.province, h.city), lambda h: h.total, lambda h, r: setattr(h, "rank_city", r))
    _rank_within(halls, lambda h: h.province, lambda h: h.total, lambda h, r: setattr(h, "rank_province", r))
    halls.sort(key=lambda h: (h.province, h.rank_province is None, h.rank_province or 0, h.hall_id))

    by_city: dict[tuple[str, str], list[HallResult]] = {}
    by_province: dict[str, list[HallResult]] = {}
    for h in halls:
        by_city.setdefault((h.province, h.city), []).append(h)
        by_province.setdefault(h.province, []).append(h)
    cities = [_area(scheme, "city", c, p, hs) for (p, c), hs in by_city.items()]
    _rank_within(cities, lambda a: a.province, lambda a: a.total, lambda a, r: setattr(a, "rank", r))
    cities.sort(key=lambda a: (a.province, a.rank is None, a.rank or 0, a.name))
    provinces = [_area(scheme, "province", p, p, hs) for p, hs in by_province.items()]
    _rank_within(provinces, lambda a: "", lambda a: a.total, lambda a, r: setattr(a, "rank", r))
    provinces.sort(key=lambda a: (a.rank is None, a.rank or 0, a.name))
    return Assessment(halls, cities, provinces)
