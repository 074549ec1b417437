"""report.html in a real browser: headless Chromium lays out the smoke run's report (with its
claims, whose evidence column was once 3,500 px wide) in a 1,400 px window, and the page must not
scroll sideways, so every column of every table is on screen. .ci/run installs Debian's chromium."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from harness.report import document
from harness.store import load_run

pytestmark = pytest.mark.integration

SMOKE = Path(__file__).resolve().parents[1] / "data" / "runs" / "smoke"
WINDOW_WIDTH_PX = 1400
BROWSER_TIMEOUT_S = 120
# Added to the test's copy of the page only: writes the laid-out widths into the DOM, which
# `--dump-dom` prints once the page has loaded.
MEASURE = (
    "<script>window.addEventListener('load', () => {"
    " const root = document.documentElement;"
    " document.body.dataset.scrollWidth = root.scrollWidth;"
    " document.body.dataset.clientWidth = root.clientWidth; });</script>"
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=5000",
)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("no chromium on PATH: apt-get install chromium (.ci/run does)")
    return found


def _dump_dom(page: Path, profile: Path) -> str:
    """The DOM after load, from headless Chromium in its own process group (ended on timeout)."""
    argv = [
        _chromium(),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW_WIDTH_PX},900",
        "--dump-dom",
        page.as_uri(),
    ]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as proc:
        try:
            out, err = proc.communicate(timeout=BROWSER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"chromium gave no DOM within {BROWSER_TIMEOUT_S} s")
    assert proc.returncode == 0, err[-2000:]
    return out


def test_report_html_never_scrolls_sideways_in_a_1400px_window(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(SMOKE, run_dir)
    page_html = document.render_data(load_run(run_dir), "html", claims=True)
    assert "<h2>Claims</h2>" in page_html and page_html.count("</body>") == 1
    page = run_dir / "report.html"
    page.write_text(page_html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    try:
        dom = _dump_dom(page, profile)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    widths = re.search(r'data-scroll-width="(\d+)" data-client-width="(\d+)"', dom)
    assert widths, dom[-2000:]
    scroll_width_px, client_width_px = int(widths.group(1)), int(widths.group(2))
    assert 0 < client_width_px <= WINDOW_WIDTH_PX
    assert scroll_width_px <= client_width_px, (scroll_width_px, client_width_px)
