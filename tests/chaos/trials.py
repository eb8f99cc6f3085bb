"""The table of fault trials that ``make chaos`` prints (and docs/reliability.md records).

Each trial adds one :class:`Trial` row: what load it fed, which faults it caused, what the
store lost or held twice against the offline recomputation, and how long recovery took.
The conftest prints the rows at the end of the run and writes them to
``var/chaos/trials.md`` and ``var/chaos/trials.json``.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "var" / "chaos"


@dataclass
class Trial:
    name: str
    load: str = ""
    faults: str = ""
    lost: int | None = None          # facts the offline recomputation has and the store lacks
    doubled: int | None = None       # facts the store holds more often than the recomputation
    recovery: str = ""               # e.g. "restart 7.1 s, 6.5 s, 8.0 s"
    notes: list[str] = field(default_factory=list)
    passed: bool | None = None


TRIALS: list[Trial] = []


def trial(name: str) -> Trial:
    """A new row of the table (kept even when the trial fails half way)."""
    t = Trial(name)
    TRIALS.append(t)
    return t


def _cell(v) -> str:
    return "–" if v is None or v == "" else str(v)


def table(trials: list[Trial]) -> str:
    head = ["trial", "load", "faults", "lost", "doubled", "recovery", "result"]
    rows = [[t.name, t.load, t.faults, _cell(t.lost), _cell(t.doubled), _cell(t.recovery),
             {True: "pass", False: "FAIL", None: "not finished"}[t.passed]] for t in trials]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    notes = [f"- {t.name}: {n}" for t in trials for n in t.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · {platform.system()}"


def write(trials: list[Trial]) -> str:
    OUT.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"make chaos, {when}, {machine()}\n\n{table(trials)}\n"
    (OUT / "trials.md").write_text(text)
    (OUT / "trials.json").write_text(json.dumps([asdict(t) for t in trials], indent=1, ensure_ascii=False))
    return text
