"""The Kafka-engine alternative to the sink (infra/clickhouse/kafka_engine.sql, documented
in docs/clickhouse-cluster.md): its materialized views must store exactly the rows the
sink's FactWriter stores for the same facts and alerts. The Kafka tables are replaced by
Null tables with the same column, fed the messages the workers would send."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from hallpulse import simulator
from schemas.catalogue import load_catalogue
from hallpulse.config import Settings, StoreSettings
from sinks.catalogue_mirror import mirror_catalogue
from sinks.facts import FactWriter
from sinks.migrate import apply_migrations
from sinks.store import open_store
from streams.alerts import load_alert_rules
from tests.recording import RecordingEngine

ROOT = Path(__file__).resolve().parent.parent
DDL = ROOT / "infra" / "clickhouse" / "kafka_engine.sql"
DOC = ROOT / "docs" / "clickhouse-cluster.md"
TABLES = {
    "visit_events": "SELECT * EXCEPT received_at FROM {db}.visit_events FINAL ORDER BY ALL",
    "transactions": "SELECT * FROM {db}.transactions FINAL ORDER BY ALL",
    "surveys": "SELECT * FROM {db}.surveys FINAL ORDER BY ALL",
    "minute_gauges": "SELECT * EXCEPT version FROM {db}.minute_gauges FINAL ORDER BY ALL",
    "alerts": "SELECT * FROM {db}.alerts FINAL ORDER BY ALL",
}


def statements(sql: str) -> list[str]:
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in sql.split(";") if s.strip()]


def test_the_views_store_what_the_sink_stores(tmp_path):
    settings = Settings()
    catalogue = load_catalogue(settings.catalogue_file)
    engine = RecordingEngine(catalogue, load_alert_rules(settings.alert_rules_file), grace_s=600)
    messages = []
    for m in simulator.generate(catalogue, halls=3, minutes=150, seed=3,
                                start=datetime.fromisoformat("2026-11-23T09:00:00+08:00")):
        out = engine.process(m.topic_kind, m.value, key=m.key)
        if out.facts:  # one facts message per hall, as the agent sends them
            by_hall: dict[str, list] = {}
            for f in out.facts:
                by_hall.setdefault(f["h"] if "h" in f else f["r"]["h"], []).append(f)
            messages += [json.dumps(fs, ensure_ascii=False) for fs in by_hall.values()]
    alerts = [a.model_dump_json() for a in engine.sent_alerts]
    assert alerts and any('"k": "survey"' in m for m in messages)

    def store(database: str):
        s = open_store(Settings(var_dir=tmp_path, store=StoreSettings(database=database)), hold=True)
        apply_migrations(s, 36)
        mirror_catalogue(s, catalogue)
        return s

    sink = store("by_sink")  # one embedded store per process: one database after the other
    try:
        FactWriter(sink, catalogue).write(engine.take_batch())
        want = {t: sink.query(q.format(db="by_sink")).rows for t, q in TABLES.items()}
    finally:
        sink.close()
    views = store("by_views")
    try:
        for stmt in statements(DDL.read_text(encoding="utf-8")):
            views.command(re.sub(r"ENGINE = Kafka\s+SETTINGS.*", "ENGINE = Null", stmt, flags=re.S))
        views.insert("facts_queue", [[m] for m in messages], ["raw"])
        views.insert("alerts_queue", [[a] for a in alerts], ["raw"])
        for table, q in TABLES.items():
            got = views.query(q.format(db="by_views")).rows
            assert got == want[table], f"{table}: {len(got)} rows by the views, {len(want[table])} by the sink"
            assert got, table
    finally:
        views.close()


def test_the_documentation_shows_this_ddl():
    doc = " ".join(DOC.read_text(encoding="utf-8").split())
    for stmt in statements(DDL.read_text(encoding="utf-8")):
        assert " ".join(stmt.split()) in doc, stmt[:80]
