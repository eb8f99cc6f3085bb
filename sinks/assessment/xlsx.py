"""The workbook: one sheet per level (hall, city, province), headers in the chosen
language, plus a sheet describing the version and its accepted appeals.

Each level is an Excel table (named, striped, with autofilter) whose numbers stay
numbers: percentages as percent, minutes with one decimal, scores with two; a
small-sample indicator leaves its points cell empty and the 样本说明 column says why.
The id and name columns are frozen, and widths fit the longest cell (a Chinese
character counts twice).
"""

from __future__ import annotations

import io
import unicodedata

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from sinks.assessment.formats import heading
from sinks.assessment.labels import labels
from sinks.assessment.rows import LEVELS, cells
from sinks.assessment.times import local_text

NUMBER_FORMATS = {"int": "0", "score": "0.00", "min": "0.0", "num1": "0.0", "pct": "0.0%"}
# Columns frozen at the left of each level's sheet: up to and including the name.
FROZEN_THROUGH = {"hall": "name", "city": "city", "province": "province"}
TABLE_NAMES = {"hall": "Halls", "city": "Cities", "province": "Provinces"}
MAX_WIDTH = 40


def sheet_names(lang: str) -> list[str]:
    L = labels(lang)
    return [L[f"level.{lv}"] for lv in LEVELS]


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: wide (CJK) characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _shown(v, fmt: str | None) -> str:
    if v is None:
        return ""
    if fmt == "pct":
        return f"{v:.1f}%"
    if fmt in NUMBER_FORMATS and isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _level_sheet(wb: Workbook, level: str, name: str, report: dict, lang: str) -> None:
    ws = wb.create_sheet(name)
    cols, rows = cells(report, level, lang, split_notes=True)
    ws.append([c.label for c in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in rows:
        # A spreadsheet percentage is a fraction: 95.0 (%) is stored as 0.95, shown 95.0%.
        ws.append([v / 100 if c.fmt == "pct" and isinstance(v, (int, float)) else v for c, v in zip(cols, r)])
    for i, c in enumerate(cols, start=1):
        letter = get_column_letter(i)
        if c.fmt in NUMBER_FORMATS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = NUMBER_FORMATS[c.fmt]
        longest = max([display_width(_shown(v[i - 1], c.fmt)) for v in rows] + [0])
        # Headers wrap (two lines at most), so a long header need not widen its column.
        header = -(-display_width(c.label) // 2) if c.numeric else display_width(c.label)
        ws.column_dimensions[letter].width = min(MAX_WIDTH, max(8, longest + 2, header + 2))
    frozen = next(i for i, c in enumerate(cols, start=1) if c.key == FROZEN_THROUGH[level])
    ws.freeze_panes = ws.cell(row=2, column=frozen + 1).coordinate
    if rows:  # an Excel table needs a data row
        t = Table(displayName=TABLE_NAMES[level], ref=f"A1:{get_column_letter(len(cols))}{len(rows) + 1}")
        t.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        ws.add_table(t)
    else:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}1"


def render_xlsx(report: dict, lang: str) -> bytes:
    L = labels(lang)
    wb = Workbook()
    wb.remove(wb.active)
    for level, name in zip(LEVELS, sheet_names(lang)):
        _level_sheet(wb, level, name, report, lang)
    info = wb.create_sheet(L["version"])
    info.append([heading(report, lang)])
    info.append([L["reason"], report.get("reason") or ""])
    info.append([])
    info.append([L["appeal_id"], L["level.hall"], L["exclusion"], L["reason"], L["filed_by"], L["filed_at"],
                 L["decided_by"], L["decided_at"]])
    for a in report.get("appeals") or []:
        what = (a["survey_id"] if a["kind"] == "survey"
                else f"{local_text(a['exclude_from'])} .. {local_text(a['exclude_to'])}")
        info.append([a["appeal_id"], a["hall_id"], what, a["reason"], a["filed_by"], local_text(a["filed_at"]),
                     a["decided_by"], local_text(a["decided_at"])])
    for letter, width in zip("ABCDEFGH", (18, 12, 48, 30, 14, 28, 14, 28)):
        info.column_dimensions[letter].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
