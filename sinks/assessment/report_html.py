"""The HTML report (Jinja2, templates/report.html.j2): a self-contained page with the
ranking and inline SVG charts, readable offline, with a print stylesheet for A4
landscape (the 公示 PDF, ``pdf.py``, is this page printed by headless Chromium).

In print the ranking keeps ranks, hall, total, grade, flags, coverage and each
indicator's points; the indicator values and data-quality columns are left to the
screen and the xlsx (the data-quality table has its own section)."""

from __future__ import annotations

from datetime import date, timedelta

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from sinks.assessment import charts
from sinks.assessment.formats import heading, state
from sinks.assessment.labels import labels
from sinks.assessment.periods import Period
from sinks.assessment.rows import Column, cells, coverage_status, level_rows, quality_cells
from sinks.assessment.times import local_text, now_shanghai

WORST_HALLS = 10


def _env() -> Environment:
    return Environment(loader=PackageLoader("sinks.assessment", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def _fmt(v) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def _classes(c: Column) -> str:
    """A cell's classes: num (right-aligned), dq (data quality), val (an indicator's value:
    screen only), pts (an indicator's points)."""
    out = ["num"] if c.numeric else []
    if c.key.startswith("dq_"):
        out.append("dq")
    if c.key.endswith("_value") or c.key in ("province", "issued", "coverage"):
        out.append("val")
    if c.key.endswith("_points"):
        out.append("pts")
    return " ".join(out)


def _table(report: dict, lv: str, cols: list[Column], rows: list[list]) -> dict:
    t = {"headers": [c.label for c in cols], "classes": [_classes(c) for c in cols],
         "rows": [[_fmt(v) for v in r] for r in rows], "row_classes": [""] * len(rows)}
    if lv == "hall":
        status = {"few": "few", "not_graded": "ungraded", "": ""}
        t["row_classes"] = [status[coverage_status(report, h)] for h in level_rows(report, "hall")]
    return t


def _local_appeals(appeals: list[dict]) -> list[dict]:
    return [{**a, **{k: local_text(a.get(k)) for k in ("exclude_from", "exclude_to", "filed_at", "decided_at")}}
            for a in appeals]


def render_html(report: dict, level: str, lang: str) -> str:
    L = labels(lang)
    scheme = report["scheme"]
    grade_label = (lambda g: g["name_en"]) if lang == "en" else (lambda g: g["name_zh"])
    graded = [h for h in report["halls"] if h["total"] is not None]
    worst = sorted(graded, key=lambda h: (h["total"], h["hall_id"]))[:WORST_HALLS]
    ind_names = [(i["key"], i["name_en"] if lang == "en" else i["name_zh"]) for i in scheme["indicators"]]
    hall_label = (lambda h: h.get("name_en") or h["name"]) if lang == "en" else (lambda h: h["name"])
    hist = charts.histogram([h["total"] for h in graded], scheme["grades"], L["histogram"], L["histogram.x"],
                            L["histogram.y"], grade_label)
    bars = charts.breakdown(worst, ind_names, L["breakdown"], L["lost"], hall_label)
    tables = {}
    for lv in ("province", "city", level):
        tables[lv] = _table(report, lv, *cells(report, lv, lang))
    tables["quality"] = _table(report, "quality", *quality_cells(report, lang))
    statuses = [coverage_status(report, h) for h in report["halls"]]
    coverage_note = L["coverage.note"].format(min=scheme.get("min_graded_weight_share", 0.5),
                                              few=scheme.get("few_indicators_below", 0.8))
    return _env().get_template("report.html.j2").render(
        L=L, lang_attr="en" if lang == "en" else "zh-CN", lang=lang, heading=heading(report, lang),
        state=state(report, lang), last_day=date.fromisoformat(report["to_day"]) - timedelta(days=1),
        period_label=Period.parse(report["period"]).label(lang), report=report, level=level,
        tables=tables, histogram=Markup(hist), breakdown=Markup(bars), scheme=scheme,
        appeals=_local_appeals(report.get("appeals") or []), coverage_note=coverage_note,
        few=statuses.count("few"), ungraded=statuses.count("not_graded"),
        generated=local_text(now_shanghai()))
