"""Display copies: small RGBA renderings of SAR, results and references, for maps and previews.

Reads are decimated (COG overviews make them cheap): the long side is at most `max_side` px.
Map overlays are warped to Web Mercator because Leaflet's ImageOverlay stretches the image
linearly between its corners in Web Mercator; their bounds are given in EPSG:4326 degrees.
The Mercator used is EPSG:3857's, centred on the scene, so a scene across the antimeridian is
not cut at the map's seam: its longitudes stay continuous (e.g. 179.9 .. 180.1), as Leaflet
wants. Web Mercator stops at 85.05 deg: scenes beyond are refused with `OffMapError`, scenes
partly beyond are clipped with a note.
The full-resolution result is the COG itself; nothing here is used for downloads except
the PNG quicklook.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.warp import calculate_default_transform, reproject, transform, transform_bounds

from core.errors import UnsupportedRasterError
from core.rasters.cog import FLAT_COLOUR_TAG, SYNTHETIC_NOTE
from core.rasters.dualpol import dual_pol_overview, has_dual_pol
from core.rasters.normalise import apply_stretch, optical_to_unit, to_db
from core.rasters.optical import reference_band_names, rgb_bands
from core.rasters.scene import decimated_read, open_raster, opened_scene
from core.scoring.scores import ReferenceScores, score_with_baselines

MAX_SIDE = 2048
MIN_SIDE = 512
WEB_MERCATOR = CRS.from_epsg(3857)
WGS84 = CRS.from_epsg(4326)
EARTH_RADIUS_M = 6378137.0  # EPSG:3857's sphere
MAX_LATITUDE = 85.0511287798  # Web Mercator's square world ends here (y = +-pi R)
MAX_Y = math.pi * EARTH_RADIUS_M


class OffMapError(UnsupportedRasterError):
    """The scene cannot be shown on the Web Mercator map (beyond 85.05 deg of latitude)."""


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
    note: str | None = None  # e.g. the part beyond 85.05 deg was clipped


def png_bytes(rgba: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    """Encode H x W x 4 (or H x W x 3) uint8 as PNG, with optional text chunks."""
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG", optimize=False, pnginfo=info)
    return buffer.getvalue()


def sar_raster(path, band: str = "VV", encoding: str | None = "auto", max_side: int = MAX_SIDE) -> Raster:
    """Grey rendering of a SAR scene with the scene's own dB stretch (the model's input space)."""
    with opened_scene(path, band=band, encoding=encoding) as scene:
        values, mask, step = decimated_read(scene.dataset, [scene.band], max_side, Resampling.nearest)
        db = to_db(values[0], scene.encoding)
        valid = mask & np.isfinite(db)
        grey = np.rint((apply_stretch(db, scene.stretch) + 1.0) * 127.5).astype(np.uint8)
        grey[~valid] = 0
        return Raster(grey[None], valid, step, scene.dataset.crs)


def dual_pol_raster(path, band: str = "VV", encoding: str | None = "auto", max_side: int = MAX_SIDE) -> Raster | None:
    """The dual-pol false colour (red VV, green VH, blue VV/VH: `core.rasters.dualpol`) of a scene that brought both
    polarisations (a 2-band VV/VH raster, an RTC pair, a `.SAFE`); None for a scene with one."""
    with opened_scene(path, band=band, encoding=encoding) as scene:
        if not has_dual_pol(scene):
            return None
        rgb, valid, step = dual_pol_overview(scene, max_side)
        return Raster(np.rint(rgb * 255.0).astype(np.uint8), valid, step, scene.dataset.crs)


def rgb_raster(path, max_side: int = MAX_SIDE, bands: tuple[int, int, int] | None = None) -> Raster:
    """An RGB(A) GeoTIFF (result or optical reference; `bands` overrides its red, green, blue) as uint8."""
    with open_raster(path) as src:
        values, mask, step = decimated_read(src, list(rgb_bands(src, bands)), max_side, Resampling.average)
        rgb = np.rint(optical_to_unit(values, src.dtypes[0]) * 255.0).astype(np.uint8)
        return Raster(rgb, mask, step, src.crs)


def confidence_raster(path, max_side: int = MAX_SIDE) -> Raster:
    """A guided result's confidence sidecar (`core.colour.confidence`) as a coloured uint8 map rendering."""
    from core.colour.confidence import confidence_colours

    with open_raster(path) as src:
        values, _, step = decimated_read(src, [1, 2, 3, 4], max_side, Resampling.nearest)
        return Raster(confidence_colours(values), values[0] > 0, step, src.crs)


