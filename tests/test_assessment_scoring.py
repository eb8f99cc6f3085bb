"""Scoring rules without a store: worked by hand on a small scheme."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sinks.assessment.periods import Period
from sinks.assessment.scheme import Scheme, load_scheme
from sinks.assessment.scoring import (FLAG_ESCALATED, FLAG_RECTIFICATION, HallFigures, assess, competition_ranks,
                                      effective_weights, linear_fraction, score_hall)
from test_assessment_support import SCHEME_FILE

SMALL = {
    "indicators": [
        # within_target: higher, 50 points, full at 90 %, zero at 50 %
        {"key": "within_target", "name_zh": "达标率", "name_en": "Within", "unit": "%", "weight": 50,
         "direction": "higher", "full_at": 90, "zero_at": 50, "sample": "visits", "min_sample": 100},
        # mean_wait: lower, 30 points, full at 2 min, zero at 10 min
        {"key": "mean_wait", "name_zh": "等候", "name_en": "Wait", "unit": "min", "weight": 30,
         "direction": "lower", "full_at": 2, "zero_at": 10, "sample": "visits", "min_sample": 100},
        # satisfaction: higher, 20 points, full at 100, zero at 0; needs 30 customer surveys
        {"key": "satisfaction", "name_zh": "满意度", "name_en": "CSAT", "unit": "pts", "weight": 20,
         "direction": "higher", "full_at": 100, "zero_at": 0, "sample": "csat", "min_sample": 30},
    ],
    "grades": [{"name_zh": "优秀", "name_en": "Excellent", "min_score": 90},
               {"name_zh": "合格", "name_en": "Pass", "min_score": 60},
               {"name_zh": "不合格", "name_en": "Fail", "min_score": 0, "failing": True}],
}


def fig(hall, city, within, wait, csat, issued=500, csat_n=50):
    return HallFigures(hall, hall, city, "P", issued, {"within_target": within, "mean_wait": wait, "satisfaction": csat},
                       {"visits": issued, "csat": csat_n, "audit": 0})


@pytest.fixture
def scheme():
    return Scheme.model_validate(SMALL)


def test_default_scheme_is_the_domain_one():
    s = load_scheme(SCHEME_FILE)
    got = {i.key: (i.weight, i.direction, i.full_at, i.zero_at, i.sample, i.min_sample) for i in s.indicators}
    assert got == {
        "within_target": (25, "higher", 95, 60, "visits", 100),
        "mean_wait": (10, "lower", 5, 20, "visits", 100),
        "satisfaction": (25, "higher", 95, 70, "csat", 30),
        "complaints": (15, "lower", 1, 10, "visits", 100),
        "handle": (10, "lower", 100, 150, "visits", 100),
        "abandonment": (5, "lower", 2, 10, "visits", 100),
        "audit": (10, "higher", 95, 60, "audit", 1),
    }
    assert [(g.name_zh, g.name_en, g.min_score) for g in s.grades] == [
        ("优秀", "Excellent", 90), ("良好", "Good", 80), ("合格", "Pass", 60), ("不合格", "Fail", 0)]
    assert (s.failures.rectification_after, s.failures.escalation_after) == (2, 3)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["indicators"][0].update(weight=40), "sum to 90"),
    (lambda d: d["indicators"][0].update(full_at=40), "must exceed"),
    (lambda d: d["indicators"][1].update(full_at=12), "must be below"),
    (lambda d: d["grades"].reverse(), "highest min_score"),
    (lambda d: d["indicators"][2].update(key="nonsense"), "unknown indicators"),
])
def test_scheme_validation_refuses_inconsistent_schemes(change, message):
    import copy
    d = copy.deepcopy(SMALL)
    change(d)
    with pytest.raises(ValidationError, match=message):
        Scheme.model_validate(d)


def test_linear_between_bounds_and_clamped(scheme):
    within, wait, _ = scheme.indicators
    assert linear_fraction(within, 70) == pytest.approx(0.5)
    assert linear_fraction(within, 95) == 1.0 and linear_fraction(within, 40) == 0.0
    assert linear_fraction(wait, 4) == pytest.approx(0.75)     # (4-10)/(2-10)
    assert linear_fraction(wait, 1) == 1.0 and linear_fraction(wait, 12) == 0.0


def test_worked_example_total_grade_and_ranks(scheme):
    figures = [
        fig("A", "X", 70, 4, 50),    # 25 + 22.5 + 10 = 57.5  -> 不合格
        fig("B", "X", 95, 1, 80),    # 50 + 30 + 16  = 96     -> 优秀
        fig("C", "Y", 90, 6, 30),    # 50 + 15 + 6   = 71     -> 合格
        fig("D", "Y", 70, 4, 50),    # same as A: 57.5, ties with A in the province
    ]
    res = assess(scheme, figures)
    by = {h.hall_id: h for h in res.halls}
    assert [i.points for i in by["A"].indicators] == pytest.approx([25, 22.5, 10])
    assert by["A"].total == 57.5 and by["A"].grade == "不合格" and by["A"].grade_en == "Fail"
    assert by["B"].total == 96 and by["B"].grade == "优秀"
    assert by["C"].total == 71 and by["C"].grade == "合格"
    # province: B 96, C 71, A and D 57.5 share rank 3
    assert {h: by[h].rank_province for h in "ABCD"} == {"B": 1, "C": 2, "A": 3, "D": 3}
    assert {h: by[h].rank_city for h in "ABCD"} == {"B": 1, "A": 2, "C": 1, "D": 2}
    assert [h.hall_id for h in res.halls] == ["B", "C", "A", "D"]
    # cities and province weighted by visits issued (all 500 here): X (96+57.5)/2, Y (71+57.5)/2
    cities = {c.name: c for c in res.cities}
    assert cities["X"].total == 76.75 and cities["Y"].total == 64.25
    assert cities["X"].rank == 1 and cities["Y"].rank == 2 and cities["X"].grade == "合格"
    assert res.provinces[0].total == pytest.approx((96 + 57.5 + 71 + 57.5) / 4)


def test_volume_weighting_uses_visits_issued(scheme):
    # (57.5 x 100 + 96 x 400) / 500 = 88.3, where the plain mean would be 76.75
    res = assess(scheme, [fig("A", "X", 70, 4, 50, issued=100), fig("B", "X", 95, 1, 80, issued=400)])
    assert res.cities[0].total == 88.3 and res.cities[0].grade == "合格"
    assert res.cities[0].issued == 500 and res.provinces[0].total == 88.3


def test_competition_ranking_ties_share_rank():
    assert competition_ranks([80, 90, 80, None, 70]) == [2, 1, 2, None, 4]


def test_small_sample_weight_is_shared_out_in_proportion(scheme):
    # 20 customer surveys < 30: satisfaction is marked, its 20 points go to the others
    # in proportion 50:30 -> 62.5 and 37.5.
    assert effective_weights(scheme, ["within_target", "mean_wait"]) == {
        "within_target": 62.5, "mean_wait": 37.5, "satisfaction": 0.0}
    h = score_hall(scheme, fig("A", "X", 70, 4, 99, csat_n=20))
    sat = h.indicator("satisfaction")
    assert sat.small_sample and sat.weight == 0 and sat.points == 0 and sat.sample == 20
    assert h.indicator("within_target").weight == 62.5 and h.indicator("mean_wait").weight == 37.5
    assert h.indicator("within_target").points == pytest.approx(31.25)   # 0.5 x 62.5
    assert h.indicator("mean_wait").points == pytest.approx(28.125)      # 0.75 x 37.5
    assert h.total == 59.38 and h.grade == "不合格"


def test_too_few_visits_marks_visit_indicators_and_no_sample_means_no_grade(scheme):
    h = score_hall(scheme, fig("A", "X", 70, 4, 50, issued=99))
    assert h.indicator("within_target").small_sample and h.indicator("mean_wait").small_sample
    # satisfaction alone carries 20 of 100: below half the weight, so not assessed (不参评,
    # domain.md §5), though its weight is still shared out and its values kept
    assert h.indicator("satisfaction").weight == 100 and h.total is None and h.grade is None
    assert h.indicator("satisfaction").value == 50
    lenient = Scheme.model_validate({**SMALL, "min_graded_weight_share": 0.2})
    assert score_hall(lenient, fig("A", "X", 70, 4, 50, issued=99)).total == 50.0
    h = score_hall(scheme, fig("A", "X", 70, 4, 50, issued=99, csat_n=0))
    assert h.total is None and h.grade is None
    res = assess(scheme, [fig("A", "X", 70, 4, 50, issued=99, csat_n=0), fig("B", "X", 95, 1, 80)])
    assert {h.hall_id: h.rank_city for h in res.halls} == {"B": 1, "A": None}


def test_consecutive_failures_flag_rectification_then_escalation(scheme):
    bad = fig("A", "X", 50, 10, 10)          # 0 + 0 + 2 -> 不合格
    assert assess(scheme, [bad]).halls[0].flag == ""
    h = assess(scheme, [bad], {"A": ["不合格", "合格"]}).halls[0]
    assert (h.failure_streak, h.flag) == (2, FLAG_RECTIFICATION)
    h = assess(scheme, [bad], {"A": ["不合格", "不合格"]}).halls[0]
    assert (h.failure_streak, h.flag) == (3, FLAG_ESCALATED)
    h = assess(scheme, [bad], {"A": [None, "不合格"]}).halls[0]      # not graded last period: streak broken
    assert (h.failure_streak, h.flag) == (1, "")
    good = assess(scheme, [fig("A", "X", 95, 1, 80)], {"A": ["不合格", "不合格"]}).halls[0]
    assert (good.failure_streak, good.flag) == (0, "")
    res = assess(scheme, [bad], {"A": ["不合格", "不合格"]})
    assert res.cities[0].escalated == 1 and res.provinces[0].escalated == 1


def test_periods():
    q = Period.parse("2026-Q3")
    assert (str(q.from_day), str(q.to_day), str(q.previous()), str(q.previous(2))) == \
        ("2026-07-01", "2026-10-01", "2026-Q2", "2026-Q1")
    m = Period.parse("2026-01")
    assert (str(m.to_day), str(m.previous()), m.starts_at.isoformat()) == \
        ("2026-02-01", "2025-12", "2026-01-01T00:00:00+08:00")
    y = Period.parse("2026")
    assert (str(y.from_day), str(y.to_day), str(y.previous(2))) == ("2026-01-01", "2027-01-01", "2024")
    with pytest.raises(ValueError):
        Period.parse("2026-13")


def test_data_quality_is_carried_beside_the_hall_and_never_scored(scheme):
    """domain.md §3: inferred calls, expired visits, silent minutes and late events are
    shown beside a hall's results; two halls differing only in them score the same."""
    clean = fig("A", "X", 80, 4, 90)
    noisy = fig("B", "X", 80, 4, 90)
    noisy.quality = {"inferred_calls": 40, "expired_visits": 12, "silent_minutes": 185.5, "late_events": 300}
    res = assess(scheme, [clean, noisy])
    a, b = sorted(res.halls, key=lambda h: h.hall_id)
    assert a.total == b.total and a.grade == b.grade and a.rank_city == b.rank_city == 1
    assert a.data_quality is None
    assert b.data_quality == noisy.quality and b.data_quality is not noisy.quality
    rows = {h["hall_id"]: h for h in res.as_dict()["halls"]}
    assert rows["B"]["data_quality"] == {"inferred_calls": 40, "expired_visits": 12, "silent_minutes": 185.5,
                                         "late_events": 300}
    assert rows["A"]["data_quality"] is None


