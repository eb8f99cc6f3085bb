"""The table registry (``sinks/tables.py``) and the DDL agree, column by column, and the
roll-up SQL writes the metric tables' columns in the registry's order."""

from __future__ import annotations

import re

import pytest

from hallpulse.config import Settings
from sinks.assessment.indicators import SUM_COLUMNS
from sinks.assessment.scoring import DATA_QUALITY_KEYS
from sinks.migrate import apply_migrations
from sinks.sql import load_sql, strip_comments
from sinks.store import open_store
from sinks.tables import SUMS, TABLES, DayMetricsRow, GaugeRow, Row, ch_types, columns
from streams.hallbook import GAUGE_COLUMNS


@pytest.fixture(scope="module")
def described(tmp_path_factory) -> dict[str, list[tuple[str, str]]]:
    store = open_store(Settings(var_dir=tmp_path_factory.mktemp("tables")), hold=True)
    try:
        apply_migrations(store, 36)
        rows = store.query("SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                           "ORDER BY table, position").rows
        engines = dict(store.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").rows)
    finally:
        store.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, name, type_ in rows:
        if engines[table] != "View":
            out.setdefault(table, []).append((name, type_))
    return out


def test_every_stored_table_has_a_record(described):
    assert sorted(TABLES) == sorted(described)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_record_matches_the_ddl(table, described):
    assert list(ch_types(TABLES[table]).items()) == described[table]


def _select_lists(sql: str) -> list[list[str]]:
    """The items of each top-level SELECT list (split on commas outside brackets)."""
    out = []
    for m in re.finditer(r"\bSELECT\b(.*?)\bFROM\b", strip_comments(sql), flags=re.S | re.I):
        items, depth, cur = [], 0, ""
        for ch in m.group(1):
            depth += (ch in "({[") - (ch in ")}]")
            if ch == "," and depth == 0:
                items.append(cur.strip())
                cur = ""
            else:
                cur += ch
        items.append(cur.strip())
        out.append(items)
    return out


def _name(item: str) -> str:
    m = re.search(r"\bAS\s+(\w+)\s*$", item, flags=re.I)
    return m.group(1) if m else item


@pytest.mark.parametrize("bucket", ["minute", "hour", "day"])
def test_rollup_selects_the_registry_columns(bucket):
    record: type[Row] = TABLES[f"{bucket}_metrics"]
    sql = load_sql(f"rollup_{bucket}")
    assert re.search(rf"INSERT INTO {record.table}\b", sql)
    computed, zeroed = _select_lists(sql)
    assert [_name(i) for i in computed] == list(columns(record))
    assert len(zeroed) == len(columns(record))  # the zeroed rows of stale keys: one value per column


def test_the_workers_gauge_rows_fit_minute_gauges():
    assert [*GAUGE_COLUMNS, "version"] == list(columns(GaugeRow))


def test_the_assessment_reads_columns_the_registry_has():
    assert set(SUM_COLUMNS) <= {name for name, _ in SUMS}
    assert set(DATA_QUALITY_KEYS) <= set(columns(DayMetricsRow))
