"""Input kinds: GCP-only, NaN borders, uint16 DN, VV+VH; encoding detection; normalisation invariance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import assert_matches_reference, assert_valid_cog, read_rgba, reference_rgb
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from scenes import db_to_amplitude_dn, db_to_u8, mosaic_db, read_sample_db, write_raster

from core.colorize import ColorizeOptions, colorize
from core.errors import InvalidSettingsError
from core.rasters.normalise import ANCHOR_MEDIAN_DB, Encoding, InputSpace, fit_stretch, sar_to_model_input, to_db
from core.rasters.scene import open_scene, opened_scene, polarisation_from_name

FP32 = ColorizeOptions(precision="fp32")


def test_gcp_only_input_is_warped_and_placed(gcp_scene, samples, pixel_model, tmp_path: Path) -> None:
    """Raw-GRD-like uint16 DN with GCPs only: output in the GCPs' CRS, on the true footprint, masked outside."""
    with rasterio.open(gcp_scene) as src:
        assert src.crs is None and src.gcps[0]
    out = tmp_path / "gcp.tif"
    result = colorize(gcp_scene, out, pixel_model, FP32)
    assert result.summary.warped_from_gcps and result.summary.encoding == "amplitude" and result.summary.warnings == ()
    profile = assert_valid_cog(out)
    assert profile["crs"] == CRS.from_epsg(4326)
    _, utm, transform = read_sample_db(samples[0])
    expected = transform_bounds(utm, "EPSG:4326", transform.c, transform.f - 2400, transform.c + 2400, transform.f)
    with rasterio.open(out) as dst:
        pixel = max(abs(dst.transform.a), abs(dst.transform.e))
        np.testing.assert_allclose(dst.bounds, expected, atol=3 * pixel)
    rgba = read_rgba(out)
    alpha = rgba[3]
    assert alpha[rgba.shape[1] // 2, rgba.shape[2] // 2] == 255
    assert (alpha == 0).any(), "a UTM square warped to lon/lat must leave masked corners"
    assert 0.8 < (alpha == 255).mean() < 1.0
    assert_matches_reference(rgba, *reference_rgb(gcp_scene, pixel_model))


def test_nan_borders_are_masked(nan_scene, pixel_model, tmp_path: Path) -> None:
    out = tmp_path / "nan.tif"
    colorize(nan_scene, out, pixel_model, ColorizeOptions(tile=64, overlap=16, precision="fp32"))
    with rasterio.open(nan_scene) as src:
        finite = np.isfinite(src.read(1))
        assert assert_valid_cog(out)["crs"] == src.crs
    rgba = read_rgba(out)
    np.testing.assert_array_equal(rgba[3] == 255, finite)
    assert not rgba[:3, ~finite].any()
    assert_matches_reference(rgba, *reference_rgb(nan_scene, pixel_model))


def test_uint16_dn_with_zero_nodata(dn_scene, pixel_model, tmp_path: Path) -> None:
    out = tmp_path / "dn.tif"
    result = colorize(dn_scene, out, pixel_model, FP32)
    assert result.summary.encoding == "amplitude" and result.summary.encoding_detected
    with rasterio.open(dn_scene) as src:
        valid = src.read(1) > 0
        profile = assert_valid_cog(out)
        assert (profile["crs"], profile["transform"]) == (src.crs, src.transform)
    rgba = read_rgba(out)
    np.testing.assert_array_equal(rgba[3] == 255, valid)
    assert_matches_reference(rgba, *reference_rgb(dn_scene, pixel_model))


@pytest.mark.parametrize("band", ["VV", "VH"])
def test_vv_vh_input_picks_band(samples, pixel_model, tmp_path: Path, band: str) -> None:
    out = tmp_path / f"{band}.tif"
    result = colorize(samples[1].sar, out, pixel_model, ColorizeOptions(band=band, precision="fp32"))
    assert result.summary.band == band
    assert_matches_reference(read_rgba(out), *reference_rgb(samples[1].sar, pixel_model, band=band))
    with rasterio.open(samples[1].sar) as src:
        assert assert_valid_cog(out)["transform"] == src.transform


def test_undescribed_two_band_file_is_vv_then_vh(samples, tmp_path: Path) -> None:
    data, crs, transform = read_sample_db(samples[2])
    path = write_raster(tmp_path / "gee.tif", data, crs, transform)
    vh = open_scene(path, band="VH")
    try:
        assert (vh.band, vh.band_name) == (2, "VH")
    finally:
        vh.close()


# --- encoding detection ------------------------------------------------------------------


def _write(path: Path, samples, values: np.ndarray, tags: dict | None = None) -> Path:
    _, crs, transform = read_sample_db(samples[0])
    return write_raster(path, values, crs, transform, tags=tags)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("db_tagged", Encoding.DB),
        ("db_untagged", Encoding.DB),
        ("linear", Encoding.LINEAR),
        ("float_amplitude", Encoding.AMPLITUDE),
        ("uint16_dn", Encoding.AMPLITUDE),
        ("u8", Encoding.DB_U8),
        ("u8_declared_linear", Encoding.LINEAR_U8),
        ("u8_units_db", Encoding.DB_U8),
    ],
)
def test_encoding_detection(samples, tmp_path: Path, kind: str, expected: Encoding) -> None:
    db = mosaic_db(samples, 240, 240)
    values = {
        "db_tagged": db,
        "db_untagged": db,
        "linear": (10.0 ** (db / 10.0)).astype(np.float32),
        "float_amplitude": db_to_amplitude_dn(db).astype(np.float32),
        "uint16_dn": db_to_amplitude_dn(db),
        "u8": db_to_u8(db),
        "u8_declared_linear": db_to_u8(db),
        "u8_units_db": db_to_u8(db),
    }[kind]
    tags = {
        "db_tagged": {"units": "dB"},
        "u8_declared_linear": {"ENCODING": "linear_u8"},
        "u8_units_db": {"units": "dB"},
    }.get(kind)
    scene = open_scene(_write(tmp_path / f"{kind}.tif", samples, values, tags))
    try:
        assert scene.encoding == expected and scene.encoding_detected
    finally:
        scene.close()