def centred_mercator(lon_0: float) -> CRS:
    """EPSG:3857's spherical Mercator with its central meridian at `lon_0` (deg): same y, x shifted."""
    return CRS.from_proj4(
        f"+proj=merc +a={EARTH_RADIUS_M} +b={EARTH_RADIUS_M} +lat_ts=0 +lon_0={lon_0!r} +x_0=0 +y_0=0 +k=1 "
        "+units=m +nadgrids=@null +wktext +no_defs"
    )


def _latitude(y: float) -> float:
    """Web Mercator y (m) -> latitude (deg)."""
    return math.degrees(2.0 * math.atan(math.exp(y / EARTH_RADIUS_M)) - math.pi / 2.0)


def _check_latitudes(raster: Raster, corners: tuple[float, float, float, float]) -> None:
    """Refuse scenes wholly beyond Web Mercator's 85.05 deg."""
    _, south, _, north = transform_bounds(raster.crs, WGS84, *corners, densify_pts=21)
    if south >= MAX_LATITUDE or north <= -MAX_LATITUDE:
        side = "north" if south >= MAX_LATITUDE else "south"
        raise OffMapError(
            f"This scene lies beyond {MAX_LATITUDE:.2f}° {side} (latitudes {south:.2f}° to {north:.2f}°): "
            "the web map (Web Mercator) cannot show it. See the previews and the download."
        )


def _clip_rows(dst_transform: Affine, height: int) -> tuple[Affine, int, str | None]:
    """Drop rows beyond Web Mercator's +-pi R; a note says so."""
    top, step = dst_transform.f, -dst_transform.e
    first = max(0, math.ceil((top - MAX_Y) / step))
    last = min(height, math.floor((top + MAX_Y) / step))
    if first == 0 and last == height:
        return dst_transform, height, None
    note = f"The part of this scene beyond {MAX_LATITUDE:.2f}° latitude is not shown: Web Mercator ends there."
    return dst_transform @ Affine.translation(0, first), max(1, last - first), note


