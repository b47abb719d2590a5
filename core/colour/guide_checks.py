"""Is this file an optical image that can guide colour? Refusals that name the problem, before any work.

A guide must be a raster with red, green and blue. SAR given by mistake is recognised by its values:
negative floats are backscatter in dB; positive floats with SAR's speckle (the local coefficient of
variation of linear intensity is about 0.3 and more on real Sentinel-1, measured on sebastianelli,
OPERA RTC and BigEarthNet chips; 0.02-0.25 on their optical pairs) and a long bright tail are linear
power; three identical bands hold one grey image and no colour.
"""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window
from scipy.ndimage import uniform_filter

from core.errors import UnsupportedRasterError

SAMPLE_SIDE = 512  # px a side of the decimated read the value checks look at
SPECKLE_SIDE = 256  # px a side of the full-resolution window the speckle check looks at
NEGATIVE_SHARE = 0.01  # more negative values than this: dB
SPECKLE_CV = 0.27  # median 3 x 3 coefficient of variation at or above this: speckle
BRIGHT_TAIL = 4.0  # 99th / 50th percentile at or above this, with speckle: linear SAR intensity
GREY_SHARE = 0.99  # pixels whose three bands are equal: one grey image


class GuideError(UnsupportedRasterError):
    """The optical reference cannot guide this scene (not optical colour, no overlap, no georeference)."""


def _sample(src: rasterio.io.DatasetReader, bands: tuple[int, int, int]) -> np.ndarray:
    """3 x N finite values of the bands, read at most `SAMPLE_SIDE` px a side."""
    scale = max(1.0, max(src.width, src.height) / SAMPLE_SIDE)
    shape = (3, max(1, round(src.height / scale)), max(1, round(src.width / scale)))
    values = src.read(list(bands), out_shape=shape, resampling=Resampling.nearest, masked=True)
    flat = values.reshape(3, -1).astype(np.float64)
    keep = ~np.ma.getmaskarray(flat).any(axis=0)
    data = np.ma.getdata(flat)[:, keep]
    return data[:, np.isfinite(data).all(axis=0)]


def _speckle(src: rasterio.io.DatasetReader, band: int) -> float:
    """Median 3 x 3 coefficient of variation of a full-resolution window at the raster's centre."""
    width, height = min(SPECKLE_SIDE, src.width), min(SPECKLE_SIDE, src.height)
    values = src.read(band, window=Window((src.width - width) // 2, (src.height - height) // 2, width, height))
    values = np.nan_to_num(values.astype(np.float64))
    mean = uniform_filter(values, 3)
    spread = np.sqrt(np.clip(uniform_filter(values * values, 3) - mean * mean, 0.0, None))
    return float(np.median(spread / np.maximum(np.abs(mean), 1e-12)))


def check_optical(src: rasterio.io.DatasetReader, bands: tuple[int, int, int], name: str) -> None:
    """`GuideError` naming the problem when the bands read as red, green, blue are not optical colour."""
    values = _sample(src, bands)
    if values.size == 0:
        raise GuideError(f"{name} has no valid pixels in its red, green and blue bands.")
    hint = "Give the optical image (red, green and blue) of the place as the guide."
    if np.dtype(src.dtypes[0]).kind == "f":
        negative = float((values < 0).mean())
        if negative > NEGATIVE_SHARE:
            raise GuideError(
                f"{name} looks like SAR backscatter in dB, not optical colour: {negative:.0%} of its values are "
                f"negative (median {np.median(values):.1f}). {hint}"
            )
        low, high = np.percentile(values, [50, 99])
        speckle = _speckle(src, bands[0])
        if speckle >= SPECKLE_CV and high >= BRIGHT_TAIL * max(low, 1e-12):
            raise GuideError(
                f"{name} looks like SAR intensity (linear power), not optical colour: it has radar speckle "
                f"(local variation {speckle:.2f}) and a long bright tail (99th percentile {high / max(low, 1e-12):.0f}"
                f" x the median). {hint}"
            )
    if (values[0] == values[1]).mean() >= GREY_SHARE and (values[1] == values[2]).mean() >= GREY_SHARE:
        raise GuideError(
            f"{name} holds one grey image in its three bands (a SAR image or a greyscale picture?): it has no "
            f"colour to guide with. {hint}"
        )
