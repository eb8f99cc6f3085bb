"""The 公示 PDF: the HTML report printed by headless Chromium, A4 landscape.

The page's print stylesheet (templates/report.html.j2: ``@page { size: A4 landscape }``)
sets the paper; the charts are inline SVG, so nothing is fetched and the PDF prints the
same offline. Chromium is the one the project already installs for its browser tests
(``make`` puts it at /usr/bin/chromium; ``HALLPULSE_CHROMIUM`` names another). Each run
gets a throw-away profile, no network, and a time limit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

TIMEOUT_S = 120
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-proxy-server",
    "--mute-audio",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
]


class PdfError(RuntimeError):
    """No Chromium, or it did not print."""


def find_chromium() -> Path:
    named = os.environ.get("HALLPULSE_CHROMIUM")
    if named:
        if not Path(named).is_file():
            raise PdfError(f"HALLPULSE_CHROMIUM={named} is not a file")
        return Path(named)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise PdfError("--format pdf needs headless Chromium (make installs it at /usr/bin/chromium; "
                   "HALLPULSE_CHROMIUM names another)")


def html_to_pdf(html: str, chromium: Path | None = None) -> bytes:
    """Print ``html`` (a self-contained page) to PDF with headless Chromium."""
    chromium = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="hallpulse-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [str(chromium), *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={out}",
               page.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium did not print within {TIMEOUT_S} s") from None
        if not out.is_file() or out.stat().st_size == 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            raise PdfError(f"Chromium printed no PDF (exit {done.returncode}): {tail}")
        data = out.read_bytes()
    if not data.startswith(b"%PDF"):
        raise PdfError("Chromium wrote something that is not a PDF")
    return data
