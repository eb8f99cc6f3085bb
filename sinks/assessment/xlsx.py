"""The workbook: one sheet per level (hall, city, province), headers in the chosen
language, plus a sheet describing the version and its accepted appeals."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from sinks.assessment.formats import heading
from sinks.assessment.labels import labels
from sinks.assessment.rows import LEVELS, cells


def sheet_names(lang: str) -> list[str]:
    L = labels(lang)
    return [L[f"level.{lv}"] for lv in LEVELS]


def render_xlsx(report: dict, lang: str) -> bytes:
    L = labels(lang)
    wb = Workbook()
    wb.remove(wb.active)
    for level, name in zip(LEVELS, sheet_names(lang)):
        ws = wb.create_sheet(name)
        cols, rows = cells(report, level, lang)
        ws.append([c.label for c in cols])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append(r)
        ws.freeze_panes = "A2"
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(8, min(28, len(c.label) * (2 if lang != "en" else 1) + 2))
    info = wb.create_sheet(L["version"])
    info.append([heading(report, lang)])
    info.append([L["reason"], report.get("reason") or ""])
    info.append([])
    info.append([L["appeal_id"], L["level.hall"], L["exclusion"], L["reason"], L["filed_by"], L["filed_at"],
                 L["decided_by"], L["decided_at"]])
    for a in report.get("appeals") or []:
        what = a["survey_id"] if a["kind"] == "survey" else f"{a['exclude_from']} .. {a['exclude_to']}"
        info.append([a["appeal_id"], a["hall_id"], what, a["reason"], a["filed_by"], a["filed_at"],
                     a["decided_by"], a["decided_at"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
