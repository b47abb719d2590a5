"""Overviews built while the result streams in, so that the COG step only has to compress.

Each level averages 2 x 2 pixels of the level above, leaving out transparent ones (they do not
darken their neighbours), and writes its rows to its own uncompressed GTiff as soon as they
are whole. A VRT then presents the levels as the scratch's overviews, and the COG driver copies
them instead of computing them after the last row (GDAL's alpha-aware averaging took 1.3 s of
a 100 Mpx run's tail, bench/RESULTS.md).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.enums import ColorInterp, Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

OPAQUE = 255
RGBA = (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)


def overview_factors(width: int, height: int, block: int) -> list[int]:
    """The COG driver's OVERVIEWS=AUTO levels: halve until the image fits in one block."""
    factors, size = [], max(width, height)
    while size > block:
        factors.append(2 ** (len(factors) + 1))
        size = -(-size // 2)
    return factors


def streamed_factors(width: int, height: int, block: int) -> list[int]:
    """The leading overview levels that halve the level above exactly (even sizes): these are streamed.

    Below an odd size GDAL averages fractional windows (a 777 px side becomes 389 px), so
    coarser levels are left to GDAL, built from the last streamed level.
    """
    factors = []
    for factor in overview_factors(width, height, block):
        if (width * 2 // factor) % 2 or (height * 2 // factor) % 2:
            break
        factors.append(factor)
    return factors


def halve(rgba: np.ndarray) -> np.ndarray:
    """4 x 2h x 2w uint8 RGBA -> 4 x h x w, as GDAL's AVERAGE with an alpha band.

    Colour: the rounded mean of the opaque pixels of each 2 x 2 block; alpha: opaque where any is.
    """
    if rgba[3].min() == OPAQUE:  # the usual case: a plain mean, 3x cheaper
        wide = rgba.astype(np.uint16)
        total = wide[:, 0::2, 0::2] + wide[:, 1::2, 0::2]
        total += wide[:, 0::2, 1::2]
        total += wide[:, 1::2, 1::2]
        return ((total + 2) >> 2).astype(np.uint8)
    return _halve_weighted(rgba)


def _sum_2x2(values: np.ndarray) -> np.ndarray:
    return values[0::2, 0::2] + values[1::2, 0::2] + values[0::2, 1::2] + values[1::2, 1::2]


def _halve_weighted(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[3].astype(np.uint32)
    weight = _sum_2x2(alpha)
    out = np.empty((4, *weight.shape), np.uint8)
    for band in range(3):
        total = _sum_2x2(rgba[band] * alpha)
        out[band] = np.where(weight > 0, (total + weight // 2) // np.maximum(weight, 1), 0)
    out[3] = np.where(weight > 0, OPAQUE, 0)  # GDAL's rule: opaque where any of the four is
    return out


class OverviewLevel:
    """One level: halves the rows of the level above, in order, and writes them to its own GTiff."""

    def __init__(self, path: Path, profile: dict, below: OverviewLevel | None) -> None:
        self.path = path
        self.dataset = rasterio.open(path, "w", **profile)
        self.dataset.colorinterp = RGBA  # GDAL then averages coarser levels built from this one alpha-aware
        self.below = below  # the next, coarser level
        self._row = 0
        self._carry: np.ndarray | None = None  # an odd row waiting for its pair

    def add(self, rgba: np.ndarray) -> None:
        """Rows of the level above (4 x h x W uint8), continuing the previous call's."""
        if self._carry is not None:
            rgba = np.concatenate([self._carry, rgba], axis=1)
        even = rgba.shape[1] // 2 * 2
        self._carry = rgba[:, even:].copy() if even < rgba.shape[1] else None
        if even:
            self._write(halve(rgba[:, :even]))

    def finish(self) -> None:
        """Write the last odd row, finish the coarser levels, close the file."""
        if self._carry is not None:
            self._write(halve(self._carry))
            self._carry = None
        if self.below:
            self.below.finish()
        self.dataset.close()

    def _write(self, rows: np.ndarray) -> None:
        self.dataset.write(rows, window=Window(0, self._row, rows.shape[2], rows.shape[1]))
        self._row += rows.shape[1]
        if self.below:
            self.below.add(rows)


class Pyramid:
    """The overviews of one result: streamed levels, then GDAL's for any level below an odd size."""

    def __init__(self, scratch: Path, profile: dict, block: int, temporary: Callable[[str], Path]) -> None:
        width, height = profile["width"], profile["height"]
        streamed = streamed_factors(width, height, block)
        self.scratch = scratch
        self.levels = [temporary(f".ovr{factor}.tif") for factor in streamed]
        self.vrt = temporary(".vrt")
        self.left_to_gdal = len(overview_factors(width, height, block)) - len(streamed)
        self.profile = profile
        self._chain: OverviewLevel | None = None

    def start(self) -> None:
        """Create the level files."""
        self._chain = _chain(self.levels, self.profile)

    @property
    def files(self) -> list[Path]:
        """Every temporary file this pyramid may write."""
        return [*self.levels, self.vrt]

    def add(self, rgba: np.ndarray) -> None:
        """The next full-resolution rows (4 x h x W uint8), top to bottom."""
        if self._chain:
            self._chain.add(rgba)

    def finish(self) -> Path:
        """Complete every level; returns what the COG driver copies (the scratch, or a VRT of it with the levels)."""
        if self._chain:
            self._chain.finish()
        base = self.levels[-1] if self.levels else self.scratch
        if self.left_to_gdal:
            with rasterio.open(base, "r+") as dataset:
                dataset.build_overviews([2**i for i in range(1, self.left_to_gdal + 1)], Resampling.average)
        if not self.levels:
            return self.scratch
        from_gdal = [f"GTIFF_DIR:{index + 2}:{base}" for index in range(self.left_to_gdal)]  # base's own overviews
        return vrt_with_overviews(self.scratch, self.vrt, [*map(str, self.levels), *from_gdal])

    def close(self) -> None:
        """Close the level files (after an error)."""
        level = self._chain
        while level:
            level.dataset.close()
            level = level.below


def _chain(paths: list[Path], profile: dict) -> OverviewLevel | None:
    """Levels 2x, 4x, ... writing to `paths` (finest first), linked finest to coarsest; None if no levels."""
    chain = None
    for index in reversed(range(len(paths))):
        factor = 2 ** (index + 1)
        size = {"width": profile["width"] // factor, "height": profile["height"] // factor}
        level_profile = profile | size
        if "transform" in profile:
            level_profile["transform"] = profile["transform"] @ Affine.scale(factor)
        chain = OverviewLevel(paths[index], level_profile, chain)
    return chain


def vrt_with_overviews(source: Path, vrt: Path, levels: list[str]) -> Path:
    """A VRT of `source` (its bands, georeference and metadata) that lists `levels` as its overviews."""
    rasterio.shutil.copy(source, vrt, driver="VRT")
    tree = ET.parse(vrt)
    for band in tree.getroot().iter("VRTRasterBand"):
        for level in levels:
            overview = ET.SubElement(band, "Overview")
            ET.SubElement(overview, "SourceFilename", relativeToVRT="0").text = level
            ET.SubElement(overview, "SourceBand").text = band.get("band")
    tree.write(vrt)
    return vrt
