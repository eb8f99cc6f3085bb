"""Grafana dashboards: their structure, and every panel's SQL run against the real schema.

The SQL is executed in embedded ClickHouse (chDB) with ``sinks/migrations`` applied, after
the Grafana variables and the ClickHouse plugin's macros have been expanded the way the
plugin does it (``$__conditionalAll`` and variables in the browser, then ``$__timeFilter``,
``$__fromTime``… in the plugin backend, see grafana/clickhouse-datasource
``pkg/macros/macros.go``). A few rows go into the tables first, so the key panels are also
checked for the numbers they show.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from hallpulse.config import Settings
from sinks.migrate import apply_migrations
from sinks.store import open_store

ROOT = Path(__file__).resolve().parent.parent
DASH_DIR = ROOT / "dashboards"
DATASOURCE_FILE = DASH_DIR / "provisioning" / "datasources" / "clickhouse.yaml"
DASHBOARD_FILES = sorted(DASH_DIR.glob("*.json"))
MIGRATIONS = sorted((ROOT / "sinks" / "migrations").glob("*.sql"))
PLUGIN = "grafana-clickhouse-datasource"

# The time range used for every query: November 2026 in Asia/Shanghai, as Grafana sends
# "this month" for a dashboard whose time zone is Asia/Shanghai.
FROM_T = datetime(2026, 10, 31, 16, 0, 0, tzinfo=timezone.utc)  # 2026-11-01 00:00 +08:00
TO_T = datetime(2026, 11, 30, 15, 59, 59, tzinfo=timezone.utc)  # 2026-11-30 23:59:59 +08:00


# ---- the macro and variable expander ---------------------------------------------------

def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at ``open_paren`` (split on top-level commas),
    and the index just past its ')'."""
    depth, start, args = 0, open_paren + 1, []
    quote = None
    for i in range(open_paren, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote and sql[i - 1] != "\\":
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:i].strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[start:i].strip())
            start = i + 1
    raise ValueError(f"unbalanced parentheses after position {open_paren}: {sql[open_paren:open_paren + 60]!r}")


def _is_all(value) -> bool:
    return value in ("", "$__all") or value == ["$__all"]


def _quote(v: str) -> str:
    return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _format_var(value, fmt: str | None) -> str:
    values = value if isinstance(value, list) else [value]
    if fmt == "singlequote":
        return ",".join(_quote(v) for v in values)
    if fmt in (None, "raw"):
        # the plugin's own formatter: a multi value becomes 'a','b'; a single one stays raw
        return ",".join(_quote(v) for v in values) if isinstance(value, list) else str(value)
    raise ValueError(f"variable format {fmt!r} is not handled by this expander")


def expand(sql: str, variables: dict, *, frm: datetime = FROM_T, to: datetime = TO_T,
           interval_s: int = 60) -> str:
    """Replace Grafana variables and ClickHouse-plugin macros with concrete SQL."""
    # 1. $__conditionalAll(condition, $var): the plugin's frontend, before variables
    macro = "$__conditionalAll("
    while (i := sql.rfind(macro)) != -1:
        args, end = _macro_args(sql, i + len(macro) - 1)
        assert len(args) == 2, f"$__conditionalAll takes 2 arguments: {args}"
        m = re.fullmatch(r"\$\{?(\w+)\}?", args[1])
        assert m, f"second argument of $__conditionalAll must be a variable: {args[1]!r}"
        phrase = "1=1" if _is_all(variables[m.group(1)]) else args[0]
        sql = sql[:i] + phrase + sql[end:]

    # 2. template variables: ${name}, ${name:format}, $name (Grafana's template service)
    def var(m: re.Match) -> str:
        name = m.group(1) or m.group(3)
        value = variables[name]
        assert not _is_all(value), f"${name} is 'All' outside $__conditionalAll: its expansion is not defined here"
        return _format_var(value, m.group(2))

    sql = re.sub(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)", var, sql)

    # 3. the plugin backend's macros (pkg/macros/macros.go)
    f, t = int(frm.timestamp()), int(to.timestamp())
    plain = {
        "fromTime": f"toDateTime({f})",
        "toTime": f"toDateTime({t})",
        "fromTime_ms": f"fromUnixTimestamp64Milli({f * 1000})",
        "toTime_ms": f"fromUnixTimestamp64Milli({t * 1000})",
        "interval_s": str(interval_s),
    }
    with_args = {
        "timeFilter": lambda c: f"{c} >= toDateTime({f}) AND {c} <= toDateTime({t})",
        "timeFilter_ms": lambda c: (f"{c} >= fromUnixTimestamp64Milli({f * 1000}) AND "
                                    f"{c} <= fromUnixTimestamp64Milli({t * 1000})"),
        "dateFilter": lambda c: (f"{c} >= toDate('{frm.astimezone(timezone.utc):%Y-%m-%d}') AND "
                                 f"{c} <= toDate('{to.astimezone(timezone.utc):%Y-%m-%d}')"),
        "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {interval_s} second)",
    }
    out, pos = [], 0
    for m in re.finditer(r"\$__(\w+)", sql):
        if m.start() < pos:
            continue
        name = m.group(1)
        out.append(sql[pos:m.start()])
        if name in with_args:
            assert sql[m.end():m.end() + 1] == "(", f"$__{name} needs an argument"
            args, end = _macro_args(sql, m.end())
            assert len(args) == 1, f"$__{name} takes one argument: {args}"
            out.append(with_args[name](args[0]))
            pos = end
        elif name in plain:
            out.append(plain[name])
            pos = m.end()
        else:
            raise AssertionError(f"macro $__{name} is not handled by this expander")
    out.append(sql[pos:])
    sql = "".join(out)
    assert "$" not in sql, f"unexpanded variable or macro left in:\n{sql}"
    return sql


