"""Which SQL the store proxy (and ``hallpulse query``) may run: one read statement, nothing else.

The engine is the last word: every such query runs with ``readonly=1``, which refuses
writes, DDL, ``SYSTEM``, settings changes and most table functions. This gate runs first,
for two reasons. It says clearly what was refused and why, instead of an engine error
code. And ``readonly=1`` lets through what reads outside the store: the scalar function
``file('/etc/passwd')`` works in a read-only query (seen with chDB 26.9).

The gate reads tokens, not text: string literals, quoted identifiers and comments are
skipped as ClickHouse's lexer skips them, so ``SELECT 'DROP TABLE x'`` is a read and
``/* */ DROP TABLE x`` is not. Where the lexers could disagree the gate sees more tokens,
never fewer (a nested ``/* /* */`` comment ends at its first ``*/``): a doubtful query is
refused, never let through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

READ_STARTS = ("select", "with", "show", "describe", "desc", "explain", "exists")

# The first word of a statement that is not a read, and what it does.
REFUSED_STARTS = {
    **dict.fromkeys(("create", "drop", "alter", "truncate", "rename", "attach", "detach", "exchange", "undrop",
                     "optimize", "grant", "revoke", "backup", "restore", "move"), "is DDL"),
    **dict.fromkeys(("insert", "delete", "update", "upsert", "replace"), "writes data"),
    "system": "is a SYSTEM statement",
    "set": "changes settings",
    "use": "changes the session's database",
    "kill": "stops other queries",
    **dict.fromkeys(("begin", "commit", "rollback", "check", "watch"), "is not a read statement"),
}

# Table (and scalar) functions that read or write files, URLs or other servers. A name is
# refused if it is one of these or starts with one of the family prefixes, so that the
# next engine's new ``icebergXyz`` or ``s3Xyz`` is refused too; the price is a few harmless
# scalar functions (``URLHierarchy``, ``URLPathHierarchy``) refused with them.
REMOTE_FUNCTIONS = frozenset(name.lower() for name in (
    "file", "fileCluster", "url", "urlCluster", "remote", "remoteSecure", "cluster", "clusterAllReplicas",
    "s3", "s3Cluster", "gcs", "oss", "cosn", "hdfs", "hdfsCluster", "azureBlobStorage", "azureBlobStorageCluster",
    "mysql", "postgresql", "jdbc", "odbc", "mongodb", "redis", "sqlite", "hive", "input", "executable",
    "executablePool", "deltaLake", "iceberg", "hudi", "paimon", "arrowFlight", "ytsaurus", "dictionary",
))
REMOTE_PREFIXES = ("s3", "iceberg", "deltalake", "hudi", "azureblob", "hdfs", "paimon", "url", "remote", "file",
                   "cluster", "mysql", "postgres", "mongo", "executable", "arrowflight")


class NotReadOnly(ValueError):
    """The SQL is not one read statement (the message says what it is instead)."""


@dataclass(frozen=True)
class Token:
    kind: str     # word | quoted (a quoted identifier) | string | number | punct
    text: str     # the word, the identifier without its quotes, or the character

    @property
    def name(self) -> str | None:
        """An identifier's name, lower case (bare or quoted), else None."""
        return self.text.lower() if self.kind in ("word", "quoted") else None


_WORD = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"\d[\w.]*")
_HEREDOC = re.compile(r"\$(\w*)\$")


def _quoted(sql: str, i: int) -> int:
    """The index after the quoted run that starts at ``sql[i]`` (``'…'``, ``"…"``, ```…```),
    with backslash escapes and doubled quotes, as ClickHouse reads them."""
    q, j, n = sql[i], i + 1, len(sql)
    while j < n:
        c = sql[j]
        if c == "\\":
            j += 2
            continue
        if c == q:
            if j + 1 < n and sql[j + 1] == q:
                j += 2
                continue
            return j + 1
        j += 1
    raise _refuse(f"an unterminated {q}…{q} at character {i + 1}")


