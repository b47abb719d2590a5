"""Guided colour beyond the guide's edge (issue 27): the scene's own fitted mapping everywhere, no seam, confidence.

Real data (../shared/data, skipped without it): volkov val scenes, the sebastianelli January <-> July pairs
and OMBRIA val sites, each given a partial guide cut from its optical (left half, a block of 10 %, holes);
the BigEarthNet samples (always present) with a reference in another CRS cut to half. Scores are on the
pixels the guide does not cover, against the optical truth there; the unguided product is the baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import fresh_app
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject
from scenes import write_raster

from core.colorize import ColorizeOptions, colorize
from core.colour.confidence import BANDS, CHANGE, FITTED, GUIDE, sidecar_path
from core.model.checkpoints import load_checkpoint
from core.rasters.normalise import optical_to_unit
from core.scoring.metrics import pixel_delta_e, psnr
from core.settings import default_checkpoint
from training.change_prior import read_rgb
from training.evaluate_change import partial_mask, read_output
from training.studies.evaluate_guided import write_guide


@pytest.fixture(scope="module")
def default_model():
    return load_checkpoint(default_checkpoint())


def _guided_and_unguided(model, sar: Path, truth: np.ndarray, covered: np.ndarray, folder: Path, **options):
    """The product's output with a partial guide cut from `truth`, and without a guide, cropped to the truth."""
    guide = write_guide(folder / f"{sar.stem}_guide.tif", truth, covered)
    colorize(sar, folder / "guided.tif", model, ColorizeOptions(guide=str(guide), **options))
    colorize(sar, folder / "unguided.tif", model, ColorizeOptions(**options))
    height, width = truth.shape[:2]
    return read_output(folder / "guided.tif")[:height, :width], read_output(folder / "unguided.tif")[:height, :width]


def _beats(guided: np.ndarray, unguided: np.ndarray, truth: np.ndarray, beyond: np.ndarray) -> dict:
    scores = {"guided_psnr": psnr(guided, truth, beyond), "unguided_psnr": psnr(unguided, truth, beyond),
              "guided_de": pixel_delta_e(guided, truth, beyond), "unguided_de": pixel_delta_e(unguided, truth, beyond)}
    assert scores["guided_psnr"] > scores["unguided_psnr"], scores
    assert scores["guided_de"] < scores["unguided_de"], scores
    return scores


@pytest.mark.parametrize("kind", ["left_half", "block_10pct", "holes"])
def test_volkov_beyond_a_partial_guide_beats_the_unguided_output(shared_data, default_model, tmp_path, kind):
    """Two volkov val scenes (fields, town): the guide covers a half, 10 % or all but 12 holes."""
    for name in ("270", "282"):
        sar, optical = shared_data / "volkov" / "sar" / f"{name}.png", shared_data / "volkov" / "opt" / f"{name}.jpg"
        truth = read_rgb(optical)
        covered = partial_mask(truth.shape[:2], kind)
        folder = tmp_path / name
        folder.mkdir()
        guided, unguided = _guided_and_unguided(default_model, sar, truth, covered, folder,
                                                encoding="linear_u8", polarisation="VH")  # fmt: skip
        _beats(guided, unguided, truth, ~covered)
        source = rasterio.open(sidecar_path(folder / "guided.tif")).read(1)[: truth.shape[0], : truth.shape[1]]
        assert (source[~covered] == FITTED).mean() > 0.99  # beyond the guide: the fitted mapping, said so
        assert np.isin(source[covered], (GUIDE, FITTED, CHANGE)).all()


def test_january_july_beyond_a_left_half_guide(shared_data, default_model, tmp_path):
    """The other date's optical, left half only, guides the SAR; the right half is scored against its own date."""
    folder = shared_data / "sebastianelli-zone9"
    for patch in (6, 7):
        truth_path = folder / "opt" / f"zone_9_b_Jul_patch{patch}.tif"
        with rasterio.open(folder / "opt" / f"zone_9_a_Jan_patch{patch}.tif") as src:
            stale = optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)
        with rasterio.open(truth_path) as src:
            truth = optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)
        covered = partial_mask(truth.shape[:2], "left_half")
        guide = write_guide(tmp_path / f"jan_{patch}.tif", np.clip(stale, 0, 1), covered)
        sar = folder / "sar" / f"zone_9_b_Jul_patch{patch}.tif"
        colorize(sar, tmp_path / "guided.tif", default_model, ColorizeOptions(encoding="db", guide=str(guide)))
        colorize(sar, tmp_path / "unguided.tif", default_model, ColorizeOptions(encoding="db"))
        _beats(read_output(tmp_path / "guided.tif"), read_output(tmp_path / "unguided.tif"), truth, ~covered)