def test_expander_follows_the_plugin():
    sql = ("SELECT $__timeInterval(minute) AS time FROM t WHERE $__timeFilter(minute) "
           "AND hall_id = '${hall}' AND $__conditionalAll(city IN (${city:singlequote}), $city) "
           "AND d BETWEEN toDate($__fromTime, 'Asia/Shanghai') AND toDate($__toTime, 'Asia/Shanghai')")
    got = expand(sql, {"hall": "JS-NJ-0001", "city": ["南京", "苏州"]}, interval_s=300)
    assert got == (
        "SELECT toStartOfInterval(toDateTime(minute), INTERVAL 300 second) AS time FROM t "
        "WHERE minute >= toDateTime(1793462400) AND minute <= toDateTime(1796054399) "
        "AND hall_id = 'JS-NJ-0001' AND city IN ('南京','苏州') "
        "AND d BETWEEN toDate(toDateTime(1793462400), 'Asia/Shanghai') "
        "AND toDate(toDateTime(1796054399), 'Asia/Shanghai')")
    assert "1=1" in expand("WHERE $__conditionalAll(city IN (${city:singlequote}), $city)", {"city": ["$__all"]})
    with pytest.raises(AssertionError):
        expand("WHERE $__unknownMacro(x)", {})


# ---- the dashboards as data ------------------------------------------------------------

def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def provisioned_uid() -> str:
    text = DATASOURCE_FILE.read_text(encoding="utf-8")
    assert re.search(rf"^\s*type:\s*{PLUGIN}\s*$", text, re.M), "the data source must use the official plugin"
    uids = re.findall(r"^\s*uid:\s*['\"]?([\w-]+)['\"]?\s*$", text, re.M)
    assert len(uids) == 1, uids
    return uids[0]


def all_panels(dash: dict) -> list[dict]:
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # collapsed rows keep their panels inside
    return out


def targets(dash: dict):
    """(panel, target) for every query target, in panel order."""
    for p in all_panels(dash):
        for t in p.get("targets", []):
            yield p, t


def panel(dash: dict, title: str) -> dict:
    found = [p for p in all_panels(dash) if p.get("title") == title]
    assert len(found) == 1, f"{len(found)} panels titled {title!r}"
    return found[0]


def variables_of(dash: dict) -> list[dict]:
    return dash.get("templating", {}).get("list", [])


def default_values(dash: dict) -> dict:
    return {v["name"]: v.get("current", {}).get("value", "") for v in variables_of(dash)}


def replacing_tables() -> set[str]:
    """Tables whose engine is a ReplacingMergeTree (read with FINAL)."""
    names = set()
    for f in MIGRATIONS:
        for m in re.finditer(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*?)\)\s*ENGINE\s*=\s*(\w+)",
                             f.read_text(encoding="utf-8"), re.S):
            if m.group(3) == "ReplacingMergeTree":
                names.add(m.group(1))
    return names


def test_there_are_the_three_dashboards():
    names = {p.name for p in DASHBOARD_FILES}
    assert {"hall-live.json", "city-overview.json", "assessment.json"} <= names
    titles = {load(p)["title"] for p in DASHBOARD_FILES}
    assert {"厅店实时 Hall live", "城市总览 City overview", "考核 Assessment"} <= titles


def test_dashboard_uids_are_unique():
    uids = [load(p)["uid"] for p in DASHBOARD_FILES]
    assert len(set(uids)) == len(uids) and all(uids)


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_structure(path: Path):
    dash = load(path)
    uid = provisioned_uid()
    assert dash.get("id") is None, "provisioned dashboards carry no numeric id"
    assert dash["schemaVersion"] >= 36, "Grafana 10/11 schema"
    assert re.search(r"[\u4e00-\u9fff]", dash["title"]) and re.search(r"[A-Za-z]", dash["title"]), \
        "titles are bilingual (中文 English)"
    assert dash.get("timezone") == "Asia/Shanghai", "business days are Asia/Shanghai"

    panels = all_panels(dash)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    titles = [p["title"] for p in panels]
    assert len(titles) == len(set(titles)), f"duplicate panel titles: {titles}"

    cells = set()
    for p in panels:
        assert re.search(r"[\u4e00-\u9fff]", p["title"]) and re.search(r"[A-Za-z]", p["title"]), p["title"]
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (p["title"], g)
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"panel {p['title']!r} overlaps another"
        cells |= mine
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": PLUGIN, "uid": uid}, p["title"]
        assert p.get("targets"), f"panel {p['title']!r} has no query"
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": PLUGIN, "uid": uid}, p["title"]
            assert t.get("editorType") == "sql" and t.get("rawSql", "").strip(), p["title"]
            if p["type"] == "timeseries":
                assert t["format"] == 0 and t["queryType"] == "timeSeries", p["title"]
                assert re.search(r"\bAS time\b", t["rawSql"]), f"{p['title']!r} needs a `time` column"
            else:
                assert t["format"] == 1 and t["queryType"] == "table", p["title"]

    for v in variables_of(dash):
        if v["type"] == "query":
            assert v["datasource"] == {"type": PLUGIN, "uid": uid}, v["name"]
            assert v["query"]["rawSql"].strip() and v["definition"] == v["query"]["rawSql"], v["name"]
    queries = [t["rawSql"] for _, t in targets(dash)]
    queries += [v["query"]["rawSql"] for v in variables_of(dash) if v["type"] == "query"]
    for v in variables_of(dash):
        used = any(re.search(rf"\$\{{?{v['name']}\b", sql) for sql in queries)
        assert used, f"variable ${v['name']} is used by no panel and no other variable"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_sql_conventions(path: Path):
    """ReplacingMergeTree tables are read with FINAL; days and hours are taken in Asia/Shanghai."""
    dash = load(path)
    rmt = replacing_tables()
    assert {"minute_metrics", "day_metrics", "hour_metrics", "halls", "alerts"} <= rmt
    sqls = [t["rawSql"] for _, t in targets(dash)]
    sqls += [v["query"]["rawSql"] for v in variables_of(dash) if v["type"] == "query"]
    for sql in sqls:
        for m in re.finditer(r"\b(?:FROM|JOIN)\s+(\w+)(\s+AS\s+\w+)?(\s+FINAL\b)?", sql, re.I):
            if m.group(1) in rmt:
                assert m.group(3), f"{m.group(1)} read without FINAL in:\n{sql}"
        for m in re.finditer(r"\b(toDate|toHour|toStartOfDay|toDayOfWeek|toYYYYMM|toStartOfMonth)\(", sql):
            args, _ = _macro_args(sql, m.end() - 1)
            assert len(args) == 2 and args[1] == "'Asia/Shanghai'", \
                f"{m.group(0)} must name Asia/Shanghai: {m.group(0)}{', '.join(args)})"