def test_coverage_rule_with_the_default_scheme_mystery_shopper_alone_is_not_graded():
    """domain.md §5: graded only when the indicators with enough sample carry at least half
    the weight. The hall once ranked #2 优秀 on its mystery-shopper score alone (10 of 100)
    is not assessed and not ranked; a hall without satisfaction (75 of 100) is graded but
    flagged as graded on few indicators."""
    s = load_scheme(SCHEME_FILE)
    full = {"within_target": 96, "mean_wait": 4, "satisfaction": 96, "complaints": 0, "handle": 90,
            "abandonment": 1, "audit": 100}
    only_audit = HallFigures("A", "A", "X", "P", 20, full, {"visits": 20, "csat": 2, "audit": 3})
    no_csat = HallFigures("B", "B", "X", "P", 500, full, {"visits": 500, "csat": 10, "audit": 3})
    complete = HallFigures("C", "C", "X", "P", 500, {**full, "within_target": 80},
                           {"visits": 500, "csat": 50, "audit": 3})
    res = {h.hall_id: h for h in assess(s, [only_audit, no_csat, complete]).halls}
    a, b, c = res["A"], res["B"], res["C"]
    assert a.covered_weight == 0.1 and a.total is None and a.grade is None and a.rank_city is None
    assert not a.few_indicators                                  # not graded at all: 不参评
    assert b.covered_weight == 0.75 and b.total == 100.0 and b.grade == "优秀" and b.few_indicators
    assert c.covered_weight == 1.0 and not c.few_indicators and (b.rank_city, c.rank_city) == (1, 2)
