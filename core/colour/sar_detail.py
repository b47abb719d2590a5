"""The SAR-detail rendering: colour from the model, lightness detail from the speckle-filtered SAR (GIHS).

The field's SAR colorisation convention (Shen, Vivone et al., "A benchmarking protocol for SAR
colorization", Neural Networks 169, 2024) fuses a colour image with SAR by generalised IHS
(GIHS): each channel gets the difference between the SAR intensity P, matched to the colour
image's intensity I, and I itself,

    out_c = rgb_c + (P - I),   I = (R + G + B) / 3,   c in R, G, B.

Here the match of P to I is local and fixed, never from whole-scene statistics (a place keeps its
colour whatever the file's extent): P = I + `DETAIL_GAIN` x D, where D is the speckle-filtered
SAR's deviation from its own local mean, in dB,

    D = G(SPECKLE_SIGMA) * dB  -  G(LOCAL_SIGMA) * dB   (clipped to +-`DETAIL_CLIP_DB`),

Gaussian means over valid pixels only (normalised convolution; nodata and the scene's edges count
as missing). So P has the model's intensity at scales above `LOCAL_SIGMA` and the SAR's detail
below it (field edges, rivers, roads, towns), the SAR's detail scaled to the spread that optical
lightness detail has on the training data (`DETAIL_GAIN`, the histogram match's gain). The same
value is added to R, G and B: the hue the model chose stays, as in GIHS.

Per written window (streaming; `core.colour.sources.SarDetailColour` wraps any colour source with it):
the SAR is read over the window plus `HALO` px (clipped at the scene's edges) through its own raster
handle, `COLUMN_CHUNK` columns at a time, so memory does not grow with the scene; a pixel's rendering
depends on nothing farther than `HALO` px.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from scipy.ndimage import gaussian_filter, gaussian_filter1d

from core.errors import InvalidSettingsError
from core.rasters.cog import cog_writer
from core.rasters.scene import SarScene, opened_scene, read_band_db

MODEL, SAR_DETAIL = "model", "sar-detail"
RENDERINGS = (MODEL, SAR_DETAIL)  # `ColorizeOptions.rendering`, `--rendering`
RENDERING_TAG = "SARCOLOR_RENDERING"
SPECKLE_SIGMA = 2.0  # px: the speckle filter (Gaussian in dB; 1 px left visible speckle on the BigEarthNet samples)
LOCAL_SIGMA = 8.0  # px: detail is the filtered SAR's deviation from its mean over this scale
TRUNCATE = 3.0  # Gaussian kernels end at TRUNCATE sigma
# Intensity (RGB in [0, 1]) per dB of SAR detail: the histogram match's gain, the spread (standard deviation) of
# optical intensity detail (I - its 8 px mean) over that of the filtered SAR's detail, measured on train pairs
# (40 images a source): sen12-gray 0.053, ombria 0.028, sebastianelli-zone9 0.026, tharun-scenes 0.082; volkov
# 0.154 (its VH is smooth). Their correlation is near 0 (-0.05 to +0.04 on sen12-gray, ombria, volkov, BigEarthNet):
# the rendering shows the SAR's structure, it does not predict optical detail. Scores fall as the gain grows
# (README, "The SAR-detail rendering"): the gain is set by this match, not by them.
DETAIL_GAIN = 0.05
DETAIL_CLIP_DB = 10.0  # a corner reflector whitens its pixel, it does not blow out its neighbours
HALO = int(TRUNCATE * LOCAL_SIGMA + 0.5)  # px of SAR read around a window: the wider kernel's radius
COLUMN_CHUNK = 2048  # px: a window is rendered this many columns at a time (bounded memory)
DESCRIPTION = (
    f"{SAR_DETAIL}: GIHS fusion, colour from the model, intensity detail from the speckle-filtered SAR "
    f"(Gaussian {SPECKLE_SIGMA:g} px in dB, minus its {LOCAL_SIGMA:g} px local mean, x {DETAIL_GAIN:g} per dB, "
    "added to R, G and B)"
)


def check_rendering(rendering: str) -> None:
    """Raise `InvalidSettingsError` for a rendering that does not exist."""
    if rendering not in RENDERINGS:
        raise InvalidSettingsError(f"Unknown rendering {rendering!r}: use {' or '.join(RENDERINGS)}.")


def _local_mean(db: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian mean of `db` over valid pixels (`weight` 1/0); outside the array counts as missing."""
    total = gaussian_filter(db * weight, sigma, mode="constant", truncate=TRUNCATE)
    return total / np.maximum(_share(weight, sigma), 1e-6)