# ---- running the SQL -------------------------------------------------------------------

def utc(*a) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


NJ1, NJ2, SZ1, SZ2 = "JS-NJ-0001", "JS-NJ-0002", "JS-SZ-0001", "JS-SZ-0002"

HALLS = [
    # an older catalogue row for NJ1 (other name): FINAL keeps only the newest
    dict(hall_id=NJ1, name="旧名称", city="南京", loaded_at=utc(2026, 10, 1)),
    dict(hall_id=NJ1, name="南京新街口营业厅", city="南京", loaded_at=utc(2026, 11, 1)),
    dict(hall_id=NJ2, name="南京鼓楼营业厅", city="南京", loaded_at=utc(2026, 11, 1)),
    dict(hall_id=SZ1, name="苏州观前营业厅", city="苏州", loaded_at=utc(2026, 11, 1)),
    dict(hall_id=SZ2, name="苏州园区营业厅", city="苏州", loaded_at=utc(2026, 11, 1)),
]

# NJ1, whole hall, 2026-11-23 09:15 and 09:16 Asia/Shanghai
MINUTES = [
    dict(hall_id=NJ1, category="all", minute=utc(2026, 11, 23, 1, 15), issued=10, abandoned=1, called=8,
         within_target=6, wait_sum_s=2400.0, wait_max_s=900.0, transactions=7, csat_n=4, csat_sum=36,
         csat_satisfied=3, complaints=1, complaints_escalated=1, queue_len=12, longest_wait_s=700.0,
         active_counters=5, est_wait_s=500.0, version=1),
    # a stale version of 09:16 (replaced by the row after it)
    dict(hall_id=NJ1, category="all", minute=utc(2026, 11, 23, 1, 16), issued=99, called=99, within_target=0,
         wait_sum_s=99999.0, wait_max_s=9999.0, queue_len=99, longest_wait_s=9999.0, version=1),
    dict(hall_id=NJ1, category="all", minute=utc(2026, 11, 23, 1, 16), issued=6, called=4, within_target=4,
         wait_sum_s=600.0, wait_max_s=200.0, transactions=5, csat_n=1, csat_sum=10, csat_satisfied=1,
         queue_len=9, longest_wait_s=420.0, active_counters=6, est_wait_s=300.0, version=2),
    # the consult queue of the same hall, and another hall: neither in the NJ1/all panels
    dict(hall_id=NJ1, category="consult", minute=utc(2026, 11, 23, 1, 15), issued=3, called=3, within_target=1,
         wait_sum_s=1500.0, wait_max_s=800.0, queue_len=4, longest_wait_s=650.0, version=1),
    dict(hall_id=NJ2, category="all", minute=utc(2026, 11, 23, 1, 15), issued=50, called=50, within_target=0,
         wait_sum_s=50000.0, queue_len=40, version=1),
    # outside the time range
    dict(hall_id=NJ1, category="all", minute=utc(2026, 10, 31, 15, 59), issued=500, called=500,
         within_target=0, queue_len=77, version=1),
]

ALERTS = [
    dict(alert_id="A1", action="opened", hall_id=NJ1, category="consult", rule="queue", level="warning",
         occurred_at=utc(2026, 11, 23, 1, 15), opened_at=utc(2026, 11, 23, 1, 15),
         triggers=["longest_wait"], figures={"longest_wait_s": 650.0}, suggested_action="open a counter"),
    dict(alert_id="A1", action="escalated", hall_id=NJ1, category="consult", rule="queue", level="critical",
         occurred_at=utc(2026, 11, 23, 1, 25), opened_at=utc(2026, 11, 23, 1, 15),
         triggers=["longest_wait", "waiting"], figures={"longest_wait_s": 1300.0, "waiting": 31.0},
         suggested_action="open a counter; send customers to self-service"),
    dict(alert_id="A1", action="closed", hall_id=NJ1, category="consult", rule="queue", level="critical",
         occurred_at=utc(2026, 11, 23, 1, 45), opened_at=utc(2026, 11, 23, 1, 15),
         triggers=[], figures={}, suggested_action=""),
    dict(alert_id="A2", action="opened", hall_id=NJ1, category="all", rule="complaint_spike", level="warning",
         occurred_at=utc(2026, 11, 23, 2, 0), opened_at=utc(2026, 11, 23, 2, 0),
         triggers=["complaints"], figures={"complaints": 3.0}, suggested_action="lobby manager to the floor"),
    # the same event delivered twice
    dict(alert_id="A2", action="opened", hall_id=NJ1, category="all", rule="complaint_spike", level="warning",
         occurred_at=utc(2026, 11, 23, 2, 0), opened_at=utc(2026, 11, 23, 2, 0),
         triggers=["complaints"], figures={"complaints": 3.0}, suggested_action="lobby manager to the floor"),
    dict(alert_id="B1", action="opened", hall_id=NJ2, category="all", rule="queue", level="critical",
         occurred_at=utc(2026, 11, 23, 2, 0), opened_at=utc(2026, 11, 23, 2, 0)),
]


def _day(hall, day, category="all", version=2, **kw):
    return dict(hall_id=hall, category=category, day=day, version=version, **kw)


