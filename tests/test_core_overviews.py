"""Overviews streamed with the result equal GDAL's own AVERAGE overviews, transparent holes included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from scenes import mosaic_scene

from core.colorize import ColorizeOptions, colorize
from core.rasters.cog import BLOCK
from core.rasters.overviews import RGBA, overview_factors, streamed_factors


def _holed_mosaic(samples, folder: Path, width: int, height: int) -> Path:
    """A real-SAR mosaic with a NaN hole and a NaN left border (transparent in the result)."""
    source = mosaic_scene(folder / "mosaic.tif", samples, width, height)
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    data[150:263, 700:913] = np.nan
    data[:, :37] = np.nan
    holed = folder / "holed.tif"
    with rasterio.open(holed, "w", **profile) as dst:
        dst.write(data, 1)
    return holed


def _gdal_levels(rgba: np.ndarray, profile: dict, factors: list[int], path: Path) -> list[np.ndarray]:
    """GDAL's AVERAGE overviews of `rgba`, built the classic way (alpha-aware, after the fact)."""
    with rasterio.open(path, "w", **profile) as dst:
        dst.colorinterp = RGBA
        dst.write(rgba)
        dst.build_overviews(factors, rasterio.enums.Resampling.average)
    return [rasterio.open(path, overview_level=i).read() for i in range(len(factors))]


@pytest.mark.parametrize("width, height", [(2100, 600), (1300, 1040)])
def test_streamed_overviews_equal_gdals_average(samples, pixel_model, tmp_path: Path, width: int, height: int) -> None:
    """2100 x 600: levels 2 and 4 are streamed, level 8 (below the odd 525 px) is GDAL's; 1300 x 1040: all streamed."""
    out = tmp_path / "out.tif"
    colorize(_holed_mosaic(samples, tmp_path, width, height), out, pixel_model, ColorizeOptions(precision="fp32"))
    factors = overview_factors(width, height, BLOCK)
    with rasterio.open(out) as cog:
        assert cog.overviews(1) == factors
        rgba, profile = cog.read(), {**cog.profile, "driver": "GTiff", "compress": "NONE"}
    assert (rgba[3] == 0).any() and (rgba[3] == 255).any()  # the weighted (transparent) path is exercised
    expected = _gdal_levels(rgba, profile, factors, tmp_path / "gdal.tif")
    for index, level in enumerate(expected):
        streamed = rasterio.open(out, overview_level=index).read()
        assert np.array_equal(streamed, level), (
            f"level {factors[index]}: max diff {np.abs(streamed.astype(int) - level).max()}"
        )
    assert len(streamed_factors(width, height, BLOCK)) == 2
