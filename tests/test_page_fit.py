"""Every page, with the committed models and a colorized sample, in Chromium at 1280 and 1400 px (issue 30).

On each page and each of its tabs: nothing is cut off (no text ellipsis, no table or block that scrolls sideways or
reaches past the main column) and the page is at most 6,000 px tall. A page's address opened directly on a fresh
server gets the app's own navigation and layout. Screenshots go to test-artifacts/fit-<width>-<page>[-<tab>].png.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from test_dashboard_browser import ARTIFACTS, MAP_FRAME, _settled, chromium, needs_chromium, streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WIDTHS = (1280, 1400)
MAX_PAGE_HEIGHT = 6000
VIEWPORT_HEIGHT = 900
PAGES = ("Colorize", "History", "Training", "Evaluation", "Models")
SHOWN = {  # what each page shows last (its body loads behind a spinner)
    "History": lambda page: page.get_by_text("Job details"),
    "Training": lambda page: page.get_by_role("tab", name="Losses"),
    "Evaluation": lambda page: page.get_by_role("tab", name="Scoreboard"),
    "Models": lambda page: page.get_by_test_id("stExpander").first,
}

# Elements in the main column that hide part of their content sideways, and elements reaching past its right edge.
# Screen-reader-only text (clipped to 1 px) is not shown, so it is not counted.
CUT_OFF = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const edge = main.getBoundingClientRect().right;
  const cut = [];
  for (const e of main.querySelectorAll('*')) {
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    if (box.width <= 1 || box.height <= 1 || e.clientWidth <= 1 || style.visibility === 'hidden') continue;
    const clips = ['hidden', 'auto', 'scroll', 'clip'].includes(style.overflowX) || style.textOverflow === 'ellipsis';
    const what = `${e.tagName}.${e.getAttribute('data-testid') || e.className.toString().slice(0, 30)}`;
    if (clips && e.scrollWidth > e.clientWidth + 1)
      cut.push(`${what} shows ${e.clientWidth} of ${e.scrollWidth} px: "${(e.innerText || '').slice(0, 40)}"`);
    else if (box.right > edge + 1) cut.push(`${what} ends at ${Math.round(box.right)} px, past ${Math.round(edge)}`);
  }
  return cut;
}"""
PAGE_HEIGHT = "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"


@pytest.fixture(scope="module")
def app_url():
    """The app on the committed models (`models/`) with an empty job history."""
    needs_chromium()
    with tempfile.TemporaryDirectory() as var, streamlit_server(Path(var), {"SARCOLOR_VAR_DIR": var}) as url:
        yield url


def _navigation(page) -> list[str]:
    """The sidebar's page links as shown (icon ligatures dropped)."""
    return [text.split("\n")[-1] for text in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]


def _measure(page, name: str, width: int) -> list[str]:
    """What is wrong with the page as shown now (empty if nothing); its full-page screenshot is saved."""
    page.wait_for_timeout(800)  # charts and tables finish their layout after the script ends
    problems = [f"{name}: {cut}" for cut in page.evaluate(CUT_OFF)]
    height = page.evaluate(PAGE_HEIGHT)
    if height > MAX_PAGE_HEIGHT:
        problems.append(f"{name}: {height} px tall")
    ARTIFACTS.mkdir(exist_ok=True)  # the main column scrolls inside the window: open the window to its height
    page.set_viewport_size({"width": width, "height": min(height, MAX_PAGE_HEIGHT)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / f"fit-{width}-{name}.png"))
    page.set_viewport_size({"width": width, "height": VIEWPORT_HEIGHT})
    return problems


def _every_tab(page, name: str, width: int) -> list[str]:
    """`_measure` of the page as it opens, then with each of its other tabs chosen."""
    problems = _measure(page, name, width)
    tabs = page.locator('[data-testid="stMain"] [role="tab"]')
    labels = tabs.all_inner_texts()
    for index, label in enumerate(labels[1:], start=1):
        tabs.nth(index).click()
        _settled(page)
        tab = re.sub(r"\W+", "_", label.strip()).lower()
        problems += _measure(page, f"{name}-{tab}", width)
    return problems


def test_a_page_opened_by_its_address_on_a_fresh_server_has_the_apps_navigation(app_url):
    """Not Streamlit's list of files ('app', 'colorize', ...): the app's own pages, and its wide layout."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{app_url}/history")
        _settled(page, 90_000)
        page.get_by_text("No job yet").wait_for(timeout=30_000)
        assert _navigation(page) == list(PAGES)
        main_width = page.evaluate("() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').clientWidth")
        assert main_width > 900, main_width  # layout="wide" came from app.py, which ran


def _colorize(page, expect: str = "Download colorized COG") -> None:
    """Press Colorize and wait for `expect` (the result's download button, or an error)."""
    page.get_by_role("button", name="Colorize", exact=True).click()
    page.get_by_text(expect).first.wait_for(timeout=180_000)
    _settled(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_is_cut_off_or_taller_than_6000_px(app_url, width, tmp_path):
    """With the sample colorized, after a file with a product's long name that is not a raster (History's widest row:
    the longest file name and an error)."""
    long_name = tmp_path / "S1A_IW_GRDH_1SDV_20210101T052245_20210101T052310_035955_043650_8D32_VV_dB.tif"
    long_name.write_bytes(b"not a GeoTIFF, but named like a Sentinel-1 product")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": VIEWPORT_HEIGHT}, accept_downloads=True)
        page.goto(app_url)
        _settled(page, 90_000)
        page.get_by_role("button", name="Colorize").wait_for(timeout=60_000)  # the body loads behind a spinner
        page.get_by_text("Upload", exact=True).click()
        _settled(page)
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(long_name))
        page.get_by_test_id("stFileChip").first.wait_for()
        _settled(page)
        _colorize(page, expect="could not be colorized")
        page.get_by_text("Built-in sample", exact=True).click()
        _settled(page)
        _colorize(page)
        page.frame_locator(MAP_FRAME).locator(".leaflet-image-layer").first.wait_for(timeout=30_000)
        problems = _every_tab(page, "colorize", width)
        for title in PAGES[1:]:
            page.get_by_role("link", name=title).click()
            _settled(page, 90_000)
            SHOWN[title](page).wait_for(timeout=60_000)
            _settled(page)
            problems += _every_tab(page, title.lower(), width)
            if title == "Evaluation":  # the per-image table of the set with the longest image names
                page.get_by_role("tab", name="Table").click()
                page.get_by_role("combobox", name="Set").click()
                page.get_by_role("option", name="sen12-test").click()
                _settled(page)
                problems += _measure(page, "evaluation-table-sen12-test", width)
    assert not problems, "\n".join(problems)


def test_no_table_column_has_a_fixed_width() -> None:
    """A table's cells are drawn on a canvas, where a column too narrow cuts text out of the DOM's sight: a column
    width is never a constant, only `text_width` of what the column shows."""
    dashboard = Path(__file__).resolve().parent.parent / "dashboard"
    fixed = [f"{path.name}:{n}: {line.strip()}" for path in dashboard.rglob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), start=1)
             if re.search(r"[cC]olumn\(.*\bwidth=(?!text_width\()", line)]  # fmt: skip
    assert not fixed, fixed