NOV23 = date(2026, 11, 23)
DAYS = [
    _day(NJ1, NOV23, issued=220, visits_served=200, abandoned=4, called=200, within_target=180,
         wait_sum_s=200 * 240.0, csat_n=50, csat_sum=460, complaints=1),
    _day(NJ1, NOV23, version=1, issued=1, visits_served=1, called=1, within_target=0, wait_sum_s=1e6),  # stale
    _day(NJ2, NOV23, issued=160, visits_served=150, abandoned=8, called=150, within_target=90,
         wait_sum_s=150 * 600.0, csat_n=40, csat_sum=320, complaints=3),
    _day(SZ1, date(2026, 11, 24), issued=125, visits_served=120, abandoned=2, called=120, within_target=114,
         wait_sum_s=120 * 180.0, csat_n=30, csat_sum=285, complaints=0),
    # too few calls to be ranked among the worst halls
    _day(SZ2, NOV23, issued=60, visits_served=50, abandoned=5, called=50, within_target=10,
         wait_sum_s=50 * 900.0, csat_n=5, csat_sum=30, complaints=2),
    # other categories and days outside November (Asia/Shanghai)
    _day(NJ1, NOV23, category="consult", issued=30, visits_served=30, called=30, within_target=0,
         wait_sum_s=30 * 1000.0),
    _day(NJ1, date(2026, 10, 31), issued=1000, visits_served=1000, called=1000, within_target=0, complaints=50),
    _day(SZ1, date(2026, 12, 1), issued=1000, visits_served=1000, called=1000, within_target=0, complaints=50),
]

# 2026-11-23 09:00 Asia/Shanghai is 01:00 UTC; 2026-11-24 14:00 is 06:00 UTC
HOURS = [
    dict(hall_id=NJ1, category="all", hour=utc(2026, 11, 23, 1), called=1000, wait_sum_s=1e6, version=0),  # stale
    dict(hall_id=NJ1, category="all", hour=utc(2026, 11, 23, 1), called=10, wait_sum_s=3000.0, version=1),
    dict(hall_id=NJ2, category="all", hour=utc(2026, 11, 23, 1), called=10, wait_sum_s=1000.0, version=1),
    dict(hall_id=SZ1, category="all", hour=utc(2026, 11, 24, 6), called=4, wait_sum_s=400.0, version=1),
    dict(hall_id=NJ1, category="consult", hour=utc(2026, 11, 23, 1), called=1, wait_sum_s=9000.0, version=1),
]


# ---- published assessments (the assessment dashboard) -----------------------------------

def _assessment_versions() -> tuple[list[dict], dict]:
    """Versions of 2026-11 as ``publish`` writes them: the real scoring on four halls, then
    a version 2 (an accepted appeal) in which NJ2 scores better. SZ2 has too little data to
    be graded (不参评); SZ1 lacks satisfaction surveys, so it is graded on few indicators.
    And an older period whose figures must not show."""
    from sinks.assessment.scheme import load_scheme
    from sinks.assessment.scoring import HallFigures, assess

    scheme = load_scheme(ROOT / "config" / "assessment.toml")
    full = {"within_target": 90.0, "mean_wait": 6.0, "satisfaction": 92.0, "complaints": 1.0, "handle": 110.0,
            "abandonment": 3.0, "audit": 90.0}
    enough = {"visits": 500, "csat": 60, "audit": 2}

    def fig(hall, name, city, issued, values, samples):
        return HallFigures(hall, name, city, "江苏", issued, {**full, **values}, {**enough, **samples})

    def results(nj2_within: float) -> dict:
        return assess(scheme, [
            fig(NJ1, "南京新街口营业厅", "南京", 600, {}, {"visits": 600}),
            fig(NJ2, "南京鼓楼营业厅", "南京", 400, {"within_target": nj2_within, "satisfaction": 75.0},
                {"visits": 400}),
            fig(SZ1, "苏州观前营业厅", "苏州", 300, {"within_target": 95.0}, {"visits": 300, "csat": 5}),
            fig(SZ2, "苏州园区营业厅", "苏州", 30, {}, {"visits": 30, "audit": 0}),
        ]).as_dict()

    v1, v2 = results(62.0), results(94.0)
    row = dict(period="2026-11", appeals="[]", scheme=json.dumps(scheme.model_dump(), ensure_ascii=False))
    return [
        dict(row, version=1, version_id="a", published_at=utc(2026, 12, 1, 2), published_by="质量办张",
             reason="initial publication", results=json.dumps(v1, ensure_ascii=False)),
        dict(row, version=2, version_id="b", published_at=utc(2026, 12, 3, 1, 30), published_by="质量办赵",
             reason="appeal AP-1 accepted", appeal_ids=["AP-1"], results=json.dumps(v2, ensure_ascii=False)),
        dict(row, period="2026-10", version=1, version_id="c", published_at=utc(2026, 10, 24, 2), forced=1,
             published_by="质量办张", reason="forced", results=json.dumps(results(10.0), ensure_ascii=False)),
    ], v2


PERIOD = "2026-11"
VERSIONS, LATEST_RESULTS = _assessment_versions()


def insert(store, table: str, rows: list[dict]) -> None:
    cols = store.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() "
        f"AND table = '{table}' ORDER BY position").rows
    names = [c for c, _ in cols]
    unknown = {k for r in rows for k in r} - set(names)
    assert not unknown, f"{table} has no columns {unknown}"

    def default(ctype: str):
        if ctype.startswith("Array"):
            return []
        if ctype.startswith("Map"):
            return {}
        if "String" in ctype:
            return ""
        if ctype.startswith("DateTime"):
            return utc(2026, 11, 1)
        return 0

    # one part per row, with merges stopped: a replaced row stays beside its replacement
    # until read with FINAL, as it does on a server between merges
    store.command(f"SYSTEM STOP MERGES {table}")
    for r in rows:
        store.insert(table, [[r.get(c, default(t)) for c, t in cols]], names)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        for name in ("CLICKHOUSE_URL", "HALLPULSE__STORE__URL", "HALLPULSE__STORE__CHDB_PATH"):
            mp.delenv(name, raising=False)
        settings = Settings(var_dir=tmp_path_factory.mktemp("dashboards-var"))
        assert settings.store.embedded
        st = open_store(settings, hold=True)
    try:
        apply_migrations(st, 36)
        for h in HALLS:
            h.update(name_en="", province="江苏", size_class="large", counters=8, opens="08:30:00", closes="18:00:00")
        insert(st, "halls", HALLS)
        insert(st, "minute_metrics", MINUTES)
        insert(st, "alerts", ALERTS)
        insert(st, "day_metrics", DAYS)
        insert(st, "hour_metrics", HOURS)
        insert(st, "assessment_versions", VERSIONS)
        yield st
    finally:
        st.close()


