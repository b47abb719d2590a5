"""The analyst's own optical image of the place (another date), read on the SAR scene's pixel grid.

`open_guide` checks the reference before any work (red, green and blue bands; a georeference
when the scene has one; overlap) and warps it onto the scene's grid with a WarpedVRT, so any
CRS, resolution or partial overlap reads window by window (`Guide.read`). Coverage comes from
the reference's own nodata, alpha band or mask, plus pixels whose three bands are exactly 0
(Sentinel-2's no-data value). Two rasters without a georeference are taken to show the same
ground and the reference is stretched onto the scene's pixels, with a warning.
The date, when the file says it (tags or name), goes into the label of the result.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import CRSError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from core.colour.guide_checks import GuideError, check_optical
from core.errors import ReferenceBandsUnknown
from core.rasters.normalise import optical_to_unit
from core.rasters.optical import reference_band_names, rgb_bands
from core.rasters.scene import Georef, decimated_read, open_raster

DATE_TAGS = (  # dataset tags that hold an acquisition date, most specific first
    "DATETIME", "ACQUISITION_DATE", "ACQUISITIONDATE", "SENSING_TIME", "DATATAKE_1_DATATAKE_SENSING_START",
    "PRODUCT_START_TIME", "DATE_ACQUIRED", "SENSING_DATE", "DATE", "TIFFTAG_DATETIME",
)  # fmt: skip
ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_.:]?(0[1-9]|1[0-2])[-_.:]?(0[1-9]|[12]\d|3[01])(?!\d)")
GUIDE_WHAT = "an optical image (red, green and blue) to guide the colour"
MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name} | {
    name.lower(): number for number, name in enumerate(calendar.month_abbr) if name
}
MONTH_WORD = re.compile(r"(?<![a-z])(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")(?![a-z])", re.I)


def iso_date(text: str) -> str | None:
    """'2020-11-04' from '...20201104T18...', '2020-11-04' or '2020:11:04 10:00:00'; None without a date."""
    match = ISO_DATE.search(text)
    return "-".join(match.groups()) if match else None


def date_from_name(name: str) -> str | None:
    """A date in a file name, or its one month name ('zone_9_a_Jan_patch5' -> 'January')."""
    stem = Path(name).stem
    found = iso_date(stem)
    months = {MONTHS[m.lower()] for m in MONTH_WORD.findall(stem)}
    return found or (calendar.month_name[months.pop()] if len(months) == 1 else None)


def guide_date(src: rasterio.io.DatasetReader, name: str) -> str | None:
    """The reference's acquisition date from its tags, else from its file name; None when neither says."""
    tags = {key.upper(): value for domain in ("", "IMAGERY") for key, value in src.tags(ns=domain or None).items()}
    found = (iso_date(tags[key]) for key in DATE_TAGS if key in tags)
    return next((date for date in found if date), None) or date_from_name(name)


def guide_label(name: str, date: str | None) -> str:
    """What the result says of its colour: 'colour guided by optical.tif (2020-11-04)'."""
    return f"colour guided by {name} ({date or 'date unknown'})"


