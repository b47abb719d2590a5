"""Colour guided by an optical reference of another date (core.colour.guide, core.colour.guided; issue 17).

On real data: the January <-> July pairs of sebastianelli-zone9 and a lake pasted into a volkov
scene (../shared/data, skipped without it), and the BigEarthNet samples (always present): their
Sentinel-2 reference warped from another CRS, cut to half, stacked as 12 or 13 bands.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import fresh_app
from rasterio.crs import CRS
from rasterio.warp import Resampling, calculate_default_transform, reproject
from scenes import S2_L2A_ORDER, mosaic_scene, sentinel2_stack, write_raster

import core.colour.guided
from core.cli import main as cli_main
from core.colorize import ColorizeOptions, colorize
from core.colour.guide import GuideError, date_from_name, guide_label, iso_date
from core.colour.guided import GUIDE_TAG
from core.errors import JobCancelled, ReferenceBandsUnknown
from core.model.checkpoints import load_checkpoint, save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.samples import Sample
from core.settings import default_checkpoint
from training.studies.evaluate_guided import run_planted, run_temporal_case, temporal_cases


@pytest.fixture(scope="module")
def default_model():
    """The committed default model (the guided path runs it outside the reference's coverage)."""
    return load_checkpoint(default_checkpoint())


def _read(path: Path) -> tuple[np.ndarray, dict]:
    with rasterio.open(path) as src:
        return src.read(), src.tags()


def _optical(sample: Sample) -> tuple[np.ndarray, dict]:
    with rasterio.open(sample.optical) as src:
        return src.read(), src.profile


# --- real temporal pairs and a planted change ----------------------------------------------------------


def test_january_july_pairs_guided_beats_default_and_the_stale_optical_where_the_sar_changed(
    shared_data, default_model, tmp_path
):
    """Guide with one date, colour the other date's SAR, score against its optical (both directions).

    Patches 6 and 7 are two of the four whose SAR dates correlate least (r 0.38, 0.35: the dunes).
    """
    rows = [run_temporal_case(c, default_model, tmp_path, sweep=False) for c in temporal_cases(shared_data, [6, 7])]
    assert len(rows) == 4 and {r["guide"] for r in rows} == {"a_Jan", "b_Jul"}
    for row in rows:
        assert row["guided"]["psnr"] >= row["default"]["psnr"] + 2.0, row
        assert row["guided"]["pixel_delta_e"] < row["default"]["pixel_delta_e"], row
        assert row["label"].startswith("colour guided by zone_9_") and row["label"].endswith(("(January)", "(July)"))
    assert np.mean([r["guided"]["psnr"] for r in rows]) > np.mean([r["stale_optical"]["psnr"] for r in rows])
    assert np.mean([r["guided"]["pixel_delta_e"] for r in rows]) < np.mean(
        [r["stale_optical"]["pixel_delta_e"] for r in rows]
    )


def test_planted_water_is_painted_as_the_sar_says_not_as_the_guide(shared_data, default_model, tmp_path):
    """SAR of a lake pasted over forest (volkov 253): the guide shows forest there, the block must come out water."""
    result = run_planted(shared_data, default_model, tmp_path)
    assert result["painted_as_water"], result
    assert result["guided_to_water"] < result["guided_to_guide_land"], result  # fails when the guide wins
    assert result["guided_to_water"] < 0.6 * result["guide_land_to_water"], result


# --- reading the reference: any CRS, partial coverage, Sentinel-2 stacks ------------------------------


def _to_crs(source: Path, target: Path, crs: str) -> Path:
    """The optical reference warped (bilinear) into another CRS at its own resolution."""
    with rasterio.open(source) as src:
        transform, width, height = calculate_default_transform(src.crs, crs, src.width, src.height, *src.bounds)
        out = np.zeros((src.count, height, width), np.uint8)
        reproject(src.read(), out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs=crs, resampling=Resampling.bilinear)  # fmt: skip
    return write_raster(target, out, CRS.from_user_input(crs), transform, nodata=0)


def test_reference_in_another_crs_guides_like_the_original(samples, default_model, tmp_path):
    """The reference warped to EPSG:4326 (nodata beyond its edge) guides the UTM scene in its own place."""
    sample = samples[0]
    warped = _to_crs(sample.optical, tmp_path / "ref_4326.tif", "EPSG:4326")
    colorize(sample.sar, tmp_path / "wgs84.tif", default_model, ColorizeOptions(guide=str(warped)))
    colorize(sample.sar, tmp_path / "model.tif", default_model)
    (wgs84, tags), (model, _) = _read(tmp_path / "wgs84.tif"), _read(tmp_path / "model.tif")
    reference, _ = _optical(sample)
    inner = (slice(None, 3), slice(8, -8), slice(8, -8))  # the warped edge aside
    error = np.abs(wgs84[inner].astype(int) - reference[inner]).mean()  # 13.3 of 255 (11.8 from the UTM original)
    assert error < 0.5 * np.abs(model[inner].astype(int) - reference[inner]).mean()  # the model alone: 43.6
    assert error < 0.75 * np.abs(wgs84[:3, 8:-8, 12:-4].astype(int) - reference[inner]).mean()  # 4 px off: 23.1
    assert tags[GUIDE_TAG] == "colour guided by ref_4326.tif (date unknown)"


def test_partial_reference_colours_beyond_itself_and_says_how_much_it_covers(samples, default_model, tmp_path):
    """Nodata in the reference is respected: beyond it the colour fitted where it covers, not the model's."""
    sample = samples[0]
    data, profile = _optical(sample)
    truth = data.astype(int)
    data[:, :, 60:] = 0
    profile.update(nodata=0)
    half = tmp_path / "S2_20200815_half.tif"
    with rasterio.open(half, "w", **profile) as dst:
        dst.write(data)
    result = colorize(sample.sar, tmp_path / "guided.tif", default_model, ColorizeOptions(guide=str(half)))
    colorize(sample.sar, tmp_path / "model.tif", default_model)
    (guided, tags), (model, _) = _read(tmp_path / "guided.tif"), _read(tmp_path / "model.tif")
    beyond = (slice(None, 3), slice(None), slice(64, None))
    assert np.abs(guided[beyond] - truth[beyond]).mean() < np.abs(model[beyond] - truth[beyond]).mean()
    assert result.summary.guide == tags[GUIDE_TAG] == "colour guided by S2_20200815_half.tif (2020-08-15)"
    assert any("covers about 50%" in w and "fitted" in w for w in result.summary.warnings), result.summary.warnings
    assert "covers 50% of the scene" in tags["SARCOLOR_GUIDE_DETAIL"]


def test_13_band_sentinel2_stack_is_read_as_b4_b3_b2(samples, default_model, tmp_path):
    """The real undescribed Sentinel-2 bands of the place in L1C's 13-band order (B10, cirrus, is a placeholder)."""
    path = sentinel2_stack(tmp_path / "s2.tif", S2_L2A_ORDER, described=False)
    with rasterio.open(path) as src:
        stack, profile = src.read(), src.profile
    stack = np.insert(stack, 10, stack[9], axis=0)  # B1 .. B9, B10, B11, B12
    profile.update(count=13)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(stack)
    colorize(samples[0].sar, tmp_path / "out.tif", default_model, ColorizeOptions(guide=str(path)))
    colorize(samples[0].sar, tmp_path / "rgb.tif", default_model, ColorizeOptions(guide=str(samples[0].optical)))
    (out, tags), (rgb, _) = _read(tmp_path / "out.tif"), _read(tmp_path / "rgb.tif")
    assert tags["SARCOLOR_GUIDE_DETAIL"].startswith("B4/B3/B2 of 13 read as red/green/blue")
    assert np.abs(out.astype(int) - rgb).mean() < 2  # as guided by the same bands rendered as 8-bit RGB


# --- refusals, cancel, window by window ------------------------------------------------------------------


def test_unusable_references_are_refused_before_any_output(samples, default_model, tmp_path):
    sar, out = samples[0].sar, tmp_path / "out.tif"
    plain, _ = _optical(samples[0])
    unplaced = write_raster(tmp_path / "unplaced.tif", plain)  # same pixels, no georeference
    cases = {
        samples[3].optical: (GuideError, "does not overlap"),
        unplaced: (GuideError, "has no georeference"),
        sar: (GuideError, "needs red, green and blue"),
        write_raster(tmp_path / "five.tif", np.repeat(plain[:1], 5, 0), *_georef(samples[0])): (
            ReferenceBandsUnknown,
            "choose which are",
        ),
    }
    for guide, (error, words) in cases.items():
        with pytest.raises(error, match=words):
            colorize(sar, out, default_model, ColorizeOptions(guide=str(guide)))
    assert list(tmp_path.glob("out*")) == [] and list(tmp_path.glob(".out*")) == []


def _georef(sample: Sample) -> tuple:
    with rasterio.open(sample.optical) as src:
        return src.crs, src.transform


def test_cancel_during_the_fit_writes_nothing(samples, default_model, tmp_path):
    with pytest.raises(JobCancelled):
        colorize(samples[0].sar, tmp_path / "out.tif", default_model, ColorizeOptions(guide=str(samples[0].optical)),
                 cancelled=lambda: True)  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_windows_and_column_chunks_give_the_same_colours(samples, default_model, tmp_path, monkeypatch):
    """A scene composed in 40 px column chunks equals one composed in 1024 px chunks: the halo makes windows exact."""
    scene = mosaic_scene(tmp_path / "mosaic.tif", samples[:1], 200, 160)  # one place, mirrored
    with rasterio.open(samples[0].optical) as src:
        guide = write_raster(tmp_path / "guide.tif", np.tile(src.read(), (1, 3, 3)), src.crs, src.transform)
    options = ColorizeOptions(guide=str(guide))
    colorize(scene, tmp_path / "wide.tif", default_model, options)
    monkeypatch.setattr(core.colour.guided, "COLUMN_CHUNK", 40)
    colorize(scene, tmp_path / "narrow.tif", default_model, options)
    wide, narrow = _read(tmp_path / "wide.tif")[0].astype(int), _read(tmp_path / "narrow.tif")[0].astype(int)
    assert np.abs(wide - narrow).max() <= 1  # float rounding of the MLP on other batch sizes, at most
    assert (wide != narrow).mean() < 1e-3
    monkeypatch.setattr(core.colour.guided, "PAINT_THREADS", 1)  # the same chunks composed on one thread
    colorize(scene, tmp_path / "serial.tif", default_model, options)
    assert core.colour.guided.paint_threads() == 1 and np.array_equal(_read(tmp_path / "serial.tif")[0], narrow)
    parallel, serial = (_read(tmp_path / f"{name}.confidence.tif")[0] for name in ("narrow", "serial"))
    assert np.array_equal(parallel, serial)


def test_dates_and_labels():
    assert iso_date("S2A_MSIL1C_20201104T183541_N0209") == "2020-11-04"
    assert iso_date("2021:06:30 10:11:12") == "2021-06-30"
    assert iso_date("tile_12345678") is None  # not a plausible date
    assert date_from_name("zone_9_b_Jul_patch5.tif") == "July"
    assert date_from_name("before_flood.tif") is None
    assert guide_label("ref.tif", None) == "colour guided by ref.tif (date unknown)"


# --- command line, batch, dashboard ------------------------------------------------------------------------


def test_cli_and_batch_offer_the_guide(samples, tmp_path, capsys):
    sample = samples[0]
    model = tmp_path / "small.pt"
    save_checkpoint(model, untrained_model(GeneratorConfig(ngf=4)).generator)
    one = tmp_path / "one.tif"
    assert cli_main(["colorize", str(sample.sar), str(one), "--model", str(model), "--quiet",
                     "--guide", str(sample.optical)]) == 0  # fmt: skip
    assert "colour guided by " + sample.optical.name in capsys.readouterr().out
    assert _read(one)[1][GUIDE_TAG].startswith("colour guided by")
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    for name in ("a.tif", "b.tif"):
        (scenes / name).write_bytes(sample.sar.read_bytes())
    (scenes / "elsewhere.tif").write_bytes(samples[3].sar.read_bytes())
    out = tmp_path / "out"
    code = cli_main(["colorize", str(scenes), str(out), "--model", str(model), "--quiet", "--workers", "1",
                     "--guide", str(sample.optical)])  # fmt: skip
    assert code == 1  # the scene elsewhere fails, saying why; the others are guided
    summary = {Path(s["source"]).name: s for s in json.loads((out / "sarcolor_summary.json").read_text())["scenes"]}
    label = f"colour guided by {sample.optical.name} (date unknown)"
    assert summary["a.tif"]["guide"] == summary["b.tif"]["guide"] == label
    assert summary["elsewhere.tif"]["status"] == "failed" and "does not overlap" in summary["elsewhere.tif"]["message"]
    assert cli_main(["colorize", str(sample.sar), str(one), "--guide", str(sample.sar)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "red, green and blue" in error and error.count("\n") == 1


def test_dashboard_colours_from_the_reference_when_asked(tmp_path, monkeypatch):
    at = fresh_app(tmp_path, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    at.toggle(key="guided").set_value(True).run()
    at.button(key="run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    infos = [i.value for i in at.info]
    assert any(i.startswith("Colour guided by ") and "(date unknown)" in i for i in infos), infos
    assert any("colour guided by" in t.value.to_string() for t in at.table)  # the scene facts
    assert any("agreement with it" in c.value for c in at.caption)
    from core.service.jobs import JobStore
    from core.service.users import LOCAL

    job = JobStore(tmp_path / "var").list(LOCAL)[0]
    assert job.settings["guide"] == job.reference_name and job.settings["guide_name"] is None