def test_the_data_needs_final(store):
    """The replaced rows are really there: a panel reading without FINAL would be wrong."""
    for table, where in [("minute_metrics", f"hall_id = '{NJ1}' AND minute = '2026-11-23 01:16:00'"),
                         ("day_metrics", f"hall_id = '{NJ1}' AND category = 'all' AND day = '2026-11-23'"),
                         ("hour_metrics", f"hall_id = '{NJ1}' AND category = 'all' AND hour = '2026-11-23 01:00:00'"),
                         ("halls", f"hall_id = '{NJ1}'")]:
        assert one(store.query(f"SELECT count() FROM {table} WHERE {where}")) == (2,), table
        assert one(store.query(f"SELECT count() FROM {table} FINAL WHERE {where}")) == (1,), table


def run(store, sql: str, variables: dict, **kw):
    return store.query(expand(sql, variables, **kw), readonly=True)


def run_panel(store, dash: dict, title: str, **overrides):
    variables = {**default_values(dash), **overrides}
    p = panel(dash, title)
    assert len(p["targets"]) == 1
    return run(store, p["targets"][0]["rawSql"], variables)


HALL_LIVE = load(DASH_DIR / "hall-live.json")
CITY = load(DASH_DIR / "city-overview.json")


def _cases():
    for path in DASHBOARD_FILES:
        dash = load(path)
        for p, t in targets(dash):
            yield pytest.param(path, p["id"], t["refId"], id=f"{path.stem}:{p['id']}{t['refId']}:{p['title']}")


@pytest.mark.parametrize("path,panel_id,ref", list(_cases()))
def test_every_panel_query_runs(store, path, panel_id, ref):
    dash = load(path)
    p = next(p for p in all_panels(dash) if p["id"] == panel_id)
    t = next(t for t in p["targets"] if t["refId"] == ref)
    base = {**default_values(dash), "hall": NJ1, "period": PERIOD}
    for variables in (base, {**base, "city": ["南京"], "category": "consult"}, {**base, "city": ["苏州"]}):
        for interval_s in (60, 3600):
            r = run(store, t["rawSql"], variables, interval_s=interval_s)
            if variables is base:
                assert r.rows, "the test data should show something in every panel"
            if r.rows and t["format"] == 0:
                assert r.columns[0] == "time" and r.types[0].startswith("DateTime"), (r.columns, r.types)
            if p["type"] == "stat":
                assert len(r.rows) == 1, "a stat panel reduces to one row"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda p: p.name)
def test_variable_queries_run(store, path):
    dash = load(path)
    values = default_values(dash)
    for v in variables_of(dash):
        if v["type"] != "query":
            continue
        r = run(store, v["query"]["rawSql"], values)
        assert r.rows, f"variable ${v['name']} offers nothing"
        if v["name"] == "period":
            assert [x[0] for x in r.rows] == ["2026-11", "2026-10"]   # the newest first
        if v["name"] == "city":
            assert [x[0] for x in r.rows] == ["南京", "苏州"]
        if v["name"] == "hall":
            # value = hall_id, text = the current catalogue name
            assert r.rows[0] == (NJ1, f"南京新街口营业厅 · {NJ1}")
            assert [x[0] for x in run(store, v["query"]["rawSql"], {**values, "city": ["苏州"]}).rows] == [SZ1, SZ2]


# ---- the numbers the key panels show ---------------------------------------------------

def one(result) -> tuple:
    assert len(result.rows) == 1, result.rows
    return result.rows[0]


def test_hall_live_headline_figures(store):
    d = HALL_LIVE
    assert one(run_panel(store, d, "当前排队 Queue now", hall=NJ1)) == (9,)       # the latest minute, current version
    assert one(run_panel(store, d, "当前最长等候 Longest wait now", hall=NJ1)) == (420.0,)
    assert one(run_panel(store, d, "预计等候 Estimated wait", hall=NJ1)) == (300.0,)
    assert one(run_panel(store, d, "等候达标率 Called within target", hall=NJ1))[0] == pytest.approx(10 / 12)
    assert one(run_panel(store, d, "满意度 CSAT ×10", hall=NJ1))[0] == pytest.approx(10 * 46 / 5)
    assert one(run_panel(store, d, "投诉数 Complaints", hall=NJ1)) == (1, 1)
    assert one(run_panel(store, d, "弃号率 Abandonment", hall=NJ1))[0] == pytest.approx(1 / 16)
    # the consult queue alone
    assert one(run_panel(store, d, "当前排队 Queue now", hall=NJ1, category="consult")) == (4,)
    assert one(run_panel(store, d, "等候达标率 Called within target", hall=NJ1, category="consult"))[0] == \
        pytest.approx(1 / 3)


def test_hall_live_time_series(store):
    d = HALL_LIVE
    r = run_panel(store, d, "等候时长 Waiting time: mean / max", hall=NJ1)
    assert r.columns == ["time", "平均等候 mean wait", "最长等候 max wait"]
    assert [(t.replace(tzinfo=None), mean, mx) for t, mean, mx in r.rows] == [
        (datetime(2026, 11, 23, 1, 15), 300.0, 900.0),
        (datetime(2026, 11, 23, 1, 16), 150.0, 200.0),
    ]
    r = run_panel(store, d, "取号与叫号 Issued vs called", hall=NJ1)
    assert [row[1:] for row in r.rows] == [(10, 8, 7), (6, 4, 5)]
    # hourly buckets add the minutes up
    p = panel(d, "等候达标率 Share called within target")
    r = run(store, p["targets"][0]["rawSql"], {**default_values(d), "hall": NJ1}, interval_s=3600)
    assert len(r.rows) == 1 and r.rows[0][1] == pytest.approx(10 / 12)
    r = run_panel(store, d, "排队人数与最长等候 Queue length & longest wait", hall=NJ1)
    assert [row[1:] for row in r.rows] == [(12, 700.0, 5), (9, 420.0, 6)]


