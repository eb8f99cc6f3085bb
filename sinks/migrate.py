"""Numbered schema migrations (``sinks/migrations/NNNN_name.sql``), applied at start.

Each file is applied once, in order, and recorded in ``schema_migrations``. Statements
are separated by a ``;`` at the end of a line. The only template value is
``{ttl_months}``, an integer from configuration (DDL cannot bind parameters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources

from sinks.sql import load_sql, strip_comments
from sinks.store import Store
from sinks.tables import MigrationRow, columns

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, ttl_months: int) -> list[str]:
        text = strip_comments(self.sql).replace("{ttl_months}", str(int(ttl_months)))
        return [s.strip() for s in re.split(r";\s*$", text, flags=re.M) if s.strip()]


def available() -> list[Migration]:
    files = resources.files("sinks") / "migrations"
    found = []
    for f in files.iterdir():
        m = _NAME.match(f.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), f.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


def apply_migrations(store: Store, ttl_months: int) -> list[int]:
    """Apply what is missing; return the versions applied now."""
    store.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {r[0] for r in store.query("SELECT version FROM schema_migrations").rows}
    applied = []
    for m in available():
        if m.version in done:
            continue
        for stmt in m.statements(ttl_months):
            store.command(stmt)
        store.insert(MigrationRow.table, [(m.version, m.name, datetime.now(timezone.utc))], columns(MigrationRow))
        applied.append(m.version)
    return applied


def apply_ttl(store: Store, ttl_months: int) -> list[str]:
    """Bring every table's TTL to ``ttl_months``; return the tables changed. Only tables
    whose TTL differs are altered: a TTL change rewrites the table's parts."""
    current = dict(store.query(load_sql("ttl_current")).rows)
    changed = []
    for stmt in load_sql("ttl").replace("{ttl_months}", str(int(ttl_months))).split(";"):
        stmt = stmt.strip()
        if not stmt:
            continue
        table = stmt.split()[2]
        if current.get(table) != ttl_months:
            store.command(stmt)
            changed.append(table)
    return changed
