"""The sink's store proxy (``POST /internal/sql``) as a client on the machine sees it: the
secret, JSON only, no browsers, read-only SQL, and the typed writes of publish and appeal
(issue 10, part 7). The CLI still works through it."""

from __future__ import annotations

import json
import os
import stat
from datetime import date

import pytest
from click.testing import CliRunner

from hallpulse.cli import main
from hallpulse.config import get_settings
from pipeline import ServiceProcess, proxy_post, worker_env
from sinks.store import ProxyStore, StoreError, read_secret, secret_file
from test_assessment_support import add_days, add_survey, open_seeded, utc

pytestmark = pytest.mark.integration

HALLS = ["JS-NJ-0001", "JS-NJ-0002", "JS-NJ-0003"]
post = proxy_post  # a raw request, as curl would send it


@pytest.fixture
def sink(kafka_bootstrap, tmp_path, monkeypatch):
    """A running sink over a seeded embedded store; the CLI in this process finds it."""
    var = tmp_path / "var"
    _, st = open_seeded(var)
    add_days(st, "JS-NJ-0001", [date(2026, 10, 8), date(2026, 10, 9)])
    for h in HALLS[1:]:
        add_days(st, h, [date(2026, 10, 8), date(2026, 10, 9)], within_target=170)
    add_survey(st, "SV-1", "JS-NJ-0001", "customer", utc(2026, 10, 8, 2, 0), 1, complaint=True)
    st.close()
    env = worker_env(kafka_bootstrap, var)
    proc = ServiceProcess("sink", env, var, tmp_path / "sink.log", "HALLPULSE__SINK__WEB_PORT").start()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    try:
        yield proc
    finally:
        proc.stop()
        get_settings.cache_clear()


def test_the_proxy_refuses_what_is_not_a_secret_json_read_or_typed_write(sink):
    settings = sink.settings
    path = secret_file(settings)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    secret = read_secret(settings)
    assert secret and len(secret) >= 32
    query = {"op": "query", "sql": "SELECT count() FROM halls"}

    # no secret, a wrong one, another scheme: 401 with a clear error
    for s in (None, "not-the-secret", secret[:-1]):
        status, body = post(sink.url, query, secret=s)
        assert status == 401 and "sink's secret" in body["error"]
    # a simple cross-origin request (text/plain needs no preflight): 415 even with the secret
    status, body = post(sink.url, query, secret=secret, content_type="text/plain")
    assert status == 415 and "application/json" in body["error"]
    status, _ = post(sink.url, query, secret=secret, content_type=None)
    assert status == 415
    # a browser, even with everything else right
    status, body = post(sink.url, query, secret=secret, headers={"Origin": "http://evil.example"})
    assert status == 403 and "browsers" in body["error"]
    status, _ = post(sink.url, query, secret=secret, headers={"Sec-Fetch-Site": "cross-site"})
    assert status == 403

    # with all of it: a read is answered
    status, body = post(sink.url, query, secret=secret)
    assert status == 200 and body["rows"][0][0] > 0

    # DDL, writes, SYSTEM, settings, files: 400, saying why, and nothing happens
    refused = {
        "CREATE TABLE pwned (x UInt8) ENGINE = MergeTree ORDER BY x": "`CREATE` is DDL",
        "DROP TABLE halls": "`DROP` is DDL",
        "INSERT INTO halls SELECT * FROM halls": "`INSERT` writes data",
        "SYSTEM SHUTDOWN": "SYSTEM statement",
        "SELECT 1 SETTINGS readonly = 0": "`SETTINGS` clause",
        "SET max_threads = 1": "changes settings",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')": "`file(…)`",
        "SELECT file('/etc/hostname')": "`file(…)`",
        "SELECT * FROM url('http://127.0.0.1:1/', 'CSV')": "`url(…)`",
        "SELECT 1; DROP TABLE halls": "one statement at a time",
    }
    for sql, why in refused.items():
        status, body = post(sink.url, {"op": "query", "sql": sql}, secret=secret)
        assert status == 400 and why in body["error"], (sql, body)
    for op in ("command", "insert"):
        status, body = post(sink.url, {"op": op, "sql": "CREATE TABLE pwned (x UInt8) ENGINE = Memory",
                                       "table": "halls", "rows": [], "column_names": []}, secret=secret)
        assert status == 400 and "no SQL writes" in body["error"]
    status, body = post(sink.url, {"op": "file_appeal", "row": {"appeal_id": "x"}}, secret=secret)
    assert status == 400 and "needs exactly the fields" in body["error"]
    status, body = post(sink.url, {"op": "drop_everything"}, secret=secret)
    assert status == 400 and "unknown write" in body["error"]
    status, body = post(sink.url, b"not json", secret=secret)
    assert status == 400

    store = ProxyStore(sink.url, secret)
    assert store.query("EXISTS TABLE pwned").rows == [(0,)]
    assert store.query("SELECT count() FROM halls").rows[0][0] > 0
    with pytest.raises(StoreError, match="no SQL writes"):
        store.command("CREATE TABLE pwned (x UInt8) ENGINE = Memory")
    with pytest.raises(StoreError, match="no inserts"):
        store.insert("halls", [["x"]], ["hall_id"])
    with pytest.raises(StoreError, match="sink's secret"):
        ProxyStore(sink.url, None).query("SELECT 1")


def test_the_cli_reads_publishes_and_appeals_through_the_proxy(sink):
    runner = CliRunner()

    def cli(*args, ok=True):
        r = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert r.exit_code == 0, r.output
        return r

    out = cli("query", "SELECT count() AS n FROM halls", "--format", "json").output
    assert json.loads(out)[0]["n"] > 0
    r = cli("query", "DROP TABLE halls", ok=False)
    assert r.exit_code == 1 and "`DROP` is DDL" in r.output

    assert "version 1" in cli("publish", "--period", "2026-10", "--by", "质量办张").output
    a1 = cli("appeal", "--period", "2026-10", "--hall", "JS-NJ-0001", "--exclude-survey", "SV-1",
             "--reason", "恶意评价", "--by", "厅经理王").output.strip()
    a2 = cli("appeal", "--period", "2026-10", "--hall", "JS-NJ-0002", "--exclude",
             "2026-10-08T09:00+08:00..2026-10-08T11:00+08:00", "--reason", "系统故障", "--by", "厅经理李").output.strip()
    assert "→" in cli("appeal", "decide", a1, "--accept", "--by", "质量办赵", "--dry-run").output
    assert "version 2" in cli("appeal", "decide", a1, "--accept", "--by", "质量办赵").output
    assert "rejected" in cli("appeal", "decide", a2, "--reject", "--by", "质量办赵", "--reason", "无故障记录").output
    listed = json.loads(cli("appeal", "list", "--period", "2026-10", "--format", "json").output)
    assert {a["appeal_id"]: a["status"] for a in listed} == {a1: "accepted", a2: "rejected"}
    v2 = json.loads(cli("assess", "--period", "2026-10", "--format", "json", "--version", "2").output)
    assert [a["appeal_id"] for a in v2["appeals"]] == [a1]
    assert "JS-NJ-0001" in cli("assess", "--period", "2026-10", "--format", "csv").output

    # the sink's own stats still answer; and the secret goes away with the sink
    assert sink.stats()["sink"]["errors"] == 0
    sink.stop()
    assert not secret_file(sink.settings).exists()
