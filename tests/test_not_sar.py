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
from checks import run_cli
from PIL import Image
from scenes import read_sample_db, write_raster
from streamlit.testing.v1 import AppTest
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
    run = run_cli("colorize", samples[0].optical, out, "--model", model, "--quiet")
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
    assert "add it as the reference optical image (the guide) instead" in messages[0]
    assert "Traceback" not in messages[0] and str(tmp_path) not in messages[0]
    assert not at.get("component_instance") and not at.get("download_button")


GUIDE_WORDS = "add it as the reference optical image (the guide) instead"


def _as_terramind_s2rgb(optical: Path, path: Path) -> Path:
    """A real Sentinel-2 RGB as TerraMind writes its S2RGB output: uint8, each band described as "bands"."""
    with rasterio.open(optical) as src:
        rgb = src.read([1, 2, 3]).astype(np.float64)
        crs, transform = src.crs, src.transform
    scaled = np.clip(rgb / np.percentile(rgb, 99) * 255, 0, 255).astype(np.uint8)
    return write_raster(path, scaled, crs, transform, descriptions=["bands"] * 3)


def _sentinel2_stack(samples: list[Sample], path: Path, count: int) -> Path:
    """`count` real BigEarthNet Sentinel-2 bands of one patch, resampled to its 10 m grid, in one GeoTIFF.

    BigEarthNet has 12 bands (no B10); for a 13-band L1C-like stack its B09 stands in for B10 as well."""
    bands = [p for p in _s2_bands(samples) if "87_48" in p.name]
    bands = (bands + [p for p in bands if p.name.endswith("_B09.tif")])[:count]
    with rasterio.open(next(p for p in bands if p.name.endswith("_B02.tif"))) as ten_m:
        shape, crs, transform = (ten_m.height, ten_m.width), ten_m.crs, ten_m.transform
    stack = []
    for band in bands:
        with rasterio.open(band) as src:
            stack.append(src.read(1, out_shape=shape))
    return write_raster(path, np.stack(stack), crs, transform)


def test_a_described_uint8_sentinel2_rgb_is_refused_as_optical(samples, tmp_path) -> None:
    """Issue 30: band descriptions that name nothing (TerraMind's "bands") no longer let an RGB through as SAR."""
    for name in ("S2RGB_terramind.tif", "scene.tif"):
        terramind = _as_terramind_s2rgb(samples[0].optical, tmp_path / name)
        with pytest.raises(NotSarError, match=re.escape(f"{name} {RGB_WORDS}")) as refused:
            open_scene(terramind)
        assert GUIDE_WORDS in str(refused.value)


def test_real_optical_files_are_refused_saying_optical_and_guide(samples, shared_data, tmp_path) -> None:
    """Every real optical file at hand, described or not: the message says optical and where it belongs."""
    sebastianelli = sorted((shared_data / "sebastianelli-zone9" / "opt").glob("*.tif"))[:3]  # rgb uint16
    with rasterio.open(sebastianelli[0]) as src:
        described = write_raster(tmp_path / "zone9_described.tif", src.read(), descriptions=["red", "green", "blue"])
    optical = [
        *sebastianelli,
        described,
        *sorted((shared_data / "volkov" / "opt").glob("*.jpg"))[:3],
        samples[0].optical,
    ]
    for path in optical:
        with pytest.raises(NotSarError) as refused:
            open_scene(path)
        message = str(refused.value)
        assert message.startswith(f"{path.name} looks like an optical") and GUIDE_WORDS in message, message


@pytest.mark.parametrize("count", [12, 13])
def test_a_sentinel2_band_stack_is_refused_as_optical_not_for_its_band_count(samples, tmp_path, count) -> None:
    stack = _sentinel2_stack(samples, tmp_path / f"S2_stack_{count}.tif", count)
    renamed = shutil.copy(stack, tmp_path / "scene.tif")  # without the S2 in its name too
    for path in (stack, renamed):
        with pytest.raises(NotSarError, match=re.escape(f"{path.name} looks like an optical multispectral image")) as e:
            open_scene(path)
        assert f"it has {count} bands" in str(e.value) and GUIDE_WORDS in str(e.value)


def test_a_labelled_sar_composite_still_opens(samples, tmp_path) -> None:
    """VV, VH and their ratio as three coloured bands, named: SAR, and its VV band is the one read."""
    db, crs, transform = read_sample_db(samples[0])
    composite = np.stack([db[0], db[1], db[0] - db[1]])
    path = write_raster(tmp_path / "composite.tif", composite, crs, transform, descriptions=["VV", "VH", "VV/VH"])
    with opened_scene(path) as scene:
        assert scene.band == 1 and scene.band_name == "VV"