def _share(weight: np.ndarray, sigma: float) -> np.ndarray:
    """The Gaussian's weight on valid pixels; without nodata the outer product of two 1-D sums (2 x faster)."""
    if not weight.all():
        return gaussian_filter(weight, sigma, mode="constant", truncate=TRUNCATE)
    rows, cols = (
        gaussian_filter1d(np.ones(n, np.float32), sigma, mode="constant", truncate=TRUNCATE) for n in weight.shape
    )
    return np.outer(rows, cols)


def sar_detail(db: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Intensity detail (h x w, RGB units) of a dB block: `DETAIL_GAIN` x clipped (filtered - local mean)."""
    weight = valid.astype(np.float32)
    values = np.where(valid, db, 0.0).astype(np.float32)
    detail = _local_mean(values, weight, SPECKLE_SIGMA) - _local_mean(values, weight, LOCAL_SIGMA)
    np.clip(detail, -DETAIL_CLIP_DB, DETAIL_CLIP_DB, out=detail)
    detail *= DETAIL_GAIN
    detail[~valid] = 0.0
    return detail


def gihs(rgb01: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """GIHS fusion: out_c = rgb_c + (P - I) with P - I = `detail`, clipped to [0, 1] (3 x h x w)."""
    return np.clip(rgb01 + detail[None], 0.0, 1.0).astype(np.float32, copy=False)


def window_detail(scene: SarScene, window: Window, dataset) -> np.ndarray:
    """`sar_detail` of a scene window (h x w), read with `HALO` px of context through `dataset` (the scene's raster)."""
    height, width = scene.georef.height, scene.georef.width
    row0, col0 = max(0, int(window.row_off) - HALO), max(0, int(window.col_off) - HALO)
    row1 = min(height, int(window.row_off + window.height) + HALO)
    col1 = min(width, int(window.col_off + window.width) + HALO)
    db, valid = read_band_db(dataset, scene.band, scene.encoding, Window(col0, row0, col1 - col0, row1 - row0),
                             scene.path.name)  # fmt: skip
    top, left = int(window.row_off) - row0, int(window.col_off) - col0
    return sar_detail(db, valid)[top : top + int(window.height), left : left + int(window.width)]


def render_window(scene: SarScene, dataset, window: Window, rgb01: np.ndarray) -> np.ndarray:
    """GIHS of a written window's colours (3 x h x w) with the SAR's detail, `COLUMN_CHUNK` columns at a time."""
    out = np.empty_like(rgb01)
    for x0 in range(0, int(window.width), COLUMN_CHUNK):
        x1 = min(int(window.width), x0 + COLUMN_CHUNK)
        part = Window(int(window.col_off) + x0, window.row_off, x1 - x0, window.height)
        out[:, :, x0:x1] = gihs(rgb01[:, :, x0:x1], window_detail(scene, part, dataset))
    return out


ROWS = 256  # rows of a colour COG rendered at a time by `render_cog`


def render_cog(colour_cog: str | Path, scene: SarScene, output: str | Path) -> Path:
    """The SAR-detail rendering of a COG that `colorize` made of `scene` (same grid), written as another COG.

    A second layer from one model run (the dashboard's map). `colorize(..., rendering='sar-detail')` renders
    the colours before their 8-bit rounding, so the two differ by at most 1/255.
    """
    with rasterio.open(colour_cog) as src:
        if (src.width, src.height) != (scene.georef.width, scene.georef.height):
            raise ValueError(f"{Path(colour_cog).name} is not on the pixel grid of {scene.path.name}")
        tags = {k: v for k, v in src.tags().items() if k.startswith("SARCOLOR") or k == "SYNTHETIC"}
        with cog_writer(output, scene.georef, tags | {RENDERING_TAG: DESCRIPTION}) as cog:
            for top in range(0, src.height, ROWS):
                window = Window(0, top, src.width, min(ROWS, src.height - top))
                rgba = src.read(window=window)
                valid = rgba[3] > 0
                rgb = rgba[:3] / np.float32(255.0)
                cog.write(window, render_window(scene, scene.dataset, window, rgb) if valid.any() else rgb, valid)
    return Path(output)


def rendering_beside(colour_cog: str | Path, sar: str | Path, band: str, encoding: str) -> Path:
    """The SAR-detail rendering of a finished COG, beside it as '<name>_sar_detail.tif' (made on first call).

    `sar`, `band`, `encoding`: the scene and how it was read (a job's settings and summary).
    """
    colour_cog = Path(colour_cog)
    path = colour_cog.with_name(f"{colour_cog.stem}_{SAR_DETAIL.replace('-', '_')}.tif")
    if not path.is_file():
        with opened_scene(sar, band=band, encoding=encoding) as scene:
            render_cog(colour_cog, scene, path)
    return path
