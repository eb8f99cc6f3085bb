"""The analyst queries (sinks/queries/analyst/*.sql) run on a seeded embedded store and
give the answers the seed planted (tests/seeding.py)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from schemas.catalogue import load_catalogue
from hallpulse.config import PROJECT_ROOT, Settings
from schemas.privacy import contains_clear_id, contains_clear_phone
from sinks.catalogue_mirror import mirror_catalogue
from sinks.migrate import apply_migrations
from sinks.sql import load_sql
from sinks.store import open_store
from tests.seeding import seed_events, seed_store

QUERY_FOLDER = "queries/analyst"
QUERY_DIR = PROJECT_ROOT / "sinks" / QUERY_FOLDER
QUERY_FILES = sorted(QUERY_DIR.glob("*.sql"))
DOC = PROJECT_ROOT / "docs" / "analyst-queries.md"
HALLS = ["JS-NJ-0001", "JS-NJ-0002", "JS-NJ-0003", "JS-SZ-0001", "JS-SZ-0002", "JS-SZ-0003"]
START, DAYS = date(2026, 10, 1), 61  # October and November 2026
# {name:Type} with a ClickHouse type: Date, UInt32, Array(String), DateTime64(3, 'UTC')...
PLACEHOLDER = re.compile(r"\{(\w+):([A-Z][A-Za-z0-9]*(?:\([^{}]*\))?)\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def header(path: Path) -> list[str]:
    """The leading comment block of a query file, without the comment markers."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return lines


def documented_parameters(path: Path) -> dict[str, str]:
    """name -> type of the `{name:Type}` entries listed under the header's 'Parameters:'."""
    lines = header(path)
    start = lines.index("Parameters:")
    found = {}
    for line in lines[start + 1:]:
        m = PLACEHOLDER.match(line)
        if m and line[m.end():m.end() + 1].isspace():
            found[m.group(1)] = m.group(2)
    return found


def body(path: Path) -> str:
    return load_sql(path.stem, folder=QUERY_FOLDER)


def used_parameters(path: Path) -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for name, typ in PLACEHOLDER.findall(body(path)):
        used.setdefault(name, set()).add(typ)
    return used


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    settings = Settings(var_dir=tmp_path_factory.mktemp("analyst-queries"))
    if settings.store.url:
        pytest.skip("CLICKHOUSE_URL is set: these tests seed an embedded store of their own")
    catalogue = load_catalogue(settings.catalogue_file)
    store = open_store(settings, hold=True)
    try:
        apply_migrations(store, 36)
        mirror_catalogue(store, catalogue)
        summary = seed_store(store, catalogue, start_day=START, days=DAYS, halls=HALLS)
        yield store, summary
    finally:
        store.close()


def params_for(path: Path, summary: dict, **overrides) -> dict:
    """A test value for every parameter the file's header lists: by default every seeded day,
    [start_day, end_day + 1 day) as periods are half-open."""
    values = {
        "from_day": summary["start_day"], "to_day": summary["end_day"] + timedelta(days=1),
        "month": summary["second_month"],
        "city": "", "hall_id": "", "limit": 100, "min_surveys": 30, "min_transactions": 30, "min_issued": 30,
    }
    values.update(overrides)
    names = documented_parameters(path)
    missing = sorted(set(names) - set(values))
    assert not missing, f"{path.name}: give a test value for {missing}"
    return {n: values[n] for n in names}


def run(seeded, name: str, **overrides):
    store, summary = seeded
    path = QUERY_DIR / f"{name}.sql"
    return store.query(body(path), params_for(path, summary, **overrides), readonly=True).dicts()


# ---- the files themselves ---------------------------------------------------------------

def test_at_least_twelve_queries():
    assert len(QUERY_FILES) >= 12


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_header_asks_in_chinese_and_english_and_documents_every_placeholder(path):
    lines = header(path)
    assert lines and CJK.search(lines[0]), f"{path.name}: the first header line is the question in Chinese"
    assert len(re.findall(r"[A-Za-z]{2,}", lines[1])) >= 3, f"{path.name}: the second header line is the question in English"
    documented = documented_parameters(path)
    used = used_parameters(path)
    assert set(documented) == set(used), f"{path.name}: documented {sorted(documented)}, used {sorted(used)}"
    for name, types in used.items():
        assert types == {documented[name]}, f"{path.name}: {{{name}}} is used as {types}, documented as {documented[name]}"