def test_ombria_beyond_a_left_half_guide(shared_data, default_model, tmp_path):
    """OMBRIA val: the site's own after-flood optical, left half, guides its after-flood SAR."""
    for site in ("test_0013", "test_0018"):
        sar = shared_data / "ombria" / "sar" / f"{site}_after.png"
        truth = read_rgb(shared_data / "ombria" / "opt" / f"{site}_after.jpg")
        covered = partial_mask(truth.shape[:2], "left_half")
        guided, unguided = _guided_and_unguided(default_model, sar, truth, covered, tmp_path, encoding="db_minmax_u8")
        _beats(guided, unguided, truth, ~covered)


def _to_crs(source: Path, target: Path, crs: str, keep_left: float) -> Path:
    """The optical warped into another CRS (nodata beyond its edge), only the left `keep_left` of it kept."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(src.crs, crs, src.width, src.height, *src.bounds)
        out = np.zeros((src.count, height, width), np.uint8)
        reproject(src.read(), out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs=crs, resampling=Resampling.bilinear)  # fmt: skip
    out[:, :, int(width * keep_left) :] = 0
    return write_raster(target, out, CRS.from_user_input(crs), transform, nodata=0)


def test_half_guide_in_another_crs_colours_the_rest_without_a_seam(samples, default_model, tmp_path):
    """BigEarthNet: the reference in EPSG:4326, its left half only; beyond it the fitted colour beats the model,
    and the step across the guide's edge is no larger than the colour's own steps from column to column."""
    lifts = []
    for sample in samples[:3]:
        guide = _to_crs(sample.optical, tmp_path / f"{sample.name}_4326.tif", "EPSG:4326", 0.5)
        colorize(sample.sar, tmp_path / "guided.tif", default_model, ColorizeOptions(guide=str(guide)))
        colorize(sample.sar, tmp_path / "unguided.tif", default_model)
        with rasterio.open(sample.optical) as src:
            truth = optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)
        guided, unguided = read_output(tmp_path / "guided.tif"), read_output(tmp_path / "unguided.tif")
        with rasterio.open(sidecar_path(tmp_path / "guided.tif")) as src:
            assert src.descriptions == BANDS
            bands = src.read()
        beyond = bands[3] > 0  # the distance band: pixels the guide does not cover
        assert 0.3 < beyond.mean() < 0.7
        lifts.append(psnr(guided, truth, beyond) - psnr(unguided, truth, beyond))
        steps = np.abs(np.diff(guided, axis=1)).mean(axis=(0, 2))  # mean colour step between neighbouring columns
        edge = int(np.argmax(beyond.mean(axis=0) > 0.5))  # the first column mostly beyond the guide
        assert steps[edge - 3 : edge + 3].max() < 2.0 * np.median(steps), (edge, steps[edge - 3 : edge + 3])
        distance = bands[3][beyond.mean(axis=1) > 0.5].mean(axis=0)
        assert distance[-1] > distance[edge + 2] > 0  # farther from the guide, larger
    assert np.mean(lifts) > 0, lifts


def test_dashboard_maps_where_the_colour_came_from_and_history_says_guided(tmp_path, monkeypatch):
    """The Colorize page's map has the confidence layer with its legend; History marks the job guided."""
    import json

    at = fresh_app(tmp_path, monkeypatch)
    at.toggle(key="guided").set_value(True).run()
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    script = json.loads(at.get("component_instance")[0].proto.json_args)["script"]
    assert "Where the colour came from (guided)" in script
    assert any("Where the colour came from" in c.value and "magenta" in c.value for c in at.caption)
    at.switch_page("views/history.py").run()
    history = at.dataframe[0].value
    assert history["Outcome"].iloc[0] == "done, guided"
    assert any("agreement with its own guide" in c.value for c in at.caption)