def tokens(sql: str) -> list[Token]:
    """The significant tokens of ``sql``: comments and whitespace dropped."""
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or (c == "#" and sql[i + 1:i + 2] in (" ", "!")):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end < 0:
                raise _refuse(f"an unterminated /* comment at character {i + 1}")
            i = end + 2
        elif c == "'":
            j = _quoted(sql, i)
            out.append(Token("string", sql[i + 1:j - 1]))
            i = j
        elif c in "\"`":
            j = _quoted(sql, i)
            out.append(Token("quoted", sql[i + 1:j - 1]))
            i = j
        elif c == "$" and (m := _HEREDOC.match(sql, i)):
            end = sql.find(m.group(0), m.end())
            if end < 0:
                raise _refuse(f"an unterminated {m.group(0)} string at character {i + 1}")
            out.append(Token("string", sql[m.end():end]))
            i = end + len(m.group(0))
        elif m := _WORD.match(sql, i):
            out.append(Token("word", m.group(0)))
            i = m.end()
        elif m := _NUMBER.match(sql, i):
            out.append(Token("number", m.group(0)))
            i = m.end()
        else:
            out.append(Token("punct", c))
            i += 1
    return out


def _refuse(what: str) -> NotReadOnly:
    return NotReadOnly(f"only read-only SQL is allowed here: {what}")


def _statement_kind(toks: list[Token]) -> None:
    first = toks[0]
    word = first.text.lower() if first.kind == "word" else None
    if first.kind == "punct" and first.text == "(":
        return
    if word in REFUSED_STARTS:
        raise _refuse(f"`{first.text.upper()}` {REFUSED_STARTS[word]}")
    if word not in READ_STARTS:
        raise _refuse(f"`{first.text}` does not start a read statement "
                      f"(allowed: {', '.join(w.upper() for w in READ_STARTS)})")
    if word == "explain":  # EXPLAIN [kind] [options] <statement>: the statement decides
        for t in toks[1:]:
            w = t.text.lower() if t.kind == "word" else None
            if w in REFUSED_STARTS:
                raise _refuse(f"`{t.text.upper()}` {REFUSED_STARTS[w]} (even under EXPLAIN)")
            if w in READ_STARTS or (t.kind == "punct" and t.text == "("):
                return
        raise _refuse("EXPLAIN without a read statement")


def check_read_only(sql: str) -> None:
    """Raise :class:`NotReadOnly` unless ``sql`` is one read statement that reaches only
    the store: no DDL or writes, no ``SYSTEM``, no settings changes (``SET``, a
    ``SETTINGS`` clause), no ``INTO OUTFILE``, no functions that reach files, URLs or
    other servers, and no second statement."""
    toks = tokens(sql)
    while toks and toks[-1].kind == "punct" and toks[-1].text == ";":
        toks.pop()
    if not toks:
        raise _refuse("no statement")
    if any(t.kind == "punct" and t.text == ";" for t in toks):
        raise _refuse("one statement at a time (a `;` is followed by more SQL)")
    _statement_kind(toks)
    for k, t in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        after = toks[k + 2] if k + 2 < len(toks) else None
        if t.kind == "word" and t.text.lower() == "into":
            raise _refuse("`INTO` (INTO OUTFILE writes a file; INSERT INTO writes data)")
        if (t.kind == "word" and t.text.lower() == "settings" and nxt is not None and nxt.name
                and after is not None and after.text == "=" and after.kind == "punct"):
            raise _refuse(f"a `SETTINGS` clause changes settings (`{nxt.text}`)")
        if t.name and nxt is not None and nxt.kind == "punct" and nxt.text == "(" and _remote(t.name):
            raise _refuse(f"`{t.text}(…)` reaches files, URLs or other servers")


def _remote(name: str) -> bool:
    return name in REMOTE_FUNCTIONS or name.startswith(REMOTE_PREFIXES)