def test_a_parameter_name_has_one_type_in_every_file():
    types: dict[str, set[str]] = {}
    for path in QUERY_FILES:
        for name, typ in documented_parameters(path).items():
            types.setdefault(name, set()).add(typ)
    assert {n: t for n, t in types.items() if len(t) > 1} == {}


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_parameters_are_bound_never_formatted(path):
    sql = body(path)
    leftover = PLACEHOLDER.sub("", sql)
    assert "{" not in leftover and "}" not in leftover, f"{path.name}: a brace that is not a {{name:Type}} placeholder"
    for marker in ("%s", "%(", "||", "' +", "+ '", '" +', '+ "', ".format("):
        assert marker not in sql, f"{path.name}: {marker!r} looks like SQL built from strings"
    assert ";" not in sql, f"{path.name}: one statement per file"


@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_the_guide_shows_each_query_verbatim(path):
    doc = DOC.read_text(encoding="utf-8")
    rel = path.relative_to(PROJECT_ROOT).as_posix()
    assert path.read_text(encoding="utf-8").strip() in doc, f"{rel} is not shown verbatim in {DOC.name}"
    assert f"hallpulse query --file {rel}" in doc


# ---- every query runs and returns rows ----------------------------------------------------

@pytest.mark.parametrize("path", QUERY_FILES, ids=lambda p: p.stem)
def test_every_query_runs_read_only_and_returns_rows(seeded, path):
    store, summary = seeded
    hall = summary["falling_satisfaction_hall"]  # has data of every kind, escalated complaints included
    result = store.query(body(path), params_for(path, summary, hall_id=hall), readonly=True)
    assert result.rows, f"{path.name} returned nothing"
    assert len(set(result.columns)) == len(result.columns)


def test_the_seed_is_consistent_between_facts_and_roll_ups(seeded):
    store, summary = seeded
    counts = summary["counts"]
    facts = store.query(
        "SELECT (SELECT count() FROM visits FINAL), (SELECT count() FROM wait_segments FINAL), "
        "(SELECT count() FROM transactions FINAL), (SELECT count() FROM complaints)", readonly=True).rows[0]
    assert facts == (counts["visits"], counts["wait_segments"], counts["transactions"], counts["complaints"])
    day = store.query("SELECT sum(issued), sum(called), sum(transactions), sum(complaints) "
                      "FROM day_metrics FINAL WHERE category = 'all'", readonly=True).rows[0]
    assert day == facts
    # visits, waits and transactions also count in their category; surveys only in the hall's 'all'
    by_category = store.query("SELECT sum(issued), sum(called), sum(transactions) "
                              "FROM day_metrics FINAL WHERE category != 'all'", readonly=True).rows[0]
    assert by_category == facts[:3]


def test_the_seed_is_deterministic():
    catalogue = load_catalogue(PROJECT_ROOT / "config" / "halls.toml")

    def seed(n):
        return seed_events(catalogue, start_day=date(2026, 12, 30), days=4, halls=HALLS[:4], seed=n)

    (events, summary), again, other = seed(7), seed(7), seed(8)
    assert (events, summary) == again
    assert events != other[0]
    assert summary["second_month"] == date(2027, 1, 1) and summary["complaint_burst_day"] == date(2027, 1, 1)
    assert [t for t, _, _ in events] == sorted(t for t, _, _ in events)


# ---- the answers the seed planted -----------------------------------------------------------

def test_the_slow_hall_ranks_first_at_peak(seeded):
    _, summary = seeded
    rows = run(seeded, "peak_wait_worst_halls")
    assert [r["hall_id"] for r in rows][0] == summary["slow_peak_hall"]
    assert {r["hall_id"] for r in rows} == set(HALLS)
    for r in rows:
        assert r["mean_wait_min"] == pytest.approx(summary["peak_mean_wait_s"][r["hall_id"]] / 60, abs=0.051)
    assert rows[0]["mean_wait_min"] > 2 * rows[1]["mean_wait_min"]


