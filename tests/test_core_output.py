"""The output COG: georeference, size, bands, COG layout, pixel values; volkov; no-georeference inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import assert_matches_reference, assert_valid_cog, read_rgba, reference_rgb
from rasterio.crs import CRS

from core.colorize import ColorizeOptions, colorize

FP32 = ColorizeOptions(precision="fp32")


def test_sample_cog_keeps_georeference(samples, default_unet, tmp_path: Path) -> None:
    """Real BigEarthNet VV+VH dB through the default-size U-Net: same CRS, transform, size; valid COG."""
    out = tmp_path / "sample.tif"
    result = colorize(samples[0].sar, out, default_unet)
    profile = assert_valid_cog(out)
    with rasterio.open(samples[0].sar) as src:
        assert profile["crs"] == src.crs
        assert profile["transform"] == src.transform
        assert (profile["width"], profile["height"]) == (src.width, src.height)
    rgba = read_rgba(out)
    assert (rgba[3] == 255).all()  # no nodata in the sample
    assert rgba[:3].std() > 0  # a real picture, not a constant
    assert result.band == "VV" and result.encoding == "db" and result.encoding_detected
    assert result.warnings == [] and not result.warped_from_gcps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.tif"]  # no temporary left


@pytest.mark.parametrize("index", range(6))
def test_every_sample_matches_untiled_reference(samples, pixel_model, tmp_path: Path, index: int) -> None:
    """Each real sample, stand-in model: pixels equal the model applied to the whole normalised scene."""
    out = tmp_path / "out.tif"
    colorize(samples[index].sar, out, pixel_model, FP32)
    assert_matches_reference(read_rgba(out), *reference_rgb(samples[index].sar, pixel_model))


def test_odd_size_scene_is_cog_with_overviews(odd_scene, pixel_model, tmp_path: Path) -> None:
    out = tmp_path / "odd.tif"
    colorize(odd_scene, out, pixel_model, ColorizeOptions(tile=128, overlap=32, precision="fp32"))
    profile = assert_valid_cog(out)
    with rasterio.open(odd_scene) as src:
        assert (profile["crs"], profile["transform"]) == (src.crs, src.transform)
        assert (profile["width"], profile["height"]) == (1000, 777)
    assert_matches_reference(read_rgba(out), *reference_rgb(odd_scene, pixel_model))


@pytest.mark.shared_data
def test_volkov_scene_epsg3395(volkov_tif, pixel_model, tmp_path: Path) -> None:
    """A real 1024^2 linear_u8 VH fragment placed by its metadata.json corners."""
    out = tmp_path / "volkov.tif"
    result = colorize(volkov_tif, out, pixel_model, ColorizeOptions(band="VH", encoding="linear_u8", precision="fp32"))
    profile = assert_valid_cog(out)
    assert profile["crs"] == CRS.from_epsg(3395)
    with rasterio.open(volkov_tif) as src:
        assert profile["transform"] == src.transform
        assert abs(src.transform.a - 10.0) < 0.01  # 10 m pixels, as documented
    assert (profile["width"], profile["height"]) == (1024, 1024)
    assert result.band == "VH" and result.encoding == "linear_u8" and not result.encoding_detected
    rgba = read_rgba(out)
    assert_matches_reference(rgba, *reference_rgb(volkov_tif, pixel_model, band="VH", encoding="linear_u8"))


@pytest.mark.parametrize("fixture", ["png_path", "plain_tiff"])
def test_no_georeference_is_colorized_with_warning(request, fixture: str, pixel_model, tmp_path: Path) -> None:
    """A plain PNG upload and a GeoTIFF without georeference: colorized, no CRS, warning in the result."""
    source = request.getfixturevalue(fixture)
    out = tmp_path / "out.tif"
    result = colorize(source, out, pixel_model, FP32)
    assert len(result.warnings) == 1 and "no georeference" in result.warnings[0]
    assert_valid_cog(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(out) as dst:
            assert dst.crs is None
            assert not dst.gcps[0]
    rgba = read_rgba(out)
    assert rgba.shape == (4, 200, 200)
    assert_matches_reference(rgba, *reference_rgb(source, pixel_model))
    assert np.unique(rgba[0]).size > 10
