"""The read-only gate of the store proxy and ``hallpulse query`` (sinks/sql_gate.py)."""

from __future__ import annotations

from importlib import resources

import pytest

from sinks.sql import strip_comments
from sinks.sql_gate import NotReadOnly, check_read_only

READS = [
    "SELECT 1",
    "select count() from visits final where hall_id = {hall:String}",
    "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SHOW TABLES",
    "DESCRIBE TABLE visits",
    "DESC visits",
    "EXISTS TABLE visits",
    "EXPLAIN SELECT 1",
    "EXPLAIN PIPELINE header = 1 SELECT 1",
    "SELECT 1;",
    "SELECT 1 ;  -- a trailing comment\n",
    # keywords inside string literals, quoted identifiers and comments are text
    "SELECT 'DROP TABLE x; SYSTEM SHUTDOWN' AS s",
    "SELECT 'it''s', 'a \\' quote; DROP TABLE x' AS s",
    "SELECT \"into\", `settings` FROM visits",
    "SELECT 1 /* DROP TABLE x; */",
    "SELECT 1 -- ; DROP TABLE x",
    "# a comment\nSELECT 1",
    "SELECT $$ ; INSERT INTO x $$",
    # reading the system tables is reading
    "SELECT name FROM system.tables WHERE database = currentDatabase()",
    "SELECT Settings FROM system.query_log LIMIT 1",
    "SELECT domain(url) FROM (SELECT 'http://a/b' AS url)",
    "SELECT formatDateTime(now(), '%F') SETTINGS_x",
]