def test_the_city_and_limit_parameters_narrow_the_answer(seeded):
    rows = run(seeded, "peak_wait_worst_halls", city="苏州", limit=2)
    assert len(rows) == 2 and {r["city"] for r in rows} == {"苏州"}


def test_the_heatmap_is_hottest_in_the_slow_halls_peak_hours(seeded):
    _, summary = seeded
    rows = run(seeded, "wait_heatmap_hour_weekday", hall_id=summary["slow_peak_hall"])
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

    def mean_of(rows, hours):
        cells = [r[d] for r in rows if r["hour_of_day"] in hours for d in days if r[d] is not None]
        return sum(cells) / len(cells)

    assert {r["hour_of_day"] for r in rows} <= set(range(8, 21))  # opening hours, and calls just after
    assert sum(r["waits"] for r in rows) == summary["wait_segments_by_hall"][summary["slow_peak_hall"]]
    peak = mean_of(rows, {10, 11, 14, 15})
    assert peak > 3 * mean_of(rows, {8, 9})  # the morning before the rush
    other = run(seeded, "wait_heatmap_hour_weekday", hall_id=summary["busy_counter"]["hall_id"])
    assert peak > 2 * mean_of(other, {10, 11, 14, 15})  # a hall staffed for its peak


def test_complaint_categories_by_month_add_up_to_the_seeded_complaints(seeded):
    _, summary = seeded
    rows = run(seeded, "complaints_by_category_month")
    got = {(r["month"], r["complaint_category"]): r["complaints"] for r in rows}
    assert got == summary["complaints_by_month_category"]
    assert sum(got.values()) == summary["counts"]["complaints"]
    for month in {r["month"] for r in rows}:
        assert sum(r["share_of_month"] for r in rows if r["month"] == month) == pytest.approx(1, abs=0.01)


def test_the_falling_hall_tops_the_satisfaction_drop(seeded):
    _, summary = seeded
    hall, month = summary["falling_satisfaction_hall"], summary["second_month"]
    rows = run(seeded, "satisfaction_drop_halls")
    assert rows[0]["hall_id"] == hall
    assert rows[0]["change"] < -1.5
    assert all(r["change"] > -0.5 for r in rows[1:])
    prev_month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    csat = summary["csat_mean_by_hall_month"]
    assert rows[0]["mean_score"] == pytest.approx(csat[(hall, month)], abs=0.006)
    assert rows[0]["prev_mean_score"] == pytest.approx(csat[(hall, prev_month)], abs=0.006)


def test_the_slow_clerk_has_the_longest_handle_times(seeded):
    _, summary = seeded
    rows = run(seeded, "clerk_handle_time_vs_standard")
    assert (rows[0]["staff_id"], rows[0]["hall_id"]) == (summary["slow_clerk"]["staff_id"], summary["slow_clerk"]["hall_id"])
    assert rows[0]["handle_vs_standard"] > 1.5 > rows[1]["handle_vs_standard"]


def test_within_target_by_city_adds_up_over_categories(seeded):
    _, summary = seeded
    rows = run(seeded, "within_target_by_city_category")
    assert {r["city"] for r in rows} == {"南京", "苏州"}
    assert sum(r["waits"] for r in rows if r["category"] == "all") == summary["counts"]["wait_segments"]
    for city in ("南京", "苏州"):
        city_rows = [r for r in rows if r["city"] == city]
        assert city_rows[0]["category"] == "all"
        assert sum(r["waits"] for r in city_rows[1:]) == city_rows[0]["waits"]
        assert sum(r["within_target"] for r in city_rows[1:]) == city_rows[0]["within_target"]
        assert all(0 <= r["within_target_share"] <= 1 for r in city_rows)


def test_abandonment_peaks_where_it_was_planted(seeded):
    _, summary = seeded
    rows = run(seeded, "abandonment_by_hall_hour")
    assert (rows[0]["hall_id"], rows[0]["hour_of_day"]) == (summary["high_abandonment"]["hall_id"],
                                                             summary["high_abandonment"]["hour"])
    assert rows[0]["abandonment_rate"] > 0.25