def mercator_overlay(raster: Raster, max_side: int = MAX_SIDE, min_side: int = MIN_SIDE) -> Overlay:
    """Warp a rendering to Web Mercator (centred on the scene) for a Leaflet ImageOverlay.

    The long side is at most `max_side` px; small scenes are upsampled to `min_side` px so that
    their edges, rotated by the warp, do not show as coarse steps. Bounds are EPSG:4326 degrees
    with continuous longitudes (east may exceed 180 for a scene across the antimeridian).
    """
    if raster.crs is None:
        raise UnsupportedRasterError("This image has no georeference, so it cannot be placed on the map.")
    _, height, width = raster.values.shape
    left, top = raster.transform @ (0, 0)
    right, bottom = raster.transform @ (width, height)
    corners = (min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    _check_latitudes(raster, corners)
    (lon_0,), _ = transform(raster.crs, WGS84, [(left + right) / 2], [(top + bottom) / 2])
    mercator = centred_mercator(lon_0)
    try:
        dst_transform, dst_w, dst_h = calculate_default_transform(raster.crs, mercator, width, height, *corners)
    except Exception as exc:  # e.g. a scene around a pole: no finite Mercator extent
        raise OffMapError(f"This scene cannot be placed on the web map (Web Mercator): {exc}") from exc
    dst_transform, dst_h, note = _clip_rows(dst_transform, dst_h)
    long_side = max(dst_w, dst_h)
    scale = long_side / max_side if long_side > max_side else min(1.0, long_side / min(min_side, max_side))
    dst_w, dst_h = max(1, round(dst_w / scale)), max(1, round(dst_h / scale))
    dst_transform = dst_transform @ Affine.scale(scale)
    rgba = raster.rgba().transpose(2, 0, 1)
    out = np.zeros((4, dst_h, dst_w), dtype=np.uint8)
    reproject(rgba, out, src_transform=raster.transform, src_crs=raster.crs, dst_transform=dst_transform,
              dst_crs=mercator, resampling=Resampling.nearest)  # fmt: skip
    x0, y0 = dst_transform @ (0, 0)
    x1, y1 = dst_transform @ (dst_w, dst_h)
    west, east = (lon_0 + math.degrees(x / EARTH_RADIUS_M) for x in (x0, x1))
    bounds = ((_latitude(y1), west), (_latitude(y0), east))
    return Overlay(png_bytes(out.transpose(1, 2, 0)), bounds, dst_w, dst_h, note)


def align_longitudes(overlays: dict[str, Overlay]) -> dict[str, Overlay]:
    """Shift overlays by whole turns (360 deg) so that all lie next to the first one on the map."""
    if not overlays:
        return overlays
    (_, west), (_, east) = next(iter(overlays.values())).bounds
    centre = (west + east) / 2
    aligned = {}
    for name, overlay in overlays.items():
        (south, w), (north, e) = overlay.bounds
        turns = round((centre - (w + e) / 2) / 360.0)
        aligned[name] = replace(overlay, bounds=((south, w + 360.0 * turns), (north, e + 360.0 * turns)))
    return aligned


def preview_png(raster: Raster) -> bytes:
    """The rendering as an RGBA PNG, in its own grid (no warp)."""
    return png_bytes(raster.rgba())


PRODUCT_FACTS = {"SARCOLOR_PRODUCT": "Product", "SARCOLOR_BACKSCATTER": "Backscatter",
                 "SARCOLOR_POLARISATIONS": "Polarisations"}  # fmt: skip


def product_facts(cog_path) -> list[tuple[str, str]]:
    """What a result records of the product it came from (a `.SAFE`, an RTC pair): (label, value) rows; none for a
    plain raster."""
    with open_raster(cog_path, what="a result") as src:
        tags = src.tags()
    return [(label, tags[key]) for key, label in PRODUCT_FACTS.items() if tags.get(key)]


def quicklook_png(cog_path, max_side: int = MAX_SIDE) -> bytes:
    """A PNG quicklook (RGBA, <= max_side px) of a colorized COG."""
    with open_raster(cog_path) as src:
        values, mask, _ = decimated_read(src, [1, 2, 3], max_side, Resampling.average)
    return png_bytes(Raster(values, mask, Affine.identity(), None).rgba(), {"Description": SYNTHETIC_NOTE})


def _reference_on_grid(ref, bands, shape: tuple[int, int, int], grid: Affine, crs) -> tuple[np.ndarray, np.ndarray]:
    """The reference's RGB in [0, 1] resampled onto a result's (decimated) grid, and where it covers it."""
    rgb = list(rgb_bands(ref, bands))
    if crs is None:  # two plain images: stretch the reference onto the result's pixels
        raw = ref.read(rgb, out_shape=shape, resampling=Resampling.bilinear)
        return optical_to_unit(raw, ref.dtypes[0]), np.ones(shape[1:], np.float32)
    target = np.zeros(shape, np.float32)
    coverage = np.zeros(shape[1:], dtype=np.float32)
    for i, band in enumerate(rgb):
        raw = ref.read(band).astype(np.float32)
        reproject(
            optical_to_unit(raw, ref.dtypes[0]),
            target[i],
            src_transform=ref.transform,
            src_crs=ref.crs,
            dst_transform=grid,
            dst_crs=crs,
            resampling=Resampling.bilinear,
            dst_nodata=np.nan,
        )
    reproject(
        ref.read_masks(1).astype(np.float32) / 255.0,
        coverage,
        src_transform=ref.transform,
        src_crs=ref.crs,
        dst_transform=grid,
        dst_crs=crs,
        resampling=Resampling.nearest,
        dst_nodata=0,
    )
    return target, coverage


def reference_scores(
    cog_path, reference_path, max_side: int = MAX_SIDE, bands: tuple[int, int, int] | None = None
) -> ReferenceScores:
    """PSNR, SSIM, ΔE00 and green scores of a result against an optical reference reprojected onto its grid.

    Scored on the result's grid decimated to <= max_side px; only pixels valid in both count. The
    reference's own mean colour and, when the result records it (`FLAT_COLOUR_TAG`), its model's
    flat training colour are scored on the same pixels: what the model must beat.
    """
    with open_raster(cog_path) as out:
        values, valid, grid = decimated_read(out, [1, 2, 3], max_side, Resampling.average)
        crs = out.crs
        flat_tag = out.tags().get(FLAT_COLOUR_TAG)
    prediction = values.astype(np.float32) / 255.0
    with open_raster(reference_path) as ref:
        if (crs is None) != (ref.crs is None):
            raise UnsupportedRasterError("The scene and the reference must both be georeferenced (or both not).")
        target, coverage = _reference_on_grid(ref, bands, prediction.shape, grid, crs)
        used = reference_band_names(ref, rgb_bands(ref, bands))
    both = valid & (coverage > 0.5) & np.isfinite(target).all(axis=0)
    if both.sum() < 0.25 * valid.sum() or both.sum() < 49:
        raise UnsupportedRasterError("The reference does not cover this scene (less than a quarter overlaps).")
    target = np.nan_to_num(target)
    prediction[:, ~both], target[:, ~both] = 0.0, 0.0
    flat = np.array([float(v) for v in flat_tag.split()], np.float32) if flat_tag else None
    overlap = float(both.sum() / valid.sum())
    return score_with_baselines(prediction.transpose(1, 2, 0), target.transpose(1, 2, 0), both, flat, overlap, used)
