"""A place keeps its colour whatever the file's extent (issue 26).

The same real SAR (a georeferenced float32 dB mosaic of the BigEarthNet sample patches) is colorized whole, cropped,
and with its outer 48 px overwritten by nodata. Tiles sit on the georeferenced grid (`TileGrid.anchored`) and the
published local model `lab_ombria_blend` sees only its receptive field, so every pixel more than 128 px inside the
smaller extent keeps its colour within 1/255. A model that decides colour tile-wide (the tile's mean added back), as the
default did until 2026-12-07, fails the same check. The SAR-detail rendering (`core.colour.sar_detail`) passes it too.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import read_rgba
from rasterio.windows import Window
from scenes import mosaic_scene

from core.colorize import ColorizeOptions, colorize
from core.colour.sar_detail import SAR_DETAIL
from core.model.checkpoints import LoadedModel, load_checkpoint
from core.settings import default_checkpoint, models_dir

SIDE = 720
INSIDE = 128  # px from the smaller extent's edge beyond which colours must not move
CROP = Window(140, 100, 520, 500)  # col, row, width, height within the whole scene
FRAME = 48


def _write_like(source: Path, target: Path, data: np.ndarray, window: Window) -> Path:
    """`data` (1 x H x W float32 dB) as a GeoTIFF placed where `window` of `source` lies, NaN as nodata."""
    with rasterio.open(source) as src:
        profile = src.profile | {
            "width": data.shape[2],
            "height": data.shape[1],
            "transform": src.window_transform(window),
            "nodata": float("nan"),
        }
    with rasterio.open(target, "w", **profile) as dst:
        dst.write(data)
        dst.set_band_description(1, "VV")
        dst.update_tags(units="dB")
    return target


@pytest.fixture(scope="module")
def scenes(samples, tmp_path_factory) -> dict[str, tuple[Path, Window, Window]]:
    """The whole scene, a crop of it and a nodata-framed copy: each file, its window and its valid pixels' window
    in the whole scene."""
    folder = tmp_path_factory.mktemp("extent")
    whole = mosaic_scene(folder / "whole.tif", samples, SIDE, SIDE)
    with rasterio.open(whole) as src:
        data = src.read()
    framed = data.copy()
    framed[:, :FRAME], framed[:, -FRAME:], framed[:, :, :FRAME], framed[:, :, -FRAME:] = (np.nan,) * 4
    rows, cols = CROP.toslices()
    everything = Window(0, 0, SIDE, SIDE)
    return {
        "whole": (whole, everything, everything),
        "crop": (_write_like(whole, folder / "crop.tif", data[:, rows, cols], CROP), CROP, CROP),
        "frame": (
            _write_like(whole, folder / "frame.tif", framed, everything),
            everything,
            Window(FRAME, FRAME, *(2 * [SIDE - 2 * FRAME])),
        ),
    }


def _colours(model: LoadedModel, source: Path, out: Path, options: ColorizeOptions) -> np.ndarray:
    colorize(source, out, model, options)
    return read_rgba(out)[:3].astype(np.int16)


def largest_shift(
    model: LoadedModel, scenes: dict, variant: str, folder: Path, options: ColorizeOptions | None = None
) -> int:
    """Largest colour change (of 255) of a pixel more than INSIDE px within `variant`'s extent, against the whole."""
    options = options or ColorizeOptions()
    whole = _colours(model, scenes["whole"][0], folder / "whole.tif", options)
    source, window, valid = scenes[variant]
    part = _colours(model, source, folder / f"{variant}.tif", options)
    inner = Window(valid.col_off + INSIDE, valid.row_off + INSIDE, valid.width - 2 * INSIDE, valid.height - 2 * INSIDE)
    rows, cols = inner.toslices()
    local_rows = slice(rows.start - window.row_off, rows.stop - window.row_off)
    local_cols = slice(cols.start - window.col_off, cols.stop - window.col_off)
    return int(np.abs(whole[:, rows, cols] - part[:, local_rows, local_cols]).max())


LOCAL_MODEL = "lab_ombria_blend"  # the default since 2026-12-07: a local receptive field (its card)


@pytest.mark.parametrize("variant", ["crop", "frame"])
def test_a_local_model_colours_a_place_alike_whatever_the_extent(scenes, variant: str, tmp_path: Path) -> None:
    model = load_checkpoint(models_dir() / f"{LOCAL_MODEL}.pt")
    assert not model.config.context, "a local model sees a neighbourhood, not a tile-wide mean"
    assert largest_shift(model, scenes, variant, tmp_path) <= 1


def test_a_tile_wide_model_fails_the_same_check_and_the_default_is_local(scenes, tmp_path: Path) -> None:
    """The check can fail: `lab_pseudo_colour` (the default until 2026-12-07; tile-wide context) moves colours deep
    inside a crop. The default is the local model that passes it."""
    model = load_checkpoint(models_dir() / "lab_pseudo_colour.pt")
    assert model.config.context
    assert largest_shift(model, scenes, "crop", tmp_path) > 1
    assert default_checkpoint().resolve() == (models_dir() / f"{LOCAL_MODEL}.pt").resolve()


@pytest.mark.parametrize("variant", ["crop", "frame"])
def test_sar_detail_rendering_colours_a_place_alike(scenes, pixel_model, variant: str, tmp_path: Path) -> None:
    """The SAR-detail rendering adds nothing that depends on the extent: its SAR detail is local
    (`core.colour.sar_detail.HALO`). Under a per-pixel model on the fixed dB input (whose own colours cannot depend
    on the extent, so any shift would be the rendering's) the check holds, and the rendering does move colours."""
    pixel_model = replace(pixel_model, config=replace(pixel_model.config, input_space="fixed"))  # no scene stretch
    rendering = ColorizeOptions(rendering=SAR_DETAIL)
    assert largest_shift(pixel_model, scenes, variant, tmp_path, rendering) <= 1
    plain = _colours(pixel_model, scenes[variant][0], tmp_path / "plain.tif", ColorizeOptions())
    rendered = _colours(pixel_model, scenes[variant][0], tmp_path / "rendered.tif", rendering)
    assert np.abs(plain - rendered).max() > 10
