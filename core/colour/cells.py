"""The grid on which guided colour is computed: cells of `POOL` x `POOL` scene pixels, aligned to the scene.

The fitted colour, the disagreement score and the change prior vary over tens of metres, not from
pixel to pixel: computing them on 4 x 4 px cells (40 m at 10 m) costs a sixteenth, and the guide's
own colour, composed at full resolution, keeps the detail. Cells are aligned to the scene's pixel
grid (a block read for a window starts on a multiple of `POOL`), so a pixel's cell terms are the
same whatever window asks for them; `upsample` brings cell terms back to pixels bilinearly, in the
scene's own coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.functional import avg_pool2d, interpolate

from core.model.inference import single_threaded_torch

POOL = 4  # scene px a cell side


@dataclass
class Cells:
    """A block's SAR and guide pooled to cells."""

    db: np.ndarray  # mean dB of the cell's valid SAR pixels (NaN: none)
    square: np.ndarray  # mean dB² of the same pixels (for the spread within and around the cell)
    valid: np.ndarray  # bool: at least half the cell's pixels are valid SAR
    rgb: np.ndarray  # 3 x h x w mean guide RGB of the cell's covered pixels
    covered: np.ndarray  # bool: at least half the cell's pixels are covered by the guide (and valid SAR)
    first: tuple[int, int]  # the scene cell (row, col) of cell [0, 0]


def aligned(start: int, stop: int, limit: int) -> tuple[int, int]:
    """[start, stop) widened to cell boundaries, clipped to [0, limit)."""
    return max(0, (start // POOL) * POOL), min(limit, -(-stop // POOL) * POOL)


def pool(planes: Sequence[np.ndarray], weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """C finite H x W planes -> C x h x w weighted cell means (NaN where a cell has no weight), and h x w weight share.

    Each plane is weighted straight into the padded buffer (no temporaries): this runs on every written window."""
    height, width = weight.shape
    rows, cols = -(-height // POOL), -(-width // POOL)
    padded = np.zeros((len(planes) + 1, rows * POOL, cols * POOL), np.float32)
    padded[-1, :height, :width] = weight
    for index, plane in enumerate(planes):
        np.multiply(plane, padded[-1, :height, :width], out=padded[index, :height, :width])
    with single_threaded_torch(), torch.inference_mode():
        means = avg_pool2d(torch.from_numpy(padded)[None], POOL)[0].numpy()
    share = means[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(share > 0, means[:-1] / share, np.nan).astype(np.float32)
    return mean, share


def block_cells(db: np.ndarray, sar_valid: np.ndarray, rgb: np.ndarray, covered: np.ndarray,
                first: tuple[int, int], guide_at: tuple[int, int] = (0, 0)) -> Cells:  # fmt: skip
    """Pool a block read from scene (row, col) `first`: h x w dB and validity, and the guide's 3 x h' x w' RGB and
    coverage read over a part of it starting at block pixel `guide_at` (multiples of `POOL`; no guide elsewhere)."""
    finite = sar_valid & np.isfinite(db)
    clean = np.where(finite, db, np.float32(0.0)).astype(np.float32, copy=False)
    sar, share = pool([clean, clean * clean], finite)
    top, left = guide_at
    seen = covered & finite[top : top + covered.shape[0], left : left + covered.shape[1]]
    guide, guide_share = pool(rgb.astype(np.float32, copy=False), seen)  # a 3 x h' x w' array: three planes
    cells_rgb = np.full((3, *share.shape), np.nan, np.float32)
    cells_covered = np.zeros(share.shape, bool)
    part = (slice(top // POOL, top // POOL + guide.shape[1]), slice(left // POOL, left // POOL + guide.shape[2]))
    cells_rgb[:, part[0], part[1]] = guide
    cells_covered[part] = guide_share >= 0.5
    return Cells(sar[0], sar[1], share >= 0.5, cells_rgb, cells_covered, (first[0] // POOL, first[1] // POOL))


def upsample(planes: np.ndarray, first: tuple[int, int], origin: tuple[int, int], shape: tuple[int, int]
             ) -> np.ndarray:  # fmt: skip
    """C x h x w cell planes whose cell [0, 0] is scene cell `first` -> C x H x W at scene pixels from `origin`.

    Bilinear between cell centres, clamped at the planes' edges (torch's `interpolate`, align_corners=False, is
    exactly that for a grid of `POOL` px cells; one thread).
    """
    top, left = origin[0] - first[0] * POOL, origin[1] - first[1] * POOL
    if not (top >= 0 and left >= 0 and top + shape[0] <= planes.shape[1] * POOL
            and left + shape[1] <= planes.shape[2] * POOL):  # fmt: skip
        raise ValueError(f"pixels {origin} + {shape} lie beyond the cells from {first} ({planes.shape[1:]})")
    rows, cols = _needed(top, shape[0], planes.shape[1]), _needed(left, shape[1], planes.shape[2])
    planes = planes[:, rows, cols]  # only the cells the pixels lie between: the same values, a fraction of the work
    top, left = top - rows.start * POOL, left - cols.start * POOL
    with single_threaded_torch(), torch.inference_mode():
        grown = interpolate(torch.from_numpy(np.ascontiguousarray(planes, np.float32))[None], scale_factor=POOL,
                            mode="bilinear", align_corners=False)[0]  # fmt: skip
    return grown[:, top : top + shape[0], left : left + shape[1]].numpy()


def _needed(start: int, length: int, cells: int) -> slice:
    """The cells that pixels [start, start + length) interpolate between, with one to spare on each side (so no
    pixel is clamped at a cut the full planes do not have)."""
    return slice(max(0, start // POOL - 1), min(cells, (start + length - 1) // POOL + 2))