@dataclass
class Guide:
    """An open optical reference, readable in windows of the scene's pixel grid.

    `footprint`: the scene's pixels (a window, clipped to the scene) that the reference's bounds cover.
    """

    name: str
    date: str | None
    bands: tuple[int, int, int]
    band_names: str  # e.g. 'B4/B3/B2 of 13'
    source: rasterio.io.DatasetReader
    view: rasterio.io.DatasetReader | WarpedVRT
    footprint: Window
    scale: tuple[float, float] | None = None  # ungeoreferenced pair: reference px per scene px (x, y)
    warnings: list[str] = field(default_factory=list)
    georef: Georef | None = None  # the scene's grid the view is warped onto (None: not warped)
    alpha: int = 0  # the view's band that the warp added to mark coverage (0: none; integer bands only)

    @property
    def label(self) -> str:
        return guide_label(self.name, self.date)

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """RGB (3 x h x w float32 in [0, 1]) and coverage (h x w bool) of the reference in a scene window."""
        shape = (int(window.height), int(window.width))
        if self.scale is not None:  # same ground, other pixel size: resample the matching reference window
            sx, sy = self.scale
            ref = Window(window.col_off * sx, window.row_off * sy, window.width * sx, window.height * sy)
            raw = self.view.read(list(self.bands), window=ref, out_shape=(3, *shape), resampling=Resampling.bilinear)
            mask = self.view.dataset_mask(window=ref, out_shape=shape, resampling=Resampling.nearest) > 0
        elif self.alpha:  # colour and coverage in one warp
            both = self.view.read([*self.bands, self.alpha], window=window)
            raw, mask = both[:3], both[3] > np.iinfo(both.dtype).max // 2
        else:
            raw = self.view.read(list(self.bands), window=window)
            mask = self.view.dataset_mask(window=window) >= 128
        return optical_to_unit(raw, self.source.dtypes[0]), self._with_data(mask, raw)

    def reopened(self) -> Guide:
        """The same reference through handles of its own, for another thread (GDAL handles are not thread-safe)."""
        source = rasterio.open(self.source.name)
        view = source if self.view is self.source else _warped(source, self.georef)
        return replace(self, source=source, view=view)

    def covered_on(self, shape: tuple[int, int], transform: Affine, crs: CRS | None) -> np.ndarray:
        """Where the reference has data on a coarse grid of the scene (`shape`, `transform`, `crs`): h x w bool."""
        if self.scale is not None:
            values = self.source.read(list(self.bands), out_shape=(3, *shape), resampling=Resampling.nearest)
            mask = self.source.dataset_mask(out_shape=shape, resampling=Resampling.nearest) > 0
        elif self.source.crs is None:  # ground control points only: the warped view, at the coarse size
            values = self.view.read(list(self.bands), out_shape=(3, *shape), resampling=Resampling.nearest)
            mask = self.view.dataset_mask(out_shape=shape, resampling=Resampling.nearest) >= 128
        else:  # the reference's own coarse mask, placed on the coarse grid
            raw, own, grid = decimated_read(self.source, list(self.bands), 2 * max(shape))
            valid = self._with_data(own, raw)
            placed = np.zeros(shape, np.uint8)
            reproject(valid.astype(np.uint8), placed, src_transform=grid, src_crs=self.source.crs,
                      dst_transform=transform, dst_crs=crs, resampling=Resampling.nearest, dst_nodata=0)  # fmt: skip
            return placed > 0
        return self._with_data(mask, values)

    def _with_data(self, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`mask` without the pixels whose three integer bands are exactly 0 (Sentinel-2's no-data value)."""
        return mask & values.any(axis=0) if np.dtype(self.source.dtypes[0]).kind in "ui" else mask

    def close(self) -> None:
        if self.view is not self.source:
            self.view.close()
        self.source.close()


def check_guide_bands(path: str | Path, bands: tuple[int, int, int] | None = None, name: str | None = None) -> str:
    """Check, before any scene is read, that an optical image has red, green and blue; returns how they are read."""
    name = name or Path(path).name
    with open_raster(path, GUIDE_WHAT, name) as src:
        _require_three_bands(src, name)
        try:
            rgb = rgb_bands(src, bands)
        except ReferenceBandsUnknown as exc:
            raise ReferenceBandsUnknown(f"{exc} (on the command line: --guide-bands 4,3,2 for B4, B3, B2)") from exc
        check_optical(src, rgb, name)
        return reference_band_names(src, rgb)


def _require_three_bands(src: rasterio.io.DatasetReader, name: str) -> None:
    """`GuideError` for a raster with fewer than three bands."""
    if src.count < 3:
        raise GuideError(f"{name} has {src.count} band(s); an optical reference needs red, green and blue.")


def _warped(src: rasterio.io.DatasetReader, georef: Georef) -> WarpedVRT:
    """The reference warped (bilinear) onto the scene's grid; an alpha band marks where it has data."""
    gcps, gcp_crs = src.gcps
    extra = {"src_crs": gcp_crs} if src.crs is None and gcps else {}
    return WarpedVRT(
        src,
        crs=georef.crs,
        transform=georef.transform,
        width=georef.width,
        height=georef.height,
        resampling=Resampling.bilinear,
        add_alpha=ColorInterp.alpha not in src.colorinterp,
        **extra,
    )


def _added_alpha(src: rasterio.io.DatasetReader, view: WarpedVRT) -> int:
    """The band the warp added to mark where the reference has data (0..max of an integer type), or 0."""
    added = view.count > src.count and view.colorinterp[-1] == ColorInterp.alpha
    return view.count if added and np.dtype(view.dtypes[-1]).kind in "ui" else 0


def _footprint(src: rasterio.io.DatasetReader, georef: Georef, name: str, scene_name: str) -> Window:
    """The scene pixels inside the reference's bounds; `GuideError` when there are none."""
    crs = src.crs or src.gcps[1]
    try:
        left, bottom, right, top = transform_bounds(crs, georef.crs, *_source_bounds(src), densify_pts=21)
    except (CRSError, ValueError):  # not expressible in the scene's CRS: far away
        left = bottom = right = top = np.nan
    inverse = ~georef.transform
    cols, rows = zip(*(inverse @ corner for corner in ((left, top), (right, top), (left, bottom), (right, bottom))),
                     strict=True)  # fmt: skip
    placed = np.isfinite(cols).all() and np.isfinite(rows).all()  # NaN: the reference lies beyond the scene's CRS
    col0 = max(0, int(np.floor(min(cols)))) if placed else 0
    col1 = min(georef.width, int(np.ceil(max(cols)))) if placed else 0
    row0 = max(0, int(np.floor(min(rows)))) if placed else 0
    row1 = min(georef.height, int(np.ceil(max(rows)))) if placed else 0
    if col1 <= col0 or row1 <= row0:
        raise GuideError(
            f"{name} does not overlap {scene_name}: the reference shows another place "
            f"({_lonlat(crs, _source_bounds(src))}; the scene: {_lonlat(georef.crs, georef.bounds)})."
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


def _source_bounds(src: rasterio.io.DatasetReader) -> tuple[float, float, float, float]:
    """Bounds in the source's CRS, or in its GCPs' CRS for a GCP-only raster."""
    gcps, _ = src.gcps
    if src.crs is None and gcps:
        xs, ys = [g.x for g in gcps], [g.y for g in gcps]
        return min(xs), min(ys), max(xs), max(ys)
    return tuple(src.bounds)


def _lonlat(crs, bounds: tuple[float, float, float, float]) -> str:
    """'lon 12.10..12.40, lat 45.00..45.20' for messages."""
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    return f"lon {west:.2f}..{east:.2f}, lat {south:.2f}..{north:.2f}"


def _check_georeference(src: rasterio.io.DatasetReader, georef: Georef, name: str, scene_name: str) -> bool:
    """True when both are georeferenced; False when neither is; `GuideError` when only one is."""
    guide_placed = src.crs is not None or bool(src.gcps[0])
    if georef.is_georeferenced and not guide_placed:
        raise GuideError(
            f"{name} has no georeference (no map coordinates), but {scene_name} has one: the reference cannot be "
            "placed on the scene. Use the GeoTIFF of the optical image, with its coordinates."
        )
    if not georef.is_georeferenced and guide_placed:
        raise GuideError(
            f"{scene_name} has no georeference, but the reference {name} has one: they cannot be matched. "
            "Use the georeferenced SAR scene, or a reference without coordinates that shows exactly its ground."
        )
    return guide_placed


def open_guide(
    path: str | Path,
    georef: Georef,
    bands: tuple[int, int, int] | None = None,
    name: str | None = None,
    scene_name: str = "the SAR scene",
) -> Guide:
    """Open an optical reference for a scene on `georef`; raises `GuideError`/`ReferenceBandsUnknown` before any work.

    `bands`: 1-based red, green, blue, when the file does not say (13-band Sentinel-2 stacks are found by count).
    `name`: the file's name as the analyst gave it, for messages and the label.
    """
    name = name or Path(path).name
    src = open_raster(path, GUIDE_WHAT, name)
    try:
        _require_three_bands(src, name)
        rgb = rgb_bands(src, bands)
        check_optical(src, rgb, name)
        band_names = reference_band_names(src, rgb)
        date = guide_date(src, name)
        if _check_georeference(src, georef, name, scene_name):
            view = _warped(src, georef)
            return Guide(name, date, rgb, band_names, src, view, _footprint(src, georef, name, scene_name),
                         georef=georef, alpha=_added_alpha(src, view))  # fmt: skip
        scale = (src.width / georef.width, src.height / georef.height)
        note = (
            f"Neither {scene_name} nor {name} has a georeference: the reference is taken to show exactly the "
            f"scene's ground{'' if scale == (1.0, 1.0) else ', stretched onto its pixels'}."
        )
        return Guide(name, date, rgb, band_names, src, src, Window(0, 0, georef.width, georef.height), scale, [note])
    except BaseException:
        src.close()
        raise
