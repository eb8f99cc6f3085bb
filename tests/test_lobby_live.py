"""The lobby page, live (issue 9): pushed figures, alert flash and tone, sparklines, the
clerk strip, recovering alerts, the wall-screen list of halls, five screen sizes, and
Chinese text that renders with a real CJK font.

Runs against the fixture server of tests/test_lobby_page.py (static files as the worker
serves them, the API from fixture JSON, /events as a stream when told to). Screenshots of
every size go to var/screenshots/ (gitignored) to be looked at.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest

from tests.browser import chromium_driver, set_viewport  # noqa: F401  (fixture)
from tests.test_lobby_page import (ALL_HALLS, CRITICAL_ALERT, HALL, QUIET_HALL, SILENT_HALL, assert_no_js_errors,
                                   css, css_all, lobby, lobby_server, open_hall, png_size, text,  # noqa: F401
                                   wait_for)

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"

# (width, height, must fit without vertical scrolling)
SIZES = {
    "1920x1080": (1920, 1080, True),
    "1366x768": (1366, 768, True),
    "3840x2160": (3840, 2160, True),
    "1080x1920": (1080, 1920, False),   # portrait screen: may be taller, never wider
    "390x844": (390, 844, False),       # a phone: scrolls down, never sideways
}

# every element that holds text or a figure: none may stick out of the viewport or be cut
OVERFLOW_JS = """
const vw = document.documentElement.clientWidth;
const out = [...document.querySelectorAll('body *')].filter(e => {
  if (e.closest('[hidden]') || e.closest('svg') && e.tagName !== 'svg') return false;
  const r = e.getBoundingClientRect();
  return r.width > 0 && (r.right > vw + 1 || r.left < -1);
}).map(e => e.className.baseVal !== undefined ? 'svg' : e.className + ': ' + e.textContent.slice(0, 40));
const clipped = [...document.querySelectorAll('.tile, .tile__value, .cat, .cat__name, .fact__value, .alert,'
  + ' .alert__action-text, .panel, .top, .clerk__handle, .spark__head, .pick__fig-value, .feed-banner span')]
  .filter(e => !e.closest('[hidden]') && e.scrollWidth > e.clientWidth + 1)
  .map(e => e.className + ': ' + e.textContent.slice(0, 40));
const d = document.documentElement;
return {w: innerWidth, h: innerHeight, sw: d.scrollWidth, sh: d.scrollHeight, out, clipped};
"""


def shoot(d, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    assert d.save_screenshot(str(path))
    return path


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layout_fits_each_screen(chromium_driver, lobby, size, lang):
    """Nothing wider than the screen, no text cut off; the hall screens (1366×768 and up,
    landscape) without any scrolling. The busy hall: 2 alerts, 8 categories, 12 counters."""
    width, height, no_scroll = SIZES[size]
    d = chromium_driver
    set_viewport(d, width, height)
    open_hall(d, lobby, lang=lang)
    wait_for(d, lambda d: css_all(d, ".spark__svg--queue polyline") and css_all(d, ".clerk"))
    time.sleep(0.3)
    shot = shoot(d, f"lobby-{lang}-{size}")
    assert png_size(shot) == (width, height)
    m = d.execute_script(OVERFLOW_JS)
    assert (m["w"], m["h"]) == (width, height)
    assert m["sw"] <= width, f"horizontal scroll at {size}: {m}"
    assert m["out"] == [], f"outside the screen at {size}: {m['out']}"
    assert m["clipped"] == [], f"text cut off at {size}: {m['clipped']}"
    if no_scroll:
        assert m["sh"] <= height, f"page taller than the screen at {size}: {m['sh']}"

    # the list of halls at the same size
    d.get(lobby.url("/lobby/", lang=lang))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4)
    time.sleep(0.2)
    shoot(d, f"lobby-picker-{lang}-{size}")
    m = d.execute_script(OVERFLOW_JS)
    assert m["sw"] <= width and m["out"] == [] and m["clipped"] == [], m
    assert_no_js_errors(d)


CJK_METRICS_JS = """
const probe = (text, family) => {
  const s = document.createElement('span');
  s.textContent = text;
  s.className = 'cjk-probe';
  s.setAttribute('lang', 'zh-CN');
  // font-family through the CSS object model: allowed by the page's CSP (no style attribute)
  s.style.fontFamily = family;
  s.style.fontSize = '40px';
  s.style.position = 'absolute';
  s.style.whiteSpace = 'nowrap';
  document.body.appendChild(s);
  const w = s.getBoundingClientRect().width;
  s.remove();
  return w;
};
const family = getComputedStyle(document.body).fontFamily;
return {
  family,
  a: probe('排队预警大堂经理', family),
  b: probe('营业厅满意度考核', family),
  latin: probe('MMMMMMMM', family),
};
"""


def platform_fonts(d, selector: str) -> dict[str, int]:
    """The fonts Chromium really drew a node's text with (DevTools protocol), and glyphs each."""
    d.execute_cdp_cmd("DOM.enable", {})
    d.execute_cdp_cmd("CSS.enable", {})
    root = d.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = d.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = d.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"]: f["glyphCount"] for f in fonts}


