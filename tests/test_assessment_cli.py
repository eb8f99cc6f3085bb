"""``hallpulse assess | publish | appeal`` through click, on an embedded store."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import date

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from hallpulse.cli import main
from hallpulse.config import get_settings
from test_assessment_support import add_days, add_survey, open_seeded, utc

HALLS = ["JS-NJ-0001", "JS-NJ-0002", "JS-NJ-0003", "JS-SZ-0001", "JS-SZ-0002"]


@pytest.fixture
def cli(tmp_path, monkeypatch):
    _, st = open_seeded(tmp_path)
    days = [date(2026, 10, d) for d in (8, 9)]
    for i, h in enumerate(HALLS):
        add_days(st, h, days, within_target=190 - 25 * i, csat_sum=368 - 30 * i)
    # JS-NJ-0002's feed had a bad second day (domain.md §3): shown beside it, not scored
    add_days(st, "JS-NJ-0002", days[1:], within_target=165, csat_sum=338, inferred_calls=9, expired_visits=2,
             silent_minutes=47.5, late_events=31)
    add_survey(st, "SV-1", "JS-NJ-0001", "customer", utc(2026, 10, 8, 2, 0), 1, complaint=True)
    st.close()  # chDB: one holder per path; the CLI opens it itself
    monkeypatch.setenv("HALLPULSE__VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args, ok=True):
        r = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert r.exit_code == 0, r.output
        return r
    yield run
    get_settings.cache_clear()


def test_table_csv_json(cli, tmp_path):
    out = cli("assess", "--period", "2026-10").output
    assert "综合得分" in out and "南京新街口营业厅" in out and "实时计算" in out
    out = cli("assess", "--period", "2026-10", "--lang", "en", "--level", "city").output
    assert "Total score" in out and "Cities" in out

    rows = list(csv.reader(io.StringIO(cli("assess", "--period", "2026-10", "--format", "csv").output)))
    assert rows[0][:5] == ["省内排名", "市内排名", "营业厅编码", "营业厅名称", "地市"]
    assert len(rows) == 1 + len(HALLS) and rows[1][0] == "1"
    p = tmp_path / "r.csv"
    cli("assess", "--period", "2026-10", "--format", "csv", "--lang", "en", "--out", str(p))
    assert p.read_text(encoding="utf-8-sig").startswith("Rank (province),Rank (city),Hall ID")

    doc = json.loads(cli("assess", "--period", "2026-10", "--format", "json").output)
    assert doc["period"] == "2026-10" and doc["version"] is None and doc["level"] == "hall"
    assert len(doc["rows"]) == len(HALLS)
    top = doc["rows"][0]
    assert top["rank_province"] == 1 and set(top["indicators"]) >= {"within_target", "satisfaction", "audit"}
    city = json.loads(cli("assess", "--period", "2026-10", "--format", "json", "--level", "province").output)
    assert city["rows"][0]["name"] == "江苏" and city["rows"][0]["halls"] == len(HALLS)


def test_publish_refuses_an_unfinished_period_unless_forced(cli):
    r = cli("publish", "--period", "2099-01", "--by", "质量办张", ok=False)
    assert r.exit_code != 0 and "has not ended" in r.output and "2099-02-01T00:00:00+08:00" in r.output
    assert "--force" in r.output
    out = cli("publish", "--period", "2026-10", "--by", "质量办张").output    # ended: no force needed
    assert "version 1" in out and "+08:00" in out and "FORCED" not in out


def test_xlsx_one_sheet_per_level(cli, tmp_path):
    p = tmp_path / "r.xlsx"
    cli("assess", "--period", "2026-10", "--format", "xlsx", "--out", str(p))
    wb = load_workbook(p)
    assert wb.sheetnames[:3] == ["营业厅", "地市", "省"]
    ws = wb["营业厅"]
    assert ws["A1"].value == "省内排名" and ws.max_row == 1 + len(HALLS)
    assert wb["省"]["B2"].value == "江苏"
    p_en = tmp_path / "r_en.xlsx"
    cli("assess", "--period", "2026-10", "--format", "xlsx", "--lang", "en", "--out", str(p_en))
    wb = load_workbook(p_en)
    assert wb.sheetnames[:3] == ["Halls", "Cities", "Provinces"] and wb["Halls"]["A1"].value == "Rank (province)"


def test_xlsx_numbers_stay_numbers_in_a_filtered_table(cli, tmp_path):
    """Percent, one-decimal minutes and two-decimal scores; an Excel table with autofilter;
    id and name frozen; widths that fit Chinese names; small samples explained in their own
    column while the points cells stay numeric (empty)."""
    p = tmp_path / "r.xlsx"
    cli("assess", "--period", "2026-10", "--format", "xlsx", "--out", str(p))
    ws = load_workbook(p)["营业厅"]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    assert ws.freeze_panes == "E2" and header[2:4] == ["营业厅编码", "营业厅名称"]
    [table] = ws.tables.values()
    assert table.ref == f"A1:{ws.cell(1, len(header)).column_letter}{1 + len(HALLS)}" and table.autoFilter is not None
    fmt = lambda h: ws.cell(2, col[h]).number_format  # noqa: E731
    assert fmt("等候时长达标率 (%) 值") == "0.0%" and fmt("平均等候时长 (min) 值") == "0.0"
    assert fmt("综合得分") == "0.00" and fmt("客户满意度 (pts) 得分") == "0.00" and fmt("有效指标权重") == "0.0%"
    assert fmt("省内排名") == "0" and fmt("数据质量·数据中断(分钟)") == "0.0"
    within = ws.cell(2, col["等候时长达标率 (%) 值"]).value
    assert 0 < within <= 1                                         # a fraction, shown as a percent
    # every points cell is a number or empty, never text (small samples: test_assessment_store)
    for name in [h for h in header if h.endswith(" 得分")]:
        for (cell,) in ws.iter_rows(min_row=2, min_col=col[name], max_col=col[name]):
            assert cell.value is None or isinstance(cell.value, (int, float)), (name, cell.value)
    assert "样本说明" in header and "样本不足" not in [c.value for row in ws.iter_rows(min_row=2) for c in row
                                                      if c.column != col["样本说明"]]
    names = [ws.cell(r, col["营业厅名称"]).value for r in range(2, ws.max_row + 1)]
    assert ws.column_dimensions["D"].width >= 2 * max(len(n) for n in names)   # CJK counts twice


def test_html_report_zh_and_en(cli, tmp_path):
    p = tmp_path / "r.html"
    cli("assess", "--period", "2026-10", "--format", "html", "--out", str(p))
    html = p.read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    for heading in ("营业厅服务质量考核", "综合得分分布", "得分最低营业厅的指标得分构成", "省内排名", "等候时长达标率"):
        assert heading in html
    assert html.count("<svg") == 2 and "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    # a print layout: A4 landscape; the ranking keeps its points and drops the value and
    # data-quality columns (they have the xlsx and their own table); the charts side by side
    assert "@page { size: A4 landscape;" in html and "@media print" in html
    assert "table.ranking .val, table.ranking .dq { display: none; }" in html
    assert '<table class="ranking">' in html and html.count('<div class="chart">') == 2
    assert "生成时间" in html and "+08:00" in html and "UTC" not in html
    en = cli("assess", "--period", "2026-10", "--format", "html", "--lang", "en").output
    assert '<html lang="en">' in en and "Distribution of total scores" in en and "<svg" in en
    assert "综合得分" not in en


def test_publish_appeal_accept_list_and_published_versions(cli):
    out = cli("publish", "--period", "2026-10", "--by", "质量办张").output
    assert "version 1" in out
    r = cli("publish", "--period", "2026-10", "--by", "质量办张", ok=False)
    assert r.exit_code != 0 and "already published" in r.output

    r = cli("appeal", "--period", "2026-10", "--hall", "JS-NJ-0001", "--exclude",
            "2026-10-08T09:00+08:00..2026-10-08T11:00", "--reason", "x", "--by", "王", ok=False)
    assert r.exit_code != 0 and "offset" in r.output
    a1 = cli("appeal", "--period", "2026-10", "--hall", "JS-NJ-0001", "--exclude-survey", "SV-1",
             "--reason", "恶意评价", "--by", "厅经理王").output.strip()
    a2 = cli("appeal", "--period", "2026-10", "--hall", "JS-NJ-0002", "--exclude",
             "2026-10-08T09:00+08:00..2026-10-08T11:00+08:00", "--reason", "系统故障", "--by", "厅经理李").output.strip()
    assert a1.startswith("AP-") and a2.startswith("AP-") and a1 != a2

    # the filer cannot decide; a decider outside config/assessment.toml's reviewers neither
    r = cli("appeal", "decide", a1, "--accept", "--by", "厅经理王", ok=False)
    assert r.exit_code != 0 and "must be decided by someone else" in r.output
    r = cli("appeal", "decide", a1, "--accept", "--by", "路人甲", ok=False)
    assert r.exit_code != 0 and "not a reviewer" in r.output
    r = cli("appeal", "decide", a1, "--by", "质量办赵", ok=False)
    assert r.exit_code != 0 and "--accept or --reject" in r.output
    # a dry run shows each affected hall before -> after and writes nothing
    out = cli("appeal", "decide", a1, "--accept", "--by", "质量办赵", "--dry-run").output
    assert "dry run" in out and "version 2" in out and "JS-NJ-0001" in out and "→" in out
    assert "综合得分" in out and "省内排名" in out and "+08:00" in out
    r = cli("appeal", "decide", a1, "--accept", "--by", "厅经理王", "--dry-run", ok=False)
    assert r.exit_code != 0 and "someone else" in r.output
    assert "pending" == json.loads(cli("appeal", "list", "--period", "2026-10", "--format", "json").output)[0]["status"]

    out = cli("appeal", "decide", a1, "--accept", "--by", "质量办赵", "--reason", "核实").output
    assert "version 2" in out and "+08:00" in out
    out = cli("appeal", "reject", a2, "--by", "质量办赵", "--reason", "无故障记录").output  # the old alias
    assert "rejected" in out
    listed = json.loads(cli("appeal", "list", "--period", "2026-10", "--format", "json").output)
    assert {a["appeal_id"]: a["status"] for a in listed} == {a1: "accepted", a2: "rejected"}
    assert "已采纳" in cli("appeal", "list", "--period", "2026-10").output

    v1 = json.loads(cli("assess", "--period", "2026-10", "--format", "json", "--version", "1").output)
    v2 = json.loads(cli("assess", "--period", "2026-10", "--format", "json", "--version", "2").output)
    assert v1["version"] == 1 and v1["appeals"] == [] and v1["published_by"] == "质量办张"
    assert v2["version"] == 2 and [a["appeal_id"] for a in v2["appeals"]] == [a1]
    assert v2["appeals"][0]["filed_by"] == "厅经理王" and v2["appeals"][0]["decided_by"] == "质量办赵"
    sat = {v: next(r for r in d["rows"] if r["hall_id"] == "JS-NJ-0001")["indicators"]["satisfaction"]["value"]
           for v, d in ((1, v1), (2, v2))}
    assert sat[2] > sat[1]
    r = cli("assess", "--period", "2026-10", "--version", "3", ok=False)
    assert r.exit_code != 0 and "published: 1, 2" in r.output
    html = cli("assess", "--period", "2026-10", "--version", "2", "--format", "html").output
    assert "版本 2" in html and "恶意评价" in html and "厅经理王" in html


DQ_ZH = ["数据质量·推断叫号", "数据质量·过期未叫", "数据质量·数据中断(分钟)", "数据质量·迟到数据"]
DQ_EN = ["Data quality·Inferred calls", "Data quality·Expired visits", "Data quality·Silent minutes",
         "Data quality·Late events"]


def test_data_quality_beside_each_hall_in_every_format(cli, tmp_path):
    """Inferred calls, expired visits, silent minutes and late events of the period, per
    hall, in table, CSV, JSON, xlsx and HTML, zh and en."""
    out = cli("assess", "--period", "2026-10").output
    assert "推断叫号" in out and "过期未叫" in out and "数据中断(分钟)" in out and "迟到数据" in out
    line = next(ln for ln in out.splitlines() if "JS-NJ-0002" in ln)
    assert [c.strip() for c in line.strip("│ ").split("│")][-4:] == ["9", "2", "47.50", "31"]
    assert "Inferred calls" in cli("assess", "--period", "2026-10", "--lang", "en").output

    rows = list(csv.reader(io.StringIO(cli("assess", "--period", "2026-10", "--format", "csv").output)))
    assert rows[0][-4:] == DQ_ZH
    by_hall = {r[2]: r for r in rows[1:]}
    assert by_hall["JS-NJ-0002"][-4:] == ["9", "2", "47.5", "31"]
    assert by_hall["JS-NJ-0001"][-4:] == ["0", "0", "0.0", "0"]
    en = list(csv.reader(io.StringIO(cli("assess", "--period", "2026-10", "--format", "csv", "--lang", "en").output)))
    assert en[0][-4:] == DQ_EN

    doc = json.loads(cli("assess", "--period", "2026-10", "--format", "json").output)
    rows = {r["hall_id"]: r for r in doc["rows"]}
    assert rows["JS-NJ-0002"]["data_quality"] == {"inferred_calls": 9, "expired_visits": 2, "silent_minutes": 47.5,
                                                  "late_events": 31}
    assert rows["JS-NJ-0003"]["data_quality"] == {"inferred_calls": 0, "expired_visits": 0, "silent_minutes": 0.0,
                                                  "late_events": 0}

    p = tmp_path / "dq.xlsx"
    cli("assess", "--period", "2026-10", "--format", "xlsx", "--out", str(p))
    ws = load_workbook(p)["营业厅"]
    header = [c.value for c in ws[1]]
    assert header[-4:] == DQ_ZH
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[2] == "JS-NJ-0002")
    assert list(row[-4:]) == [9, 2, 47.5, 31]

    html = cli("assess", "--period", "2026-10", "--format", "html").output
    for label in DQ_ZH:
        assert f'<th class="dq">{label}</th>' in html
    assert 'id="data-quality-note"' in html and "不计入得分" in html and "申诉剔除的时段不扣减" in html
    # and a short table of its own, so the figures need no scrolling through the ranking
    section = html[html.index('<h2 id="data-quality">'):html.index('id="data-quality-note"')]
    assert "数据质量 · 营业厅" in section and '<th class="dq">推断叫号</th>' in section
    assert '<td class="num dq">47.50</td>' in section and "南京鼓楼营业厅" in section
    en_html = cli("assess", "--period", "2026-10", "--format", "html", "--lang", "en").output
    assert all(label in en_html for label in DQ_EN) and "never scored" in en_html
    assert "数据质量" not in en_html


def test_published_version_keeps_its_data_quality(cli):
    cli("publish", "--period", "2026-10", "--by", "质量办张")
    v1 = json.loads(cli("assess", "--period", "2026-10", "--format", "json", "--version", "1").output)
    row = next(r for r in v1["rows"] if r["hall_id"] == "JS-NJ-0002")
    assert row["data_quality"]["inferred_calls"] == 9 and row["data_quality"]["silent_minutes"] == 47.5


@pytest.mark.browser
def test_pdf_is_the_report_printed_a4_landscape_with_its_charts(cli, tmp_path):
    """The 公示 PDF: headless Chromium prints the HTML report on A4 landscape (842 × 595 pt),
    the charts (inline SVG) and the Chinese text (Noto CJK embedded) included."""
    from sinks.assessment.pdf import PdfError, find_chromium
    try:
        find_chromium()
    except PdfError as e:
        pytest.skip(str(e))
    p = tmp_path / "公示.pdf"
    cli("assess", "--period", "2026-10", "--format", "pdf", "--out", str(p))
    data = p.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page(?![s\w])", data)
    assert len(pages) >= 1
    boxes = {tuple(round(float(x)) for x in m) for m in
             re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)}
    assert boxes == {(842, 595)}, boxes                   # A4, landscape, on every page
    assert re.search(rb"Noto(Sans|Serif)CJK", data), "the Chinese text needs an embedded CJK font"
    if shutil.which("pdftotext"):                         # poppler-utils, where installed
        text = subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True,
                              check=True).stdout
        for words in ("营业厅服务质量考核", "综合得分分布", "得分最低营业厅的指标得分构成", "南京新街口营业厅", "+08:00"):
            assert words in text, words
