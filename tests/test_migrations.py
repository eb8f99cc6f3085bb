"""Numbered migrations and the configurable retention, on a real embedded store."""

from __future__ import annotations

from hallpulse.config import Settings
from sinks.migrate import apply_migrations, apply_ttl, available
from sinks.sql import load_sql
from sinks.store import open_store


def test_migrations_apply_once_in_order_and_ttl_follows_configuration(tmp_path):
    store = open_store(Settings(var_dir=tmp_path), hold=True)
    try:
        versions = [m.version for m in available()]
        assert versions == sorted(versions) and versions[0] == 1
        assert apply_migrations(store, 36) == versions
        assert apply_migrations(store, 36) == []  # idempotent
        assert [r[0] for r in store.query("SELECT version FROM schema_migrations ORDER BY version").rows] == versions

        ttl = dict(store.query(load_sql("ttl_current")).rows)
        assert set(ttl.values()) == {36} and {"visits", "minute_metrics", "day_metrics", "surveys"} <= set(ttl)
        assert apply_ttl(store, 36) == []  # unchanged: nothing rewritten
        changed = apply_ttl(store, 13)
        assert sorted(changed) == sorted(ttl)
        assert set(dict(store.query(load_sql("ttl_current")).rows).values()) == {13}
    finally:
        store.close()
