"""Tiling and feathered blending: no seams, no dark borders, identical to the untiled result."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from checks import read_rgba

from core.colorize import ColorizeOptions, colorize
from core.errors import InvalidSettingsError
from core.rasters.tiling import StripBlender, TileGrid, ramp_weights, tile_weights
from core.rasters.tone import SeamMatcher


@pytest.mark.parametrize(("length", "tile", "overlap"), [(1000, 256, 64), (777, 128, 32), (100, 256, 64), (64, 64, 0)])
def test_tiles_cover_the_axis(length: int, tile: int, overlap: int) -> None:
    grid = TileGrid(length, length, tile, overlap)
    starts = grid.origins(length)
    assert starts[0] == 0 and starts[-1] + tile >= length
    assert starts[-1] < max(length - overlap, 1)  # no tile lies wholly in the last tile's overlap
    assert all(b - a == grid.stride for a, b in itertools.pairwise(starts))


def test_ramps_sum_to_one_over_overlap() -> None:
    ramp_in = ramp_weights(96, 32, taper_start=True, taper_end=False)
    ramp_out = ramp_weights(96, 32, taper_start=False, taper_end=True)
    np.testing.assert_allclose(ramp_out[-32:] + ramp_in[:32], 1.0, atol=1e-6)
    assert ramp_in[:32].min() > 0  # every pixel keeps some weight


def test_weights_untapered_on_raster_border() -> None:
    grid = TileGrid(300, 300, 128, 32)
    corner = tile_weights(grid, 0, 0)
    assert corner[:96, 0].min() == 1.0 and corner[0, :96].min() == 1.0
    last_row, last_col = len(grid.rows) - 1, len(grid.columns) - 1
    far = tile_weights(grid, last_row, last_col)
    assert far[-1, 32:].min() == 1.0 and far[32:, -1].min() == 1.0


def test_strip_blender_reassembles_a_constant() -> None:
    """Constant tiles blend back to the constant over every row, borders included."""
    grid = TileGrid(333, 250, 64, 16)
    blender = StripBlender(grid, channels=1)
    rows = []
    for r in range(len(grid.rows)):
        for c in range(len(grid.columns)):
            blender.add(np.full((1, 64, 64), 0.25, np.float32), r, c)
        window, block = blender.finish_row(r)
        assert window.col_off == 0 and window.width == 333 and window.row_off == sum(b.shape[1] for b in rows)
        rows.append(block)
    image = np.concatenate(rows, axis=1)
    assert image.shape == (1, 250, 333)
    np.testing.assert_allclose(image, 0.25, atol=1e-6)


@pytest.mark.parametrize("overlap", [-1, 129])
def test_bad_overlap_rejected(overlap: int) -> None:
    with pytest.raises(InvalidSettingsError):
        TileGrid(100, 100, 256, overlap)


@pytest.mark.parametrize(
    ("tile", "overlap"),
    [(64, 16), (128, 32), (256, 64), (208, 0), (512, 256)],
    ids=["64-16", "128-32", "256-64", "208-0", "512-256"],
)
def test_tiled_equals_untiled_on_odd_scene(odd_scene, pixel_model, tmp_path: Path, tile: int, overlap: int) -> None:
    """1000 x 777 real SAR, per-pixel model: tiled == one tile larger than the scene, within 1/255 everywhere."""
    untiled = tmp_path / "untiled.tif"
    colorize(odd_scene, untiled, pixel_model, ColorizeOptions(tile=1024, overlap=0))
    tiled = tmp_path / "tiled.tif"
    result = colorize(odd_scene, tiled, pixel_model, ColorizeOptions(tile=tile, overlap=overlap))
    assert result.summary.tiles > 1
    a, b = read_rgba(untiled).astype(np.int16), read_rgba(tiled).astype(np.int16)
    diff = np.abs(a - b)
    assert diff.max() <= 1, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"
    for edge in (diff[:, 0, :], diff[:, -1, :], diff[:, :, 0], diff[:, :, -1]):  # explicit: edges and corners
        assert edge.max() <= 1
    assert (b[3] == 255).all()


def test_larger_tile_than_scene_equals_smaller(odd_scene, pixel_model, tmp_path: Path) -> None:
    """Two untiled runs with different oversize tiles agree (mirror padding does not leak in)."""
    outs = []
    for tile in (1024, 1280):
        out = tmp_path / f"t{tile}.tif"
        colorize(odd_scene, out, pixel_model, ColorizeOptions(tile=tile, overlap=64))
        outs.append(read_rgba(out).astype(np.int16))
    assert np.abs(outs[0] - outs[1]).max() <= 1


def test_seam_matcher_makes_overlapping_tiles_agree_and_keeps_their_centres() -> None:
    """Two tiles that paint the same pixels 0.3 apart agree after matching where they overlap, keep their
    own values at their centres, and tiles that already agree are left exactly as they were."""
    grid = TileGrid(448, 256, 256, 32)
    rng = np.random.default_rng(0)
    scene = rng.random((3, 256, 480), dtype=np.float32)
    left, right = scene[:, :, :256] + 0.2, scene[:, :, 224:480] - 0.1
    originals = left.copy(), right.copy()
    matcher = SeamMatcher(grid)
    matcher.record_row(0, [left, right])
    matcher.apply(0, 0, left)
    matcher.apply(0, 1, right)
    np.testing.assert_allclose(left[:, :, -32:], right[:, :, :32], atol=1e-6)
    np.testing.assert_array_equal(left[:, :, :128], originals[0][:, :, :128])
    np.testing.assert_array_equal(right[:, :, 128:], originals[1][:, :, 128:])

    agreeing = [scene[:, :, :256].copy(), scene[:, :, 224:480].copy()]
    matcher = SeamMatcher(grid)
    matcher.record_row(0, agreeing)
    matcher.apply(0, 0, agreeing[0])
    np.testing.assert_array_equal(agreeing[0], scene[:, :, :256])