def test_chinese_text_renders_with_a_cjk_font(chromium_driver, lobby):
    """fonts-noto-cjk (make system-deps) must be installed: without a CJK font Chromium
    draws each character as a missing-glyph box (tofu). Two checks, either of which fails
    without the font:

    * the font Chromium really used for the hall's Chinese name (DevTools
      ``CSS.getPlatformFontsForNode``) is Noto Sans CJK, for every glyph;
    * the known metric: a CJK font sets each ideograph on a full-width em square, so 8 of
      them at 40 px measure 320 px, and two different strings of 8 the same; a missing-glyph
      box of a Latin fallback font is about half an em (DejaVu Sans: 0.6 em, 192 px).

    ``document.fonts.check()`` is no use here: it answers true for a family that does not
    exist at all."""
    d = chromium_driver
    open_hall(d, lobby)
    used = platform_fonts(d, "#hall-name")
    assert list(used) == ["Noto Sans CJK SC"], f"the hall name 南京新街口营业厅 was drawn with {used}"
    assert used["Noto Sans CJK SC"] == len("南京新街口营业厅")
    m = d.execute_script(CJK_METRICS_JS)
    assert m["family"].startswith('"Noto Sans CJK SC"')
    assert m["a"] == pytest.approx(320, abs=2), f"not full-width glyphs (tofu?): {m}"
    assert m["b"] == pytest.approx(m["a"], abs=1), m
    assert abs(m["latin"] - m["a"]) > 5, m  # the measure tells glyph widths apart at all


def test_figures_are_pushed_by_the_stream_and_a_new_alert_flashes_and_sounds(chromium_driver, lobby):
    lobby.sse = True
    lobby.now[HALL]["alerts"] = []
    d = chromium_driver
    open_hall(d, lobby)
    wait_for(d, lambda d: d.execute_script("return document.body.dataset.transport") == "sse")
    assert text(d, '[data-field="total-waiting"] .tile__value') == "59"
    polls = lobby.count(f"/api/halls/{HALL}/now")

    hall = copy.deepcopy(lobby.now[HALL])
    hall["queue"]["waiting"] = 61
    hall["alerts"] = [copy.deepcopy(CRITICAL_ALERT)]
    lobby.now[HALL] = hall
    t0 = time.monotonic()
    lobby.version += 1
    wait_for(d, lambda d: text(d, '[data-field="total-waiting"] .tile__value') == "61", timeout=3)
    assert time.monotonic() - t0 < 1.5
    alert = css(d, "article.alert")
    assert "alert--flash" in alert.get_attribute("class")
    assert d.execute_script("return document.body.dataset.tones") == "1"
    assert lobby.count(f"/api/halls/{HALL}/now") == polls == 0  # pushed, not polled

    # the same alert again: no tone; escalated from warning: a tone
    hall = copy.deepcopy(hall)
    hall["queue"]["waiting"] = 62
    lobby.now[HALL] = hall
    lobby.version += 1
    wait_for(d, lambda d: text(d, '[data-field="total-waiting"] .tile__value') == "62", timeout=3)
    assert d.execute_script("return document.body.dataset.tones") == "1"
    assert_no_js_errors(d)


def test_sound_can_be_muted_and_the_page_says_how_to_allow_it(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby)
    hint = css(d, "#sound-hint")
    # headless Chromium without a tap: audio is blocked, the page says what to do
    assert hint.is_displayed() and "--autoplay-policy=no-user-gesture-required" in hint.text
    button = css(d, "#sound-toggle")
    assert button.text.strip() == "提示音 开"
    button.click()
    assert button.text.strip() == "提示音 关" and button.get_attribute("aria-pressed") == "true"
    assert not css(d, "#sound-hint").is_displayed()
    d.refresh()
    wait_for(d, lambda d: css_all(d, "#main .layout"))
    assert css(d, "#sound-toggle").text.strip() == "提示音 关"  # remembered
    assert d.execute_script("return localStorage.getItem('hallpulse.lobby.muted')") == "1"


def test_stream_refused_falls_back_to_polling(chromium_driver, lobby):
    d = chromium_driver  # the fixture's /events says "event: poll", as for another worker's hall
    open_hall(d, lobby)
    wait_for(d, lambda d: d.execute_script("return document.body.dataset.transport") == "poll")
    wait_for(d, lambda d: lobby.count(f"/api/halls/{HALL}/now") >= 1)
    assert text(d, '[data-field="total-waiting"] .tile__value') == "59"
    assert_no_js_errors(d)


