"""One way to reach the analytic store, whichever process holds it.

ClickHouse is reached through clickhouse-connect only: a server when ``CLICKHOUSE_URL`` is
set, otherwise embedded chDB under ``var/``. An on-disk chDB store can be open in one
process at a time, so:

* the process that opens it takes an exclusive lock file beside it;
* the sink (``hallpulse sink``), while it runs, publishes its address in ``var/store-owner.json``,
  a new secret for the run in ``var/sink.secret`` (mode 0600), and answers on its loopback
  web server (``POST /internal/sql``, see :func:`handle_proxy_request`);
* every other command (``query``, ``assess``, ``publish``…) asks the running sink through
  :class:`ProxyStore`, presenting that secret, or opens the store itself when no sink runs.

The stores offer the same calls: ``query``, ``record`` (one row of the publication
tables), and, for the process that holds the store, ``command`` and ``insert``. Through
the proxy only read-only queries (:mod:`sinks.sql_gate`) and the typed writes of
:mod:`sinks.writes` pass; ``command`` and ``insert`` are refused there.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import secrets
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
from sinks.sql_gate import NotReadOnly, check_read_only
from sinks.tables import Row, columns, values
from sinks.writes import WriteRefused, row_of, write_request

READONLY = {"readonly": 1}


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
    def record(self, row: Row) -> None: ...
    def close(self) -> None: ...


def ensure_read_only(sql: str) -> None:
    """Refuse anything but one read statement that stays in the store before it reaches
    the engine (which also enforces ``readonly=1``): see :mod:`sinks.sql_gate`."""
    try:
        check_read_only(sql)
    except NotReadOnly as e:
        raise StoreError(str(e)) from None


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

    def record(self, row: Row) -> None:
        self.insert(row.table, values([row]), columns(type(row)))

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
    """Serve one proxied call on the store-holding side (the sink's web server): a
    read-only query, run with ``readonly=1`` whatever the caller asks, or one of the
    typed writes of :mod:`sinks.writes`. Raw SQL writes (``command``, ``insert``) are
    refused."""
    if not isinstance(payload, dict):
        raise StoreError("the request body must be a JSON object")
    op = payload.get("op")
    if op == "query":
        sql = payload.get("sql")
        if not isinstance(sql, str):
            raise StoreError("a query needs its SQL as a string")
        ensure_read_only(sql)
        params = {k: decode_value(v) for k, v in (payload.get("parameters") or {}).items()}
        r = store.query(sql, params, readonly=True)
        return {"columns": r.columns, "types": r.types, "rows": [encode_value(list(row)) for row in r.rows]}
    if op in ("command", "insert"):
        raise StoreError(f"the store proxy runs no SQL writes ({op!r}): it answers read-only queries and the "
                         "typed writes of publish and appeal only")
    try:
        row = row_of(payload)
    except WriteRefused as e:
        raise StoreError(str(e)) from None
    store.record(row)
    return {"ok": True}


class ProxyStore:
    """Sends the same calls to the running sink, which holds the embedded store, with the
    sink's secret for this run (``var/sink.secret``)."""

    def __init__(self, base_url: str, secret: str | None, timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["Authorization"] = f"Bearer {self.secret}"
        req = urllib.request.Request(
            f"{self.base_url}/internal/sql", data=json.dumps(payload).encode(), headers=headers, method="POST")
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

    def query(self, sql: str, parameters: dict | None = None, *, readonly: bool = True) -> QueryResult:
        """Always read-only, whatever ``readonly`` says: the sink enforces it."""
        ensure_read_only(sql)
        body = self._post({"op": "query", "sql": sql,
                           "parameters": {k: encode_value(v) for k, v in (parameters or {}).items()}})
        return QueryResult(body["columns"], [tuple(decode_value(r)) for r in body["rows"]], body.get("types", []))

    def record(self, row: Row) -> None:
        try:
            self._post(write_request(row))
        except WriteRefused as e:
            raise StoreError(str(e)) from None

    def command(self, sql: str, parameters: dict | None = None) -> None:
        raise StoreError("the store proxy runs no SQL writes: stop the sink to change the store's schema or data")

    def insert(self, table: str, rows: Sequence[Sequence[Any]], column_names: Sequence[str]) -> None:
        raise StoreError(f"the store proxy takes no inserts into {table}: only the typed writes of publish and appeal")

    def close(self) -> None:
        pass


# ---- choosing and opening ---------------------------------------------------------------

def owner_file(settings: StoreConfig) -> Path:
    """Where the process that holds the embedded store (``hallpulse sink``) says where it is."""
    return settings.path(settings.var_dir) / "store-owner.json"


def secret_file(settings: StoreConfig) -> Path:
    """The running sink's secret, which the other commands present to its store proxy."""
    return settings.path(settings.var_dir) / "sink.secret"


def create_secret(settings: StoreConfig) -> str:
    """A new secret for this run of the sink, in a file only its user can read (0600),
    replaced atomically so that no reader sees half of it."""
    token = secrets.token_urlsafe(32)
    path = secret_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return token


def read_secret(settings: StoreConfig) -> str | None:
    try:
        return secret_file(settings).read_text().strip() or None
    except OSError:
        return None


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
            return ProxyStore(url, read_secret(settings))
    path = settings.chdb_path
    try:
        fd = _lock_embedded(path)
    except StoreBusy:
        # a sink that is starting holds the store before it announces itself
        url = None if hold else _wait_for_announcement(settings)
        if url:
            return ProxyStore(url, read_secret(settings))
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