def test_hall_live_alerts_table(store):
    r = run_panel(store, HALL_LIVE, "排队预警 Queue alerts", hall=NJ1).dicts()
    assert [a["编号 alert"] for a in r] == ["A2", "A1"]  # open first
    a2, a1 = r
    assert a2["状态 state"] == "进行中 open" and a2["关闭 closed"] is None and a2["最高级别 max level"] == "warning"
    assert a1["状态 state"] == "已关闭 closed" and a1["最高级别 max level"] == "critical"
    assert a1["持续 duration"] == 30 * 60
    assert a1["类别 category"] == "consult" and a2["规则 rule"] == "complaint_spike"
    assert a2["触发 triggers"] == "complaints"
    # the consult queue sees its own alerts and the hall-wide ones
    r = run_panel(store, HALL_LIVE, "排队预警 Queue alerts", hall=NJ1, category="payment").dicts()
    assert [a["编号 alert"] for a in r] == ["A2"]


def _expected(rows):
    called = sum(r.get("called", 0) for r in rows)
    issued = sum(r.get("issued", 0) for r in rows)
    served = sum(r.get("visits_served", 0) for r in rows)
    return {
        "达标率 within target": sum(r.get("within_target", 0) for r in rows) / called,
        "平均等候 mean wait": sum(r.get("wait_sum_s", 0) for r in rows) / called,
        "满意度 csat ×10": 10 * sum(r.get("csat_sum", 0) for r in rows) / sum(r.get("csat_n", 0) for r in rows),
        "万客户投诉率 complaints / 10k served": 10000 * sum(r.get("complaints", 0) for r in rows) / served,
        "弃号率 abandonment": sum(r.get("abandoned", 0) for r in rows) / issued,
        "取号 issued": issued,
        "服务 served": served,
    }


def _current_days(halls):
    return [r for r in DAYS if r["hall_id"] in halls and r["category"] == "all" and r["version"] == 2
            and r["day"].month == 11]


def _check(row: dict, expected: dict):
    for k, v in expected.items():
        assert row[k] == pytest.approx(v), k


def test_city_overview_by_city(store):
    r = run_panel(store, CITY, "各市 By city").dicts()
    assert [x["城市 city"] for x in r] == ["南京", "苏州"]  # best share within target first: 77 % vs 73 %
    by_city = {x["城市 city"]: x for x in r}
    _check(by_city["南京"], _expected(_current_days({NJ1, NJ2})))
    _check(by_city["苏州"], _expected(_current_days({SZ1, SZ2})))
    assert by_city["南京"]["厅店 halls"] == 2
    # spelled out once: 南京 = (180 + 90) / (200 + 150)
    assert by_city["南京"]["达标率 within target"] == pytest.approx(270 / 350)
    assert by_city["南京"]["万客户投诉率 complaints / 10k served"] == pytest.approx(4 / 350 * 10000)
    # one city selected
    r = run_panel(store, CITY, "各市 By city", city=["苏州"]).dicts()
    assert [x["城市 city"] for x in r] == ["苏州"]


def test_city_overview_by_hall_and_headline(store):
    rows = {x["厅号 hall id"]: x for x in run_panel(store, CITY, "各厅 By hall").dicts()}
    assert set(rows) == {NJ1, NJ2, SZ1, SZ2}
    for hall, row in rows.items():
        _check(row, _expected(_current_days({hall})))
    assert rows[NJ1]["营业厅 hall"] == "南京新街口营业厅"
    everything = _expected(_current_days({NJ1, NJ2, SZ1, SZ2}))
    assert one(run_panel(store, CITY, "等候达标率 Called within target"))[0] == \
        pytest.approx(everything["达标率 within target"])
    assert one(run_panel(store, CITY, "万客户投诉率 Complaints / 10k served"))[0] == \
        pytest.approx(everything["万客户投诉率 complaints / 10k served"])
    nanjing = _expected(_current_days({NJ1, NJ2}))
    assert one(run_panel(store, CITY, "满意度 CSAT ×10", city=["南京"]))[0] == pytest.approx(nanjing["满意度 csat ×10"])


def test_city_overview_worst_halls(store):
    r = run_panel(store, CITY, "最差厅店·达标率 Worst halls: within target").dicts()
    # SZ2 has the worst share (20 %) but only 50 calls: too small a sample to rank
    assert [x["营业厅 hall"] for x in r] == [f"南京鼓楼营业厅 · {NJ2}", f"南京新街口营业厅 · {NJ1}",
                                            f"苏州观前营业厅 · {SZ1}"]
    assert r[0]["达标率 within target"] == pytest.approx(90 / 150)
    r = run_panel(store, CITY, "最差厅店·投诉 Worst halls: complaints").dicts()
    assert [x["营业厅 hall"].split(" · ")[1] for x in r] == [NJ2, NJ1, SZ1]
    assert r[0]["万客户投诉率 complaints / 10k served"] == pytest.approx(3 / 150 * 10000)


def test_city_overview_daily_trend_and_heatmap(store):
    r = run_panel(store, CITY, "各市每日达标率 Daily share within target by city")
    got = [(t.astimezone(timezone.utc), city, share) for t, city, share in r.rows]
    assert got == [
        (utc(2026, 11, 22, 16), "南京", pytest.approx(270 / 350)),  # 2026-11-23 00:00 Asia/Shanghai
        (utc(2026, 11, 22, 16), "苏州", pytest.approx(10 / 50)),
        (utc(2026, 11, 23, 16), "苏州", pytest.approx(114 / 120)),
    ]
    r = run_panel(store, CITY, "分时段平均等候 Mean wait by hour of day").dicts()
    assert len(r) == 2 and set(r[0]) == {"time"} | {f"{h:02d}:00" for h in range(24)}
    nov23, nov24 = r
    assert nov23["time"].astimezone(timezone.utc) == utc(2026, 11, 22, 16)
    assert nov23["09:00"] == pytest.approx((3000 + 1000) / 20)  # 01:00 UTC is 09:00 in Shanghai
    assert nov23["01:00"] is None and nov24["14:00"] == pytest.approx(100.0)
    r = run_panel(store, CITY, "分时段平均等候 Mean wait by hour of day", city=["南京"], category="consult").dicts()
    assert len(r) == 1 and r[0]["09:00"] == pytest.approx(9000.0)


# ---- alerting: contact points, policies and rules (dashboards/provisioning/alerting) -----

ALERTING_DIR = DASH_DIR / "provisioning" / "alerting"
ROBOT_URLS = {"wecom": "$WECOM_WEBHOOK_URL", "dingding": "$DINGTALK_WEBHOOK_URL"}


