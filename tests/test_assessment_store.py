"""Indicators from SQL, periods from their own data, publication and appeals."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook

from sinks.assessment.engine import compute_report, live_report, published_report
from sinks.assessment.formats import render_csv, render_json, render_table
from sinks.assessment.indicators import Exclusions, Interval, hall_figures
from sinks.assessment.periods import Period
from sinks.assessment.preview import change_rows, hall_changes
from sinks.assessment.publication import (accept_appeal, decide_appeal, file_appeal, get_appeal, list_appeals,
                                          preview_appeal, publish, reject_appeal)
from sinks.assessment.report_html import render_html
from sinks.assessment.scheme import load_scheme
from sinks.assessment.scoring import assess
from sinks.assessment.versions import PublicationError, get_version, insert_version, list_versions
from sinks.assessment.xlsx import render_xlsx
from test_assessment_support import SCHEME_FILE, add_days, add_minute, add_survey, month_days, open_seeded, utc

HALL, OTHER = "JS-NJ-0001", "JS-NJ-0002"
SH = timezone(timedelta(hours=8))


@pytest.fixture
def store(tmp_path):
    _, st = open_seeded(tmp_path)
    yield st
    st.close()


@pytest.fixture
def scheme():
    return load_scheme(SCHEME_FILE)


def test_indicator_values_from_day_metrics(store):
    add_days(store, HALL, [date(2026, 10, 1), date(2026, 10, 2)])
    add_days(store, HALL, [date(2026, 11, 1)], within_target=0)       # next period: not counted
    add_days(store, HALL, [date(2026, 10, 3)], within_target=0)
    [f] = hall_figures(store, Period.parse("2026-10"))
    assert f.hall_id == HALL and f.city == "南京" and f.name == "南京新街口营业厅"
    assert f.issued == 600 and f.samples == {"visits": 600, "csat": 120, "audit": 6}
    assert f.values["within_target"] == pytest.approx(100 * 380 / 600)
    assert f.values["mean_wait"] == pytest.approx(6.0)
    assert f.values["satisfaction"] == pytest.approx(92.0)
    assert f.values["complaints"] == 0
    assert f.values["handle"] == pytest.approx(110.0)
    assert f.values["abandonment"] == pytest.approx(1.5)
    assert f.values["audit"] == pytest.approx(90.0)


def test_quarter_is_computed_from_its_own_data_not_the_mean_of_months(store, scheme):
    # July and August: 1,000 calls a month at 99 % within target; September: a bad,
    # quiet month of 100 calls at 10 %. Everything else identical and healthy.
    add_days(store, HALL, [date(2026, 7, 10)], issued=1000, called=1000, within_target=990, wait_sum_s=1000 * 360.0)
    add_days(store, HALL, [date(2026, 8, 10)], issued=1000, called=1000, within_target=990, wait_sum_s=1000 * 360.0)
    add_days(store, HALL, [date(2026, 9, 10)], issued=100, called=100, within_target=10, wait_sum_s=100 * 360.0)
    monthly = [compute_report(store, scheme, Period.parse(p))["halls"][0] for p in ("2026-07", "2026-08", "2026-09")]
    quarter = compute_report(store, scheme, Period.parse("2026-Q3"))["halls"][0]
    within = next(i for i in quarter["indicators"] if i["key"] == "within_target")
    assert within["value"] == pytest.approx(100 * 1990 / 2100)               # 94.76 %
    assert within["points"] == pytest.approx(25 * (100 * 1990 / 2100 - 60) / 35)  # 24.83 of 25
    monthly_within = [next(i for i in m["indicators"] if i["key"] == "within_target")["points"] for m in monthly]
    assert monthly_within == pytest.approx([25, 25, 0])
    mean_of_months = sum(m["total"] for m in monthly) / 3
    # The quarter's total equals scoring the pooled sums, and is not the mean of the months.
    [pooled] = hall_figures(store, Period.parse("2026-Q3"))
    assert quarter["total"] == assess(scheme, [pooled]).halls[0].total
    assert abs(quarter["total"] - mean_of_months) > 5
    assert quarter["issued"] == 2100


def test_previous_months_flag_rectification_and_escalation(store, scheme):
    bad = dict(within_target=0, wait_sum_s=200 * 1500.0, csat_sum=200, abandoned=40, complaints=5)
    for m in (8, 9, 10):
        add_days(store, HALL, month_days(2026, m)[:3], **bad)
        add_days(store, OTHER, month_days(2026, m)[:3])
    add_days(store, "JS-NJ-0003", [date(2026, 10, 2)], **bad)
    add_days(store, "JS-NJ-0003", [date(2026, 9, 2)], **bad)
    halls = {h["hall_id"]: h for h in compute_report(store, scheme, Period.parse("2026-10"))["halls"]}
    assert halls[HALL]["grade"] == "不合格" and halls[HALL]["previous_grades"] == ["不合格", "不合格"]
    assert (halls[HALL]["failure_streak"], halls[HALL]["flag"]) == (3, "escalated")
    assert (halls["JS-NJ-0003"]["failure_streak"], halls["JS-NJ-0003"]["flag"]) == (2, "rectification")
    assert halls[OTHER]["flag"] == "" and halls[OTHER]["grade"] in ("优秀", "良好")


def _seed_october(store):
    """HALL: a day with a back-office outage 09:00-11:00 (Shanghai) and an angry survey."""
    day = date(2026, 10, 8)
    # Outage minutes (UTC 01:00 and 02:30): 100 visits, all called late, 40 abandoned.
    add_minute(store, HALL, utc(2026, 10, 8, 1, 0), issued=60, called=60, within_target=0, wait_sum_s=60 * 1800.0,
               abandoned=25)
    add_minute(store, HALL, utc(2026, 10, 8, 2, 30), issued=40, called=40, within_target=0, wait_sum_s=40 * 1800.0,
               abandoned=15)
    # 11:00 sharp is outside [09:00, 11:00): must stay counted.
    add_minute(store, HALL, utc(2026, 10, 8, 3, 0), issued=100, called=100, within_target=100,
               wait_sum_s=100 * 120.0)
    # The day row includes those minutes plus 300 healthy visits.
    add_days(store, HALL, [day], issued=500, visits_served=460, abandoned=40, called=500, within_target=400,
             wait_sum_s=100 * 1800.0 + 100 * 120.0 + 300 * 300.0, transactions=460, handle_ratio_sum=460.0,
             csat_n=40, csat_sum=40 * 9 - 8, audit_n=1, audit_sum=90, complaints=1,
             # the outage left its marks in the feed (domain.md §3)
             inferred_calls=14, expired_visits=3, silent_minutes=105.0, late_events=60)
    # The survey that scored 1 and complained (its contribution is in the day row above).
    add_survey(store, "SV-angry", HALL, "customer", datetime(2026, 10, 8, 15, 20, tzinfo=SH), 1, complaint=True)
    add_days(store, OTHER, [day])


def _ind(report, hall, key):
    h = next(h for h in report["halls"] if h["hall_id"] == hall)
    return next(i for i in h["indicators"] if i["key"] == key)


def test_exclusions_subtract_minutes_in_the_interval_and_single_surveys(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    [base, _] = hall_figures(store, p)
    ex = Exclusions([Interval(HALL, datetime(2026, 10, 8, 9, 0, tzinfo=SH), datetime(2026, 10, 8, 11, 0, tzinfo=SH))],
                    [(HALL, "SV-angry")])
    [f, other] = hall_figures(store, p, ex)
    assert base.issued == 500 and f.issued == 400
    assert f.sums["called"] == 400 and f.sums["within_target"] == 400 and f.sums["abandoned"] == 0
    assert f.values["within_target"] == 100.0
    assert f.sums["csat_n"] == 39 and f.sums["csat_sum"] == 40 * 9 - 8 - 1 and f.sums["complaints"] == 0
    assert other.issued == 200                                     # other halls untouched
    # minute_metrics has no data-quality columns: an excluded interval leaves them whole
    assert f.quality == base.quality == {"inferred_calls": 14, "expired_visits": 3, "silent_minutes": 105.0,
                                         "late_events": 60}


def test_publish_appeal_accept_produces_versions_with_who_when_why(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    with pytest.raises(PublicationError, match="not published"):
        file_appeal(store, p, HALL, "厅经理王", "outage", survey_id="SV-angry")

    v1 = publish(store, scheme, p, "质量办张")
    assert v1.version == 1 and v1.appeal_ids == []
    v1_results = json.dumps(get_version(store, "2026-10", 1).results, sort_keys=True)
    with pytest.raises(PublicationError, match="already published"):
        publish(store, scheme, p, "质量办张")

    filed_at = datetime.now(timezone.utc)
    a1 = file_appeal(store, p, HALL, "厅经理王", "核心系统故障 09:00-11:00",
                     interval=(datetime(2026, 10, 8, 9, 0, tzinfo=SH), datetime(2026, 10, 8, 11, 0, tzinfo=SH)))
    assert a1.status == "pending" and a1.kind == "interval" and a1.against_version == 1
    a2 = file_appeal(store, p, HALL, "厅经理王", "恶意评价，已核实", survey_id="SV-angry")
    with pytest.raises(PublicationError, match="belongs to hall"):
        file_appeal(store, p, OTHER, "厅经理李", "not ours", survey_id="SV-angry")
    with pytest.raises(PublicationError, match="within 2026-10"):
        file_appeal(store, p, HALL, "厅经理王", "x", interval=(datetime(2026, 11, 8, 9, tzinfo=SH),
                                                             datetime(2026, 11, 8, 10, tzinfo=SH)))

    v2 = accept_appeal(store, a1.appeal_id, "质量办赵", "故障工单 INC-1 已核实")
    assert v2.version == 2 and v2.appeal_ids == [a1.appeal_id]
    with pytest.raises(PublicationError, match="already accepted"):
        accept_appeal(store, a1.appeal_id, "质量办赵")

    live = live_report(store, scheme, p)
    v1_again = get_version(store, "2026-10", 1)
    assert json.dumps(v1_again.results, sort_keys=True) == v1_results          # version 1 intact
    assert _ind(v1_again.results, HALL, "within_target")["value"] == pytest.approx(80.0)
    assert _ind(live, HALL, "within_target")["value"] == pytest.approx(80.0)    # live = no appeals
    stored2 = get_version(store, "2026-10", 2)
    assert _ind(stored2.results, HALL, "within_target")["value"] == pytest.approx(100.0)
    assert _ind(stored2.results, HALL, "abandonment")["value"] == pytest.approx(0.0)
    total1 = next(h for h in v1_again.results["halls"] if h["hall_id"] == HALL)["total"]
    total2 = next(h for h in stored2.results["halls"] if h["hall_id"] == HALL)["total"]
    assert total2 > total1
    [rec] = stored2.appeals
    assert rec["appeal_id"] == a1.appeal_id and rec["filed_by"] == "厅经理王"
    assert rec["reason"] == "核心系统故障 09:00-11:00" and rec["decided_by"] == "质量办赵"
    assert rec["decision_reason"] == "故障工单 INC-1 已核实"
    assert datetime.fromisoformat(rec["filed_at"]) >= filed_at - timedelta(seconds=1)
    assert datetime.fromisoformat(rec["decided_at"]) >= datetime.fromisoformat(rec["filed_at"])
    assert stored2.published_by == "质量办赵" and a1.appeal_id in stored2.reason

    # The survey appeal: version 3 applies both accepted appeals (cumulative).
    v3 = accept_appeal(store, a2.appeal_id, "质量办赵")
    stored3 = get_version(store, "2026-10", 3)
    assert v3.appeal_ids == [a1.appeal_id, a2.appeal_id]
    assert _ind(stored3.results, HALL, "within_target")["value"] == pytest.approx(100.0)
    assert _ind(stored2.results, HALL, "satisfaction")["value"] == pytest.approx(10 * (352 / 40))
    assert _ind(stored3.results, HALL, "satisfaction")["value"] == pytest.approx(10 * (351 / 39))
    assert _ind(stored2.results, HALL, "complaints")["value"] > 0
    assert _ind(stored3.results, HALL, "complaints")["value"] == 0
    assert [a["reason"] for a in stored3.appeals] == ["核心系统故障 09:00-11:00", "恶意评价，已核实"]
    assert json.dumps(get_version(store, "2026-10", 2).results, sort_keys=True) == \
        json.dumps(stored2.results, sort_keys=True)
    assert [v.version for v in list_versions(store, "2026-10")] == [1, 2, 3]


def test_reject_is_logged_and_status_is_the_latest_decision(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    publish(store, scheme, p, "质量办张")
    a = file_appeal(store, p, HALL, "厅经理王", "恶意评价", survey_id="SV-angry")
    r = reject_appeal(store, a.appeal_id, "质量办赵", "评价真实有效")
    assert (r.status, r.decided_by, r.decision_reason) == ("rejected", "质量办赵", "评价真实有效")
    with pytest.raises(PublicationError, match="already rejected"):
        accept_appeal(store, a.appeal_id, "质量办赵")
    assert [(x.appeal_id, x.status) for x in list_appeals(store, "2026-10")] == [(a.appeal_id, "rejected")]
    assert [v.version for v in list_versions(store, "2026-10")] == [1]
    assert get_appeal(store, a.appeal_id).status == "rejected"


def test_appeal_window_closes(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    v1 = publish(store, scheme, p, "质量办张")
    late = v1.published_at + timedelta(days=scheme.appeals.window_days, minutes=1)
    with pytest.raises(PublicationError, match="window"):
        file_appeal(store, p, HALL, "厅经理王", "late", survey_id="SV-angry", now=late)


def test_data_quality_is_summed_over_the_period_and_does_not_change_scores(store, scheme):
    """domain.md §3 and §5: the period's data-quality figures, summed from day_metrics FINAL
    (category 'all') over its days, beside each hall; informational, never scored."""
    oct_days = [date(2026, 10, 1), date(2026, 10, 2)]
    q = dict(inferred_calls=3, expired_visits=1, silent_minutes=25.5, late_events=7)
    add_days(store, HALL, oct_days, **q)
    add_days(store, HALL, oct_days, category="consult", issued=50, **q)   # per category: not summed again
    add_days(store, HALL, [date(2026, 11, 1)], **q)                      # next period: not counted
    add_days(store, HALL, [date(2026, 9, 30)], **q)                      # previous period: not counted
    add_days(store, OTHER, oct_days)                                     # the same day figures, a clean feed
    p = Period.parse("2026-10")
    figs = {f.hall_id: f for f in hall_figures(store, p)}
    assert figs[HALL].quality == {"inferred_calls": 6, "expired_visits": 2, "silent_minutes": 51.0, "late_events": 14}
    assert figs[OTHER].quality == {"inferred_calls": 0, "expired_visits": 0, "silent_minutes": 0.0, "late_events": 0}

    report = compute_report(store, scheme, p)
    halls = {h["hall_id"]: h for h in report["halls"]}
    assert halls[HALL]["data_quality"] == figs[HALL].quality
    assert halls[HALL]["total"] == halls[OTHER]["total"] and halls[HALL]["grade"] == halls[OTHER]["grade"]
    assert halls[HALL]["rank_city"] == halls[OTHER]["rank_city"] == 1
    assert [i["points"] for i in halls[HALL]["indicators"]] == [i["points"] for i in halls[OTHER]["indicators"]]

    # a replaced day row (the worker recomputes a day when late data arrives) counts once
    add_days(store, HALL, [date(2026, 10, 2)], inferred_calls=5, expired_visits=1, silent_minutes=0.0, late_events=9)
    [f] = [f for f in hall_figures(store, p) if f.hall_id == HALL]
    assert f.quality == {"inferred_calls": 8, "expired_visits": 2, "silent_minutes": 25.5, "late_events": 16}

    # the quarter is summed from its own days
    [fq] = [f for f in hall_figures(store, Period.parse("2026-Q4")) if f.hall_id == HALL]
    assert fq.quality["inferred_calls"] == 8 + 3 and fq.quality["late_events"] == 16 + 7


def test_versions_published_before_data_quality_still_render(store, scheme):
    """A version frozen before the figures existed has no ``data_quality`` in its hall rows:
    every format renders it, with empty data-quality cells and ``null`` in JSON."""
    _seed_october(store)
    p = Period.parse("2026-10")
    report = compute_report(store, scheme, p)
    for h in report["halls"]:
        del h["data_quality"]
    insert_version(store, "2026-10", 1, "质量办张", "published by an older release", [], scheme.model_dump(), report)
    old = published_report(get_version(store, "2026-10", 1))
    assert "data_quality" not in old["halls"][0]

    doc = json.loads(render_json(old, "hall"))
    assert all(r["data_quality"] is None for r in doc["rows"])
    rows = list(csv.reader(io.StringIO(render_csv(old, "hall", "zh"))))
    i = rows[0].index("数据质量·推断叫号")
    assert rows[0][i:] == ["数据质量·推断叫号", "数据质量·过期未叫", "数据质量·数据中断(分钟)", "数据质量·迟到数据"]
    assert all(r[i:] == ["", "", "", ""] for r in rows[1:])
    assert "推断叫号" in render_table(old, "hall", "zh")
    html = render_html(old, "hall", "en")
    assert "Data quality·Inferred calls" in html and "Intervals excluded by appeals" in html
    wb = load_workbook(io.BytesIO(render_xlsx(old, "zh")))
    header = [c.value for c in wb["营业厅"][1]]
    assert header[-4:] == ["数据质量·推断叫号", "数据质量·过期未叫", "数据质量·数据中断(分钟)", "数据质量·迟到数据"]
    assert [c.value for c in wb["营业厅"][2]][-4:] == [None, None, None, None]

    # a version published now carries them
    accept = file_appeal(store, p, HALL, "厅经理王", "恶意评价", survey_id="SV-angry")
    accept_appeal(store, accept.appeal_id, "质量办赵")
    new = published_report(get_version(store, "2026-10", 2))
    row = next(r for r in json.loads(render_json(new, "hall"))["rows"] if r["hall_id"] == HALL)
    assert row["data_quality"] == {"inferred_calls": 14, "expired_visits": 3, "silent_minutes": 105.0,
                                   "late_events": 60}


def test_publishing_an_unfinished_period_is_refused_unless_forced_and_the_force_is_recorded(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    during = datetime(2026, 10, 24, 10, 0, tzinfo=SH)            # "froze October on the 24th"
    with pytest.raises(PublicationError, match=r"has not ended: it ends at 2026-11-01T00:00:00\+08:00"):
        publish(store, scheme, p, "质量办张", now=during)
    # the last second of October in Shanghai is still October (it is 15:59:59 UTC)
    with pytest.raises(PublicationError, match="has not ended"):
        publish(store, scheme, p, "质量办张", now=datetime(2026, 10, 31, 15, 59, 59, tzinfo=timezone.utc))
    assert list_versions(store, "2026-10") == []
    v1 = publish(store, scheme, p, "质量办张", "月中预公示", force=True, now=during)
    stored = get_version(store, "2026-10", 1)
    assert v1.forced and stored.forced and "forced before the period ended" in stored.reason
    assert stored.published_at.isoformat() == "2026-10-24T10:00:00+08:00"     # read back in Shanghai time
    report = published_report(stored)
    assert report["forced"] is True and "未到期强制公示" in render_table(report, "hall", "zh")
    assert json.loads(render_json(report, "hall"))["forced"] is True


def test_a_period_that_has_ended_publishes_without_force_and_is_not_marked(store, scheme):
    _seed_october(store)
    v1 = publish(store, scheme, Period.parse("2026-10"), "质量办张", now=datetime(2026, 11, 1, 0, 0, tzinfo=SH))
    assert not v1.forced and not get_version(store, "2026-10", 1).forced


def test_the_filer_cannot_decide_and_only_reviewers_may(store, scheme):
    _seed_october(store)
    p = Period.parse("2026-10")
    publish(store, scheme, p, "质量办张")
    a = file_appeal(store, p, HALL, "厅经理王", "恶意评价", survey_id="SV-angry")
    for decide in (lambda by: accept_appeal(store, a.appeal_id, by),
                   lambda by: reject_appeal(store, a.appeal_id, by, "no")):
        with pytest.raises(PublicationError, match="must be decided by someone else"):
            decide("厅经理王")
        with pytest.raises(PublicationError, match="must be decided by someone else"):
            decide(" 厅经理王 ")
        with pytest.raises(PublicationError, match="required"):
            decide("  ")
    with pytest.raises(PublicationError, match="not a reviewer"):
        decide_appeal(store, a.appeal_id, "accepted", "路人甲", reviewers=["质量办赵"])
    with pytest.raises(PublicationError, match="preview|someone else"):
        preview_appeal(store, a.appeal_id, "厅经理王")
    assert get_appeal(store, a.appeal_id).status == "pending" and len(list_versions(store, "2026-10")) == 1
    v2 = decide_appeal(store, a.appeal_id, "accepted", "质量办赵", "核实", reviewers=["质量办赵"])
    assert v2.version == 2 and v2.published_by == "质量办赵"


def test_preview_shows_each_changed_hall_before_and_after_and_writes_nothing(store, scheme):
    _seed_october(store)
    add_days(store, "JS-NJ-0003", [date(2026, 10, 8)], within_target=150)
    p = Period.parse("2026-10")
    publish(store, scheme, p, "质量办张")
    a = file_appeal(store, p, HALL, "厅经理王", "核心系统故障",
                    interval=(datetime(2026, 10, 8, 9, 0, tzinfo=SH), datetime(2026, 10, 8, 11, 0, tzinfo=SH)))
    nxt = preview_appeal(store, a.appeal_id, "质量办赵")
    changes = {c.hall_id: c for c in hall_changes(nxt.latest.results, nxt.report)}
    before = {h["hall_id"]: h for h in nxt.latest.results["halls"]}
    after = {h["hall_id"]: h for h in nxt.report["halls"]}
    assert HALL in changes and OTHER not in changes or changes[OTHER].rank_province[0] != \
        changes[OTHER].rank_province[1]
    c = changes[HALL]
    assert c.total == (before[HALL]["total"], after[HALL]["total"]) and c.total[1] > c.total[0]
    assert c.rank_province == (before[HALL]["rank_province"], after[HALL]["rank_province"])
    for hall_id, ch in changes.items():
        assert (ch.total, ch.grade) == ((before[hall_id]["total"], after[hall_id]["total"]),
                                        (before[hall_id]["grade"], after[hall_id]["grade"]))
    headers, rows = change_rows(list(changes.values()))
    assert headers[3:] == ["综合得分", "等级", "省内排名", "市内排名"]
    assert any(" → " in cell for cell in rows[0][3:])
    # nothing written: still one version, the appeal still pending, and accepting it now
    # publishes exactly what the preview showed
    assert len(list_versions(store, "2026-10")) == 1 and get_appeal(store, a.appeal_id).status == "pending"
    v2 = accept_appeal(store, a.appeal_id, "质量办赵")
    assert [h["total"] for h in v2.results["halls"]] == [h["total"] for h in nxt.report["halls"]]


def test_times_are_read_in_shanghai_with_their_offset(store, scheme):
    """An appeal filed at 10:00+08:00 reads 10:00+08:00, not 02:00+00:00."""
    _seed_october(store)
    p = Period.parse("2026-10")
    publish(store, scheme, p, "质量办张", now=datetime(2026, 11, 1, 2, 0, tzinfo=timezone.utc))
    a = file_appeal(store, p, HALL, "厅经理王", "恶意评价", survey_id="SV-angry",
                    now=datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc))
    got = get_appeal(store, a.appeal_id)
    assert got.filed_at.isoformat() == "2026-11-02T10:00:00+08:00"
    assert got.as_dict()["filed_at"] == "2026-11-02T10:00:00.000+08:00"
    v2 = accept_appeal(store, a.appeal_id, "质量办赵", now=datetime(2026, 11, 3, 1, 30, tzinfo=timezone.utc))
    report = published_report(get_version(store, "2026-10", 2))
    assert report["published_at"] == "2026-11-03T09:30:00+08:00" and v2.published_at.utcoffset() == timedelta(hours=8)
    [rec] = report["appeals"]
    assert rec["filed_at"] == "2026-11-02T10:00:00.000+08:00" and rec["decided_at"] == "2026-11-03T09:30:00.000+08:00"
    assert "2026-11-03 09:30:00 +08:00" in render_table(report, "hall", "zh")
    html = render_html(report, "hall", "zh")
    assert "2026-11-02 10:00:00 +08:00" in html and "+00:00" not in html and "UTC" not in html
    # a version published before times were kept in Shanghai stored UTC strings: shown in Shanghai too
    old = get_version(store, "2026-10", 2)
    old.appeals = [{**old.appeals[0], "filed_at": "2026-11-02T02:00:00+00:00"}]
    assert published_report(old)["appeals"][0]["filed_at"] == "2026-11-02T10:00:00.000+08:00"


def test_reports_flag_halls_graded_on_few_indicators_and_show_the_ungraded(store, scheme):
    """HALL has 10 customer surveys (< 30): graded on 75 % of the weight, 指标不足. OTHER has
    20 visits and no audit: only satisfaction (25 %) is usable, so 不参评 and unranked."""
    add_days(store, HALL, [date(2026, 10, 8)], csat_n=10, csat_sum=92)
    add_days(store, OTHER, [date(2026, 10, 8)], issued=20, called=20, within_target=19, visits_served=19,
             transactions=19, handle_ratio_sum=19 * 1.1, abandoned=0, wait_sum_s=20 * 300.0, audit_n=0, audit_sum=0)
    add_days(store, "JS-NJ-0003", [date(2026, 10, 8)])
    report = live_report(store, scheme, Period.parse("2026-10"))
    rows = {r[2]: r for r in csv.reader(io.StringIO(render_csv(report, "hall", "zh")))}
    header = rows.pop("营业厅编码")
    at = {h: i for i, h in enumerate(header)}
    assert rows[HALL][at["指标覆盖"]] == "指标不足" and rows[HALL][at["有效指标权重"]] == "75.0"
    assert rows[HALL][at["等级"]] in ("优秀", "良好", "合格", "不合格") and rows[HALL][at["省内排名"]]
    assert rows[OTHER][at["等级"]] == "不参评" and rows[OTHER][at["指标覆盖"]] == "不参评"
    assert rows[OTHER][at["省内排名"]] == "" and rows["JS-NJ-0003"][at["指标覆盖"]] == ""
    assert "指标不足" in render_table(report, "hall", "zh") and "few indicators" in render_table(report, "hall", "en")
    doc = {r["hall_id"]: r for r in json.loads(render_json(report, "hall"))["rows"]}
    assert doc[HALL]["few_indicators"] is True and doc[HALL]["covered_weight"] == 0.75
    assert doc[OTHER]["grade"] is None and doc[OTHER]["covered_weight"] == 0.25

    html = render_html(report, "hall", "zh")
    assert 'id="coverage-note"' in html and "指标不足: 1 · 不参评: 1" in html
    assert '<tr class="few">' in html and '<tr class="ungraded">' in html

    ws = load_workbook(io.BytesIO(render_xlsx(report, "zh")))["营业厅"]
    header = [c.value for c in ws[1]]
    by_hall = {r[2]: dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert by_hall[HALL]["客户满意度 (pts) 得分"] is None                      # empty, not "样本不足"
    assert by_hall[HALL]["样本说明"] == "样本不足: 客户满意度 10/30"
    assert by_hall[HALL]["指标覆盖"] == "指标不足" and by_hall[HALL]["有效指标权重"] == 0.75
    assert by_hall[OTHER]["样本说明"].startswith("样本不足: 等候时长达标率 20/100")
    assert by_hall["JS-NJ-0003"]["样本说明"] is None