def test_broadband_faults_are_the_worst_at_first_contact(seeded):
    _, summary = seeded
    rows = run(seeded, "first_contact_resolution_by_business_code")
    assert rows[0]["business_code"] == summary["low_fcr_business_code"]
    assert rows[0]["first_contact_rate"] < 0.6 < rows[1]["first_contact_rate"]


def test_escalated_complaints_of_a_hall_are_all_there_and_masked(seeded):
    _, summary = seeded
    hall = summary["falling_satisfaction_hall"]
    rows = run(seeded, "escalated_complaints_for_hall", hall_id=hall, limit=1000)
    assert len(rows) == summary["escalated_by_hall"][hall] >= 4  # the planted burst at least
    assert [r["answered_local"] for r in rows] == sorted((r["answered_local"] for r in rows), reverse=True)
    for r in rows:
        assert not contains_clear_phone(r["complaint_text"]) and not contains_clear_id(r["complaint_text"])
    assert any("****" in r["complaint_text"] for r in rows)
    assert len(run(seeded, "escalated_complaints_for_hall", hall_id=hall, limit=2)) == 2


def test_alert_counts_and_open_minutes_per_hall(seeded):
    _, summary = seeded
    rows = {r["hall_id"]: r for r in run(seeded, "alerts_per_hall")}
    for hall, expected in summary["alerts_by_hall"].items():
        if not expected["alerts"]:
            assert hall not in rows
            continue
        r = rows[hall]
        assert (r["alerts"], r["closed"], r["reached_critical"], r["complaint_spike_alerts"]) == (
            expected["alerts"], expected["closed"], expected["critical"], expected["complaint_spike"])
        assert r["still_open"] == expected["alerts"] - expected["closed"]
        assert r["open_minutes"] == pytest.approx(expected["open_s"] / 60, abs=0.051)
    assert max(rows.values(), key=lambda r: r["open_minutes"])["hall_id"] == summary["slow_peak_hall"]
    assert rows[summary["falling_satisfaction_hall"]]["complaint_spike_alerts"] >= 1


def test_daily_trend_has_every_day_and_every_visit_of_the_hall(seeded):
    _, summary = seeded
    hall = summary["slow_peak_hall"]
    rows = run(seeded, "hall_daily_trend", hall_id=hall)
    assert [r["day"] for r in rows][0] == summary["start_day"] and len(rows) == DAYS
    assert sum(r["visits"] for r in rows) == summary["visits_by_hall"][hall]
    # a range beyond the data: days without activity are listed as zeros, up to 3 December
    later = run(seeded, "hall_daily_trend", hall_id=hall, to_day=date(2026, 12, 4))
    assert len(later) == DAYS + 3 and later[-1]["visits"] == 0 and later[-1]["day"] == date(2026, 12, 3)
    # one day is [day, day + 1)
    one = run(seeded, "hall_daily_trend", hall_id=hall, from_day=date(2026, 10, 8), to_day=date(2026, 10, 9))
    assert [r["day"] for r in one] == [date(2026, 10, 8)] and one[0]["visits"] > 0


def test_the_low_audit_hall_comes_first_against_satisfaction(seeded):
    _, summary = seeded
    rows = run(seeded, "audit_vs_satisfaction")
    assert rows[0]["hall_id"] == summary["low_audit_hall"]
    assert rows[0]["audit_mean"] < 75 < rows[1]["audit_mean"]
    assert all(r["mystery_shopper_n"] > 0 and r["inspection_n"] > 0 for r in rows)


def test_the_first_counter_is_the_busiest(seeded):
    _, summary = seeded
    busy = summary["busy_counter"]
    rows = run(seeded, "busiest_counters", hall_id=busy["hall_id"])
    assert rows[0]["counter_id"] == busy["counter_id"]
    assert all(r["hall_id"] == busy["hall_id"] for r in rows)


