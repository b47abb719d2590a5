"""A GRD product's XML as arrays: raster size and geolocation grid, sigma0 calibration LUT, thermal noise.

Both noise generations are read: `noiseVectorList` (IPF before 2.9: range noise only) and
`noiseRangeVectorList` + `noiseAzimuthVectorList` (IPF 2.9 on: range noise times an azimuth profile,
one azimuth block per swath rectangle of lines and pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree

import numpy as np
from rasterio.control import GroundControlPoint


def _numbers(element: ElementTree.Element, path: str) -> np.ndarray:
    return np.array(element.findtext(path, "").split(), dtype=np.float64)


def _int(element: ElementTree.Element, path: str) -> int:
    return int(element.findtext(path, "0"))


@dataclass(frozen=True)
class LineVectors:
    """Values annotated along range at a set of lines: each vector has its own pixels (line/pixel grid)."""

    lines: np.ndarray  # (n,) ascending
    pixels: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Bilinear interpolation on the grid (linear along each vector's pixels, then between lines), float32
        (len(rows) x len(cols)); held constant beyond the first and last line and pixel."""
        if len(self.lines) == 1:
            lower = upper = np.zeros(len(rows), np.int64)
        else:
            upper = np.clip(np.searchsorted(self.lines, rows, side="right"), 1, len(self.lines) - 1)
            lower = upper - 1
        span = np.maximum(self.lines[upper] - self.lines[lower], 1)
        weight = np.clip((rows - self.lines[lower]) / span, 0.0, 1.0).astype(np.float32)[:, None]
        needed = np.unique(np.concatenate([lower, upper]))
        along = {int(i): np.interp(cols, self.pixels[i], self.values[i]).astype(np.float32) for i in needed}
        low = np.stack([along[int(i)] for i in lower])
        high = np.stack([along[int(i)] for i in upper])
        return low + weight * (high - low)


def line_vectors(root: ElementTree.Element, vector: str, value: str) -> LineVectors:
    """The `vector` elements of an XML tree as `LineVectors` of their `value` lists."""
    found = sorted(root.iter(vector), key=lambda v: _int(v, "line"))
    return LineVectors(
        np.array([_int(v, "line") for v in found], dtype=np.int64),
        tuple(_numbers(v, "pixel") for v in found),
        tuple(_numbers(v, value) for v in found),
    )


@dataclass(frozen=True)
class AzimuthBlock:
    """One swath's azimuth noise profile over its rectangle of lines and pixels (inclusive)."""

    swath: str
    first_line: int
    last_line: int
    first_pixel: int
    last_pixel: int
    lines: np.ndarray
    values: np.ndarray


def _azimuth_block(element: ElementTree.Element) -> AzimuthBlock:
    return AzimuthBlock(
        element.findtext("swath", ""),
        _int(element, "firstAzimuthLine"),
        _int(element, "lastAzimuthLine"),
        _int(element, "firstRangeSample"),
        _int(element, "lastRangeSample"),
        _numbers(element, "line"),
        _numbers(element, "noiseAzimuthLut"),
    )


@dataclass(frozen=True)
class ThermalNoise:
    """Noise power in DN^2: range vectors, times each azimuth block's profile inside its rectangle (none before
    IPF 2.9)."""

    range_vectors: LineVectors
    azimuth_blocks: tuple[AzimuthBlock, ...]

    @property
    def generation(self) -> str:
        return "noiseRange + noiseAzimuth" if self.azimuth_blocks else "noiseVectorList"

    def at(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Noise for the grid of `rows` x `cols` (float32); outside every block the range noise alone."""
        noise = self.range_vectors.at(rows, cols)
        for block in self.azimuth_blocks:
            r = (rows >= block.first_line) & (rows <= block.last_line)
            c = (cols >= block.first_pixel) & (cols <= block.last_pixel)
            if r.any() and c.any():
                profile = np.interp(rows[r], block.lines, block.values).astype(np.float32)
                noise[np.ix_(r, c)] *= profile[:, None]
        return noise


def thermal_noise(root: ElementTree.Element) -> ThermalNoise:
    """The noise XML of either generation."""
    if root.find("noiseRangeVectorList") is not None:
        blocks = tuple(_azimuth_block(e) for e in root.iter("noiseAzimuthVector"))
        return ThermalNoise(line_vectors(root, "noiseRangeVector", "noiseRangeLut"), blocks)
    return ThermalNoise(line_vectors(root, "noiseVector", "noiseLut"), ())


def sigma_nought(root: ElementTree.Element) -> LineVectors:
    """The calibration XML's sigma0 LUT (A_sigma: sigma0 = DN^2 / A^2)."""
    return line_vectors(root, "calibrationVector", "sigmaNought")


@dataclass(frozen=True)
class ImageFacts:
    """What the product annotation says of the measurement raster."""

    width: int
    height: int
    product_type: str
    mode: str
    polarisation: str
    gcps: tuple[GroundControlPoint, ...]  # line/pixel -> longitude, latitude, height (EPSG:4326)


def image_facts(root: ElementTree.Element) -> ImageFacts:
    """Size, product type, mode, polarisation and geolocation grid of a product annotation."""
    gcps = tuple(
        GroundControlPoint(
            row=float(p.findtext("line")),
            col=float(p.findtext("pixel")),
            x=float(p.findtext("longitude")),
            y=float(p.findtext("latitude")),
            z=float(p.findtext("height", "0")),
        )
        for p in root.iter("geolocationGridPoint")
    )
    return ImageFacts(
        _int(root, "imageAnnotation/imageInformation/numberOfSamples"),
        _int(root, "imageAnnotation/imageInformation/numberOfLines"),
        root.findtext("adsHeader/productType", ""),
        root.findtext("adsHeader/mode", ""),
        root.findtext("adsHeader/polarisation", ""),
        gcps,
    )
