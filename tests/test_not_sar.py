"""Optical images are refused before any work, naming what they look like; real SAR of every kind still opens."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import rasterio
from PIL import Image
from scenes import read_sample_db, write_raster
from streamlit.testing.v1 import AppTest
from test_core_cli import _sarcolor
from test_dashboard_pages import _app, _run, _upload

from core.errors import NotSarError
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.plausibility import SPECKLE_FLOOR_DB, neighbour_difference_db
from core.rasters.scene import open_scene, opened_scene
from core.samples import Sample

matplotlib.use("Agg")
RGB_WORDS = "looks like an optical RGB image, not SAR"


def _s2_bands(samples: list[Sample]) -> list[Path]:
    """Every real BigEarthNet Sentinel-2 band file (12 bands x 6 patches, uint16 DN) that core.samples extracted."""
    return sorted((samples[0].sar.parent / "raw" / "BigEarthNet-S2-Example").glob("*/*_B*.tif"))


def _screenshot_png(optical: Path, path: Path) -> Path:
    """A colour PNG screenshot (figure, title, axes, RGBA) of a real optical image, made with matplotlib."""
    import matplotlib.pyplot as plt

    with rasterio.open(optical) as src:
        rgb = np.moveaxis(src.read([1, 2, 3]), 0, -1)
    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.imshow(rgb)
    ax.set_title("Sentinel-2 true colour")
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def test_every_bigearthnet_sentinel2_band_is_refused(samples) -> None:
    bands = _s2_bands(samples)
    assert len(bands) == 72
    for band in bands:
        with pytest.raises(NotSarError, match=f"{band.name} looks like an optical image, not SAR"):
            open_scene(band)


def test_smooth_sentinel2_band_is_refused_without_its_name_and_accepted_when_declared(samples, tmp_path) -> None:
    """The hard pair, decided by measurement: a renamed S2 NIR band (DN) is smoother than speckle allows."""
    b08 = next(p for p in _s2_bands(samples) if p.name.endswith("_B08.tif") and "87_48" in p.name)
    renamed = shutil.copy(b08, tmp_path / "scene.tif")
    with pytest.raises(NotSarError, match=re.escape("scene.tif looks like optical reflectance")) as refused:
        open_scene(renamed)
    assert "set its encoding" in str(refused.value)
    with opened_scene(renamed, encoding="amplitude") as scene:  # the analyst's word overrides the guess
        assert scene.encoding == "amplitude"
    with rasterio.open(b08) as src:
        reflectance = (src.read(1) / 10000.0).astype(np.float32)
        crs, transform = src.crs, src.transform
    as_float = write_raster(tmp_path / "scene_float.tif", reflectance, crs, transform)
    with pytest.raises(NotSarError, match=re.escape("scene_float.tif looks like optical reflectance")):
        open_scene(as_float)


def test_real_sar_amplitude_and_linear_power_are_rough_enough(samples, tmp_path) -> None:
    """The same measurement on real Sentinel-1: uint16 amplitude DN and float linear power stay accepted."""
    for index, sample in enumerate(samples):
        db, crs, transform = read_sample_db(sample)
        assert neighbour_difference_db(db[0]) > 1.5 * SPECKLE_FLOOR_DB
        dn = np.clip(np.rint(10 ** (db[0] / 20) * 500), 1, 65535).astype(np.uint16)
        for name, data in ((f"grd_{index}.tif", dn), (f"power_{index}.tif", (10 ** (db[0] / 10)).astype(np.float32))):
            with opened_scene(write_raster(tmp_path / name, data, crs, transform)) as scene:
                assert scene.encoding in ("amplitude", "linear")


def test_builtin_optical_reference_and_screenshot_are_refused_as_rgb(samples, tmp_path) -> None:
    with pytest.raises(NotSarError, match=f"{samples[0].optical.name} {RGB_WORDS}"):
        open_scene(samples[0].optical)
    screenshot = _screenshot_png(samples[0].optical, tmp_path / "Screenshot 2026-12-02.png")
    with pytest.raises(NotSarError, match=f"Screenshot 2026-12-02.png {RGB_WORDS}"):
        open_scene(screenshot)


def test_volkov_optical_refused_and_grey_sar_jpegs_accepted(shared_data: Path) -> None:
    with pytest.raises(NotSarError, match=f"003.jpg {RGB_WORDS}"):
        open_scene(shared_data / "volkov" / "opt" / "003.jpg")
    for scene in sorted((shared_data / "tharun-scenes" / "sar").glob("*.jpg")):  # 3-band grey renderings
        with opened_scene(scene) as opened:
            assert opened.source.count == 3
    for folder, encoding in (("volkov", "db_u8"), ("sen12-test", "db_u8"), ("sebastianelli-zone9", "db")):
        for scene in sorted((shared_data / folder / "sar").iterdir())[:5]:
            with opened_scene(scene) as opened:
                assert opened.encoding == encoding


def test_cli_refuses_an_optical_image_in_one_line(samples, small_unet, tmp_path) -> None:
    model = save_checkpoint(tmp_path / "small.pt", small_unet.generator)
    out = tmp_path / "out" / "result.tif"
    run = _sarcolor("colorize", samples[0].optical, out, "--model", model, "--quiet")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {samples[0].optical.name} {RGB_WORDS}"), lines
    assert not out.exists()


def test_dashboard_refuses_an_optical_upload_with_a_clear_message(samples, tmp_path, monkeypatch) -> None:
    models = tmp_path / "models"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8, depth=6)).generator)
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(models))
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(tmp_path / "var"))
    screenshot = io.BytesIO()
    Image.open(_screenshot_png(samples[0].optical, tmp_path / "shot.png")).save(screenshot, "PNG")
    at: AppTest = _app()
    _upload(at, ("my screenshot.png", screenshot.getvalue()))
    _run(at)
    messages = [e.value for e in at.error]
    assert len(messages) == 1 and f"my screenshot.png {RGB_WORDS}" in messages[0], messages
    assert "upload it as the reference instead" in messages[0]
    assert "Traceback" not in messages[0] and str(tmp_path) not in messages[0]
    assert not at.get("component_instance") and not at.get("download_button")