def alerting(name: str) -> dict:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ALERTING_DIR / name).read_text(encoding="utf-8"))
    assert doc["apiVersion"] == 1, name
    return doc


def alert_rules() -> list[dict]:
    return [r for g in alerting("rules.yaml")["groups"] for r in g["rules"]]


def _dollars_outside(value, allowed: set[str]) -> list[str]:
    """``$`` in an interpolated field: Grafana replaces ``$NAME`` with the environment."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _dollars_outside(v, allowed)]
    if isinstance(value, list):
        return [x for v in value for x in _dollars_outside(v, allowed)]
    return [m for m in re.findall(r"\$\w+", str(value)) if m not in allowed]


def test_alerting_files_are_the_three_kinds():
    assert {p.name for p in ALERTING_DIR.glob("*.yaml")} == {"contact-points.yaml", "policies.yaml", "rules.yaml"}


def test_contact_points_are_the_two_robots_with_urls_from_the_environment():
    points = alerting("contact-points.yaml")["contactPoints"]
    receivers = [r for p in points for r in p["receivers"]]
    assert sorted(r["type"] for r in receivers) == ["dingding", "wecom"]
    assert len({r["uid"] for r in receivers}) == len(receivers)
    for r in receivers:
        s = r["settings"]
        assert s["url"] == ROBOT_URLS[r["type"]], "webhook keys come from the environment, never the file"
        if r["type"] == "wecom":
            assert s["msgtype"] in ("markdown", "text")
        else:
            assert s["msgType"] in ("link", "actionCard")
        assert not _dollars_outside(s, set(ROBOT_URLS.values())), "settings are interpolated: write $$ for a $"
    for p in points:
        assert re.search(r"[\u4e00-\u9fff]", p["name"]) and re.search(r"[A-Za-z]", p["name"]), p["name"]


def test_policies_send_every_rule_to_both_robots_and_mute_warnings_at_night():
    doc = alerting("policies.yaml")
    names = {p["name"] for p in alerting("contact-points.yaml")["contactPoints"]}
    mutes = {m["name"]: m for m in doc["muteTimes"]}
    (root,) = doc["policies"]
    assert root["receiver"] in names

    def receivers_for(labels: dict) -> list[tuple[str, list[str]]]:
        out = []
        for route in root["routes"]:
            if all(labels.get(k) == v for k, op, v in route["object_matchers"] if op == "="):
                out.append((route["receiver"], route.get("mute_time_intervals", [])))
                if not route.get("continue"):
                    break
        return out

    for route in root["routes"]:
        assert route["receiver"] in names and set(route.get("mute_time_intervals", [])) <= set(mutes)
    for rule in alert_rules():
        got = receivers_for(rule["labels"])
        assert {r for r, _ in got} == names, rule["title"]
        muted = {m for _, ms in got for m in ms}
        assert bool(muted) == (rule["labels"]["severity"] == "warning"), rule["title"]
    (quiet,) = mutes.values()
    (interval,) = quiet["time_intervals"]
    assert interval["location"] == "Asia/Shanghai"
    assert [(t["start_time"], t["end_time"]) for t in interval["times"]] == [("21:00", "24:00"), ("00:00", "08:30")]
    from sinks.notify.settings import NotifySettings
    n = NotifySettings()
    assert (f"{n.quiet_start:%H:%M}", f"{n.quiet_end:%H:%M}") == ("21:00", "08:30"), "the same quiet hours as notify"


def test_rules_query_the_provisioned_data_source():
    uid = provisioned_uid()
    rmt = replacing_tables()
    uids = [r["uid"] for r in alert_rules()]
    assert len(uids) == len(set(uids)) and len(uids) >= 2
    for rule in alert_rules():
        refs = {d["refId"]: d for d in rule["data"]}
        assert rule["condition"] in refs, rule["title"]
        assert rule["labels"]["team"] == "hallpulse" and rule["labels"]["severity"] in ("warning", "critical")
        assert not _dollars_outside(rule["labels"], set()), "labels are interpolated"
        assert rule["annotations"]["summary"]
        for ref, d in refs.items():
            m = d["model"]
            assert m["refId"] == ref
            if d["datasourceUid"] == "__expr__":
                assert m["type"] in ("reduce", "threshold", "math") and m["expression"] in refs, (rule["title"], ref)
                continue
            assert d["datasourceUid"] == uid and m["datasource"] == {"type": PLUGIN, "uid": uid}, rule["title"]
            assert m["editorType"] == "sql" and m["format"] == 1 and m["queryType"] == "table"
            sql = m["rawSql"]
            assert "$" not in sql
            for t in re.finditer(r"\b(?:FROM|JOIN)\s+(\w+)(\s+AS\s+\w+)?(\s+FINAL\b)?", sql, re.I):
                if t.group(1) in rmt:
                    assert t.group(3), f"{t.group(1)} read without FINAL in:\n{sql}"
            for f in re.finditer(r"\b(toDate|toHour|toStartOfDay)\(", sql):
                args, _ = _macro_args(sql, f.end() - 1)
                assert len(args) == 2 and args[1] == "'Asia/Shanghai'", sql


def _rule_sql(uid: str, at: datetime) -> str:
    (rule,) = [r for r in alert_rules() if r["uid"] == uid]
    (query,) = [d["model"]["rawSql"] for d in rule["data"] if d["datasourceUid"] != "__expr__"]
    return query.replace("now()", f"toDateTime('{at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}', 'UTC')")


def test_rule_critical_alert_left_open(store):
    # B1 (NJ2, critical) opened at 02:00 UTC and never closed; A1 closed; A2 is a warning
    assert store.query(_rule_sql("hallpulse-critical-open-30m", utc(2026, 11, 23, 2, 29)), readonly=True).rows == []
    r = store.query(_rule_sql("hallpulse-critical-open-30m", utc(2026, 11, 23, 2, 31)), readonly=True)
    assert r.columns == ["hall_id", "hall", "city", "open_critical"]
    assert [tuple(x) for x in r.rows] == [(NJ2, "南京鼓楼营业厅", "南京", 1)]


def test_rule_minute_metrics_stopped(store):
    # the newest minute is 01:16 UTC (09:16 in Shanghai); 02:31 UTC is 10:31 in Shanghai
    r = store.query(_rule_sql("hallpulse-store-stale", utc(2026, 11, 23, 2, 31)), readonly=True)
    assert r.columns == ["minutes_since_last"] and r.rows[0][0] == 75
    # 22:00 in Shanghai: halls are closed, silence is no news
    assert store.query(_rule_sql("hallpulse-store-stale", utc(2026, 11, 23, 14, 0)), readonly=True).rows[0][0] == 0


ASSESS = load(DASH_DIR / "assessment.json")


def test_assessment_headline_is_the_latest_version_of_the_period(store):
    d, halls = ASSESS, {h["hall_id"]: h for h in LATEST_RESULTS["halls"]}
    graded = [h for h in halls.values() if h["total"] is not None]
    weighted = sum(h["total"] * h["issued"] for h in graded) / sum(h["issued"] for h in graded)
    assert one(run_panel(store, d, "综合得分 Score (volume-weighted)", period=PERIOD))[0] == pytest.approx(weighted,
                                                                                                          abs=0.01)
    assert weighted == pytest.approx(LATEST_RESULTS["provinces"][0]["total"], abs=0.01)  # = the report's province
    assert one(run_panel(store, d, "参评营业厅 Graded halls", period=PERIOD)) == (3, 4)
    assert one(run_panel(store, d, "指标不足 Graded on few indicators", period=PERIOD)) == (1, 1)
    assert one(run_panel(store, d, "公示版本 Published version", period=PERIOD)) == (2, "2026-12-03 09:30", "")
    assert one(run_panel(store, d, "公示版本 Published version", period="2026-10"))[2] == "强制 forced"
    nanjing = [h for h in graded if h["city"] == "南京"]
    assert one(run_panel(store, d, "综合得分 Score (volume-weighted)", period=PERIOD, city=["南京"]))[0] == \
        pytest.approx(sum(h["total"] * h["issued"] for h in nanjing) / sum(h["issued"] for h in nanjing), abs=0.01)


def test_assessment_ranking_grades_and_cities(store):
    d, halls = ASSESS, {h["hall_id"]: h for h in LATEST_RESULTS["halls"]}
    rows = run_panel(store, d, "营业厅排名 Hall ranking", period=PERIOD).dicts()
    assert [r["厅号 hall id"] for r in rows] == [h["hall_id"] for h in LATEST_RESULTS["halls"]]  # the report's order
    for r in rows:
        h = halls[r["厅号 hall id"]]
        assert (r["省内排名 rank"], r["市内排名 city rank"], r["综合得分 score"]) == \
            (h["rank_province"], h["rank_city"], h["total"])
    by = {r["厅号 hall id"]: r for r in rows}
    assert by[SZ2]["等级 grade"] == "不参评" and by[SZ2]["省内排名 rank"] is None
    assert by[SZ1]["指标覆盖 coverage"] == "指标不足" and by[SZ1]["有效权重 weight covered"] == 0.75
    assert by[NJ1]["指标覆盖 coverage"] == "" and by[NJ1]["等级 grade"] == halls[NJ1]["grade"]
    v1 = {h["hall_id"]: h for h in json.loads(VERSIONS[0]["results"])["halls"]}
    assert by[NJ2]["综合得分 score"] == halls[NJ2]["total"] > v1[NJ2]["total"]   # version 2, not 1

    grades = dict(run_panel(store, d, "等级分布 Grade distribution", period=PERIOD).rows)
    expected = {}
    for h in halls.values():
        expected[h["grade"] or "不参评"] = expected.get(h["grade"] or "不参评", 0) + 1
    assert grades == expected and grades["不参评"] == 1

    cities = {r["城市 city"]: r for r in run_panel(store, d, "各市得分 Scores by city", period=PERIOD).dicts()}
    for c in LATEST_RESULTS["cities"]:
        got = cities[c["name"]]
        assert (got["营业厅 halls"], got["参评 graded"]) == (c["halls"], c["graded_halls"])
        assert got["综合得分 score"] == pytest.approx(c["total"], abs=0.01)
        assert {g: got[g] for g in c["grade_counts"]} == c["grade_counts"]
    assert cities["苏州"]["指标不足 few"] == 1
    assert list(cities) == sorted(cities, key=lambda k: -cities[k]["综合得分 score"])
    assert [r["城市 city"] for r in run_panel(store, d, "各市得分 Scores by city", period=PERIOD,
                                             city=["苏州"]).dicts()] == ["苏州"]


def test_assessment_indicator_breakdown(store):
    d, halls = ASSESS, {h["hall_id"]: h for h in LATEST_RESULTS["halls"]}
    scheme = json.loads(VERSIONS[0]["scheme"])
    labels = {"within_target": "等候时长达标率 within target", "satisfaction": "客户满意度 satisfaction",
              "audit": "暗访明查 mystery shopper"}
    rows = {r["营业厅 hall"]: r for r in run_panel(store, d, "指标得分·营业厅 Indicator points by hall",
                                                     period=PERIOD).dicts()}
    assert len(rows) == 4 and {i["key"] for i in scheme["indicators"]} == {
        "within_target", "mean_wait", "satisfaction", "complaints", "handle", "abandonment", "audit"}
    for h in halls.values():
        for i in h["indicators"]:
            if i["key"] in labels:
                got = rows[h["name"]][labels[i["key"]]]
                assert got == (None if i["small_sample"] else pytest.approx(i["points"], abs=0.01)), (h["name"], i)
    assert rows["苏州观前营业厅"]["客户满意度 satisfaction"] is None          # too few surveys: empty, not 0
    by_city = {r["城市 city"]: r for r in run_panel(store, d, "指标得分·各市 Indicator points by city",
                                                      period=PERIOD).dicts()}
    nj = [next(i for i in halls[h]["indicators"] if i["key"] == "within_target")["points"] for h in (NJ1, NJ2)]
    assert by_city["南京"]["等候时长达标率 within target"] == pytest.approx(sum(nj) / 2, abs=0.01)