def test_complaint_rate_per_10k_served(seeded):
    _, summary = seeded
    rows = run(seeded, "complaint_rate_by_hall")
    assert rows[0]["hall_id"] == summary["falling_satisfaction_hall"]
    assert sum(r["complaints"] for r in rows) == summary["counts"]["complaints"]
    for r in rows:
        assert r["complaints_per_10k"] == pytest.approx(r["complaints"] / r["served"] * 10000, abs=0.051)


# ---- periods are half-open: [from_day, to_day) ------------------------------------------------

# query -> (the additive column to sum, extra parameters so that every row is listed)
ADDITIVE = {
    "peak_wait_worst_halls": ("waits", {}),
    "wait_heatmap_hour_weekday": ("waits", {}),
    "complaints_by_category_month": ("complaints", {}),
    "clerk_handle_time_vs_standard": ("transactions", {"min_transactions": 0, "limit": 100000}),
    "within_target_by_city_category": ("waits", {}),
    "abandonment_by_hall_hour": ("issued", {"min_issued": 0, "limit": 100000}),
    "first_contact_resolution_by_business_code": ("transactions", {"min_transactions": 0}),
    "escalated_complaints_for_hall": (None, {"limit": 100000}),  # None: count the rows
    "alerts_per_hall": ("alerts", {}),
    "hall_daily_trend": ("visits", {}),
    "audit_vs_satisfaction": ("customer_surveys", {}),
    "busiest_counters": ("transactions", {"limit": 100000}),
    "complaint_rate_by_hall": ("complaints", {"limit": 100000}),
}


def test_every_query_with_a_period_is_listed_for_the_half_open_check():
    with_period = {p.stem for p in QUERY_FILES if "to_day" in documented_parameters(p)}
    assert with_period == set(ADDITIVE)
    for path in QUERY_FILES:
        if path.stem in with_period:
            assert not re.search(r"\bBETWEEN\b", body(path), re.IGNORECASE), \
                f"{path.name}: use day >= from_day AND day < to_day"
            assert "first business day NOT included" in path.read_text(encoding="utf-8"), \
                f"{path.name}: say that to_day is not included"


def _total(seeded, name: str, **params) -> int:
    column, extra = ADDITIVE[name]
    rows = run(seeded, name, **{**extra, **params})
    if name == "within_target_by_city_category":
        rows = [r for r in rows if r["category"] == "all"]
    return len(rows) if column is None else sum(r[column] for r in rows)


@pytest.mark.parametrize("name", sorted(ADDITIVE))
def test_adjacent_periods_add_up_to_the_whole(seeded, name):
    """[a, b) + [b, c) = [a, c): the day b is counted once, whatever the query."""
    _, summary = seeded
    hall = summary["falling_satisfaction_hall"]  # has data of every kind
    a, c = summary["start_day"], summary["end_day"] + timedelta(days=1)
    whole = _total(seeded, name, hall_id=hall, from_day=a, to_day=c)
    assert whole > 0
    for b in (summary["second_month"], summary["complaint_burst_day"]):
        first = _total(seeded, name, hall_id=hall, from_day=a, to_day=b)
        second = _total(seeded, name, hall_id=hall, from_day=b, to_day=c)
        assert first + second == whole, f"{name}: split at {b}"


@pytest.mark.parametrize("name", ["busiest_counters", "complaint_rate_by_hall", "peak_wait_worst_halls",
                                  "abandonment_by_hall_hour", "escalated_complaints_for_hall"])
def test_to_day_is_not_included(seeded, name):
    """The day before to_day is in the answer, to_day itself is not; an empty period is empty."""
    _, summary = seeded
    hall, day = summary["falling_satisfaction_hall"], summary["complaint_burst_day"]
    one_day = _total(seeded, name, hall_id=hall, from_day=day, to_day=day + timedelta(days=1))
    assert one_day > 0
    assert _total(seeded, name, hall_id=hall, from_day=day, to_day=day) == 0
    two_days = _total(seeded, name, hall_id=hall, from_day=day - timedelta(days=1), to_day=day + timedelta(days=1))
    before = _total(seeded, name, hall_id=hall, from_day=day - timedelta(days=1), to_day=day)
    assert two_days == before + one_day