def test_sparklines_and_clerk_strip(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby)
    wait_for(d, lambda d: css_all(d, ".spark__svg--queue polyline"))
    points = css(d, ".spark__svg--queue polyline").get_attribute("points").split()
    assert len(points) == 75  # the minutes since opening; none drawn before
    assert "最高 55" in text(d, '[data-field="trend-queue"]')  # 74 minutes × 3/4
    assert "最高 22 分钟" in text(d, '[data-field="trend-longest"]')  # 74 × 18 s
    assert css_all(d, ".spark__svg--longest .spark__limit")  # the 10-minute line

    chips = [c for c in css_all(d, ".clerk") if c.is_displayed()]
    assert chips and chips[0].get_attribute("data-counter") == "C01"  # the longest against standard first
    assert chips[0].get_attribute("data-state") == "critical"
    first = chips[0].text
    assert "开户入网" in first and "21:50" in first and "标准 12:00" in first and "已办 21" in first
    hidden = len(css_all(d, ".clerk")) - len(chips)
    if hidden:
        assert f"另 {hidden} 个窗口" in text(d, "#clerks-more")


def test_recovering_alert_is_not_shown_as_a_warning_with_zero_figures(chromium_driver, lobby):
    alert = copy.deepcopy(CRITICAL_ALERT)
    alert.update(state="recovering", triggers=[], closes_at=alert["opened_at"].replace("09:02:10", "09:17:30"),
                 figures={"waiting": 0.0, "longest_wait_s": 0.0, "estimated_wait_s": 0.0})
    lobby.now[HALL]["alerts"] = [alert]
    d = chromium_driver
    open_hall(d, lobby)
    card = css(d, "article.alert")
    assert card.get_attribute("data-state") == "recovering"
    assert "恢复中" in card.text and "严重" not in card.text and "预警" not in card.find_element(
        "css selector", ".alert__badge").text
    assert "09:17" in text(d, '[data-field="recovering-note"]')
    assert "现在：等候人数 0" in card.text
    assert d.execute_script("return document.body.dataset.worst") == "normal"
    assert css(d, 'article.cat[data-category="open_account"]').get_attribute("data-state") == "critical"  # its wait


def test_wall_list_filters_by_city_and_pages(chromium_driver, lobby):
    many = []
    for i in range(30):
        city = "南京" if i % 3 else "苏州"
        many.append({"hall_id": f"JS-X-{i:04d}", "name": f"测试营业厅{i}", "name_en": f"Hall {i}", "city": city,
                     "waiting": 30 - i, "longest_wait_s": 60.0 * (30 - i), "est_wait_s": 60.0, "open_alerts": 0,
                     "worst_level": None, "silent": False, "last_event_at": None})
    lobby.halls["halls"] += many
    d = chromium_driver
    set_viewport(d, 1920, 1080)
    d.get(lobby.url("/lobby/", rotate="3"))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 34)
    pages = int(css(d, "#picker").get_attribute("data-pages"))
    assert pages >= 2
    assert d.execute_script("return document.documentElement.scrollHeight") <= 1080
    assert text(d, "#picker-page") == f"第 1/{pages} 页"
    first_page = [li.get_attribute("data-hall-id") for li in css_all(d, "#picker li") if li.is_displayed()]
    assert first_page[:4] == ALL_HALLS
    wait_for(d, lambda d: css(d, "#picker").get_attribute("data-page") == "2", timeout=5)
    shoot(d, "lobby-picker-paged-1920x1080")

    css(d, '#cities a[data-city="苏州"]').click()
    wait_for(d, lambda d: "city=" in d.current_url and len(css_all(d, "#picker li")) == 11)
    assert {li.get_attribute("data-hall-id") for li in css_all(d, "#picker li")} >= {"JS-SZ-0001"}
    assert "is-current" in css(d, '#cities a[data-city="苏州"]').get_attribute("class")
    assert QUIET_HALL not in [li.get_attribute("data-hall-id") for li in css_all(d, "#picker li")]
    assert_no_js_errors(d)


def test_docs_screenshot(chromium_driver, lobby):
    """docs/img/lobby.png is this page at 1920×1080 (written when HALLPULSE_DOCS_SCREENSHOT=1)."""
    import os
    import shutil

    d = chromium_driver
    set_viewport(d, 1920, 1080)
    open_hall(d, lobby)
    wait_for(d, lambda d: css_all(d, ".spark__svg--queue polyline"))
    time.sleep(0.3)
    shot = shoot(d, "lobby-docs-1920x1080")
    if os.environ.get("HALLPULSE_DOCS_SCREENSHOT") == "1":
        shutil.copy(shot, Path(__file__).resolve().parent.parent / "docs" / "img" / "lobby.png")


def test_figures_older_than_the_silence_threshold_are_marked_not_live(chromium_driver, lobby):
    """feed.stale without silent (after closing, domain.md §3): the figures are the last
    ones, said so in the queue panel and the header's time, not shown as live."""
    lobby.now[QUIET_HALL]["feed"]["stale"] = True
    d = chromium_driver
    open_hall(d, lobby, hall=QUIET_HALL)
    assert d.execute_script("return document.body.dataset.feed") == "stale"
    assert text(d, '[data-field="totals-stale"]') == "非实时 · 截至 09:15"
    assert not css_all(d, "#feed-banner")  # not silent: no 数据中断 banner
