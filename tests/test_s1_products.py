"""Sentinel-1 products as analysts receive them (issue 29): GRD .SAFE zips calibrated to sigma0 with thermal noise
removed, OPERA RTC pairs, and the refusals. Real XML and RTC crops from ../shared/data/s1-products."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.products import prepare_input
from core.rasters.s1.annotation import LineVectors, ThermalNoise, sigma_nought, thermal_noise
from core.rasters.s1.calibrate import SIGMA0_FLOOR, Polarisation, sigma0
from core.rasters.s1.rtc import recognise
from core.rasters.s1.safe import locate, manifest_files
from tests.checks import run_cli
from tests.s1_products import GRD_ZIPS, OPERA, whole_product

pytestmark = pytest.mark.skipif(not GRD_ZIPS["2021"].is_file(), reason="team data (../shared/data/s1-products) absent")
OPERA_DATE = OPERA / "2021-11-19"
OPERA_VV = OPERA_DATE / "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z_20250830T120333Z_S1A_30_v1.0_VV.tif"


def _xml(which: str, kind: str, pol: str = "VV") -> ElementTree.Element:
    files = locate(GRD_ZIPS[which])
    return files.xml(manifest_files(files)[kind][pol])


def _numbers(element: ElementTree.Element, tag: str) -> np.ndarray:
    return np.array(element.findtext(tag).split(), float)


def _no_noise() -> ThermalNoise:
    return ThermalNoise(LineVectors(np.array([0]), (np.array([0.0, 1.0]),), (np.zeros(2),)), ())


@pytest.mark.parametrize("which", ["2015", "2021"])
def test_sigma0_at_the_lut_nodes_is_dn_squared_over_a_squared(which: str) -> None:
    root = _xml(which, "calibration")
    pol = Polarisation("VV", "", sigma_nought(root), _no_noise())
    for vector in list(root.iter("calibrationVector"))[::7]:
        line, pixels, gains = int(vector.findtext("line")), _numbers(vector, "pixel"), _numbers(vector, "sigmaNought")
        dn = np.full((1, len(pixels)), 150, np.uint16)
        got = sigma0(dn, np.array([float(line)]), pixels, pol)[0]
        np.testing.assert_allclose(got, np.maximum(150.0**2 / gains**2, SIGMA0_FLOOR), rtol=1e-5)


def test_sigma0_between_lut_lines_is_interpolated_linearly() -> None:
    calibration = sigma_nought(_xml("2021", "calibration"))
    line = (calibration.lines[3] + calibration.lines[4]) / 2
    pixel = calibration.pixels[3][10]
    expected = (calibration.values[3][10] + calibration.values[4][10]) / 2
    np.testing.assert_allclose(calibration.at(np.array([line]), np.array([pixel]))[0, 0], expected, rtol=1e-6)


def test_thermal_noise_is_range_times_azimuth_in_each_swath_block() -> None:
    root = _xml("2021", "noise")
    noise = thermal_noise(root)
    assert noise.generation == "noiseRange + noiseAzimuth" and len(noise.azimuth_blocks) == 3
    vector = list(root.iter("noiseRangeVector"))[5]
    line, pixels, lut = int(vector.findtext("line")), _numbers(vector, "pixel"), _numbers(vector, "noiseRangeLut")
    got = noise.at(np.array([float(line)]), pixels)[0]
    for block in root.iter("noiseAzimuthVector"):
        first, last = int(block.findtext("firstRangeSample")), int(block.findtext("lastRangeSample"))
        factor = np.interp(line, _numbers(block, "line"), _numbers(block, "noiseAzimuthLut"))
        inside = (pixels >= first) & (pixels <= last)
        assert inside.any()
        np.testing.assert_allclose(got[inside], lut[inside] * factor, rtol=1e-5)
    assert noise.azimuth_blocks[0].values[0] != noise.azimuth_blocks[1].values[0]  # blocks really differ


def test_old_noise_vectors_are_read_and_removed() -> None:
    root = _xml("2015", "noise")
    assert thermal_noise(root).generation == "noiseVectorList"
    for lut in root.iter("noiseLut"):  # the 2015 product annotates zero noise: give it a known ramp instead
        lut.text = " ".join(str(100.0 + i) for i in range(int(lut.get("count"))))
    noise = thermal_noise(root)
    vector = list(root.iter("noiseVector"))[2]
    line, pixels = float(vector.findtext("line")), _numbers(vector, "pixel")
    np.testing.assert_allclose(noise.at(np.array([line]), pixels)[0], 100.0 + np.arange(len(pixels)), rtol=1e-6)
    calibration = sigma_nought(_xml("2015", "calibration"))
    pol = Polarisation("VV", "", calibration, noise)
    dn = np.full((1, len(pixels)), 300, np.uint16)
    expected = (300.0**2 - noise.at(np.array([line]), pixels)) / calibration.at(np.array([line]), pixels) ** 2
    np.testing.assert_allclose(sigma0(dn, np.array([line]), pixels, pol), expected, rtol=1e-5)


def test_noise_above_the_signal_is_floored_and_dn_zero_is_nodata() -> None:
    noise = thermal_noise(_xml("2021", "noise"))
    pol = Polarisation("VH", "", sigma_nought(_xml("2021", "calibration", "VH")), noise)
    dn = np.array([[0, 1, 400]], np.uint16)
    got = sigma0(dn, np.array([1000.0]), np.array([5000.0, 5001.0, 5002.0]), pol)[0]
    assert np.isnan(got[0]) and got[1] == pytest.approx(SIGMA0_FLOOR) and got[2] > SIGMA0_FLOOR


def test_calibration_agrees_with_xarray_sentinel(tmp_path: Path) -> None:
    """The field's reference implementation of sigma0 = DN^2 / A^2 on the LUT grid (no noise removal there)."""
    pytest.importorskip("xarray_sentinel", reason="xarray-sentinel is not installed (an optional test oracle)")
    from xarray_sentinel import sentinel1
    import xarray as xr

    files = locate(GRD_ZIPS["2021"])
    relative = manifest_files(files)["calibration"]["VV"]
    path = tmp_path / "calibration.xml"
    path.write_bytes(files.read_bytes(relative))
    lut = sentinel1.open_calibration_dataset(path)["sigmaNought"]
    lines, pixels = np.array([0.0, 337.0, 5000.0, 16000.0]), np.array([0.0, 20.0, 8742.0, 20000.0])
    dn = xr.DataArray(np.full((4, 4), 200.0), coords={"line": lines, "pixel": pixels}, dims=("line", "pixel"))
    expected = sentinel1.calibrate_intensity(dn, lut, min_db=None).values
    pol = Polarisation("VV", "", sigma_nought(files.xml(relative)), _no_noise())
    np.testing.assert_allclose(sigma0(np.full((4, 4), 200, np.uint16), lines, pixels, pol), expected, rtol=1e-5)