REFUSED = [
    ("CREATE TABLE t (x UInt8) ENGINE = Memory", "`CREATE` is DDL"),
    ("drop table visits", "`DROP` is DDL"),
    ("ALTER TABLE visits DELETE WHERE 1", "`ALTER` is DDL"),
    ("TRUNCATE TABLE visits", "`TRUNCATE` is DDL"),
    ("RENAME TABLE a TO b", "`RENAME` is DDL"),
    ("OPTIMIZE TABLE visits FINAL", "`OPTIMIZE` is DDL"),
    ("ATTACH TABLE x", "`ATTACH` is DDL"),
    ("INSERT INTO visits SELECT * FROM visits", "`INSERT` writes data"),
    ("DELETE FROM visits WHERE 1", "`DELETE` writes data"),
    ("SYSTEM SHUTDOWN", "SYSTEM statement"),
    ("system drop dns cache", "SYSTEM statement"),
    ("SET readonly = 0", "`SET` changes settings"),
    ("USE other", "`USE`"),
    ("KILL QUERY WHERE 1", "`KILL`"),
    ("GRANT ALL ON *.* TO x", "`GRANT` is DDL"),
    # hidden behind comments, whitespace, case
    ("/* hello */ DROP TABLE visits", "`DROP` is DDL"),
    ("-- SELECT\nDROP TABLE visits", "`DROP` is DDL"),
    ("  \n\tDrOp TaBlE visits", "`DROP` is DDL"),
    ("EXPLAIN AST DROP TABLE visits", "`DROP` is DDL (even under EXPLAIN)"),
    ("EXPLAIN", "EXPLAIN without a read statement"),
    # a second statement
    ("SELECT 1; DROP TABLE visits", "one statement at a time"),
    ("SELECT 1;SELECT 2", "one statement at a time"),
    ("SELECT 1 /* ; */ ; SYSTEM SHUTDOWN", "one statement at a time"),
    # settings
    ("SELECT 1 SETTINGS readonly = 0", "a `SETTINGS` clause"),
    ("select 1 settings max_threads=1", "a `SETTINGS` clause"),
    ("SELECT 1 SETTINGS /* x */ \"readonly\" = 0", "a `SETTINGS` clause"),
    ("WITH 1 AS x SELECT x SETTINGS max_execution_time = 0", "a `SETTINGS` clause"),
    # files, URLs, other servers
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "`file(…)`"),
    ("SELECT file('/etc/hostname')", "`file(…)`"),
    ("SELECT * FROM FILE ('x')", "`FILE(…)`"),
    ("SELECT * FROM \"file\"('x')", "`file(…)`"),
    ("SELECT * FROM url('http://evil/x', CSV)", "`url(…)`"),
    ("SELECT * FROM remote('other:9000', db.t)", "`remote(…)`"),
    ("SELECT * FROM remoteSecure('other:9440', db.t)", "`remoteSecure(…)`"),
    ("SELECT * FROM s3('https://b/k', 'CSV')", "`s3(…)`"),
    ("SELECT * FROM s3Cluster('c', 'https://b/k')", "`s3Cluster(…)`"),
    ("SELECT * FROM hdfs('hdfs://x/y', 'CSV')", "`hdfs(…)`"),
    ("SELECT * FROM mysql('h:3306', 'db', 't', 'u', 'p')", "`mysql(…)`"),
    ("SELECT * FROM postgresql('h', 'db', 't', 'u', 'p')", "`postgresql(…)`"),
    ("SELECT * FROM jdbc('x', 't')", "`jdbc(…)`"),
    ("SELECT * FROM odbc('x', 't')", "`odbc(…)`"),
    ("SELECT * FROM mongodb('h', 'db', 'c', 'u', 'p', 'x String')", "`mongodb(…)`"),
    ("SELECT * FROM redis('h', 'k', 'k String')", "`redis(…)`"),
    ("SELECT * FROM sqlite('x.db', 't')", "`sqlite(…)`"),
    ("SELECT * FROM azureBlobStorage('x')", "`azureBlobStorage(…)`"),
    ("SELECT * FROM cluster('c', db.t)", "`cluster(…)`"),
    ("SELECT * FROM clusterAllReplicas('c', db.t)", "`clusterAllReplicas(…)`"),
    ("SELECT * FROM executable('x.sh', 'CSV', 'a String')", "`executable(…)`"),
    ("SELECT * FROM urlCluster('c', 'http://x')", "`urlCluster(…)`"),
    ("SELECT * FROM fileCluster('c', 'x')", "`fileCluster(…)`"),
    ("SELECT * FROM gcs('https://x')", "`gcs(…)`"),
    ("SELECT * FROM deltaLake('https://x')", "`deltaLake(…)`"),
    ("SELECT * FROM icebergS3('https://x')", "`icebergS3(…)`"),
    ("SELECT * FROM hudi('https://x')", "`hudi(…)`"),
    ("SELECT * FROM (SELECT 1) AS a JOIN url('http://x', CSV) AS b ON 1", "`url(…)`"),
    # writing a file
    ("SELECT * FROM visits INTO OUTFILE '/tmp/x'", "`INTO`"),
    # not a statement, or not closed
    ("", "no statement"),
    ("  -- only a comment", "no statement"),
    ("SELECT 'unterminated", "unterminated"),
    ("SELECT 1 /* unterminated", "unterminated"),
    ("\"DROP\" TABLE x", "does not start a read statement"),
    ("VALUES (1)", "does not start a read statement"),
]


@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql):
    check_read_only(sql)


@pytest.mark.parametrize(("sql", "why"), REFUSED)
def test_everything_else_is_refused_with_a_reason(sql, why):
    with pytest.raises(NotReadOnly) as e:
        check_read_only(sql)
    assert str(e.value).startswith("only read-only SQL is allowed here: ")
    assert why in str(e.value)


def test_the_projects_own_read_queries_pass():
    """The assessment's and the analysts' queries go through the proxy: none is refused."""
    files = [f for f in (resources.files("sinks") / "assessment").iterdir() if f.name.endswith(".sql")]
    files += [f for f in (resources.files("sinks") / "queries" / "analyst").iterdir() if f.name.endswith(".sql")]
    assert len(files) >= 8
    for f in files:
        check_read_only(strip_comments(f.read_text(encoding="utf-8")))

