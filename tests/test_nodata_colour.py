"""The colour of a valid pixel does not depend on the nodata around it (issue 18, item 2).

Stated border width: 0 px for nodata outside the valid pixels' bounding box (a frame or padding of any
width changes no valid pixel: the pipeline tiles and measures only that box, `SarScene.region`), and a
tile plus its overlap (288 px with the defaults) for nodata inside it (holes, slanted swath edges), which is
filled with the nearest valid value: the generator's bottleneck sees a whole tile, and the seam matching
passes a tile's tone to its neighbours' overlap.
Measured before the fix with the default model: a 64 px frame around a 268 x 217 real mosaic shifted valid
pixels by 53/255 on average (103 at most), around a 512 x 512 one by 22/255; a central 80 px hole shifted
pixels more than 288 px away by up to 3/255 with the median fill (1/255 with the nearest valid value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine
from scenes import mosaic_db, read_sample_db, write_raster
from scipy import ndimage

from core.colorize import ColorizeOptions, colorize
from core.model.checkpoints import LoadedModel, load_checkpoint
from core.rasters.scene import open_scene
from core.samples import Sample
from core.settings import default_checkpoint

NODATA = -99.0
INSIDE_BOX_WIDTH = 256 + 32  # default tile plus overlap: how far nodata inside the valid pixels' box may reach


@pytest.fixture(scope="module")
def trained() -> LoadedModel:
    """The committed default model: how far nodata leaks depends on what the network learned."""
    return load_checkpoint(default_checkpoint())


def framed(db: np.ndarray, frame: int, fill: float = NODATA) -> tuple[np.ndarray, Affine]:
    """`db` inside a frame of `fill`, and the transform that keeps the data where it was."""
    return np.pad(db, frame, constant_values=fill).astype(db.dtype), Affine.translation(-frame, -frame)


def colorized_rgba(path: Path, model: LoadedModel) -> np.ndarray:
    """RGBA (int16) of the scene colorized in fp32 (the same on every CPU)."""
    output = path.with_name(f"{path.stem}_colorized.tif")
    colorize(path, output, model, ColorizeOptions(precision="fp32"))
    with rasterio.open(output) as src:
        return src.read().astype(np.int16)


def write_db(path: Path, db: np.ndarray, sample: Sample, shift: Affine | None = None, **kwargs) -> Path:
    """A float32 dB GeoTIFF on the sample's grid (moved by `shift` pixels)."""
    _, crs, transform = read_sample_db(sample)
    transform = transform @ shift if shift else transform
    return write_raster(path, db.astype(np.float32), crs, transform, tags={"units": "dB"}, **kwargs)


@pytest.mark.parametrize("frame", [64, 200])
def test_a_nodata_frame_changes_no_valid_pixel(samples, trained, tmp_path, frame) -> None:
    """The issue's case: a 268 x 217 real dB scene alone and inside a declared -99 frame."""
    db = mosaic_db(samples, 268, 217)[0]
    alone = colorized_rgba(write_db(tmp_path / "alone.tif", db, samples[0]), trained)
    data, shift = framed(db, frame)
    inside = colorized_rgba(write_db(tmp_path / "framed.tif", data, samples[0], shift, nodata=NODATA), trained)
    core = inside[:, frame:-frame, frame:-frame]
    assert (core[3] == 255).all() and not inside[3].sum() - core[3].sum()
    assert np.abs(core[:3] - alone[:3]).max() <= 1


def test_how_much_nodata_surrounds_a_slanted_edge_does_not_matter(samples, trained, tmp_path) -> None:
    """A swath-like slanted nodata edge, with and without a 90 px NaN frame around it: the same colours."""
    db = mosaic_db(samples, 400, 300)[0]
    rows, columns = np.mgrid[:300, :400]
    db[columns + rows < 180] = np.nan
    alone = colorized_rgba(write_db(tmp_path / "edge.tif", db, samples[0]), trained)
    data, shift = framed(db, 90, np.nan)
    inside = colorized_rgba(write_db(tmp_path / "edge_framed.tif", data, samples[0], shift), trained)
    np.testing.assert_array_equal(inside[:, 90:-90, 90:-90], alone)


def test_a_hole_leaves_pixels_beyond_the_stated_width_within_one_level(samples, trained, tmp_path) -> None:
    """An 80 px nodata hole in the middle of a 512 px real scene; pixels beyond the stated width keep their colour."""
    db = mosaic_db(samples, 512, 512)[0]
    hole = np.zeros(db.shape, bool)
    hole[216:296, 216:296] = True
    whole = colorized_rgba(write_db(tmp_path / "whole.tif", db, samples[0]), trained)
    holed_path = write_db(tmp_path / "holed.tif", np.where(hole, NODATA, db), samples[0], nodata=NODATA)
    holed = colorized_rgba(holed_path, trained)
    far = ndimage.distance_transform_edt(~hole) > INSIDE_BOX_WIDTH
    assert far.sum() > 1000
    assert np.abs(holed[:3] - whole[:3])[:, far].max() <= 1
    assert not holed[3][hole].any()


def test_the_stretch_is_measured_on_the_valid_region(samples, tmp_path) -> None:
    """Above 1024 px the stretch comes from a decimated read: a frame must not move its sample grid."""
    db = mosaic_db(samples, 1300, 1100)[0]
    data, shift = framed(db, 150)
    alone = open_scene(write_db(tmp_path / "big.tif", db, samples[0]))
    inside = open_scene(write_db(tmp_path / "big_framed.tif", data, samples[0], shift, nodata=NODATA))
    try:
        assert inside.region == rasterio.windows.Window(150, 150, 1300, 1100)
        assert inside.stretch == alone.stretch
    finally:
        alone.close()
        inside.close()


def test_a_real_volkov_fragment_inside_a_frame(volkov_tif, trained, tmp_path) -> None:
    """Real contiguous Sentinel-1 VH (`linear_u8`, median-anchored) cropped, alone and inside a nodata-0 frame."""
    with rasterio.open(volkov_tif) as src:
        crop = src.read(1)[:300, :360]
        crs, transform, tags = src.crs, src.transform, src.tags()
    alone_path = write_raster(tmp_path / "v.tif", crop, crs, transform, tags=tags, descriptions=("VH",))
    data, shift = framed(crop, 70, 0)
    framed_path = write_raster(
        tmp_path / "v_framed.tif", data, crs, transform @ shift, nodata=0, tags=tags, descriptions=("VH",)
    )
    alone, inside = colorized_rgba(alone_path, trained), colorized_rgba(framed_path, trained)
    assert np.abs(inside[:3, 70:-70, 70:-70] - alone[:3]).max() <= 1
