"""A real worker in real time: its lobby page in headless Chromium, and its ticks.

tests/test_lobby_page.py checks the page in detail against fixture JSON; here the worker
serves the page and its assets and the page shows what the worker's API says. The tick
test feeds events timestamped now and shows that time passing alone closes an alert.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import chromium_driver  # noqa: F401  (pytest fixture)
from tests.pipeline import Producer, WorkerProcess, worker_env
from tests.test_lobby_page import css, css_all, text, wait_for
from tests.test_pipeline_integration import alert_scenario

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def live_worker(kafka_bootstrap, tmp_path):
    var = tmp_path / "var"
    w = WorkerProcess(worker_env(kafka_bootstrap, var), var, tmp_path / "worker.log").start()
    yield w
    w.stop()


def test_lobby_page_from_the_real_worker(chromium_driver, live_worker):  # noqa: F811
    events = alert_scenario()[:35]  # 30 issued, 5 called: 25 waiting, critical alert open
    producer = Producer(live_worker.settings)
    producer.send(events)
    producer.close()
    live_worker.wait_processed(len(events))
    api = live_worker.get("/api/halls/JS-NJ-0004/now")
    assert api["queue"]["waiting"] == 25 and [a["level"] for a in api["alerts"]] == ["critical"]

    d = chromium_driver
    d.get(f"{live_worker.url}/lobby/?hall=JS-NJ-0004")
    wait_for(d, lambda drv: css_all(drv, "article.alert"), message="the page never showed the alert")
    assert text(d, "#hall-name") == api["name"]
    assert text(d, '[data-field="total-waiting"] .tile__value') == "25"
    alert = css(d, "article.alert")
    assert alert.get_attribute("data-level") == "critical"
    assert alert.find_element("css selector", ".alert__action-text").text.strip() == api["alerts"][0]["suggested_action"]
    assert css(d, 'article.cat[data-category="consult"]').get_attribute("data-state") == "critical"

    d.get(f"{live_worker.url}/lobby/?lang=en")  # the picker: every catalogue hall, worst first
    wait_for(d, lambda drv: len(css_all(drv, "#picker li")) == 36, message="the picker never listed the halls")
    rows = css_all(d, "#picker li")
    assert rows[0].get_attribute("data-hall-id") == "JS-NJ-0004"
    assert rows[0].get_attribute("data-level") == "critical"


def test_ticks_close_an_alert_in_a_silent_hall(kafka_bootstrap, tmp_path):
    """Live events (timestamped now): a queue builds and drains, then the hall falls
    silent. No further event arrives, yet the worker's ticks close the alert."""
    import json
    from datetime import datetime, time, timedelta, timezone
    from time import sleep

    from tests.events import Maker
    from tests.pipeline import read_topic
    from tests.pipeline import wait_for as wait

    now = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    if now.time() < time(0, 7):  # the hall's 5 minutes before now and its ticks on one day
        sleep((datetime.combine(now.date(), time(0, 7), now.tzinfo) - now).total_seconds())
        now = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    var = tmp_path / "var"
    env = worker_env(kafka_bootstrap, var, HALLPULSE__WORKER__TICK_SECONDS="1",
                     HALLPULSE__CATALOGUE_FILE=str(open_all_day(tmp_path, "JS-NJ-0002")))
    worker = WorkerProcess(env, var, tmp_path / "worker.log").start()
    try:
        start = now - timedelta(minutes=5)
        mk = Maker("JS-NJ-0002")
        events = [mk.ticket("issued", f"L{i:03d}", start + timedelta(seconds=i)) for i in range(16)]
        events += [mk.ticket("called", f"L{i:03d}", start + timedelta(minutes=1, seconds=i), counter_id=f"C{i % 6:02d}")
                   for i in range(16)]
        producer = Producer(worker.settings)
        producer.send(events)
        producer.close()
        settings = worker.settings

        def actions():
            return [json.loads(v)["action"] for v in read_topic(settings, settings.topics.alerts, timeout_ms=1000)]
        got = wait(lambda: actions() if "closed" in actions() else None, 60, "the tick to close the alert")
        assert got == ["opened", "closed"]
        assert live_worker_open_alerts(worker) == []
    except BaseException:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()