def test_encoding_override_wins(samples, tmp_path: Path) -> None:
    """A u8 file detected as db_u8 can be declared linear_u8 (volkov); the stretch follows."""
    u8 = db_to_u8(mosaic_db(samples, 240, 240))
    path = _write(tmp_path / "u8.tif", samples, u8)
    auto, forced = open_scene(path), open_scene(path, encoding="linear_u8")
    try:
        assert (auto.encoding, auto.encoding_detected) == (Encoding.DB_U8, True)
        assert (forced.encoding, forced.encoding_detected) == (Encoding.LINEAR_U8, False)
        assert forced.stretch != auto.stretch
    finally:
        auto.close()
        forced.close()


def test_linear_tag_overrides_value_range(samples, tmp_path: Path) -> None:
    linear = (10.0 ** (mosaic_db(samples, 240, 240) / 10.0)).astype(np.float32) * 1000  # p50 > 1: looks like DN
    scene = open_scene(_write(tmp_path / "lin.tif", samples, linear, {"units": "linear power"}))
    try:
        assert scene.encoding == Encoding.LINEAR
    finally:
        scene.close()


# --- normalisation invariance ----------------------------------------------------------


def test_model_input_invariant_to_encoding(samples) -> None:
    """The same real backscatter stored as dB, linear, amplitude DN or db_u8 gives nearly the same model input."""
    db = mosaic_db(samples, 360, 360)[0]
    reference = sar_to_model_input(db, Encoding.DB)
    assert reference.min() == -1.0 and reference.max() == 1.0
    linear = sar_to_model_input((10.0 ** (db / 10.0)).astype(np.float32), Encoding.LINEAR)
    assert np.abs(linear - reference).max() < 1e-3  # float round trip
    quantised = {Encoding.AMPLITUDE: db_to_amplitude_dn(db), Encoding.DB_U8: db_to_u8(db)}
    for encoding, values in quantised.items():  # integer storage: quantisation error only
        diff = np.abs(sar_to_model_input(values, encoding) - reference)
        assert diff.mean() < 0.01 and diff.max() < 0.03, encoding


def test_stretch_ignores_calibration_offset(samples) -> None:
    """An affine dB offset (calibration) is absorbed by the per-scene stretch."""
    db = mosaic_db(samples, 240, 240)[0]
    np.testing.assert_allclose(
        sar_to_model_input(db + 3.0, Encoding.DB), sar_to_model_input(db, Encoding.DB), atol=1e-5
    )


def test_nonpositive_linear_is_nan_not_inf() -> None:
    db = to_db(np.array([0.0, -1.0, 1.0, 10.0], np.float32), Encoding.LINEAR)
    assert np.isnan(db[:2]).all() and db[2] == 0.0 and db[3] == pytest.approx(10.0)
    with pytest.raises(ValueError):
        fit_stretch(np.full(5, np.nan, np.float32))


def test_fixed_space_keeps_the_calibrated_level_of_every_float_encoding(samples) -> None:
    """Float dB and linear power of the same scene give the same fixed input; +3 dB of calibration shows."""
    db = mosaic_db(samples, 240, 240)[0]
    fixed = sar_to_model_input(db, Encoding.DB, InputSpace.FIXED)
    linear = sar_to_model_input((10.0 ** (db / 10.0)).astype(np.float32), Encoding.LINEAR, InputSpace.FIXED)
    assert np.abs(linear - fixed).max() < 1e-3
    brighter = sar_to_model_input(db + 3.0, Encoding.DB, InputSpace.FIXED)
    assert float((brighter - fixed).mean()) == pytest.approx(3.0 * 2 / 35, abs=1e-3)
    dn = sar_to_model_input(db_to_amplitude_dn(db), Encoding.AMPLITUDE, InputSpace.FIXED)  # uncalibrated: anchored
    assert float(np.median(dn)) == pytest.approx((ANCHOR_MEDIAN_DB + 30) / 35 * 2 - 1, abs=0.02)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("s1_vh.tif", "VH"), ("S1A_IW_GRDH_1SDV_20230101_VV-dB.tif", "VV"), ("scene.tif", None), ("vv_vh.tif", None)],
)
def test_polarisation_from_file_name(name: str, expected: str | None) -> None:
    assert polarisation_from_name(name) == expected


def test_polarisation_from_name_and_override(samples, tmp_path: Path) -> None:
    data, crs, transform = read_sample_db(samples[0])
    path = write_raster(tmp_path / "patch_vh.tif", data[1:2], crs, transform)
    with opened_scene(path) as scene:
        assert scene.band_name == "VH"
    with opened_scene(path, polarisation="VV") as scene:
        assert scene.band_name == "VV"
    with pytest.raises(InvalidSettingsError, match="polarisation"):
        open_scene(path, polarisation="XY")
