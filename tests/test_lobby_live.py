"""The lobby page served by a real worker, fed through the real broker, in headless Chromium.

tests/test_lobby_page.py checks the page in detail against fixture JSON; this checks the
whole path: the worker serves the page and its assets, and the page shows what the
worker's API says for a hall with an open critical alert.
"""

from __future__ import annotations

import pytest

from tests.browser import chromium_driver  # noqa: F401  (pytest fixture)
from tests.pipeline import Producer, WorkerProcess, worker_env
from tests.test_lobby_page import css, css_all, text, wait_for
from tests.test_pipeline_integration import alert_scenario

pytestmark = [pytest.mark.integration, pytest.mark.browser]


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
