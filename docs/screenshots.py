"""Screenshots of every page with the committed models: `python docs/screenshots.py`.

Starts the app on a free local port with a temporary job history, colorizes the
built-in sample with `models/default.pt` in headless Chromium, and saves PNGs in docs/.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from dashboard.server import dashboard_server

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SAMPLE = "35VPK_69_24"  # forest with a lake: water, forest and clearings in one 1.2 km patch


def main() -> None:
    with tempfile.TemporaryDirectory() as var, dashboard_server({"SARCOLOR_VAR_DIR": var}) as url:
        _shoot(url)


def _shoot(url: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1320})
        page.goto(url)
        page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for(timeout=60_000)
        page.wait_for_selector(READY, timeout=60_000)
        page.get_by_role("combobox", name="Sample").wait_for(timeout=60_000)  # the body loads behind a spinner
        page.get_by_role("combobox", name="Sample").click()
        page.get_by_role("option", name=SAMPLE).click()
        page.wait_for_selector(READY, timeout=60_000)
        page.get_by_role("button", name="Colorize").click()
        page.get_by_text("Download colorized COG").first.wait_for(timeout=120_000)
        page.wait_for_selector(READY, timeout=60_000)
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        frame.locator(".leaflet-image-layer").first.wait_for(timeout=30_000)
        page.get_by_label("Swipe: left").click()
        page.get_by_role("option", name="SAR", exact=True).click()
        page.wait_for_timeout(1000)
        page.wait_for_selector(READY, timeout=60_000)
        page.wait_for_function("document.querySelectorAll('iframe[title=\"streamlit_folium.st_folium\"]').length === 1")
        swipe = page.frame_locator('iframe[title="streamlit_folium.st_folium"]').locator(".sarcolor-swipe-range")
        swipe.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=ROOT / "docs" / "screenshot-colorize.png")
        page.get_by_role("tab", name="Compare").click()
        page.wait_for_timeout(1000)
        page.screenshot(path=ROOT / "docs" / "screenshot-compare.png")
        for title in ("Training", "Evaluation", "Models"):
            page.get_by_role("link", name=title).click()
            page.wait_for_selector(READY, timeout=60_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=ROOT / "docs" / f"screenshot-{title.lower()}.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