def open_all_day(tmp_path: Path, hall_id: str) -> Path:
    """The sample catalogue with ``hall_id`` open 00:00–23:59:59: events timestamped now
    raise alerts only in opening hours, and the test must not depend on when it runs."""
    text = (ROOT / "config" / "halls.toml").read_text(encoding="utf-8")
    head, sep, rest = text.partition(f'hall_id = "{hall_id}"')
    block, nxt, tail = rest.partition("[[halls]]")
    block = re.sub(r"(?m)^opens = .*$", "opens = 00:00:00", block)
    block = re.sub(r"(?m)^closes = .*$", "closes = 23:59:59", block)
    assert sep and "opens = 00:00:00" in block and "closes = 23:59:59" in block
    path = tmp_path / "halls.toml"
    path.write_text(head + sep + block + nxt + tail, encoding="utf-8")
    return path


def live_worker_open_alerts(worker: WorkerProcess) -> list:
    return worker.get("/api/halls/JS-NJ-0002/now")["alerts"]


def test_event_stream_pushes_a_processed_batch_and_lobby_redirects(chromium_driver, kafka_bootstrap, tmp_path):  # noqa: F811
    """The real worker's /events (streams/web.py + streams/live.py): the figures at once, a
    batch's change pushed within a second of being processed, heartbeats that keep the
    stream past the idle timeout of connections (1 s here), and the page on the stream."""
    import http.client
    import json
    import time as _time

    var = tmp_path / "var"
    worker = WorkerProcess(worker_env(kafka_bootstrap, var, HALLPULSE__WORKER__WEB_IDLE_TIMEOUT_SECONDS="1",
                                      HALLPULSE__WORKER__SSE_HEARTBEAT_SECONDS="0.5"),
                           var, tmp_path / "worker.log").start()
    try:
        host, port = worker.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/lobby?hall=JS-NJ-0004&lang=en")
        r = conn.getresponse()
        r.read()
        assert r.status == 301 and r.getheader("Location") == "/lobby/?hall=JS-NJ-0004&lang=en"
        assert "default-src 'none'" in r.getheader("Content-Security-Policy")
        conn.close()

        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/api/halls/JS-NJ-0004/events", headers={"Accept": "text/event-stream"})
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
        assert r.getheader("Content-Security-Policy") and not r.getheader("Access-Control-Allow-Origin")

        def block() -> str:
            lines = []
            while True:
                line = r.readline().decode()
                if line in ("\n", "\r\n"):
                    return "".join(lines)
                lines.append(line)

        first = block()
        assert first.startswith("event: now")
        assert json.loads(first.split("data: ", 1)[1])["queue"]["waiting"] == 0
        t0 = _time.monotonic()
        beats = 0
        while _time.monotonic() - t0 < 2.5:  # longer than the 1 s idle timeout
            beats += block().startswith(": keepalive")
        assert beats >= 2

        events = alert_scenario()[:35]
        producer = Producer(worker.settings)
        producer.send(events)
        producer.close()
        got = None
        while got is None or got["queue"]["waiting"] != 25:
            b = block()
            if b.startswith("event: now"):
                got = json.loads(b.split("data: ", 1)[1])
        pushed = _time.monotonic()
        processed = worker.wait_processed(len(events))
        assert processed and _time.monotonic() - pushed < 5
        assert [a["level"] for a in got["alerts"]] == ["critical"] and len(got["trend"]["minutes"]) == 120
        conn.close()

        d = chromium_driver
        d.get(f"{worker.url}/lobby?hall=JS-NJ-0004")
        wait_for(d, lambda drv: css_all(drv, "article.alert"), message="the page never showed the alert")
        assert d.execute_script("return document.body.dataset.transport") == "sse"
        assert text(d, '[data-field="total-waiting"] .tile__value') == "25"
        # the closed test connection leaves at a heartbeat's write; the page's stream stays
        from tests.pipeline import wait_for as wait
        stats = wait(lambda: (s := worker.get("/api/stats")["event_streams"])["subscribers"] == 1 and s, 10,
                     "one stream left open")
        assert stats["messages_sent"] >= 2
    except BaseException:
        print(worker.log_tail())
        raise
    finally:
        worker.stop()
