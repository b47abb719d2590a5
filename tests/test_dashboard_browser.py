"""End to end in a real browser: `streamlit run` + Playwright driving Debian's Chromium, offline.

Uploads a real georeferenced Sentinel-1 sample, colorizes it, checks that the map iframe renders
Leaflet (served by the app, no CDN) with the colorized overlay loaded, toggles a layer, downloads
the COG and checks its georeference. Screenshots of every page go to test-artifacts/.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from core.colorize import ColorizeOptions
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.tiling import TileGrid
from core.records.artefacts import JsonLinesLog, ModelsFolder, epoch_record, step_record
from core.samples import default_sample
from dashboard.server import ServerDidNotStart, dashboard_server

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _write_training_log(path: Path) -> None:
    """A small synthetic log (UI test data only) so the Training page has curves to draw."""
    rng = np.random.default_rng(0)
    log = JsonLinesLog(path)
    for step in range(1, 201):
        decay = np.exp(-step / 80)
        losses = {"g_adv": 0.7 + 0.1 * rng.random(), "g_l1": 0.1 + 0.3 * decay + 0.02 * rng.random(),
                  "d_real": 0.5 + 0.1 * rng.random(), "d_fake": 0.5 + 0.1 * rng.random()}
        log.write(step_record(step, step // 50, step * 1.1, losses, 2e-4, 2e-4, 4 + rng.random()))
        if step % 50 == 0:
            log.write(epoch_record(step // 50, step, step * 1.1, {"val": {"psnr": 10 + step / 40,
                                                                        "ssim": 0.1 + step / 1000}}))


@contextlib.contextmanager
def streamlit_server(tmp: Path, env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """`streamlit run dashboard/app.py` on a loopback port (free unless given) with extra `env`; yields its URL."""
    try:
        with dashboard_server(env, tmp / "streamlit.log", port) as url:
            yield url
    except ServerDidNotStart as exc:
        pytest.fail(str(exc))


def needs_chromium() -> None:
    """Skip (with the reason) where Debian's chromium or playwright is missing."""
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); browser test skipped")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a temporary model and var dir."""
    needs_chromium()
    tmp = tmp_path_factory.mktemp("browser")
    models = tmp / "models"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    save_checkpoint(models / "wide.pt", untrained_model(GeneratorConfig(ngf=64)).generator)  # slow: cancel test
    (models / "default.md").write_text("# default\n\nUntrained test generator (browser test).\n")
    _write_training_log(ModelsFolder(models).training_log("default"))
    env = {"SARCOLOR_MODELS_DIR": str(models), "SARCOLOR_VAR_DIR": str(tmp / "var")}
    with streamlit_server(tmp, env) as url:
        yield url, tmp


