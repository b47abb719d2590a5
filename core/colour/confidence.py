"""Where a guided result's colour came from, per pixel: the sidecar `<output>.confidence.tif`.

A tiled GeoTIFF on the output's grid (same CRS, transform and size), uint16, four bands:

1. `source`: 0 no data; 1 the guide's own colour (its share >= 50 %); 2 the colour fitted to this scene's SAR
   (beyond the guide, in its holes, or where SAR and guide disagree); 3 change: the SAR overrode the guide
   (the learned change to water, >= 50 %).
2. `guide_share_pct`: the share of the guide's own colour in the pixel, 0-100 %.
3. `change_pct`: the share of the learned change colour, 0-100 %.
4. `distance_px`: scene pixels to the nearest pixel the guide covers (0 inside it; measured on a grid of at most
   512 cells a side, so within a cell).

Written window by window beside the COG and renamed into place only when the run succeeds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from core.rasters.cog import partial_path
from core.rasters.scene import Georef

SUFFIX = ".confidence.tif"
BANDS = ("source", "guide_share_pct", "change_pct", "distance_px")
GUIDE, FITTED, CHANGE = 1, 2, 3  # band 1 codes; 0 is no data


def sidecar_path(output: str | Path) -> Path:
    """'scene_color.tif' -> 'scene_color.confidence.tif'."""
    output = Path(output)
    return output.with_name(output.stem + SUFFIX)


def confidence_bands(guide_share: np.ndarray, change: np.ndarray, distance: np.ndarray, valid: np.ndarray
                     ) -> np.ndarray:  # fmt: skip
    """4 x h x w uint16 from the shares (0-1), the distance (px) and validity of a window."""
    source = np.where(change >= 0.5, CHANGE, np.where(guide_share >= 0.5, GUIDE, FITTED))
    bands = np.stack([
        source,
        np.rint(guide_share * 100.0),
        np.rint(change * 100.0),
        np.minimum(np.rint(distance), 65535),
    ]).astype(np.uint16)  # fmt: skip
    bands[:, ~valid] = 0
    return bands


@contextlib.contextmanager
def confidence_writer(output: str | Path, georef: Georef) -> Iterator[rasterio.io.DatasetWriter]:
    """An open sidecar for `output`; renamed into place on clean exit, removed on any error."""
    final = sidecar_path(output)
    scratch = partial_path(final, ".tif")
    profile = {"driver": "GTiff", "width": georef.width, "height": georef.height, "count": len(BANDS),
               "dtype": "uint16", "crs": georef.crs, "transform": georef.transform, "tiled": True,
               "blockxsize": 256, "blockysize": 256, "compress": "zstd", "zstd_level": 1,  # 0.1 s/Mpx (deflate 0.18)
               "nodata": None}  # fmt: skip
    final.parent.mkdir(parents=True, exist_ok=True)
    dataset = rasterio.open(scratch, "w", **profile)
    try:
        dataset.descriptions = BANDS
        dataset.update_tags(SARCOLOR_CONFIDENCE="source: 0 no data, 1 guide colour, 2 fitted to this scene's SAR, "
                            "3 SAR overrode the guide (change); see core/confidence.py")  # fmt: skip
        yield dataset
        dataset.close()
        os.replace(scratch, final)
    except BaseException:
        dataset.close()
        scratch.unlink(missing_ok=True)
        raise


PALETTE = {GUIDE: (40, 160, 70), FITTED: (60, 110, 220), CHANGE: (230, 40, 160)}  # green, blue, magenta
FADE_PX = 500.0  # the fitted colour's blue fades to pale this far from the guide


def confidence_colours(bands: np.ndarray) -> np.ndarray:
    """4 x h x w sidecar bands -> 3 x h x w uint8 for a map: the guide's colour green, change magenta, the fitted
    mapping blue, paler the farther from the guide."""
    source, distance = bands[0], bands[3].astype(np.float32)
    rgb = np.zeros((3, *source.shape), np.float32)
    for code, colour in PALETTE.items():
        rgb[:, source == code] = np.asarray(colour, np.float32)[:, None]
    fade = np.clip(distance / FADE_PX, 0.0, 1.0) * 0.7 * (source == FITTED)
    rgb += fade * (255.0 - rgb)
    return np.rint(rgb).astype(np.uint8)


def read_confidence(path: str | Path, window: Window | None = None) -> np.ndarray:
    """The sidecar's four bands (4 x h x w uint16)."""
    with rasterio.open(path) as src:
        return src.read(window=window)
