"""Tile tones matched where tiles overlap, so the tile grid does not show as squares.

A 256 px model decides each tile's overall tone from that tile alone (its 1 x 1 bottleneck
sees the whole tile), so two neighbouring tiles can paint the same pixels in different tones.
Feathering turns that into squares with soft edges: a visible grid. Here each tile gets a
smooth offset: zero at its centre, and in each overlap zone half the mean difference between
it and its neighbour there, with opposite signs, so the two agree where they are blended.
Where neighbours already agree (a per-pixel model, or the same content) nothing changes.
"""

from __future__ import annotations

import numpy as np

from core.rasters.tiling import TileGrid


def edge_profiles(tile: int, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights along one axis for the start and the end offset: 1 in that overlap zone, 0 past the centre."""
    position = np.arange(tile, dtype=np.float32)
    half = tile / 2
    start = np.clip((half - position) / max(half - overlap, 1.0), 0.0, 1.0)
    return start, start[::-1].copy()


class SeamMatcher:
    """Mean differences between overlapping tiles in, per-tile offsets out."""

    def __init__(self, grid: TileGrid, channels: int = 3) -> None:
        self.grid = grid
        rows, columns = len(grid.rows), len(grid.columns)
        self.across = np.zeros((rows, max(columns - 1, 0), channels), np.float32)  # tile (r, c) minus (r, c + 1)
        self.down = np.zeros((max(rows - 1, 0), columns, channels), np.float32)  # tile (r, c) minus (r + 1, c)
        self._start, self._end = edge_profiles(grid.tile, grid.overlap)

    def record_row(self, row_index: int, predictions: list[np.ndarray]) -> None:
        """Differences between horizontal neighbours of one tile row (C x T x T predictions)."""
        k = self.grid.overlap
        if k:
            for col in range(len(predictions) - 1):
                self.across[row_index, col] = _mean(predictions[col][:, :, -k:] - predictions[col + 1][:, :, :k])

    def record_pair(self, row_index: int, above: list[np.ndarray], below: list[np.ndarray]) -> None:
        """Differences between tile row `row_index` and the one below it."""
        k = self.grid.overlap
        if k:
            for col, (upper, lower) in enumerate(zip(above, below, strict=True)):
                self.down[row_index, col] = _mean(upper[:, -k:, :] - lower[:, :k, :])

    def apply(self, row_index: int, col_index: int, prediction: np.ndarray) -> None:
        """Add the tile's offset in place; needs the differences with all four neighbours recorded."""
        none = np.zeros(self.across.shape[2], np.float32)  # no neighbour on that side
        left = self.across[row_index, col_index - 1] / 2 if col_index > 0 else none
        right = -self.across[row_index, col_index] / 2 if col_index < self.across.shape[1] else none
        top = self.down[row_index - 1, col_index] / 2 if row_index > 0 else none
        bottom = -self.down[row_index, col_index] / 2 if row_index < self.down.shape[0] else none
        horizontal = np.multiply.outer(left, self._start) + np.multiply.outer(right, self._end)  # C x T
        vertical = np.multiply.outer(top, self._start) + np.multiply.outer(bottom, self._end)
        prediction += horizontal[:, None, :]
        prediction += vertical[:, :, None]


def _mean(difference: np.ndarray) -> np.ndarray:
    return difference.mean(axis=(1, 2))


class NoSeamMatching(SeamMatcher):
    """Tiles left as predicted: a model with a local receptive field paints the overlaps alike already, and an
    offset from a neighbour's tone would carry colour from beyond that field (a crop would change it)."""

    def record_row(self, row_index: int, predictions: list[np.ndarray]) -> None:
        """Nothing to record."""

    def record_pair(self, row_index: int, above: list[np.ndarray], below: list[np.ndarray]) -> None:
        """Nothing to record."""

    def apply(self, row_index: int, col_index: int, prediction: np.ndarray) -> None:
        """The prediction stays as it is."""


def seam_matcher(grid: TileGrid, tile_wide: bool) -> SeamMatcher:
    """Tone matching for a model that decides colour tile-wide (its `context`); none for a local one."""
    return SeamMatcher(grid) if tile_wide else NoSeamMatching(grid)
