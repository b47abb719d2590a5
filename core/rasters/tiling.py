"""Overlapping tiles and feathered blending, one strip of tile rows at a time.

Tiles cover the *framed* raster: the scene mirrored `EDGE_MARGIN` px beyond each edge, so
no raster pixel sits on a tile's outer edge, where convolutions see zero padding (that
edge measured 38 grey levels brighter than the interior before the frame). The frame is
cut off when rows are written. Tiles of side T start every S = T - overlap pixels. Along a side shared with a
neighbour, a tile's weight ramps as sin^2 over the overlap, and with the neighbour's
cos^2 ramp the two sum to one, so there is no seam. A side on the raster's own border
keeps full weight (no dark edges). Only one strip (T rows x scene width) is held in
memory; rows no later tile touches are flushed as soon as a tile row is done.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from rasterio.transform import Affine
from rasterio.windows import Window

from core.errors import InvalidSettingsError

EDGE_MARGIN = 16  # mirrored pixels around the raster (more than the ~2 px a tile edge disturbs)


def mirror(index: np.ndarray, length: int) -> np.ndarray:
    """Indices reflected into [0, length) as numpy's 'symmetric' padding does, for any distance."""
    folded = index % (2 * length)
    return np.where(folded < length, folded, 2 * length - 1 - folded)


@dataclass(frozen=True)
class TileGrid:
    """Tile origins along each axis for a width x height framed raster.

    The framed raster is the scene's valid region with `left` / `top` mirrored pixels before it and at least
    `EDGE_MARGIN` after it.
    """

    width: int
    height: int
    tile: int
    overlap: int
    left: int = EDGE_MARGIN
    top: int = EDGE_MARGIN

    @classmethod
    def anchored(cls, region: Window, transform: Affine, tile: int, overlap: int) -> TileGrid:
        """Tiles on a fixed lattice of the georeferenced pixel grid, whatever the file's extent.

        `region`: the valid pixels' box in the file; `transform`: the file's. Tiles start where the pixel's
        offset from the grid's origin (x = 0, y = 0 in the CRS) is a multiple of the stride, so a crop, a mosaic
        or a nodata frame moves no tile relative to the ground, and a model with a local receptive field paints
        each place alike in every file that holds it.
        """
        stride = tile - overlap
        first_col = region.col_off + (round(transform.c / transform.a) if transform.a else 0)
        first_row = region.row_off + (round(transform.f / transform.e) if transform.e else 0)
        left = EDGE_MARGIN + (first_col - EDGE_MARGIN) % stride
        top = EDGE_MARGIN + (first_row - EDGE_MARGIN) % stride
        return cls(left + region.width + EDGE_MARGIN, top + region.height + EDGE_MARGIN, tile, overlap, left, top)

    def __post_init__(self) -> None:
        if self.tile < 16:
            raise InvalidSettingsError(f"Tile size {self.tile} is too small (minimum 16 px).")
        if not 0 <= self.overlap <= self.tile // 2:
            raise InvalidSettingsError(f"Overlap must be between 0 and half the tile size ({self.tile // 2} px).")

    @property
    def stride(self) -> int:
        return self.tile - self.overlap

    def origins(self, length: int) -> list[int]:
        """Tile starts along one axis; the last tile may run past the raster."""
        count = max(1, math.ceil((length - self.overlap) / self.stride))
        return [i * self.stride for i in range(count)]

    @property
    def columns(self) -> list[int]:
        return self.origins(self.width)

    @property
    def rows(self) -> list[int]:
        return self.origins(self.height)

    @property
    def tile_count(self) -> int:
        return len(self.columns) * len(self.rows)


def ramp_weights(tile: int, overlap: int, taper_start: bool, taper_end: bool) -> np.ndarray:
    """1-D weights: sin^2 ramp over `overlap` px on each tapered side, 1 elsewhere."""
    weights = np.ones(tile, dtype=np.float32)
    if overlap == 0:
        return weights
    ramp = np.sin(0.5 * np.pi * (np.arange(overlap, dtype=np.float32) + 0.5) / overlap) ** 2
    if taper_start:
        weights[:overlap] = ramp
    if taper_end:
        weights[-overlap:] = ramp[::-1]
    return weights


def tile_weights(grid: TileGrid, row_index: int, col_index: int) -> np.ndarray:
    """2-D blending weights of one tile (T x T, read-only); no taper on the raster border."""
    tapers = (row_index > 0, row_index < len(grid.rows) - 1, col_index > 0, col_index < len(grid.columns) - 1)
    return _weights(grid.tile, grid.overlap, *tapers)


@functools.lru_cache(maxsize=64)
def _weights(tile: int, overlap: int, top: bool, bottom: bool, left: bool, right: bool) -> np.ndarray:
    """The 9 kinds of tile (corner, edge, inside) share their weights: computed once each."""
    weights = ramp_weights(tile, overlap, top, bottom)[:, None] * ramp_weights(tile, overlap, left, right)[None, :]
    weights.flags.writeable = False
    return weights


class StripBlender:
    """Accumulates weighted tile predictions for one tile row and yields finished rows."""

    def __init__(self, grid: TileGrid, channels: int = 3) -> None:
        self.grid = grid
        self.channels = channels
        self._sum = np.zeros((channels, grid.tile, grid.width), dtype=np.float32)
        self._weight = np.zeros((grid.tile, grid.width), dtype=np.float32)
        self._product = np.empty((channels, grid.tile, grid.tile), dtype=np.float32)  # reused: no per-tile arrays
        self._top = 0  # raster row of the strip's first row

    def add(self, prediction: np.ndarray, row_index: int, col_index: int) -> None:
        """Add one tile's C x T x T prediction."""
        x0 = self.grid.columns[col_index]
        width = min(self.grid.tile, self.grid.width - x0)
        weights = tile_weights(self.grid, row_index, col_index)[:, :width]
        weighted = np.multiply(prediction[:, :, :width], weights, out=self._product[:, :, :width])
        self._sum[:, :, x0 : x0 + width] += weighted
        self._weight[:, x0 : x0 + width] += weights

    def finish_row(self, row_index: int) -> tuple[Window, np.ndarray]:
        """Blend and release the rows that later tile rows do not touch."""
        last = row_index == len(self.grid.rows) - 1
        release = self.grid.height - self._top if last else self.grid.stride
        release = min(release, self.grid.height - self._top)
        blended = self._sum[:, :release] / np.maximum(self._weight[:release], 1e-12)
        window = Window(0, self._top, self.grid.width, release)
        # Shift in place (no new strip-sized arrays per row: they fragment the heap and grow RSS).
        self._sum[:, : self.grid.tile - release] = self._sum[:, release:]
        self._weight[: self.grid.tile - release] = self._weight[release:]
        self._sum[:, -release:] = 0.0
        self._weight[-release:] = 0.0
        self._top += release
        return window, blended
