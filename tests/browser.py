"""Headless Chromium for browser tests, driven by Selenium against the system's own binaries.

Use the ``chromium_driver`` fixture (import it into the test module)::

    from tests.browser import chromium_driver  # noqa: F401  (pytest fixture)

    @pytest.mark.browser
    def test_page(chromium_driver):
        chromium_driver.get(url)

The fixture skips, with the reason, only when ``/usr/bin/chromium`` or
``/usr/bin/chromedriver`` is missing (``make`` installs both). Selenium is never allowed
to look for or download a driver or browser: both paths are given explicitly, which makes
Selenium Manager stand aside. Each test gets a fresh browser with its own throw-away
profile (so localStorage does not leak between tests) and a 1920×1080 viewport, the size
of a hall's big screen.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("HALLPULSE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("HALLPULSE_CHROMEDRIVER", "/usr/bin/chromedriver"))

VIEWPORT = (1920, 1080)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-proxy-server",  # the test server is local; never route it through a proxy
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
]


def missing_binaries() -> str | None:
    """Why a browser cannot start here, or None when it can."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        return f"headless Chromium not available: {', '.join(missing)} missing (make installs chromium and chromium-driver)"
    return None


def set_viewport(driver, width: int, height: int) -> None:
    """Make the page's viewport exactly width×height CSS pixels (window size includes
    browser chrome, even headless, so it cannot be trusted for this)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def make_chromium_driver(profile_dir: str | os.PathLike, viewport: tuple[int, int] = VIEWPORT):
    """Start headless Chromium with a profile in ``profile_dir``; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROMIUM_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.add_argument(f"--window-size={viewport[0]},{viewport[1]}")
    options.add_argument("--lang=zh-CN")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    set_viewport(driver, *viewport)
    return driver


def browser_errors(driver, ignore: tuple[str, ...] = ()) -> list[str]:
    """SEVERE console messages since the last call (uncaught exceptions, failed loads),
    minus those containing any of ``ignore``."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e.get("level") == "SEVERE" and not any(s in e["message"] for s in ignore)
    ]


@pytest.fixture
def chromium_driver() -> Iterator[object]:
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    profile = tempfile.mkdtemp(prefix="hallpulse-chromium-")
    driver = make_chromium_driver(profile)
    try:
        yield driver
    finally:
        try:
            driver.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