@contextlib.contextmanager
def chromium() -> Iterator:
    """Debian's Chromium, headless with the offline flags, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def visitor(browser, url: str, path: str = ""):
    """A fresh browser context (its own cookies and session) on the app, once its script has run."""
    page = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True).new_page()
    page.goto(f"{url}/{path}")
    _settled(page)
    return page


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1440, "height": 1700}, accept_downloads=True)
        yield context.new_page()
        context.close()


def _settled(page, timeout: float = 60_000) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_upload_colorize_map_download(server, page, tmp_path):
    url, _ = server
    sample = default_sample()
    started = time.perf_counter()
    page.goto(url)  # the first visit after a cold start: the title must not wait for torch
    page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for(timeout=60_000)
    first_paint = time.perf_counter() - started
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "first_paint_seconds.txt").write_text(f"{first_paint:.2f}\n")
    assert first_paint < 10.0, f"first heading after {first_paint:.1f} s"
    _settled(page)
    page.get_by_text("Upload", exact=True).click()
    _settled(page)
    try:
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(sample.sar))
        page.get_by_test_id("stFileChip").first.wait_for()
        _settled(page)
        reference = page.get_by_test_id("stFileUploader").filter(has_text="Reference optical")
        reference.wait_for()  # the reference slot appears once a scene is there
        reference.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(sample.optical))
        page.get_by_test_id("stFileChip").nth(1).wait_for()
        _settled(page)
    finally:
        _shot(page, "upload")
    page.get_by_role("button", name=re.compile("^.*Colorize$")).click()
    page.get_by_text("Download colorized COG").wait_for(timeout=120_000)
    _settled(page)

    frame = page.frame_locator(MAP_FRAME)
    frame.locator(".leaflet-container").wait_for(timeout=30_000)
    overlays = frame.locator("img.leaflet-image-layer")
    overlays.first.wait_for(timeout=30_000)
    page.wait_for_function(
        """() => { const f = document.querySelector('iframe[title="streamlit_folium.st_folium"]');
                   const imgs = f && f.contentDocument.querySelectorAll('img.leaflet-image-layer');
                   return imgs && imgs.length >= 2 && [...imgs].every(i => i.complete && i.naturalWidth > 0); }""",
        timeout=30_000,
    )
    assert overlays.count() == 2  # SAR + Colorized shown; reference listed but off
    assert page.locator(MAP_FRAME).bounding_box()["height"] > 300
    frame.locator(".leaflet-control-layers").hover()  # the layer list is collapsed until hovered
    labels = frame.locator(".leaflet-control-layers-overlays label")
    assert {labels.nth(i).inner_text().strip() for i in range(labels.count())} == {
        "SAR", "Colorized (synthetic)", "Colorized + SAR detail (GIHS)", "Dual-pol (VV, VH, VV/VH)",
        "Reference optical"}
    _shot(page, "colorize")

    frame.locator(".leaflet-control-layers-overlays label", has_text="Colorized (synthetic)").locator("input").click()
    page.wait_for_timeout(300)
    assert overlays.count() == 1
    frame.locator(".leaflet-control-layers-overlays label", has_text="Reference optical").locator("input").click()
    page.wait_for_timeout(300)
    assert overlays.count() == 2

    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("Download colorized COG")).click()
    target = tmp_path / "result.tif"
    info.value.save_as(target)
    with rasterio.open(target) as cog:
        assert cog.crs is not None and cog.crs.to_epsg() == 32633
        assert cog.count == 4 and (cog.width, cog.height) == (120, 120)
        assert cog.transform.a == pytest.approx(10.0)

    page.get_by_role("tab", name="Compare").click()
    page.get_by_text("PSNR vs reference").wait_for()
    _shot(page, "colorize-compare")


def test_swipe_and_other_pages(server, page):
    page.get_by_role("tab", name="Map").click()
    page.get_by_label("Swipe: left").click()
    page.get_by_role("option", name="SAR", exact=True).click()
    page.wait_for_timeout(500)
    _settled(page)
    page.wait_for_function(f"document.querySelectorAll('{MAP_FRAME}').length === 1", timeout=30_000)
    frame = page.frame_locator(MAP_FRAME)
    frame.locator(".sarcolor-swipe-range").wait_for(timeout=30_000)
    frame.locator(".leaflet-image-layer").first.wait_for()
    for value in (10, 25, 80):  # the divider stays under the thumb wherever it is dragged
        frame.locator(".sarcolor-swipe-range").fill(str(value))
        gap = frame.locator(".sarcolor-swipe-range").evaluate(
            """(r) => { const m = r.closest('.leaflet-container').getBoundingClientRect();
                        const b = r.getBoundingClientRect();
                        const thumb = b.left - m.left + 8 + (b.width - 16) * r.value / 100;
                        const line = document.querySelector('.sarcolor-swipe-line');
                        return Math.abs(parseFloat(line.style.left) - thumb); }"""
        )
        assert gap < 2, (value, gap)
    for _ in range(40):  # the slider's ends are the scene's edges, once the map has settled (zoom animation)
        ends = frame.locator(".sarcolor-swipe-range").evaluate(
            """(r) => { const m = r.closest('.leaflet-container').getBoundingClientRect();
                    const b = r.getBoundingClientRect();
                    const layers = [...document.querySelectorAll('.leaflet-image-layer')];
                    const boxes = layers.map((e) => e.getBoundingClientRect());
                    const left = Math.max(m.left, Math.min(...boxes.map((x) => x.left)));
                    const right = Math.min(m.right, Math.max(...boxes.map((x) => x.right)));
                    return {start: b.left + 8 - left, end: b.right - 8 - right, scene: right - left, map: m.width}; }"""
        )
        if abs(ends["start"]) < 2 and abs(ends["end"]) < 2:
            break
        page.wait_for_timeout(250)
    assert abs(ends["start"]) < 2 and abs(ends["end"]) < 2, ends
    assert ends["scene"] < 0.8 * ends["map"], ends  # the scene leaves room on the map: the fit is what is tested
    frame.locator(".sarcolor-swipe-range").fill("50")
    page.wait_for_timeout(500)
    _shot(page, "colorize-swipe")

    for title, text in [("History", "Job details"), ("Training", "Generator losses per step"),
                        ("Evaluation", "No evaluation results yet"), ("Models", "default · default")]:
        page.get_by_role("link", name=title).click()
        page.get_by_text(text).first.wait_for(timeout=30_000)
        _settled(page)
        page.wait_for_timeout(500)
        _shot(page, title.lower())
    page.get_by_role("link", name="History").click()
    page.get_by_text("Job details").wait_for()
    page.get_by_text("1 job(s).").wait_for(timeout=10_000)
    # The download buttons render after the table: wait (raises on timeout) rather than sample once.
    page.get_by_role("button", name=re.compile("Download colorized COG")).wait_for(state="visible", timeout=30_000)


def _mosaic(path: Path, repeat: int) -> Path:
    """The real sample tiled `repeat` x `repeat` times on its own grid (a bigger real-valued scene)."""
    with rasterio.open(default_sample().sar) as src:
        profile, data = src.profile, src.read()
    profile.update(width=src.width * repeat, height=src.height * repeat, tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.tile(data, (1, repeat, repeat)))
        dst.descriptions = ("VV", "VH")
        dst.update_tags(units="dB")
    return path


def test_live_progress_and_cancel(server, page, tmp_path):
    url, _ = server
    scene = _mosaic(tmp_path / "big_scene.tif", 16)  # 1920 x 1920 px
    defaults = ColorizeOptions()
    with rasterio.open(scene) as src:
        tiles = TileGrid.anchored(Window(0, 0, 1920, 1920), src.transform, defaults.tile, defaults.overlap).tile_count
    page.goto(url)
    _settled(page)
    page.get_by_text("Upload", exact=True).click()
    _settled(page)
    page.get_by_label("Checkpoint").click()
    page.get_by_role("option", name="wide").click()
    _settled(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(scene))
    page.get_by_test_id("stFileChip").first.wait_for()
    _settled(page)
    page.get_by_role("button", name=re.compile("^.*Colorize$")).click()
    page.get_by_text(re.compile(rf"[1-9]\d* / {tiles} tiles")).wait_for(timeout=60_000)  # live progress
    _shot(page, "colorize-progress")
    page.get_by_role("button", name=re.compile("Cancel")).click()
    page.get_by_text("The job was cancelled").wait_for(timeout=60_000)
    _settled(page)
    _shot(page, "colorize-cancelled")
    page.get_by_role("link", name="History").click()
    page.get_by_text("Job details").wait_for()
    _settled(page)
    details = page.get_by_test_id("stAlertContainer").filter(has_text="The job was cancelled")
    details.first.wait_for(timeout=30_000)  # the newest job's details say so (the table cell is canvas-drawn)


def test_an_opera_pair_uploaded_as_two_files_shows_its_dual_pol_layer(server, page):
    """Issue 29: an OPERA RTC-S1 VV+VH pair (real crops, read in place) uploaded as two files is coloured, and the map
    and its swipe list the dual-pol false colour; the scene facts name gamma0 and VH. The page at 1400 px is shot."""
    from tests.s1_products import OPERA

    pair = sorted((OPERA / "2021-11-19").glob("OPERA_*T137-292318-IW1_*_V[VH].tif"))
    if len(pair) != 2:
        pytest.skip("team data (../shared/data/s1-products/opera-rtc) absent")
    url, _ = server
    page = visitor(page.context.browser, url)  # a fresh session (the module's browser: one Playwright at a time)
    try:
        page.get_by_text("Upload", exact=True).click()
        _settled(page)
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files([str(p) for p in pair])
        page.get_by_test_id("stFileChip").nth(1).wait_for()
        _settled(page)
        page.get_by_role("button", name=re.compile("^.*Colorize$")).click()
        page.get_by_text("Download colorized COG").wait_for(timeout=120_000)
        _settled(page)
        frame = page.frame_locator(MAP_FRAME)
        frame.locator("img.leaflet-image-layer").first.wait_for(timeout=30_000)
        frame.locator(".leaflet-control-layers").hover()
        labels = frame.locator(".leaflet-control-layers-overlays label")
        assert "Dual-pol (VV, VH, VV/VH)" in {labels.nth(i).inner_text().strip() for i in range(labels.count())}
        _shot(page, "colorize-opera-pair")
        labels.filter(has_text="Dual-pol").locator("input").click()  # switched on: on top of the others
        page.wait_for_timeout(300)
        assert frame.locator("img.leaflet-image-layer").count() == 3
        page.mouse.move(0, 0)
        page.locator(MAP_FRAME).scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        _shot(page, "colorize-opera-pair-map")
        page.get_by_label("Swipe: left").click()
        assert page.get_by_role("option", name="Dual-pol (VV, VH, VV/VH)").count() == 1
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Scene facts").click()
        facts = page.get_by_test_id("stTable")
        facts.wait_for()
        assert "γ0" in facts.inner_text() and "VV VH" in facts.inner_text()
        facts.scroll_into_view_if_needed()
        _shot(page, "colorize-opera-pair-facts")
        page.get_by_role("tab", name="Compare").click()
        page.get_by_text("Add a reference optical GeoTIFF").wait_for()
        page.get_by_role("tab", name="Compare").scroll_into_view_if_needed()
        _shot(page, "colorize-opera-pair-compare")
    finally:
        page.context.close()


def test_server_log_has_no_deprecation_warning(server):
    """Runs last in this module: every page above was visited; the server said nothing deprecated."""
    _, tmp = server
    log = (tmp / "streamlit.log").read_text()
    assert "deprecat" not in log.lower(), log[-3000:]
