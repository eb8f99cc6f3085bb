"""What an operator sees when a command fails: one line on stderr with the next step,
exit code non-zero, within 5 s, no traceback unless ``hallpulse --debug`` (issue 9.4).

In-process cases use click's runner; the ones that talk to a closed port or need a real
process (a port in use, a held store) run ``python -m hallpulse`` with a time bound.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hallpulse.cli import main
from hallpulse.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
CLOSED = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("HALLPULSE") or key in ("KAFKA_BOOTSTRAP", "CLICKHOUSE_URL"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HALLPULSE__VAR_DIR", str(tmp_path / "var"))
    # `--config` sets HALLPULSE_CONFIG in this process: have monkeypatch take it away after
    monkeypatch.setenv("HALLPULSE_CONFIG", "unset")
    monkeypatch.delenv("HALLPULSE_CONFIG")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str, env: dict | None = None, timeout: float = 30) -> tuple[subprocess.CompletedProcess, float]:
    e = {k: v for k, v in os.environ.items()}
    e.update({"PYTHONPATH": str(ROOT), **(env or {})})
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "hallpulse", *args], capture_output=True, text=True,
                       env=e, timeout=timeout, cwd=ROOT)
    return r, time.monotonic() - t


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def cli(*args: str, env: dict | None = None):
    r = CliRunner().invoke(main, list(args), env=env)
    assert r.exit_code != 0, r.output
    return r, one_line(r.stderr)


# ---- no broker: each command that talks to Kafka fails fast ----------------------------

@pytest.mark.parametrize("args", [
    ["deadletter", "list"], ["deadletter", "replay"], ["kafka", "topics"], ["worker"], ["simulate", "--minutes", "1"],
])
def test_no_broker(args, tmp_path):
    r, took = run(*args, env={"KAFKA_BOOTSTRAP": CLOSED, "HALLPULSE__VAR_DIR": str(tmp_path / "var"),
                              "HALLPULSE__WORKER__WEB_PORT": str(_free_port())})
    line = one_line(r.stderr)
    assert r.returncode == 1 and f"no Kafka broker answers at {CLOSED}" in line and "KAFKA_BOOTSTRAP" in line
    assert took < 5, f"{args}: {took:.1f} s"


def test_no_broker_with_debug_shows_the_traceback():
    r = CliRunner().invoke(main, ["--debug", "deadletter", "list"], env={"KAFKA_BOOTSTRAP": CLOSED})
    assert r.exit_code == 1 and type(r.exception).__name__ == "OperatorError"


# ---- configuration ---------------------------------------------------------------------

def test_config_file_missing():
    _, line = cli("--config", "/nonexistent/hallpulse.toml", "schema", "export", "--out", "/tmp/x")
    assert "/nonexistent/hallpulse.toml" in line and "does not exist" in line


def test_config_value_malformed():
    r, line = cli("query", "SELECT 1", env={"HALLPULSE__TOPICS__PARTITIONS": "abc"})
    assert r.exit_code == 1
    assert "topics.partitions = 'abc'" in line and "HALLPULSE__TOPICS__PARTITIONS" in line


def test_catalogue_missing(tmp_path):
    r, line = cli("simulate", "--minutes", "1", "--out", str(tmp_path / "x.jsonl"),
                  env={"HALLPULSE__CATALOGUE_FILE": "/nonexistent/halls.toml"})
    assert r.exit_code == 1 and "file not found: /nonexistent/halls.toml" in line


def test_unknown_period_format():
    r, line = cli("assess", "--period", "2026-13")
    assert r.exit_code == 2 and "no month 13" in line and "2026-Q3" in line and "--help" in line


def test_a_bug_says_to_rerun_with_debug(monkeypatch):
    from hallpulse.commands import schema

    monkeypatch.setattr(schema, "render_schemas", lambda: 1 / 0)
    r, line = cli("schema", "export", "--out", "/tmp/hallpulse-never")
    assert "ZeroDivisionError" in line and "--debug" in line


# ---- the store ---------------------------------------------------------------------------

@pytest.mark.parametrize("sql", ["DROP TABLE x", "INSERT INTO facts VALUES (1)"])
def test_query_write_refused_without_a_sink(sql, tmp_path):
    r, line = cli("query", sql)
    assert r.exit_code == 1 and "read-only SQL" in line
    assert not (tmp_path / "var" / "chdb").exists(), "refused before the store is opened"


def test_assess_empty_period_says_why():
    r, line = cli("assess", "--period", "2025-01")
    assert r.exit_code == 1 and "no facts stored for 2025-01" in line and r.stdout == ""


def test_second_sink_on_the_embedded_store(tmp_path):
    """A live sink announces itself; a second one is told at once, before any broker."""
    from http.server import BaseHTTPRequestHandler, HTTPServer
    import threading

    from sinks.store import owner_file

    class Ping(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), Ping)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        settings = get_settings()
        f = owner_file(settings)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"pid": os.getpid(), "url": f"http://127.0.0.1:{srv.server_port}"}))
        r, line = cli("sink", env={"KAFKA_BOOTSTRAP": CLOSED})
        assert "already held by the sink at" in line and "one sink per embedded store" in line
    finally:
        srv.shutdown()


# ---- workers -----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_worker_web_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        _, line = cli("worker", env={"HALLPULSE__WORKER__WEB_PORT": str(port), "KAFKA_BOOTSTRAP": CLOSED})
    assert f"127.0.0.1:{port} is in use" in line and "HALLPULSE__WORKER__WEB_PORT" in line


def test_second_worker_with_the_same_instance_id(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    # a live process other than this one holds the name
    (var / "worker-w-1.json").write_text(json.dumps({"pid": os.getppid(), "url": "http://127.0.0.1:6066"}))
    _, line = cli("worker", env={"HALLPULSE__WORKER__INSTANCE_ID": "w-1", "KAFKA_BOOTSTRAP": CLOSED,
                                 "HALLPULSE__WORKER__WEB_PORT": str(_free_port())})
    assert "instance_id 'w-1' runs already" in line


def test_a_dead_workers_instance_id_is_taken_over(tmp_path):
    """A worker restarted under its name after a crash is not refused (static membership)."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "worker-w-1.json").write_text(json.dumps({"pid": 2 ** 22 + 12345, "url": "http://127.0.0.1:6066"}))
    _, line = cli("worker", env={"HALLPULSE__WORKER__INSTANCE_ID": "w-1", "KAFKA_BOOTSTRAP": CLOSED,
                                 "HALLPULSE__WORKER__WEB_PORT": str(_free_port())})
    assert "no Kafka broker" in line  # it went on to the broker
