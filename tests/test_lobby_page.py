"""The live lobby page (streams/static/) in real headless Chromium.

A small local HTTP server plays the worker: it serves streams/static/ the way the worker
does (/lobby/ -> lobby.html, /static/<file>) and the JSON API from the fixtures below, and
can be told to fail (500) to show the staleness notice. Figures in the fixtures are chosen
so each rendered value can be checked by hand (540 s -> "9 分钟", 0.0413 -> "4.1%").
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import struct
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import pytest

try:
    from tests.browser import browser_errors, chromium_driver, set_viewport  # noqa: F401  (fixture)
except ImportError:  # tests/ run as a plain directory on sys.path
    from browser import browser_errors, chromium_driver, set_viewport  # noqa: F401

pytestmark = pytest.mark.browser

STATIC_DIR = Path(__file__).resolve().parent.parent / "streams" / "static"

HALL = "JS-NJ-0001"
QUIET_HALL = "JS-NJ-0002"
SILENT_HALL = "JS-NJ-0003"
# Figures "of today" in the halls' time zone, so the page shows the time without a date.
TODAY = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
AS_OF = f"{TODAY}T09:15:02+08:00"


def _wait(n, mean_s, p50_s, p90_s, max_s):
    return {"n": n, "mean_s": mean_s, "p50_s": p50_s, "p90_s": p90_s, "max_s": max_s}


def _cat(category, waiting, longest_s, ticket, est_s, counters, target_s, within):
    return {
        "category": category, "waiting": waiting, "longest_wait_s": longest_s,
        "longest_ticket_no": ticket, "est_wait_s": est_s, "active_counters": counters,
        "target_wait_s": target_s, "wait_15m": _wait(8, 400.0, 380.0, 700.0, 820.0),
        "wait_60m": _wait(30, 390.0, 360.0, 690.0, 900.0), "within_target_60m": within,
    }


CRITICAL_ALERT = {
    "alert_id": "JS-NJ-0001:queue:open_account:0902",
    "rule": "queue", "category": "open_account", "level": "critical",
    "opened_at": f"{TODAY}T09:02:10+08:00",
    "triggers": ["waiting>=40", "longest_wait>=20min", "estimated_wait>=10min"],
    "figures": {"waiting": 41.0, "longest_wait_s": 1380.0, "estimated_wait_s": 1500.0,
                "warning_waiting": 20.0, "critical_waiting": 40.0,
                "warning_longest_wait_s": 600.0, "critical_longest_wait_s": 1200.0,
                "warning_estimated_wait_s": 600.0},
    "suggested_action": "增开窗口",
    "suggested_action_en": "open another counter",
}

WARNING_ALERT = {
    "alert_id": "JS-NJ-0001:complaint_spike:0855",
    "rule": "complaint_spike", "category": "all", "level": "warning",
    "opened_at": f"{TODAY}T08:55:00+08:00",
    "triggers": ["complaints_60min>=3"],
    "figures": {"complaints_in_window": 3.0, "escalated_in_window": 0.0,
                "complaint_spike_count": 3.0, "complaint_spike_window_min": 60.0},
    "suggested_action": "值班经理立即回访投诉客户并排查原因",
    "suggested_action_en": "duty manager calls back complaining customers and checks the cause",
}

def _trend(shape):
    """120 minutes ending at 09:14 (the minute before AS_OF): None before the hall opened."""
    end = datetime.fromisoformat(f"{TODAY}T09:14:00+08:00")
    minutes = [int((end - timedelta(minutes=119 - i)).timestamp() * 1000) for i in range(120)]
    queue, longest = [], []
    for i in range(120):
        q, w = shape(i)
        queue.append(q)
        longest.append(w)
    return {"minutes": minutes, "queue": queue, "longest_wait_s": longest}


def _busy_shape(i):
    if i < 45:  # 07:15 .. 07:59: before opening
        return None, None
    k = i - 45
    return min(59, k * 3 // 4), min(1380.0, k * 18.0)


BUSY_TREND = _trend(_busy_shape)
SERVING = [  # at 09:15:02: since, counter, clerk; handle time against the standard
    {"counter_id": f"C{n:02d}", "staff_id": f"S01{n:02d}", "category": cat, "ticket_no": f"{cat[0].upper()}0{n}",
     "since_ms": 0, "handle_s": h, "standard_s": std, "ratio": round(h / std, 3)}
    for n, cat, h, std in [(1, "open_account", 1310.0, 720.0), (2, "open_account", 500.0, 720.0),
                           (3, "payment", 130.0, 180.0), (4, "plan_change", 420.0, 360.0),
                           (5, "consult", 95.0, 240.0), (6, "terminal", 610.0, 600.0),
                           (7, "broadband", 300.0, 480.0), (8, "vip", 200.0, 600.0),
                           (9, "payment", 60.0, 180.0), (10, "consult", 30.0, 240.0),
                           (11, "open_account", 100.0, 720.0), (12, "plan_change", 80.0, 360.0)]]

BUSY_HALL = {
    "hall_id": HALL, "name": "南京新街口营业厅", "name_en": "Nanjing hall 1", "city": "南京",
    "size_class": "flagship", "as_of": AS_OF,
    "queue": {"waiting": 59, "longest_wait_s": 1380.0, "longest_ticket_no": "B045",
              "active_counters": 12, "est_wait_s": 600.0},
    # deliberately not in display order: the page orders categories itself
    "categories": [
        _cat("payment", 6, 540.0, "D007", 300.0, 3, 480.0, 0.81),
        _cat("open_account", 41, 1380.0, "B045", 1500.0, 2, 600.0, 0.41),
        _cat("consult", 4, 300.0, "A031", 240.0, 2, 480.0, 0.93),
        _cat("plan_change", 5, 420.0, "C012", 360.0, 2, 600.0, 0.88),
        _cat("terminal", 2, 200.0, "E003", 480.0, 1, 600.0, 0.9),
        _cat("broadband", 1, 90.0, "F002", 20.0, 1, 600.0, 1.0),
        _cat("vip", 0, None, None, 0.0, 1, 300.0, 1.0),
        _cat("other", 0, None, None, None, 0, 600.0, None),
    ],
    "wait_15m": _wait(40, 420.0, 380.0, 900.0, 1300.0),
    "wait_60m": _wait(150, 396.0, 350.0, 880.0, 1380.0),
    "within_target_60m": 0.78,
    "today": {"issued": 412, "served": 355, "abandoned": 17, "abandonment_rate": 0.0413,
              "csat_n": 96, "csat_mean": 8.74, "csat_satisfied_share": 0.6875,
              "complaints": 3, "complaints_escalated": 1},
    "satisfaction_60m": {"n": 21, "mean": 8.5, "satisfied_share": 0.62},
    "complaints_24h": {"complaints": 4, "escalated": 1, "served": 610, "per_10k": 65.6},
    "handle": [{"category": "open_account", "n": 40, "mean_s": 1020.0, "first_contact_rate": 0.9}],
    "clerks": [{"staff_id": f"S01{n:02d}", "n": 22 - n, "mean_s": 610.0, "first_contact_rate": 0.95}
               for n in range(1, 15)],
    "serving": SERVING,
    "trend": BUSY_TREND,
    "feed": {"silent": False, "silent_since": None, "last_event_at": AS_OF, "stale": False},
    # a busy day with a few data-quality figures (domain.md §3): the small line is shown
    "quality_today": {"inferred_calls": 3, "expired_visits": 1, "silent_minutes": 0.0, "late_events": 12},
    # the warning first: the page must still put the critical alert on top
    "alerts": [WARNING_ALERT, CRITICAL_ALERT],
}

QUIET = {
    "hall_id": QUIET_HALL, "name": "南京鼓楼营业厅", "name_en": "Nanjing hall 2", "city": "南京",
    "size_class": "large", "as_of": AS_OF,
    "queue": {"waiting": 3, "longest_wait_s": 180.0, "longest_ticket_no": "A007",
              "active_counters": 6, "est_wait_s": 120.0},
    "categories": [
        _cat("consult", 2, 180.0, "A007", 120.0, 2, 600.0, 1.0),
        _cat("payment", 1, 60.0, "D002", 60.0, 2, 600.0, 0.97),
        _cat("open_account", 0, None, None, 0.0, 2, 600.0, 0.95),
    ],
    "wait_15m": _wait(12, 150.0, 140.0, 260.0, 300.0),
    "wait_60m": _wait(45, 160.0, 150.0, 280.0, 420.0),
    "within_target_60m": 0.98,
    "today": {"issued": 150, "served": 140, "abandoned": 2, "abandonment_rate": 0.0133,
              "csat_n": 40, "csat_mean": 9.3, "csat_satisfied_share": 0.85,
              "complaints": 0, "complaints_escalated": 0},
    "satisfaction_60m": {"n": 8, "mean": 9.4, "satisfied_share": 0.88},
    "complaints_24h": {"complaints": 0, "escalated": 0, "served": 260, "per_10k": 0.0},
    "handle": [], "clerks": [],
    "feed": {"silent": False, "silent_since": None, "last_event_at": AS_OF, "stale": False},
    "quality_today": {"inferred_calls": 0, "expired_visits": 0, "silent_minutes": 0.0, "late_events": 0},
    "alerts": [],
}

# The feed alert (rule ``feed``, streams/alerts.py evaluate_feed) as GET /now shows it.
FEED_ALERT = {
    "alert_id": "JS-NJ-0003:all:feed:0902",
    "rule": "feed", "category": "all", "level": "warning",
    "opened_at": f"{TODAY}T09:02:10+08:00",
    "triggers": ["no_event>=15min"],
    "figures": {"silent_min": 28.0, "last_event_age_min": 28.0, "silent_from_ms": 1.0},
    "suggested_action": "检查取号机与网络连接，确认排队数据上报正常",
    "suggested_action_en": "Check the queue machine and network link; make sure queue data is being sent",
}

# A hall whose feed went silent (数据中断) at 09:02:10: the last event came at 08:47:10,
# its last figures look like a calm queue, and they must not be shown as one.
LAST_EVENT = f"{TODAY}T08:47:10+08:00"
SILENT = {
    "hall_id": SILENT_HALL, "name": "南京河西营业厅", "name_en": "Nanjing hall 3", "city": "南京",
    "size_class": "large", "as_of": LAST_EVENT,
    "queue": {"waiting": 2, "longest_wait_s": 120.0, "longest_ticket_no": "A004",
              "active_counters": 3, "est_wait_s": 90.0},
    "categories": [
        _cat("consult", 2, 120.0, "A004", 90.0, 2, 600.0, 1.0),
        _cat("payment", 0, None, None, 0.0, 1, 600.0, 1.0),
    ],
    "wait_15m": _wait(3, 100.0, 90.0, 150.0, 160.0),
    "wait_60m": _wait(10, 110.0, 100.0, 160.0, 200.0),
    "within_target_60m": 1.0,
    "today": {"issued": 21, "served": 18, "abandoned": 0, "abandonment_rate": 0.0,
              "csat_n": 5, "csat_mean": 9.0, "csat_satisfied_share": 0.8,
              "complaints": 0, "complaints_escalated": 0},
    "satisfaction_60m": {"n": 2, "mean": 9.0, "satisfied_share": 0.5},
    "complaints_24h": {"complaints": 0, "escalated": 0, "served": 40, "per_10k": 0.0},
    "handle": [], "clerks": [],
    "feed": {"silent": True, "silent_since": f"{TODAY}T09:02:10+08:00", "last_event_at": LAST_EVENT,
             "stale": True},
    "quality_today": {"inferred_calls": 2, "expired_visits": 0, "silent_minutes": 13.4, "late_events": 0},
    "alerts": [FEED_ALERT],
}

# A hall the worker knows from the catalogue but has no events for yet: nulls everywhere.
EMPTY_HALL = "JS-SZ-0002"
EMPTY = {
    "hall_id": EMPTY_HALL, "name": "苏州园区湖东营业厅", "name_en": "Suzhou hall 2", "city": "苏州",
    "size_class": "flagship", "as_of": None,
    "queue": {"waiting": 0, "longest_wait_s": 0.0, "longest_ticket_no": None, "active_counters": 0,
              "est_wait_s": 0.0},
    "categories": [], "wait_15m": None, "wait_60m": None, "within_target_60m": None,
    "today": None, "satisfaction_60m": None, "complaints_24h": None, "handle": [], "clerks": [],
    "feed": {"silent": False, "silent_since": None, "last_event_at": None, "stale": False},
    "quality_today": None,
    "alerts": [],
}

HALLS = {
    "as_of": AS_OF,
    "halls": [  # worst first, as the API promises
        {"hall_id": HALL, "name": "南京新街口营业厅", "name_en": "Nanjing hall 1", "city": "南京",
         "waiting": 59, "longest_wait_s": 1380.0, "est_wait_s": 600.0, "open_alerts": 2,
         "worst_level": "critical", "silent": False, "last_event_at": AS_OF},
        {"hall_id": "JS-SZ-0001", "name": "苏州观前街营业厅", "name_en": "Suzhou hall 1", "city": "苏州",
         "waiting": 16, "longest_wait_s": 660.0, "est_wait_s": 420.0, "open_alerts": 1,
         "worst_level": "warning", "silent": False, "last_event_at": AS_OF},
        {"hall_id": QUIET_HALL, "name": "南京鼓楼营业厅", "name_en": "Nanjing hall 2", "city": "南京",
         "waiting": 3, "longest_wait_s": 180.0, "est_wait_s": 120.0, "open_alerts": 0,
         "worst_level": None, "silent": False, "last_event_at": AS_OF},
        # silent, and (before its feed alert opened) without an alert: the API lists it
        # after the quiet hall; the page must not rank it, nor mark it, as 正常
        {"hall_id": SILENT_HALL, "name": "南京河西营业厅", "name_en": "Nanjing hall 3", "city": "南京",
         "waiting": 2, "longest_wait_s": 120.0, "est_wait_s": 90.0, "open_alerts": 0,
         "worst_level": None, "silent": True, "last_event_at": LAST_EVENT},
    ],
}
ALL_HALLS = [HALL, "JS-SZ-0001", SILENT_HALL, QUIET_HALL]  # as the page orders them

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}


# --------------------------------------------------------------------------- the server


class LobbyServer(ThreadingHTTPServer):
    """Static files as the worker serves them, plus the API from fixtures."""

    daemon_threads = True

    def reset(self) -> None:
        self.fail_api = False
        self.sse = False     # serve /events as a stream (else: "event: poll", as another worker's hall)
        self.version = 0     # bump after changing self.now to push it on the open streams
        self.halls = copy.deepcopy(HALLS)
        self.now = {HALL: copy.deepcopy(BUSY_HALL), QUIET_HALL: copy.deepcopy(QUIET),
                    EMPTY_HALL: copy.deepcopy(EMPTY), SILENT_HALL: copy.deepcopy(SILENT)}
        self.requests: list[str] = []

    def url(self, path: str = "/lobby/", **query) -> str:
        host, port = self.server_address[:2]
        q = f"?{urlencode(query)}" if query else ""
        return f"http://{host}:{port}{path}{q}"

    def count(self, path: str) -> int:
        return sum(1 for p in list(self.requests) if p == path)


class LobbyHandler(BaseHTTPRequestHandler):
    server: LobbyServer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = urlsplit(self.path).path
        srv = self.server
        srv.requests.append(path)
        if path in ("/lobby", "/lobby/"):
            return self._file(STATIC_DIR / "lobby.html")
        if path.startswith("/static/"):
            name = unquote(path[len("/static/"):])
            target = STATIC_DIR / name
            if "/" in name or "\\" in name or name.startswith(".") or not target.is_file():
                return self._json(404, {"error": "not found"})
            return self._file(target)
        if path.startswith("/api/"):
            if srv.fail_api:
                return self._json(500, {"error": "store unavailable"})
            if path == "/api/halls":
                return self._json(200, srv.halls)
            m = re.fullmatch(r"/api/halls/([^/]+)/events", path)
            if m:
                return self._events(unquote(m.group(1)))
            m = re.fullmatch(r"/api/halls/([^/]+)/now", path)
            hall = unquote(m.group(1)) if m else None
            if hall in srv.now:
                return self._json(200, srv.now[hall])
            return self._json(404, {"error": f"unknown hall {hall}"})
        return self._json(404, {"error": "not found"})

    def _events(self, hall: str) -> None:
        """Server-sent events as the worker sends them (streams/live.py): the figures at
        once and after each change; ``event: poll`` when told not to stream."""
        srv = self.server
        if hall not in srv.now:
            return self._json(404, {"error": f"unknown hall {hall}"})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not srv.sse:
            self.wfile.write(b'retry: 60000\nevent: poll\ndata: {"reason": "other_worker"}\n\n')
            return
        sent, quiet = None, 0.0
        try:
            while srv.sse and not srv.fail_api and quiet < 30:
                if srv.version != sent:
                    body = json.dumps(srv.now[hall], ensure_ascii=False, separators=(",", ":"))
                    self.wfile.write(f"event: now\ndata: {body}\n\n".encode("utf-8"))
                    self.wfile.flush()
                    sent, quiet = srv.version, 0.0
                time.sleep(0.05)
                quiet += 0.05
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _file(self, path: Path) -> None:
        self._send(200, path.read_bytes(), CONTENT_TYPES.get(path.suffix, "application/octet-stream"))

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), CONTENT_TYPES[".json"])


@pytest.fixture(scope="module")
def lobby_server():
    srv = LobbyServer(("127.0.0.1", 0), LobbyHandler)  # port 0: a free port
    srv.reset()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                              name="lobby-test-server", daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.fixture
def lobby(lobby_server) -> LobbyServer:
    lobby_server.reset()
    return lobby_server


# --------------------------------------------------------------------------- helpers


def wait_for(driver, predicate, timeout: float = 10.0, message: str = ""):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        driver, timeout, poll_frequency=0.1,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(lambda d: predicate(d), message)


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def css_all(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def text(driver, selector: str) -> str:
    return css(driver, selector).text.strip()


def open_hall(driver, server: LobbyServer, hall: str = HALL, **query) -> None:
    driver.get(server.url("/lobby/", hall=hall, **query))
    wait_for(driver, lambda d: css_all(d, "#main .layout"), message="hall page never rendered")


def cat(driver, category: str, field: str | None = None) -> str:
    sel = f'article.cat[data-category="{category}"]'
    if field:
        sel += f' [data-field="{field}"]'
    return text(driver, sel)


def rgb(value: str) -> tuple[int, int, int]:
    nums = [int(float(x)) for x in re.findall(r"[\d.]+", value)[:3]]
    assert len(nums) == 3, value
    return nums[0], nums[1], nums[2]


def is_red(value: str) -> bool:
    r, g, b = rgb(value)
    return r >= 150 and g <= 90 and b <= 90


def assert_no_js_errors(driver, *ignore: str) -> None:
    errors = browser_errors(driver, ignore=ignore)
    assert not errors, f"browser console errors: {errors}"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


# --------------------------------------------------------------------------- tests


def test_chinese_page_shows_hall_queue_and_critical_alert(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby)

    assert d.execute_script("return document.documentElement.lang") == "zh-CN"
    assert text(d, "#hall-name") == "南京新街口营业厅"
    assert "JS-NJ-0001" in text(d, "#hall-sub")
    assert text(d, "#as-of-time").endswith("09:15:02")
    assert "南京新街口营业厅" in d.title

    # categories in Chinese, in the fixed display order whatever the API order
    names = [e.text.strip() for e in css_all(d, "article.cat .cat__name")]
    assert names == ["业务咨询", "开户入网", "套餐变更", "缴费充值", "终端业务", "宽带业务", "VIP专席", "其他"]
    assert cat(d, "open_account", "waiting").startswith("41")
    assert text(d, '[data-field="total-waiting"] .tile__value') == "59"

    # colour states against the target wait (and the open alert)
    states = {e.get_attribute("data-category"): e.get_attribute("data-state") for e in css_all(d, "article.cat")}
    assert states["open_account"] == "critical"  # 23 min >= 2 x 10 min, and a critical alert
    assert states["payment"] == "warning"        # 9 min >= 8 min target
    assert states["consult"] == "normal"         # 5 min < 8 min
    assert is_red(css(d, 'article.cat[data-category="open_account"]').value_of_css_property("border-top-color"))
    assert text(d, 'article.cat[data-category="open_account"] .cat__state') == "严重"

    # alerts: the critical one on top, red, with its Chinese action and readable triggers
    alerts = css_all(d, "article.alert")
    assert [a.get_attribute("data-level") for a in alerts] == ["critical", "warning"]
    crit = alerts[0]
    assert "alert--critical" in crit.get_attribute("class")
    assert is_red(crit.value_of_css_property("background-color"))
    assert crit.find_element("css selector", ".alert__badge").text.strip() == "严重"
    assert "开户入网" in crit.find_element("css selector", ".alert__what").text
    assert crit.find_element("css selector", ".alert__action-text").text.strip() == "增开窗口"
    triggers = [e.text.strip() for e in crit.find_elements("css selector", ".alert__trigger")]
    assert triggers == ["等候人数 41 ≥ 40", "最长等候 23 分钟 ≥ 20 分钟", "预计等候 25 分钟 ≥ 10 分钟"]
    assert "09:02 起" in crit.text

    warn = alerts[1]
    assert warn.find_element("css selector", ".alert__badge").text.strip() == "预警"
    assert "全厅" in warn.text and "投诉激增" in warn.text
    assert "60 分钟内投诉 3 ≥ 3" in warn.text
    assert "值班经理立即回访投诉客户并排查原因" in warn.text
    assert text(d, "#h-alerts .panel__count") == "2"

    # nothing stale while the API answers
    assert not css(d, "#stale").is_displayed()
    assert_no_js_errors(d)


def test_figures_are_rendered_in_minutes_and_percent(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby)

    # 540 s -> 9 分钟, with the ticket number of the longest waiter
    longest = cat(d, "payment", "longest")
    assert "9 分钟" in longest and "D007" in longest
    assert "5 分钟" in cat(d, "payment", "est")          # 300 s
    assert cat(d, "payment", "counters").endswith("3")
    assert "23 分钟" in cat(d, "open_account", "longest")  # 1380 s
    assert "25 分钟" in cat(d, "open_account", "est")      # 1500 s
    assert "不足 1 分钟" in cat(d, "broadband", "est")      # 20 s
    assert cat(d, "vip", "longest").endswith("—")          # nobody waiting: no longest wait
    assert "0 分钟" in cat(d, "vip", "est")
    assert cat(d, "other", "est").endswith("—")            # unknown
    foot = text(d, 'article.cat[data-category="payment"] .cat__foot')
    assert "目标 8 分钟" in foot and "81%" in foot

    # hall totals
    assert text(d, '[data-field="total-longest"] .tile__value') == "23 分钟"
    assert "B045" in text(d, '[data-field="total-longest"]')
    assert text(d, '[data-field="total-est"] .tile__value') == "10 分钟"
    assert text(d, '[data-field="total-counters"] .tile__value') == "12"
    assert text(d, '[data-field="total-within"] .tile__value') == "78%"
    assert "7 分钟" in text(d, '[data-field="total-within"]')  # mean wait 60 min, 396 s

    # today
    assert text(d, '[data-field="today-issued"] .tile__value') == "412"
    assert "355" in text(d, '[data-field="today-issued"]')
    assert text(d, '[data-field="today-abandonment"] .tile__value') == "4.1%"
    assert "17" in text(d, '[data-field="today-abandonment"]')
    assert text(d, '[data-field="today-csat"] .tile__value') == "8.7"
    assert text(d, '[data-field="today-satisfied"] .tile__value') == "69%"
    assert text(d, '[data-field="today-complaints"] .tile__value') == "3"
    assert "升级 1" in text(d, '[data-field="today-complaints"]')
    assert_no_js_errors(d)


def test_language_toggle_switches_labels_and_action_and_is_remembered(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby, poll=1)
    assert text(d, "#lang-toggle") == "English"

    css(d, "#lang-toggle").click()
    wait_for(d, lambda d: d.execute_script("return document.documentElement.lang") == "en")

    assert text(d, "#hall-name") == "Nanjing hall 1"
    assert text(d, "#lang-toggle") == "中文"
    names = [e.text.strip() for e in css_all(d, "article.cat .cat__name")]
    assert names == ["Enquiries", "New accounts", "Plan changes", "Payments & top-up",
                     "Devices", "Broadband", "VIP desk", "Other"]
    assert "9 min" in cat(d, "payment", "longest")
    crit = css(d, 'article.alert[data-level="critical"]')
    assert crit.find_element("css selector", ".alert__badge").text.strip() == "Critical"
    assert crit.find_element("css selector", ".alert__action-text").text.strip() == "open another counter"
    assert "longest wait 23 min ≥ 20 min" in crit.text
    assert "duty manager calls back complaining customers" in text(d, 'article.alert[data-level="warning"]')
    assert text(d, '[data-field="today-abandonment"] .tile__label') == "Abandoned"
    assert "lang=en" in d.current_url

    # remembered: a plain URL without lang= comes back in English ...
    d.get(lobby.url("/lobby/", hall=HALL))
    wait_for(d, lambda d: text(d, "#hall-name") == "Nanjing hall 1", message="language not remembered")
    # ... and lang= in the URL wins over the remembered choice
    d.get(lobby.url("/lobby/", hall=HALL, lang="zh"))
    wait_for(d, lambda d: text(d, "#hall-name") == "南京新街口营业厅")
    assert d.execute_script("return document.documentElement.lang") == "zh-CN"
    assert text(d, 'article.alert[data-level="critical"] .alert__action-text') == "增开窗口"
    assert_no_js_errors(d)


def test_lang_query_param_selects_english(chromium_driver, lobby):
    d = chromium_driver
    lobby.now[QUIET_HALL]["as_of"] = "2026-01-05T17:59:30+08:00"  # not today: the date is shown
    open_hall(d, lobby, hall=QUIET_HALL, lang="en")
    assert d.execute_script("return document.documentElement.lang") == "en"
    assert text(d, "#hall-name") == "Nanjing hall 2"
    assert text(d, ".alerts__ok").endswith("No queue alerts")
    assert text(d, "#as-of-time") == "2026-01-05 17:59:30"
    assert text(d, "#as-of-label") == "Figures at"
    assert "3 min" in cat(d, "consult", "longest")
    assert [e.get_attribute("data-state") for e in css_all(d, "article.cat")] == ["normal"] * 3
    assert_no_js_errors(d)


def test_hall_without_data_yet_renders_dashes_not_errors(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby, hall=EMPTY_HALL)
    assert text(d, "#hall-name") == "苏州园区湖东营业厅"
    assert not css(d, "#as-of").is_displayed()  # no figures yet, so no time of figures
    assert text(d, ".cats .muted") == "暂无排队数据"
    assert text(d, '[data-field="total-waiting"] .tile__value') == "0"
    assert text(d, '[data-field="total-within"] .tile__value') == "—"
    assert text(d, '[data-field="today-abandonment"] .tile__value') == "—"
    assert text(d, '[data-field="today-csat"] .tile__value') == "—"
    assert text(d, ".alerts__ok").endswith("暂无排队预警")
    assert_no_js_errors(d)


def test_staleness_notice_appears_when_the_api_fails_and_clears_after(chromium_driver, lobby):
    d = chromium_driver
    now_path = f"/api/halls/{HALL}/now"
    open_hall(d, lobby, poll=1)

    # it polls at the requested interval
    before = lobby.count(now_path)
    time.sleep(2.5)
    assert lobby.count(now_path) - before >= 2

    lobby.fail_api = True
    wait_for(d, lambda d: css(d, "#stale").is_displayed(), timeout=8, message="no staleness notice")
    wait_for(d, lambda d: re.fullmatch(r"数据已 ([2-9]|\d\d+) 秒未更新", text(d, "#stale")),
             timeout=8, message="staleness count does not grow")
    # the last figures stay on screen, dimmed
    assert text(d, "#hall-name") == "南京新街口营业厅"
    assert cat(d, "open_account", "waiting").startswith("41")
    assert "is-stale" in css(d, "body").get_attribute("class")

    css(d, "#lang-toggle").click()
    wait_for(d, lambda d: re.fullmatch(r"data \d+ s old", text(d, "#stale")), message="no English notice")

    lobby.fail_api = False
    wait_for(d, lambda d: not css(d, "#stale").is_displayed(), timeout=8, message="notice did not clear")
    assert "is-stale" not in (css(d, "body").get_attribute("class") or "")
    assert_no_js_errors(d, "500")


def test_no_data_yet_shows_a_retry_message(chromium_driver, lobby):
    d = chromium_driver
    lobby.fail_api = True
    d.get(lobby.url("/lobby/", hall=HALL, poll=1))
    wait_for(d, lambda d: text(d, "#placeholder") == "暂时无法获取数据，正在重试…")
    lobby.fail_api = False
    wait_for(d, lambda d: css_all(d, "#main .layout"), message="did not recover")
    assert_no_js_errors(d, "500")


def test_picker_lists_halls_worst_first_and_opens_a_hall(chromium_driver, lobby):
    d = chromium_driver
    d.get(lobby.url("/lobby/"))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4, message="picker not shown")
    rows = css_all(d, "#picker li")
    assert [r.get_attribute("data-hall-id") for r in rows] == ALL_HALLS
    assert [r.get_attribute("data-level") for r in rows] == ["critical", "warning", "normal", "normal"]
    assert [r.get_attribute("data-state") for r in rows] == ["critical", "warning", "silent", "normal"]
    assert "南京新街口营业厅" in rows[0].text and "严重" in rows[0].text
    assert "23 分钟" in rows[0].text
    assert text(d, "#hall-name") == "选择营业厅"

    # even if a future API forgot its order, a critical hall never sinks below a quiet one
    lobby.halls["halls"].reverse()
    d.get(lobby.url("/lobby/", lang="en"))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4 and "Nanjing hall" in text(d, "#picker"))
    assert [r.get_attribute("data-hall-id") for r in css_all(d, "#picker li")] == [
        HALL, "JS-SZ-0001", SILENT_HALL, QUIET_HALL]

    css(d, f'#picker li[data-hall-id="{HALL}"] a').click()
    wait_for(d, lambda d: css_all(d, "#main .layout"))
    assert f"hall={HALL}" in d.current_url and "lang=en" in d.current_url
    assert text(d, "#hall-name") == "Nanjing hall 1"
    assert_no_js_errors(d)


def test_unknown_hall_says_so_and_links_back(chromium_driver, lobby):
    d = chromium_driver
    d.get(lobby.url("/lobby/", hall="JS-XX-9999"))
    wait_for(d, lambda d: css_all(d, "#not-found"))
    assert "未找到营业厅 JS-XX-9999" in text(d, "#not-found")
    css(d, "#not-found a").click()
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4)
    assert_no_js_errors(d, "404")


def test_api_text_is_shown_as_text_never_as_html(chromium_driver, lobby):
    d = chromium_driver
    lobby.now[HALL]["alerts"][1]["suggested_action"] = '<img src="x" onerror="window.pwned=1">增开窗口'
    lobby.now[HALL]["name"] = "<b>新街口</b>"
    open_hall(d, lobby)
    assert text(d, "#hall-name") == "<b>新街口</b>"
    assert '<img src="x"' in text(d, 'article.alert[data-level="critical"] .alert__action-text')
    assert not css_all(d, "main img") and not css_all(d, "#hall-name b")
    assert d.execute_script("return window.pwned === undefined")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_big_screen_1920x1080_fits_without_scrolling(chromium_driver, lobby, tmp_path, lang):
    """The hall screen has no scroll bar and nobody to scroll: everything must fit.
    Screenshots go to tmp_path (and to $HALLPULSE_SCREENSHOT_DIR when set, to look at)."""
    d = chromium_driver
    set_viewport(d, 1920, 1080)
    open_hall(d, lobby, lang=lang)
    time.sleep(0.3)  # let layout settle (no animations, but fonts may swap)

    # screenshot first, so a failing layout can be looked at
    shot = tmp_path / f"lobby-{lang}-1920x1080.png"
    assert d.save_screenshot(str(shot))
    assert png_size(shot) == (1920, 1080)
    keep = os.environ.get("HALLPULSE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)

    size = d.execute_script(
        "const e = document.documentElement;"
        "return [innerWidth, innerHeight, e.scrollWidth, e.scrollHeight];")
    assert size[:2] == [1920, 1080]
    assert size[2] <= 1920, f"horizontal overflow: {size}"
    assert size[3] <= 1080, f"page taller than the screen: {size}"

    # no text cut off, and nothing sticking out of its card, tile or panel
    clipped = d.execute_script(
        "return [...document.querySelectorAll('.cat__name, .fact__label, .tile__value, .tile__sub,"
        " .fact__value, .alert__action-text, .cat, .tile, .alert, .panel, .top')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className + ': ' + e.textContent);")
    assert clipped == []

    # the picker at the same size
    d.get(lobby.url("/lobby/", lang=lang))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4)
    time.sleep(0.2)
    picker = tmp_path / f"lobby-picker-{lang}-1920x1080.png"
    assert d.save_screenshot(str(picker))
    if keep:
        shutil.copy(picker, Path(keep) / picker.name)
    assert_no_js_errors(d)


# --------------------------------------------------------------------------- feed and data quality


def test_silent_feed_shows_interruption_and_marks_the_queue_stale(chromium_driver, lobby):
    """数据中断 (domain.md §3): a banner with the last data's time; the last figures stay on
    screen marked stale, and nothing reads as a calm 正常 queue."""
    d = chromium_driver
    open_hall(d, lobby, hall=SILENT_HALL)

    banner = css(d, "#feed-banner")
    assert banner.is_displayed()
    assert text(d, "#feed-banner .feed-banner__title") == "数据中断"
    assert text(d, '#feed-banner [data-field="feed-last"]') == "最后数据 08:47"
    assert d.execute_script("return document.body.getAttribute('data-feed')") == "silent"

    # the totals are marked as the figures of 08:47, shown dimmed
    assert "截至 08:47" in text(d, "#h-totals")
    assert "is-feed-stale" in css(d, "section.totals").get_attribute("class")
    assert text(d, '[data-field="total-waiting"] .tile__value') == "2"
    dim = rgb(css(d, '[data-field="total-waiting"] .tile__value').value_of_css_property("color"))
    bright = rgb(css(d, "#hall-name").value_of_css_property("color"))
    assert dim != bright

    # a category that looked fine is 数据中断, not 正常, and no card is green
    cards = css_all(d, "article.cat")
    assert [c.get_attribute("data-state") for c in cards] == ["silent", "silent"]
    assert all(c.get_attribute("data-stale") == "true" for c in cards)
    assert [c.find_element("css selector", ".cat__state").text.strip() for c in cards] == ["数据中断"] * 2
    assert not css_all(d, '[data-state="normal"]')
    assert "正常" not in text(d, "section.totals") + text(d, "section.cats")
    for c in cards:
        r, g, b = rgb(c.value_of_css_property("border-top-color"))
        assert not (g > r + 40 and g > b + 40), "a stale category must not be green"

    # the feed alert: rule, trigger with the current silence, and its action
    [alert] = css_all(d, "article.alert")
    assert alert.get_attribute("data-level") == "warning"
    assert "全厅 · 数据中断" in alert.find_element("css selector", ".alert__what").text
    assert [e.text.strip() for e in alert.find_elements("css selector", ".alert__trigger")] == [
        "无新数据 28 分钟 ≥ 15 分钟"]
    assert "检查取号机与网络连接" in alert.text

    # English
    css(d, "#lang-toggle").click()
    wait_for(d, lambda d: text(d, "#feed-banner .feed-banner__title") == "Feed interrupted")
    assert text(d, '#feed-banner [data-field="feed-last"]') == "last data 08:47"
    assert "as of 08:47" in text(d, "#h-totals")
    assert text(d, 'article.cat[data-category="consult"] .cat__state') == "Feed down"
    alert = css(d, "article.alert")
    assert "Whole hall · Feed interrupted" in alert.text
    assert "no data 28 min ≥ 15 min" in alert.text
    assert "Check the queue machine" in alert.text
    assert_no_js_errors(d)


def test_silent_feed_without_an_alert_is_not_all_clear(chromium_driver, lobby):
    d = chromium_driver
    lobby.now[SILENT_HALL]["alerts"] = []
    lobby.now[SILENT_HALL]["feed"]["last_event_at"] = "2026-01-05T17:59:30+08:00"  # yesterday or before
    open_hall(d, lobby, hall=SILENT_HALL)
    assert not css_all(d, ".alerts__ok")
    assert text(d, ".alerts__unknown") == "数据中断，无法判断排队情况"
    assert text(d, '#feed-banner [data-field="feed-last"]') == "最后数据 2026-01-05 17:59"
    # no event at all: says so instead of a time
    lobby.now[SILENT_HALL]["feed"]["last_event_at"] = None
    open_hall(d, lobby, hall=SILENT_HALL, lang="en")
    wait_for(d, lambda d: text(d, '#feed-banner [data-field="feed-last"]') == "no data today")
    assert_no_js_errors(d)


def test_live_feed_has_no_banner_and_an_older_api_without_feed_still_renders(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby, hall=QUIET_HALL)
    assert not css_all(d, "#feed-banner")
    assert text(d, ".alerts__ok").endswith("暂无排队预警")
    assert [e.get_attribute("data-state") for e in css_all(d, "article.cat")] == ["normal"] * 3
    del lobby.now[QUIET_HALL]["feed"], lobby.now[QUIET_HALL]["quality_today"]
    open_hall(d, lobby, hall=QUIET_HALL, poll=1)
    assert not css_all(d, "#feed-banner") and not css_all(d, "#quality")
    assert_no_js_errors(d)


def test_feed_alert_close_trigger_is_labelled():
    """``event_received`` (the close of a feed alert) has a label in both languages, as
    have the rule and its trigger: checked in the i18n file itself."""
    src = (STATIC_DIR / "i18n.js").read_text(encoding="utf-8")
    for needle in ("feed: '数据中断'", "feed: 'Feed interrupted'", "no_event: '无新数据'", "no_event: 'no data'",
                   "event_received: '已收到新数据'", "event_received: 'data received again'"):
        assert needle in src


def test_data_quality_line_shows_only_when_a_figure_is_not_zero(chromium_driver, lobby):
    d = chromium_driver
    open_hall(d, lobby)  # 3 inferred calls, 1 expired visit, 0 silent minutes, 12 late events
    line = text(d, "#quality")
    assert line.replace("\n", " ") == "数据质量：推断叫号 3 · 过期未叫 1 · 数据中断 0 分钟 · 迟到数据 12"
    set_items = [e.get_attribute("data-field") for e in css_all(d, "#quality .quality__item--set")]
    assert set_items == ["quality-inferred", "quality-expired", "quality-late"]

    css(d, "#lang-toggle").click()
    wait_for(d, lambda d: text(d, "#quality").startswith("Data quality:"))
    assert text(d, "#quality").replace("\n", " ") == (
        "Data quality: inferred calls 3 · expired 1 · silent 0 min · late events 12")

    # all zero (the quiet hall), or none (a hall without state): no line
    open_hall(d, lobby, hall=QUIET_HALL)
    assert not css_all(d, "#quality")
    open_hall(d, lobby, hall=EMPTY_HALL)
    assert not css_all(d, "#quality")

    # silent minutes alone are enough, rounded to whole minutes
    open_hall(d, lobby, hall=SILENT_HALL, lang="zh")
    assert "数据中断 13 分钟" in text(d, "#quality") and "推断叫号 2" in text(d, "#quality")
    assert_no_js_errors(d)


def test_picker_marks_silent_halls_and_does_not_rank_them_normal(chromium_driver, lobby):
    d = chromium_driver
    d.get(lobby.url("/lobby/"))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4)
    row = css(d, f'#picker li[data-hall-id="{SILENT_HALL}"]')
    assert row.get_attribute("data-feed") == "silent" and row.get_attribute("data-state") == "silent"
    assert row.find_element("css selector", ".pick__badge").text.strip() == "数据中断"
    assert "最后数据 08:47" in row.text
    assert css(row, '[data-field="feed-last"]').text.strip() == "· 最后数据 08:47"
    ids = [r.get_attribute("data-hall-id") for r in css_all(d, "#picker li")]
    assert ids.index(SILENT_HALL) < ids.index(QUIET_HALL)
    # a silent hall with an open critical alert keeps its critical badge, and its mark
    lobby.halls["halls"][0]["silent"] = True
    d.get(lobby.url("/lobby/", lang="en"))
    wait_for(d, lambda d: "Nanjing hall" in text(d, "#picker"))
    first = css(d, "#picker li")
    assert first.get_attribute("data-state") == "critical" and first.get_attribute("data-feed") == "silent"
    assert "Feed interrupted" in first.text and "last data 09:15" in first.text
    assert_no_js_errors(d)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_silent_hall_1920x1080_fits_without_scrolling(chromium_driver, lobby, tmp_path, lang):
    d = chromium_driver
    set_viewport(d, 1920, 1080)
    open_hall(d, lobby, hall=SILENT_HALL, lang=lang)
    time.sleep(0.3)
    shot = tmp_path / f"lobby-silent-{lang}-1920x1080.png"
    assert d.save_screenshot(str(shot))
    keep = os.environ.get("HALLPULSE_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)
    size = d.execute_script(
        "const e = document.documentElement; return [e.scrollWidth, e.scrollHeight];")
    assert size[0] <= 1920 and size[1] <= 1080, size
    clipped = d.execute_script(
        "return [...document.querySelectorAll('.feed-banner, .feed-banner span, .cat__state, .tile__value,"
        " .panel__title, .quality, .alert__action-text')]"
        ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.className + ': ' + e.textContent);")
    assert clipped == []
    # every state badge inside its card
    outside = d.execute_script(
        "return [...document.querySelectorAll('.cat')].filter(c => { const b = c.querySelector('.cat__state')"
        ".getBoundingClientRect(), r = c.getBoundingClientRect(); return b.right > r.right || b.left < r.left; })"
        ".map(c => c.dataset.category);")
    assert outside == []

    # the picker: a silent hall's badge stays in its column
    d.get(lobby.url("/lobby/", lang=lang))
    wait_for(d, lambda d: len(css_all(d, "#picker li")) == 4)
    time.sleep(0.2)
    picker = tmp_path / f"lobby-picker-silent-{lang}-1920x1080.png"
    assert d.save_screenshot(str(picker))
    if keep:
        shutil.copy(picker, Path(keep) / picker.name)
    overlap = d.execute_script(
        "return [...document.querySelectorAll('#picker li')].filter(li => li.querySelector('.pick__badge')"
        ".getBoundingClientRect().right > li.querySelector('.pick__hall').getBoundingClientRect().left)"
        ".map(li => li.dataset.hallId);")
    assert overlap == []
    assert_no_js_errors(d)
