"""A report dict flattened into rows for one level (hall, city, province).

Human formats (table, csv, xlsx, html) get labelled cells in the chosen language;
JSON gets machine keys and raw numbers. One place decides the columns for all formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sinks.assessment.labels import labels
from sinks.assessment.scoring import DATA_QUALITY_KEYS

LEVELS = ("hall", "city", "province")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    get: Callable[[dict], Any]
    numeric: bool = False
    # How a spreadsheet shows the number: "int", "score" (2 decimals), "min" (1 decimal),
    # "pct" (a value in percent units: 95.0 means 95 %), "num1" (1 decimal), None for text.
    fmt: str | None = None


def _unit_fmt(unit: str) -> str:
    return {"%": "pct", "min": "min"}.get(unit, "score")


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(float(x), nd)


def _indicators(report: dict) -> list[dict]:
    return report["scheme"]["indicators"]


def _ind_label(ind: dict, lang: str) -> str:
    name = ind["name_en"] if lang == "en" else ind["name_zh"]
    return f"{name} ({ind['unit']})" if ind.get("unit") else name


def _ind(row: dict, key: str) -> dict:
    return next(i for i in row["indicators"] if i["key"] == key)


def _dq(row: dict, key: str) -> float | int | None:
    """A data-quality figure of a hall row; None for versions published before the figures
    existed (their rows have no ``data_quality``)."""
    dq = row.get("data_quality")
    if not dq or dq.get(key) is None:
        return None
    return _r(dq[key], 1) if key == "silent_minutes" else int(dq[key])


def _grade(lang: str) -> Callable[[dict], Any]:
    return lambda r: (r.get("grade_en") if lang == "en" else r.get("grade")) or ""


def covered_share(report: dict, row: dict) -> float:
    """Share (0..1) of the scheme's weight carried by the hall's indicators with enough
    sample (computed from the indicators, so versions published before the field have it too)."""
    if row.get("covered_weight") is not None:
        return float(row["covered_weight"])
    weights = {i["key"]: i["weight"] for i in _indicators(report)}
    return sum(weights[i["key"]] for i in row["indicators"] if not i["small_sample"]) / sum(weights.values())


def coverage_status(report: dict, row: dict) -> str:
    """'' (graded on enough indicators), 'few' (graded on few: 指标不足) or 'not_graded'
    (不参评: too little weight covered, domain.md §5)."""
    if row.get("total") is None:
        return "not_graded"
    few = report["scheme"].get("few_indicators_below", 0.8)
    return "few" if covered_share(report, row) < few - 1e-9 else ""


def sample_notes(report: dict, row: dict, lang: str) -> str:
    """The hall's indicators with too small a sample, with their sample and its minimum
    (the xlsx keeps them here so the points columns stay numeric)."""
    L = labels(lang)
    notes = []
    for ind in _indicators(report):
        i = _ind(row, ind["key"])
        if i["small_sample"]:
            name = ind["name_en"] if lang == "en" else ind["name_zh"]
            notes.append(f"{name} {i['sample']}/{max(ind['min_sample'], 1)}" if i["value"] is not None
                         else f"{name} {L['no_data']}")
    return f"{L['small_sample']}: " + "; ".join(notes) if notes else ""


def columns(report: dict, level: str, lang: str = "zh", compact: bool = False,
            split_notes: bool = False) -> list[Column]:
    """The columns of a level. ``compact`` (the terminal table) shows each indicator's
    points only; the files show its value and its points. Halls end with their data-quality
    figures (informational, not scored), labelled "数据质量·…" in the files.

    A hall's grade reads 不参评 when it is not graded, and its coverage column says 指标不足
    when it is graded on few indicators. ``split_notes`` (the xlsx) leaves a small-sample
    indicator's points empty and says why in a 样本说明 column, so that the points columns
    hold numbers only; otherwise the points cell says 样本不足."""
    L = labels(lang)
    flag = lambda r: L.get(f"flag.{r['flag']}", "") if r.get("flag") else ""  # noqa: E731
    if level == "hall":
        grade = _grade(lang)
        status_text = {"": "", "few": L["few_indicators"], "not_graded": L["not_graded"]}
        cols = [
            Column("rank_province", L["rank_province"], lambda r: r["rank_province"], True, "int"),
            Column("rank_city", L["rank_city"], lambda r: r["rank_city"], True, "int"),
            Column("hall_id", L["hall_id"], lambda r: r["hall_id"]),
            Column("name", L["name"], lambda r: (r.get("name_en") or r["name"]) if lang == "en" else r["name"]),
            Column("city", L["city"], lambda r: r["city"]),
        ]
        if not compact:
            cols.append(Column("province", L["province"], lambda r: r["province"]))
            cols.append(Column("issued", L["issued"], lambda r: r["issued"], True, "int"))
        cols += [
            Column("total", L["total"], lambda r: _r(r["total"]), True, "score"),
            Column("grade", L["grade"], lambda r: grade(r) if r.get("total") is not None else L["not_graded"]),
            Column("flag", L["flag"], flag),
        ]
        if not compact:
            cols.append(Column("coverage", L["coverage"], lambda r: _r(100 * covered_share(report, r), 1), True,
                               "pct"))
        cols.append(Column("coverage_note", L["coverage_note"],
                           lambda r: status_text[coverage_status(report, r)]))
        small = (lambda r, k: None) if split_notes else (lambda r, k: L["small_sample"])
        for ind in _indicators(report):
            k, name = ind["key"], _ind_label(ind, lang)
            if not compact:
                cols.append(Column(f"{k}_value", f"{name} {L['value']}",
                                   lambda r, k=k: _r(_ind(r, k)["value"]), True, _unit_fmt(ind.get("unit", ""))))
            plain = ind["name_en"] if lang == "en" else ind["name_zh"]
            cols.append(Column(f"{k}_points", f"{name} {L['points']}" if not compact else f"{plain} {L['points']}",
                               lambda r, k=k: small(r, k) if _ind(r, k)["small_sample"]
                               else _r(_ind(r, k)["points"]), True, "score"))
        if split_notes:
            cols.append(Column("sample_notes", L["sample_notes"], lambda r: sample_notes(report, r, lang)))
        for k in DATA_QUALITY_KEYS:
            name = L[f"dq.{k}"] if compact else f"{L['data_quality']}·{L[f'dq.{k}']}"
            cols.append(Column(f"dq_{k}", name, lambda r, k=k: _dq(r, k), True,
                               "num1" if k == "silent_minutes" else "int"))
        return cols
    name_col = (Column("city", L["city"], lambda r: r["name"]) if level == "city"
                else Column("province", L["province"], lambda r: r["name"]))
    cols = [Column("rank", L["rank"], lambda r: r["rank"], True, "int"), name_col]
    if level == "city":
        cols.append(Column("province", L["province"], lambda r: r["province"]))
    cols += [
        Column("halls", L["halls"], lambda r: r["halls"], True, "int"),
        Column("graded_halls", L["graded_halls"], lambda r: r["graded_halls"], True, "int"),
        Column("issued", L["issued"], lambda r: r["issued"], True, "int"),
        Column("total", L["total"], lambda r: _r(r["total"]), True, "score"),
        Column("grade", L["grade"], _grade(lang)),
    ]
    for g in report["scheme"]["grades"]:
        gname = g["name_en"] if lang == "en" else g["name_zh"]
        cols.append(Column(f"grade_{g['name_en'].lower()}", gname,
                           lambda r, z=g["name_zh"]: r["grade_counts"].get(z, 0), True, "int"))
    cols += [Column("rectification", L["rectification"], lambda r: r["rectification"], True, "int"),
             Column("escalated", L["escalated"], lambda r: r["escalated"], True, "int")]
    return cols


QUALITY_VIEW_KEYS = ("rank_province", "hall_id", "name", "city", "total", "grade")


def quality_cells(report: dict, lang: str = "zh") -> tuple[list[Column], list[list]]:
    """The halls' data-quality figures with just enough to know the hall and its result
    (the HTML report's 数据质量 table), in ranking order."""
    cols = [c for c in columns(report, "hall", lang, compact=True)
            if c.key in QUALITY_VIEW_KEYS or c.key.startswith("dq_")]
    return cols, [[c.get(r) for c in cols] for r in level_rows(report, "hall")]


def level_rows(report: dict, level: str) -> list[dict]:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    return report[{"hall": "halls", "city": "cities", "province": "provinces"}[level]]


def cells(report: dict, level: str, lang: str = "zh", compact: bool = False,
          split_notes: bool = False) -> tuple[list[Column], list[list]]:
    cols = columns(report, level, lang, compact, split_notes)
    return cols, [[c.get(r) for c in cols] for r in level_rows(report, level)]


def machine_rows(report: dict, level: str) -> list[dict]:
    """JSON rows: stable English keys, raw values; small-sample indicators have
    ``points: null`` and ``small_sample: true``. A hall row always has ``data_quality``
    ({inferred_calls, expired_visits, silent_minutes, late_events}), null in versions
    published before those figures existed."""
    out = []
    for r in level_rows(report, level):
        row = {k: v for k, v in r.items() if k != "indicators"}
        if level == "hall":
            row.setdefault("data_quality", None)
            row["covered_weight"] = round(covered_share(report, r), 4)
            row["few_indicators"] = coverage_status(report, r) == "few"
            row["indicators"] = {i["key"]: {"value": i["value"], "sample": i["sample"],
                                            "small_sample": i["small_sample"], "weight": i["weight"],
                                            "points": None if i["small_sample"] else i["points"]}
                                 for i in r["indicators"]}
        out.append(row)
    return out
