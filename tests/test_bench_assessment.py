"""The assessment benchmark (bench/bench_assessment.py) on a tiny store: its synthetic
facts go through the sink's roll-up SQL into day_metrics unchanged, and the assessment
grades them. Keeps the benchmark from silently breaking again when the schema or the
roll-ups change."""

from __future__ import annotations

import importlib.util
import math
from datetime import date

import pytest

from hallpulse.config import PROJECT_ROOT, Settings
from sinks.assessment.engine import compute_report
from sinks.assessment.periods import Period
from sinks.assessment.scheme import load_scheme
from sinks.migrate import apply_migrations
from sinks.store import open_store

HALLS, FIRST, LAST_EXCL = 5, date(2026, 3, 30), date(2026, 4, 2)  # 3 days across a month's end


def _bench():
    spec = importlib.util.spec_from_file_location("bench_assessment", PROJECT_ROOT / "bench" / "bench_assessment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    bench = _bench()
    store = open_store(Settings(var_dir=tmp_path_factory.mktemp("bench-assess")), hold=True)
    apply_migrations(store, 36)
    store.command("SET max_threads = 1")
    written = bench.fill_facts(store, HALLS, FIRST, LAST_EXCL, log=lambda *_: None)
    keys = bench.run_rollups(store, HALLS, FIRST, LAST_EXCL, silent_after_s=900.0, group=3, log=lambda *_: None)
    yield bench, store, written, keys
    store.close()


def test_fill_writes_every_fact_table(filled):
    _, _, written, keys = filled
    # 24–68 visits per hall-day; every visit has 3 or 4 events; a survey for some
    assert HALLS * 3 * 24 <= written["visits"] <= HALLS * 3 * 68
    assert written["wait_segments"] == written["visits"]
    assert 0.8 * written["visits"] < written["transactions"] < written["visits"]
    assert 3 * written["visits"] <= written["visit_events"] <= 4 * written["visits"]
    assert written["surveys"] > 0
    assert keys["days"] == HALLS * 3


def test_day_metrics_hold_what_the_facts_hold(filled):
    bench, store, written, _ = filled
    assert bench.check_rollups(store, FIRST, LAST_EXCL) == []
    per_hall_day = store.query(
        "SELECT hall_id, day, issued FROM day_metrics FINAL WHERE category = 'all' ORDER BY hall_id, day").rows
    assert len(per_hall_day) == HALLS * 3
    assert sum(r[2] for r in per_hall_day) == written["visits"]
    issued_by_visits = store.query(
        "SELECT hall_id, toDate(issued_at, 'Asia/Shanghai') AS day, count() FROM visits FINAL "
        "GROUP BY hall_id, day ORDER BY hall_id, day").rows
    assert [(str(h), d, int(n)) for h, d, n in per_hall_day] == [(h, d, int(n)) for h, d, n in issued_by_visits]
    # the category rows add up to the hall's
    (cats, total), = store.query(
        "SELECT sumIf(issued, category != 'all'), sumIf(issued, category = 'all') FROM day_metrics FINAL").rows
    assert cats == total


def test_same_visits_whatever_the_chunking(filled):
    bench, store, _, _ = filled
    digest = "SELECT count(), groupBitXor(cityHash64(visit_id, issued_at, wait_s, ended_at, score)) FROM bench_visit_src"
    store.command(bench.bench_sql("visit_source_create"))
    try:
        store.command(bench.bench_sql("visit_source"), {"h_from": 0, "halls": HALLS, "first": FIRST, "days": 3,
                                                         "opens": "08:30", "open_minutes": 600})
        whole = store.query(digest).rows
        store.command("TRUNCATE TABLE bench_visit_src")
        for h_from, n in ((0, 2), (2, 3)):
            for d in range(3):
                store.command(bench.bench_sql("visit_source"), {
                    "h_from": h_from, "halls": n, "first": date.fromordinal(FIRST.toordinal() + d), "days": 1,
                    "opens": "08:30", "open_minutes": 600})
        assert store.query(digest).rows == whole
    finally:
        store.command("DROP TABLE bench_visit_src")


def test_monthly_report_grades_the_synthetic_halls(filled):
    _, store, _, _ = filled
    scheme = load_scheme(PROJECT_ROOT / "config" / "assessment.toml")
    report = compute_report(store, scheme, Period.parse("2026-04"))
    halls = report["halls"]
    assert [h["hall_id"] for h in sorted(halls, key=lambda h: h["hall_id"])] == [f"BM-{i:05d}" for i in range(HALLS)]
    for h in halls:
        assert h["total"] is None or not math.isnan(h["total"])
