"""The SAR-detail rendering (GIHS, `core.colour.sar_detail`) on real SAR: the SAR's structure in the lightness,
the model's colour in a* b*, the dashboard's second layer, and the CLI / batch flag (extent: tests/test_extent.py).

Real data: the six calibrated BigEarthNet patches (VV, float32 dB) and a volkov val fragment (VH, linear_u8) when
the team data is there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import read_rgba, run_cli
from scipy.ndimage import gaussian_filter
from skimage.color import rgb2lab

from core.colorize import ColorizeOptions, colorize
from core.colour.sar_detail import RENDERING_TAG, SAR_DETAIL, SPECKLE_SIGMA, render_cog
from core.model.checkpoints import LoadedModel, load_checkpoint, save_checkpoint
from core.rasters.normalise import Encoding, to_db
from core.rasters.scene import opened_scene
from core.settings import default_checkpoint, shared_data_dir

VOLKOV = "volkov/sar/268.png"  # a val fragment (manifest.csv)


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_checkpoint(default_checkpoint())


def _lab(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIELAB (h x w x 3) of a colorized COG, and its validity."""
    rgba = read_rgba(path)
    return rgb2lab(rgba[:3].transpose(1, 2, 0) / 255.0), rgba[3] > 0


def _both(model: LoadedModel, source: Path, folder: Path, **options) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """CIELAB of the plain output and of the SAR-detail rendering of one scene."""
    out = {}
    for rendering in ("model", SAR_DETAIL):
        path = folder / f"{source.stem}_{rendering}.tif"
        colorize(source, path, model, ColorizeOptions(rendering=rendering, **options))
        out[rendering] = _lab(path)
    return out


def _lightness_correlation(lab: np.ndarray, db: np.ndarray, valid: np.ndarray) -> float:
    """Correlation of L* with the speckle-filtered SAR (dB) over valid pixels."""
    filtered = gaussian_filter(np.where(valid, db, np.nanmedian(db)), SPECKLE_SIGMA)
    return float(np.corrcoef(lab[..., 0][valid], filtered[valid])[0, 1])


def test_rendering_shows_the_sar_and_keeps_the_models_colour(model, samples, tmp_path: Path) -> None:
    """On every BigEarthNet patch: L* follows the filtered SAR clearly more than the plain output's; a*, b* stay."""
    for sample in samples:
        out = _both(model, sample.sar, tmp_path)
        with rasterio.open(sample.sar) as src:
            db = src.read(1)
        (plain, valid), (rendered, _) = out["model"], out[SAR_DETAIL]
        plain_r, rendered_r = (_lightness_correlation(lab, db, valid) for lab in (plain, rendered))
        assert rendered_r > 0.45 and rendered_r > plain_r + 0.2, (sample.name, plain_r, rendered_r)
        change = np.abs(rendered - plain)[valid].mean(axis=0)  # mean |dL*|, |da*|, |db*|
        assert change[0] > 3.0, (sample.name, change)  # the lightness does change
        assert change[1] < 4.0 and change[2] < 4.0, (sample.name, change)


@pytest.mark.skipif(not (shared_data_dir() / "volkov").is_dir(), reason="team data (../shared/data/volkov) absent")
def test_rendering_shows_a_volkov_fragment(model, tmp_path: Path) -> None:
    """A 1024 px Texas fragment (VH, 8-bit relative intensity): roads and field edges of the SAR in the lightness."""
    source = shared_data_dir() / VOLKOV
    out = _both(model, source, tmp_path, encoding=Encoding.LINEAR_U8.value, polarisation="VH")
    with rasterio.open(source) as src:
        db = to_db(src.read(1), Encoding.LINEAR_U8)
    (plain, valid), (rendered, _) = out["model"], out[SAR_DETAIL]
    valid &= np.isfinite(db)
    plain_r, rendered_r = (_lightness_correlation(lab, db, valid) for lab in (plain, rendered))
    assert rendered_r > plain_r + 0.2, (plain_r, rendered_r)
    change = np.abs(rendered - plain)[valid].mean(axis=0)
    assert change[1] < 4.0 and change[2] < 4.0, change


def test_rendering_of_a_finished_cog_matches_the_pipelines(model, samples, tmp_path: Path) -> None:
    """The dashboard's second layer (`render_cog` of the plain COG) is the pipeline's rendering within 1/255."""
    source = samples[3].sar
    colorize(source, tmp_path / "plain.tif", model, ColorizeOptions())
    colorize(source, tmp_path / "piped.tif", model, ColorizeOptions(rendering=SAR_DETAIL))
    with opened_scene(source) as scene:
        render_cog(tmp_path / "plain.tif", scene, tmp_path / "after.tif")
    piped, after = read_rgba(tmp_path / "piped.tif").astype(int), read_rgba(tmp_path / "after.tif").astype(int)
    assert np.abs(piped - after).max() <= 1
    assert np.abs(piped - read_rgba(tmp_path / "plain.tif").astype(int)).max() > 10  # the rendering is not the plain
    with rasterio.open(tmp_path / "after.tif") as src:
        assert src.tags()[RENDERING_TAG].startswith(SAR_DETAIL)


@pytest.fixture(scope="module")
def checkpoint(small_unet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("models") / "small.pt", small_unet.generator)


def test_cli_rendering_flag_one_scene_and_a_batch(samples, checkpoint: Path, tmp_path: Path) -> None:
    """`--rendering sar-detail` is recorded in the COG's tags, for one scene and for each scene of a batch."""
    one = tmp_path / "one.tif"
    run = run_cli("colorize", samples[0].sar, one, "--model", checkpoint, "--rendering", SAR_DETAIL, "--quiet")
    assert run.returncode == 0, run.stderr
    batch = run_cli("colorize", samples[1].sar, samples[2].sar, tmp_path / "many", "--model", checkpoint,
                      "--rendering", SAR_DETAIL, "--workers", 1, "--quiet")  # fmt: skip
    assert batch.returncode == 0, batch.stderr
    outputs = [one, *sorted((tmp_path / "many").glob("*.tif"))]
    assert len(outputs) == 3
    for path in outputs:
        with rasterio.open(path) as src:
            assert src.tags()[RENDERING_TAG].startswith(SAR_DETAIL), path


@pytest.mark.parametrize("value", ["gihs", ""])
def test_cli_bad_rendering_exits_2_with_one_line(value: str, samples, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.tif"
    run = run_cli("colorize", samples[0].sar, out, "--model", checkpoint, "--rendering", value, "--quiet")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "sar-detail" in lines[0], run.stderr
    assert not out.parent.exists()
