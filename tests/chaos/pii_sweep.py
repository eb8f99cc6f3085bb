"""Customer data sweep (issue 10 part 6): find clear mobile and ID numbers wherever the
pipeline keeps or shows data.

What counts as clear (tests/hostile.py ``CLEAR_NUMBER``): an 11-digit mobile number
``1[3-9]xxxxxxxxx`` (also 3-4-4 with spaces or dashes) or an 18-character resident ID
(``\\d{17}[\\dXx]``, also 6-8-4), full-width digits read as ASCII, standing on its own:
not inside a longer run of ASCII letters and digits. That is the product's own rule
(schemas/privacy.py, oracle ruling 1), written again here; a rule with digit boundaries
only would also flag the random SHA-256 and UUID hex tokens of ids and hashes (about one
UUID in three thousand holds eleven digits in a row), which carry no number.

Places swept: every String, FixedString, Array(String) or Nullable/LowCardinality String
column, and the text keys and values of every Map column, of every table of the store's
database (read through the sink's proxy),
log files, the messages of Kafka topics (the dead-letter topic), JSON API responses, and
the lobby page's DOM. A finding names the place and shows the number masked (the
report must not leak what it found).
"""

from __future__ import annotations

import json
import urllib.error
from collections import Counter
from pathlib import Path
from typing import Iterable

from tests.hostile import clear_numbers


def _text_of(col: str, type_: str) -> str | None:
    """The SQL giving the text a column holds, or None: a Map's keys and values are taken
    only where they are text (a Map(String, Float64) of figures renders 0.19911111111,
    whose decimals are no phone number)."""
    inner = type_
    for wrapper in ("LowCardinality(", "Nullable("):
        if inner.startswith(wrapper):
            inner = inner[len(wrapper):-1]
    if inner.startswith("Map("):
        key, value = inner[4:-1].split(", ", 1)
        parts = [f"mapKeys({col})"] * _is_text(key) + [f"mapValues({col})"] * _is_text(value)
        return f"({', '.join(parts)})" if len(parts) > 1 else (parts[0] if parts else None)
    return col if _is_text(inner) else None


def _is_text(type_: str) -> bool:
    return "String" in type_ or type_.startswith(("JSON", "Object"))


def _show(number: str) -> str:
    return number[:3] + "*" * max(0, len(number) - 7) + number[-4:]


def scan(text: str, where: str) -> list[str]:
    return [f"{where}: clear number {_show(n)}" for n in clear_numbers(text)]


class Sweep:
    """Findings and what was scanned (counts per place), gathered over several calls."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.scanned: Counter = Counter()

    def text(self, text: str, where: str, place: str) -> None:
        self.scanned[place] += 1
        self.findings += scan(text, where)

    # -- the store -----------------------------------------------------------------------
    def store(self, store, *, max_rows: int = 2_000_000) -> None:
        """Every text-like column of every table of the current database (views and
        Kafka engine tables aside: they hold nothing of their own)."""
        tables = store.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                             "AND engine NOT IN ('View', 'MaterializedView', 'Kafka', 'Dictionary')").rows
        names = {r[0] for r in tables}
        cols = store.query("SELECT table, name, type FROM system.columns WHERE database = currentDatabase() "
                           "ORDER BY table, position").rows
        for table, name, type_ in cols:
            expr = _text_of(f"`{name}`", type_)
            if table not in names or expr is None:
                continue
            self.scanned["store columns"] += 1
            rows = store.query(f"SELECT DISTINCT toString({expr}) FROM `{table}` LIMIT {max_rows}").rows
            for (value,) in rows:
                self.scanned["store values"] += 1
                self.findings += scan(str(value), f"store {table}.{name}")

    # -- logs, topics, API, page -------------------------------------------------------------
    def logs(self, paths: Iterable[Path]) -> None:
        for p in paths:
            p = Path(p)
            if not p.exists():
                continue
            for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                self.scanned["log lines"] += 1
                self.findings += scan(line, f"log {p.name}:{i}")

    def topic(self, messages: Iterable[bytes], name: str) -> None:
        for i, value in enumerate(messages):
            self.scanned[f"messages of {name}"] += 1
            text = value.decode("utf-8", errors="replace")
            self.findings += scan(text, f"topic {name} #{i}")
            try:  # the original as the dead letter holds it, decoded once more
                doc = json.loads(value)
                if isinstance(doc, dict) and isinstance(doc.get("original"), str):
                    self.findings += scan(doc["original"], f"topic {name} #{i} original")
            except ValueError:
                pass

    def api(self, get, paths: Iterable[str], where: str) -> None:
        """``get(path)`` -> the decoded JSON (e.g. ``ServiceProcess.get``)."""
        for path in paths:
            try:
                doc = get(path)
            except urllib.error.HTTPError as e:
                doc = e.read().decode(errors="replace")
            self.text(json.dumps(doc, ensure_ascii=False), f"{where}{path}", "API responses")

    def dom(self, html: str) -> None:
        self.text(html, "lobby DOM", "lobby DOM")

    def summary(self) -> str:
        return ", ".join(f"{n:,} {place}" for place, n in self.scanned.items())


def sweep_all(worker, log_paths: Iterable[Path], dom: str | None, *, sweep: Sweep | None = None) -> list[str]:
    """Sweep a :class:`tests.pipeline.WorkerProcess` and its sink: the store, the logs, the
    dead-letter topic, the worker's API (every hall's ``/now``) and the sink's stats, and
    the lobby DOM if given. The findings (empty: nothing found); pass ``sweep`` to keep
    the counts of what was scanned."""
    from tests.pipeline import read_topic

    s = sweep if sweep is not None else Sweep()
    s.store(worker.store())
    s.logs(log_paths)
    settings = worker.settings
    s.topic(read_topic(settings, settings.topics.deadletter), "dead letters")
    halls = worker.get("/api/halls")
    ids = [h["hall_id"] for h in (halls.get("halls", halls) if isinstance(halls, dict) else halls)]
    s.api(worker.get, ["/api/halls", "/api/stats", *(f"/api/halls/{h}/now" for h in ids)], "worker")
    s.api(worker.sink.get, ["/api/stats"], "sink")
    if dom is not None:
        s.dom(dom)
    return s.findings
