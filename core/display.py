"""Display copies: small RGBA renderings of SAR, results and references, for maps and previews.

Reads are decimated (COG overviews make them cheap): the long side is at most `max_side` px.
Map overlays are warped to EPSG:3857 because Leaflet's ImageOverlay stretches the image
linearly between its corners in Web Mercator; their bounds are given in EPSG:4326.
The full-resolution result is the COG itself; nothing here is used for downloads except
the PNG quicklook.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import rasterio
from PIL import Image
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.transform import Affine
from rasterio.warp import calculate_default_transform, reproject, transform

from core.errors import NotARasterError, UnsupportedRasterError
from core.metrics import psnr, ssim
from core.normalise import apply_stretch, to_db
from core.samples import S2_DISPLAY_MAX_REFLECTANCE
from core.scene import opened_scene

MAX_SIDE = 2048
MIN_SIDE = 512
WEB_MERCATOR = CRS.from_epsg(3857)
WGS84 = CRS.from_epsg(4326)


@dataclass
class Raster:
    """A small uint8 rendering: C x H x W values, H x W validity, and where it lies."""

    values: np.ndarray
    valid: np.ndarray
    transform: Affine
    crs: CRS | None

    def rgba(self) -> np.ndarray:
        """H x W x 4 uint8 (grey is repeated; invalid pixels transparent)."""
        rgb = np.repeat(self.values, 3, axis=0) if self.values.shape[0] == 1 else self.values[:3]
        alpha = (self.valid * 255).astype(np.uint8)
        return np.concatenate([rgb, alpha[None]]).transpose(1, 2, 0)


@dataclass
class Overlay:
    """A PNG in EPSG:3857 and its corners in EPSG:4326 as ((south, west), (north, east))."""

    png: bytes
    bounds: tuple[tuple[float, float], tuple[float, float]]
    width: int
    height: int


def _open(path) -> rasterio.io.DatasetReader:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return rasterio.open(path)
    except RasterioIOError as exc:
        raise NotARasterError(f"{getattr(path, 'name', path)} is not a readable raster image: {exc}") from exc


def _decimated(dataset, bands: list[int], max_side: int, resampling=Resampling.average):
    """Bands read at <= max_side px, their GDAL mask (any band valid) and the scaled transform."""
    scale = max(1.0, max(dataset.width, dataset.height) / max_side)
    shape = (max(1, round(dataset.height / scale)), max(1, round(dataset.width / scale)))
    values = dataset.read(bands, out_shape=(len(bands), *shape), resampling=resampling)
    mask = dataset.read_masks(bands[0], out_shape=shape, resampling=Resampling.nearest) > 0
    step = Affine.scale(dataset.width / shape[1], dataset.height / shape[0])
    return values, mask, dataset.transform @ step


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode H x W x 4 (or H x W x 3) uint8 as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def sar_raster(path, band: str = "VV", encoding: str | None = "auto", max_side: int = MAX_SIDE) -> Raster:
    """Grey rendering of a SAR scene with the scene's own dB stretch (the model's input space)."""
    with opened_scene(path, band=band, encoding=encoding) as scene:
        values, mask, step = _decimated(scene.dataset, [scene.band], max_side, Resampling.nearest)
        db = to_db(values[0], scene.encoding)
        valid = mask & np.isfinite(db)
        grey = np.rint((apply_stretch(db, scene.stretch) + 1.0) * 127.5).astype(np.uint8)
        grey[~valid] = 0
        return Raster(grey[None], valid, step, scene.dataset.crs)


def unit_rgb(values: np.ndarray, dtype: str) -> np.ndarray:
    """Optical RGB values -> [0, 1]: uint8 as is; others as reflectance (DN / 10000 if integer)."""
    v = values.astype(np.float32)
    if dtype == "uint8":
        return v / 255.0
    if np.dtype(dtype).kind in "ui":
        v = v / 10000.0
    return np.clip(v / S2_DISPLAY_MAX_REFLECTANCE, 0.0, 1.0)


def rgb_raster(path, max_side: int = MAX_SIDE) -> Raster:
    """An RGB(A) GeoTIFF (result or optical reference) as uint8, with its mask."""
    with _open(path) as src:
        if src.count < 3:
            raise UnsupportedRasterError(f"{path.name if hasattr(path, 'name') else path} has {src.count} band(s); "
                                         "an optical reference needs 3 bands (red, green, blue).")
        values, mask, step = _decimated(src, [1, 2, 3], max_side)
        rgb = np.rint(unit_rgb(values, src.dtypes[0]) * 255.0).astype(np.uint8)
        return Raster(rgb, mask, step, src.crs)


def mercator_overlay(raster: Raster, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> Overlay:
    """Warp a rendering to EPSG:3857 for a Leaflet ImageOverlay.

    The long side is at most `max_side` px; small scenes are upsampled to `min_side` px so that
    their edges, rotated by the warp, do not show as coarse steps.
    """
    if raster.crs is None:
        raise UnsupportedRasterError("This image has no georeference, so it cannot be placed on the map.")
    _, height, width = raster.values.shape
    left, top = raster.transform @ (0, 0)
    right, bottom = raster.transform @ (width, height)
    dst_transform, dst_w, dst_h = calculate_default_transform(
        raster.crs, WEB_MERCATOR, width, height, left=min(left, right), bottom=min(top, bottom),
        right=max(left, right), top=max(top, bottom),
    )
    long_side = max(dst_w, dst_h)
    scale = long_side / max_side if long_side > max_side else min(1.0, long_side / min(min_side, max_side))
    dst_w, dst_h = max(1, round(dst_w / scale)), max(1, round(dst_h / scale))
    dst_transform = dst_transform @ Affine.scale(scale)
    rgba = raster.rgba().transpose(2, 0, 1)
    out = np.zeros((4, dst_h, dst_w), dtype=np.uint8)
    for i, resampling in enumerate([Resampling.nearest] * 4):
        reproject(rgba[i], out[i], src_transform=raster.transform, src_crs=raster.crs,
                  dst_transform=dst_transform, dst_crs=WEB_MERCATOR, resampling=resampling)
    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (dst_w, dst_h)
    lons, lats = transform(WEB_MERCATOR, WGS84, [x0, x1], [y1, y0])
    bounds = ((lats[0], lons[0]), (lats[1], lons[1]))
    return Overlay(png_bytes(out.transpose(1, 2, 0)), bounds, dst_w, dst_h)


def preview_png(raster: Raster) -> bytes:
    """The rendering as an RGBA PNG, in its own grid (no warp)."""
    return png_bytes(raster.rgba())


def quicklook_png(cog_path, max_side: int = MAX_SIDE) -> bytes:
    """A PNG quicklook (RGBA, <= max_side px) of a colorized COG."""
    with _open(cog_path) as src:
        values, mask, _ = _decimated(src, [1, 2, 3], max_side)
    return png_bytes(Raster(values, mask, Affine.identity(), None).rgba())


def reference_scores(cog_path, reference_path, max_side: int = MAX_SIDE) -> dict[str, float]:
    """PSNR (dB) and SSIM of a result against an optical reference reprojected onto its grid.

    Scored on the result's grid decimated to <= max_side px; only pixels valid in both count.
    """
    with _open(cog_path) as out:
        values, valid, grid = _decimated(out, [1, 2, 3], max_side)
        crs = out.crs
    prediction = values.astype(np.float32) / 255.0
    with _open(reference_path) as ref:
        if ref.count < 3:
            raise UnsupportedRasterError("The reference needs 3 bands (red, green, blue).")
        if (crs is None) != (ref.crs is None):
            raise UnsupportedRasterError("The scene and the reference must both be georeferenced (or both not).")
        target = np.zeros_like(prediction)
        coverage = np.zeros(prediction.shape[1:], dtype=np.float32)
        if crs is None:
            raw = ref.read([1, 2, 3], out_shape=prediction.shape, resampling=Resampling.bilinear)
            target, coverage[:] = unit_rgb(raw, ref.dtypes[0]), 1.0
        else:
            for i in range(3):
                raw = ref.read(i + 1).astype(np.float32)
                reproject(unit_rgb(raw, ref.dtypes[0]), target[i], src_transform=ref.transform, src_crs=ref.crs,
                          dst_transform=grid, dst_crs=crs, resampling=Resampling.bilinear, dst_nodata=np.nan)
            reproject(ref.read_masks(1).astype(np.float32) / 255.0, coverage, src_transform=ref.transform,
                      src_crs=ref.crs, dst_transform=grid, dst_crs=crs, resampling=Resampling.nearest, dst_nodata=0)
    both = valid & (coverage > 0.5) & np.isfinite(target).all(axis=0)
    if both.sum() < 0.25 * valid.sum() or both.sum() < 49:
        raise UnsupportedRasterError("The reference does not cover this scene (less than a quarter overlaps).")
    target = np.nan_to_num(target)
    prediction[:, ~both], target[:, ~both] = 0.0, 0.0
    p, t = prediction.transpose(1, 2, 0), target.transpose(1, 2, 0)
    return {"psnr": psnr(p, t, both), "ssim": ssim(p, t), "overlap": float(both.sum() / valid.sum())}
