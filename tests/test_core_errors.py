"""Bad input gives a clear `core.errors` exception and leaves no file; cancellation; progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window
from scenes import (
    all_nodata_tiff,
    complex_tiff,
    mosaic_db,
    not_an_image,
    read_sample_db,
    truncated_tiff,
    write_raster,
    zero_band_vrt,
)

from core import errors
from core.colorize import ColorizeOptions, colorize
from core.rasters.tiling import TileGrid
from core.settings import Limits


def _assert_nothing_written(out_dir: Path) -> None:
    assert not out_dir.exists() or not any(out_dir.iterdir()), sorted(out_dir.iterdir())


def truncated_tail_tiff(path: Path, samples) -> Path:
    """Real dB in 1-row strips with only the last row cut off: opens and samples fine, fails mid-run."""
    _, crs, transform = read_sample_db(samples[0])
    data = mosaic_db(samples, 64, 2100)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=64,
        height=2100,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        blockysize=1,
    ) as dst:
        dst.write(data)
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size - 64 * 4)
    return path


BAD_INPUTS = {
    "not_an_image": (lambda p, s: not_an_image(p / "report.tif"), errors.NotARasterError, "not a readable raster"),
    "truncated": (lambda p, s: truncated_tiff(p / "cut.tif", s), errors.NotARasterError, "damaged"),
    "truncated_tail": (lambda p, s: truncated_tail_tiff(p / "tail.tif", s), errors.NotARasterError, "damaged"),
    "zero_bands": (lambda p, s: zero_band_vrt(p / "empty.vrt"), errors.UnsupportedRasterError, "no usable bands"),
    "complex": (lambda p, s: complex_tiff(p / "slc.tif", s), errors.UnsupportedRasterError, "complex"),
    "all_nodata": (lambda p, s: all_nodata_tiff(p / "nan.tif", s), errors.EmptyRasterError, "no valid pixel"),
    "missing": (lambda p, s: p / "nowhere.tif", errors.NotARasterError, "nowhere.tif"),
}


@pytest.mark.parametrize("kind", BAD_INPUTS)
def test_bad_input_raises_clear_error(kind: str, samples, pixel_model, tmp_path: Path) -> None:
    build, error, words = BAD_INPUTS[kind]
    source = build(tmp_path, samples)
    out_dir = tmp_path / "out"
    with pytest.raises(error) as caught:
        colorize(source, out_dir / "result.tif", pixel_model, ColorizeOptions(tile=64, overlap=16))
    message = str(caught.value)
    assert words in message and source.name in message and "\n" not in message
    _assert_nothing_written(out_dir)


def test_pixel_limit_checked_from_header(samples, pixel_model, tmp_path: Path) -> None:
    """A 120 x 120 real sample against a 10 kpx limit: refused before any pixel is read."""
    out_dir = tmp_path / "out"
    with pytest.raises(errors.RasterTooLargeError, match="limit"):
        colorize(samples[0].sar, out_dir / "r.tif", pixel_model, limits=Limits(max_pixels=10_000))
    _assert_nothing_written(out_dir)


def test_header_claiming_huge_size_is_refused(tmp_path: Path, pixel_model) -> None:
    """A tiny sparse GeoTIFF whose header says 200k x 200k px is refused by the default limit."""
    path = tmp_path / "huge.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=200_000,
        height=200_000,
        count=1,
        dtype="uint16",
        tiled=True,
        sparse_ok=True,
        crs="EPSG:32633",
        transform=rasterio.transform.from_origin(0, 0, 10, 10),
    ):
        pass
    assert path.stat().st_size < 10_000_000
    with pytest.raises(errors.RasterTooLargeError, match=r"huge\.tif"):
        colorize(path, tmp_path / "out" / "r.tif", pixel_model)
    _assert_nothing_written(tmp_path / "out")


def test_too_many_bands(samples, pixel_model, tmp_path: Path) -> None:
    data, crs, transform = read_sample_db(samples[0])
    path = write_raster(tmp_path / "stack.tif", np.concatenate([data, data, data]), crs, transform)
    with pytest.raises(errors.UnsupportedRasterError, match="6 bands"):
        colorize(path, tmp_path / "out" / "r.tif", pixel_model)


def test_missing_band_named(samples, pixel_model, tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidSettingsError, match="HH"):
        colorize(samples[0].sar, tmp_path / "r.tif", pixel_model, ColorizeOptions(band="HH"))


@pytest.mark.parametrize(("tile", "overlap", "batch"), [(100, 16, 8), (64, 48, 8), (64, 16, 0)])
def test_bad_settings_rejected(samples, pixel_model, tmp_path: Path, tile: int, overlap: int, batch: int) -> None:
    with pytest.raises(errors.InvalidSettingsError):
        colorize(
            samples[0].sar, tmp_path / "r.tif", pixel_model, ColorizeOptions(tile=tile, overlap=overlap, batch=batch)
        )
    assert not any(tmp_path.iterdir())


def test_failed_run_keeps_previous_output(samples, pixel_model, tmp_path: Path) -> None:
    """A failing run never replaces or damages an existing result of the same name."""
    out = tmp_path / "r.tif"
    colorize(samples[0].sar, out, pixel_model)
    before = out.read_bytes()
    with pytest.raises(errors.JobCancelled):
        colorize(samples[1].sar, out, pixel_model, cancelled=lambda: True)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.tif"]


def test_cancellation_mid_run_leaves_nothing(odd_scene, pixel_model, tmp_path: Path) -> None:
    checks = []

    def cancel_after_two_rows() -> bool:
        checks.append(1)
        return len(checks) > 2

    rows_done = []
    with pytest.raises(errors.JobCancelled, match="cancelled"):
        colorize(
            odd_scene,
            tmp_path / "out" / "r.tif",
            pixel_model,
            ColorizeOptions(tile=128, overlap=32),
            progress=lambda done, total: rows_done.append(done),
            cancelled=cancel_after_two_rows,
        )
    assert len(rows_done) == 2  # it really ran before stopping
    _assert_nothing_written(tmp_path / "out")


def test_progress_reaches_total(odd_scene, pixel_model, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = colorize(
        odd_scene,
        tmp_path / "r.tif",
        pixel_model,
        ColorizeOptions(tile=128, overlap=32),
        progress=lambda done, total: calls.append((done, total)),
    )
    with rasterio.open(odd_scene) as src:  # tiles on the georeferenced grid, over the scene and a mirrored frame
        grid = TileGrid.anchored(Window(0, 0, src.width, src.height), src.transform, 128, 32)
    rows = len(grid.rows)
    assert result.summary.tiles == grid.tile_count and grid.width >= 1000 + 32 and grid.height >= 777 + 32
    assert {total for _, total in calls} == {result.summary.tiles}
    assert len(calls) == rows
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[0] > 0 and done[-1] == result.summary.tiles
