"""Inline SVG charts for the HTML report, generated here: the report must open on
machines without internet, so no JavaScript, no CDN, no fonts to fetch.

Every text node is XML-escaped; hall names come from the catalogue, not from us.
"""

from __future__ import annotations

from html import escape

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
GRADE_COLOURS = ["#2e7d32", "#1565c0", "#f9a825", "#c62828", "#6d4c41", "#455a64"]
LOST = "#e0e0e0"
FONT = 'font-family="sans-serif"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def grade_colour(grades: list[dict], score: float) -> str:
    for i, g in enumerate(grades):
        if score >= g["min_score"]:
            return GRADE_COLOURS[min(i, len(GRADE_COLOURS) - 1)]
    return GRADE_COLOURS[-1]


def histogram(totals: list[float], grades: list[dict], title: str, x_label: str, y_label: str,
              grade_label=lambda g: g["name_zh"], bin_width: int = 5) -> str:
    """Halls per score band of ``bin_width`` points (the last band includes 100), bars
    coloured by grade, dashed lines at the grade thresholds."""
    nbins = 100 // bin_width
    counts = [0] * nbins
    for t in totals:
        counts[min(int(max(t, 0) // bin_width), nbins - 1)] += 1
    W, H, left, right, top, bottom = 760, 300, 50, 20, 30, 45
    pw, ph = W - left - right, H - top - bottom
    ymax = max(counts + [1])
    step = max(1, -(-ymax // 5))
    ymax = step * -(-ymax // step)
    bw = pw / nbins
    body = [f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>']
    for k in range(0, ymax + 1, step):
        y = top + ph - ph * k / ymax
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{W - right}" y2="{y:.1f}" stroke="#eee"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" {FONT}>{k}</text>')
    for i, c in enumerate(counts):
        lo = i * bin_width
        x = left + i * bw
        h = ph * c / ymax
        body.append(f'<rect x="{x + 1:.1f}" y="{top + ph - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" '
                    f'fill="{grade_colour(grades, lo)}"><title>{lo}–{lo + bin_width}: {c}</title></rect>')
        if c:
            body.append(f'<text x="{x + bw / 2:.1f}" y="{top + ph - h - 3:.1f}" text-anchor="middle" '
                        f'font-size="10" {FONT}>{c}</text>')
    for k in range(0, 101, 10):
        x = left + pw * k / 100
        body.append(f'<text x="{x:.1f}" y="{top + ph + 15}" text-anchor="middle" font-size="11" {FONT}>{k}</text>')
    for g in grades:
        if 0 < g["min_score"] < 100:
            x = left + pw * g["min_score"] / 100
            body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#555" '
                        f'stroke-dasharray="4 3"/>')
            body.append(f'<text x="{x + 3:.1f}" y="{top + 10}" font-size="11" {FONT}>{escape(grade_label(g))}</text>')
    body.append(f'<line x1="{left}" y1="{top + ph}" x2="{W - right}" y2="{top + ph}" stroke="#333"/>')
    body.append(f'<text x="{left + pw / 2}" y="{H - 8}" text-anchor="middle" font-size="12" {FONT}>{escape(x_label)}</text>')
    body.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" font-size="12" {FONT} '
                f'transform="rotate(-90 14 {top + ph / 2})">{escape(y_label)}</text>')
    return _svg(W, H, body, title)


def breakdown(halls: list[dict], indicators: list[tuple[str, str]], title: str, lost_label: str,
              hall_label=lambda h: h["name"]) -> str:
    """One stacked bar per hall: each indicator's points in its colour, then the points
    lost up to 100 in grey, the total at the end. ``indicators``: (key, display name)."""
    colours = {k: PALETTE[i % len(PALETTE)] for i, (k, _) in enumerate(indicators)}
    W, left, right, row_h, legend_h = 760, 190, 60, 26, 22 * ((len(indicators) + 3) // 4) + 10
    H = legend_h + row_h * max(len(halls), 1) + 10
    pw = W - left - right
    body = [f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>']
    entries = [(name, colours[k]) for k, name in indicators] + [(lost_label, LOST)]
    for i, (name, colour) in enumerate(entries):
        x, y = 10 + (i % 4) * 185, 8 + (i // 4) * 22
        body.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>')
        body.append(f'<text x="{x + 16}" y="{y + 10}" font-size="11" {FONT}>{escape(name)}</text>')
    for j, h in enumerate(halls):
        y = legend_h + j * row_h
        body.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="11" {FONT}>'
                    f'{escape(hall_label(h))}</text>')
        x = float(left)
        for ind in h["indicators"]:
            if ind["small_sample"] or ind["points"] <= 0:
                continue
            w = pw * ind["points"] / 100
            name = dict(indicators).get(ind["key"], ind["key"])
            body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" '
                        f'fill="{colours.get(ind["key"], "#999")}"><title>{escape(name)}: '
                        f'{ind["points"]:.2f} / {ind["weight"]:.2f}</title></rect>')
            x += w
        body.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{left + pw - x:.1f}" height="{row_h - 8}" fill="{LOST}"/>')
        body.append(f'<text x="{left + pw + 6}" y="{y + 15}" font-size="11" {FONT}>{h["total"]:.2f}</text>')
    return _svg(W, H, body, title)
