"""The HTML report (Jinja2, templates/report.html.j2): a self-contained page with the
ranking and inline SVG charts, readable offline."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from sinks.assessment import charts
from sinks.assessment.formats import heading, state
from sinks.assessment.labels import labels
from sinks.assessment.periods import Period
from sinks.assessment.rows import cells, quality_cells

WORST_HALLS = 10


def _env() -> Environment:
    return Environment(loader=PackageLoader("sinks.assessment", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def _fmt(v) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if isinstance(v, float) else str(v)


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
        cols, rows = cells(report, lv, lang)
        tables[lv] = {"headers": [c.label for c in cols], "numeric": [c.numeric for c in cols],
                      "quality": [c.key.startswith("dq_") for c in cols],
                      "rows": [[_fmt(v) for v in r] for r in rows]}
    cols, rows = quality_cells(report, lang)
    tables["quality"] = {"headers": [c.label for c in cols], "numeric": [c.numeric for c in cols],
                         "quality": [c.key.startswith("dq_") for c in cols],
                         "rows": [[_fmt(v) for v in r] for r in rows]}
    return _env().get_template("report.html.j2").render(
        L=L, lang_attr="en" if lang == "en" else "zh-CN", lang=lang, heading=heading(report, lang),
        state=state(report, lang), last_day=date.fromisoformat(report["to_day"]) - timedelta(days=1),
        period_label=Period.parse(report["period"]).label(lang), report=report, level=level,
        tables=tables, histogram=Markup(hist), breakdown=Markup(bars), scheme=scheme,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
