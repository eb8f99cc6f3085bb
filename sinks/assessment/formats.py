"""Text outputs of a report: a rich table for the terminal, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

from rich.console import Console
from rich.table import Table

from sinks.assessment.labels import labels
from sinks.assessment.periods import Period
from sinks.assessment.rows import cells, machine_rows
from sinks.assessment.times import local_text


def state(report: dict, lang: str) -> str:
    """Which results these are: a published version (who, when) or a live computation."""
    L = labels(lang)
    if report.get("version"):
        forced = f" · {L['forced']}" if report.get("forced") else ""
        return (f"{L['version']} {report['version']} · {L['published']} {local_text(report['published_at'])} · "
                f"{report['published_by']}{forced}")
    return L["live"]


def heading(report: dict, lang: str) -> str:
    return f"{labels(lang)['title']} · {Period.parse(report['period']).label(lang)} · {state(report, lang)}"


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def render_table(report: dict, level: str, lang: str, width: int | None = None) -> str:
    cols, rows = cells(report, level, lang, compact=True)
    t = Table(title=heading(report, lang) + f" · {labels(lang)['level.' + level]}", show_lines=False)
    for c in cols:
        # Names must stay whole on one line to be read (and grepped); numbers never wrap.
        t.add_column(c.label, justify="right" if c.numeric else "left", no_wrap=True)
    for r in rows:
        t.add_row(*(_fmt(v) for v in r))
    buf = io.StringIO()
    if width is None:
        # As wide as the table needs (at least 240), so no column is cut to "…": with the
        # data-quality columns a hall row no longer fits 240 characters.
        probe = Console(file=io.StringIO(), width=100_000, force_terminal=False, color_system=None)
        width = max(240, probe.measure(t).maximum)
    Console(file=buf, width=width, force_terminal=False, color_system=None).print(t)
    return buf.getvalue()


def render_csv(report: dict, level: str, lang: str) -> str:
    """Labelled CSV (it is mostly opened in a spreadsheet); small samples spelled out."""
    cols, rows = cells(report, level, lang)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.label for c in cols])
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def render_json(report: dict, level: str) -> str:
    doc = {k: report.get(k) for k in ("period", "kind", "from_day", "to_day", "version", "published_at",
                                      "published_by", "reason", "forced", "computed_at")}
    doc.update(level=level, appeals=report.get("appeals", []), exclusions=report.get("exclusions"),
               scheme=report["scheme"], rows=machine_rows(report, level))
    return json.dumps(doc, ensure_ascii=False, indent=2)
