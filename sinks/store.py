"""One way to reach the analytic store, whichever process holds it.

ClickHouse is reached through clickhouse-connect only: a server when ``CLICKHOUSE_URL`` is
set, otherwise embedded chDB under ``var/``. An on-disk chDB store can be open in one
process at a time, so:

* the process that opens it takes an exclusive lock file beside it;
* the sink (``hallpulse sink``), while it runs, publishes its address in ``var/store-owner.json`` and answers SQL
  on its loopback web server (``POST /internal/sql``);
* every other command (``query``, ``assess``, ``publish``…) asks the running sink through
  :class:`ProxyStore`, or opens the store itself when no sink runs.

All three kinds of store offer the same three calls: ``query``, ``command``, ``insert``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, Sequence

import clickhouse_connect

from sinks.settings import StoreConfig
from sinks.sql import strip_comments

READONLY = {"readonly": 1}
_READ_STATEMENT = re.compile(r"^\s*(\(|select|with|show|describe|desc|explain|exists)\b", re.I)


class StoreError(RuntimeError):
    pass


class StoreBusy(StoreError):
    """The embedded store is held by another process that does not answer queries."""


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]
    types: list[str] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, r)) for r in self.rows]


class Store(Protocol):
    def query(self, sql: str, parameters: dict | None = None, *, readonly: bool = False) -> QueryResult: ...
    def command(self, sql: str, parameters: dict | None = None) -> None: ...
    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None: ...
    def close(self) -> None: ...


def ensure_read_only(sql: str) -> None:
    """Refuse anything but a read statement before it reaches the engine (which also
    enforces ``readonly=1``): a clear message beats an engine error code."""
    if not _READ_STATEMENT.match(strip_comments(sql)):
        raise StoreError("only read statements (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) are allowed here")


class ClickHouseStore:
    """A clickhouse-connect client: HTTP to a server, or chDB in this process."""

    def __init__(self, client, lock_fd: int | None = None):
        self._client = client
        self._lock_fd = lock_fd

    def query(self, sql: str, parameters: dict | None = None, *, readonly: bool = False) -> QueryResult:
        if readonly:
            ensure_read_only(sql)
        r = self._client.query(sql, parameters=parameters or None, settings=READONLY if readonly else None)
        return QueryResult(list(r.column_names), [tuple(x) for x in r.result_rows],
                           [t.name for t in r.column_types])

    def command(self, sql: str, parameters: dict | None = None) -> None:
        self._client.command(sql, parameters=parameters or None)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        if rows:
            self._client.insert(table, [list(r) for r in rows], column_names=list(column_names))

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None


# ---- the store proxy ------------------------------------------------------------------

def encode_value(v: Any) -> Any:
    """JSON-safe encoding that round-trips the types our tables use."""
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return {"$dt": v.isoformat()}
    if isinstance(v, date):
        return {"$date": v.isoformat()}
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return {"$b64": base64.b64encode(v).decode()}
    if isinstance(v, dict):
        return {"$map": [[encode_value(k), encode_value(x)] for k, x in v.items()]}
    if isinstance(v, (list, tuple)):
        return [encode_value(x) for x in v]
    return v


def decode_value(v: Any) -> Any:
    if isinstance(v, dict):
        if "$dt" in v:
            return datetime.fromisoformat(v["$dt"])
        if "$date" in v:
            return date.fromisoformat(v["$date"])
        if "$b64" in v:
            return base64.b64decode(v["$b64"])
        if "$map" in v:
            return {decode_value(k): decode_value(x) for k, x in v["$map"]}
    if isinstance(v, list):
        return [decode_value(x) for x in v]
    return v


def handle_proxy_request(store: Store, payload: dict) -> dict:
    """Serve one proxied call on the store-holding side (the sink's web server)."""
    op = payload.get("op")
    params = {k: decode_value(v) for k, v in (payload.get("parameters") or {}).items()}
    if op == "query":
        r = store.query(payload["sql"], params, readonly=bool(payload.get("readonly", True)))
        return {"columns": r.columns, "types": r.types, "rows": [encode_value(list(row)) for row in r.rows]}
    if op == "command":
        store.command(payload["sql"], params)
        return {"ok": True}
    if op == "insert":
        rows = [decode_value(r) for r in payload["rows"]]
        store.insert(payload["table"], rows, payload["column_names"])
        return {"ok": True, "rows": len(rows)}
    raise StoreError(f"unknown op {op!r}")


class ProxyStore:
    """Sends the same calls to the running sink, which holds the embedded store."""

    def __init__(self, base_url: str, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _post(self, payload: dict) -> dict:
        req = urllib.request.Request(
            f"{self.base_url}/internal/sql", data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise StoreError(detail) from None
        return body

    def query(self, sql: str, parameters: dict | None = None, *, readonly: bool = False) -> QueryResult:
        if readonly:
            ensure_read_only(sql)
        body = self._post({"op": "query", "sql": sql, "readonly": readonly,
                           "parameters": {k: encode_value(v) for k, v in (parameters or {}).items()}})
        return QueryResult(body["columns"], [tuple(decode_value(r)) for r in body["rows"]], body.get("types", []))

    def command(self, sql: str, parameters: dict | None = None) -> None:
        self._post({"op": "command", "sql": sql,
                    "parameters": {k: encode_value(v) for k, v in (parameters or {}).items()}})

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        if rows:
            self._post({"op": "insert", "table": table, "column_names": list(column_names),
                        "rows": [encode_value(list(r)) for r in rows]})

    def close(self) -> None:
        pass


# ---- choosing and opening ---------------------------------------------------------------

def owner_file(settings: StoreConfig) -> Path:
    """Where the process that holds the embedded store (``hallpulse sink``) says where it is."""
    return settings.path(settings.var_dir) / "store-owner.json"


def running_owner_url(settings: StoreConfig, wait: float = 60.0) -> str | None:
    """The web address of the live sink that holds the embedded store, if any. It
    announces itself as soon as it holds the store; while its web server is still coming
    up, wait for it rather than fail on the store's lock."""
    wf = owner_file(settings)
    deadline = time.monotonic() + wait
    while True:
        try:
            info = json.loads(wf.read_text())
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError):
            return None
        url = info["url"]
        try:
            with urllib.request.urlopen(f"{url}/internal/ping", timeout=5) as resp:
                if resp.status == 200:
                    return url
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            return None
        time.sleep(0.5)


def _lock_embedded(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreBusy(f"the embedded store {path} is open in another process; "
                        "stop it, or start the sink (hallpulse sink) so that commands can ask it") from None
    return fd


def open_store(settings: StoreConfig, *, hold: bool = False) -> Store:
    """The store for this process.

    ``hold=True`` is for the sink: it must own the embedded store itself. Anyone else
    gets a proxy to the running sink when there is one.
    """
    db = settings.store.database
    if settings.store.url:
        bootstrap = clickhouse_connect.get_client(dsn=settings.store.url)
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {_ident(db)}")
        bootstrap.close()
        return ClickHouseStore(clickhouse_connect.get_client(dsn=settings.store.url, database=db))
    if not hold:
        url = running_owner_url(settings)
        if url:
            return ProxyStore(url)
    path = settings.chdb_path
    try:
        fd = _lock_embedded(path)
    except StoreBusy:
        # a sink that is starting holds the store before it announces itself
        url = None if hold else _wait_for_announcement(settings)
        if url:
            return ProxyStore(url)
        raise
    try:
        client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        client.command(f"CREATE DATABASE IF NOT EXISTS {_ident(db)}")
        client.close()
        return ClickHouseStore(clickhouse_connect.get_client(dsn=f"chdb://{path}", database=db), fd)
    except Exception:
        os.close(fd)
        raise


def _wait_for_announcement(settings: StoreConfig, wait: float = 30.0) -> str | None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if owner_file(settings).exists():
            return running_owner_url(settings)
        time.sleep(0.3)
    return None


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StoreError(f"invalid database name {name!r}")
    return name
