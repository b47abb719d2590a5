"""Open a SAR raster as a `SarScene`: validated, band chosen, encoding known, readable by window.

Everything goes through rasterio/GDAL: GeoTIFF, PNG and JPEG alike. GCP-only rasters
(raw GRD) are warped on the fly to a regular grid in the GCPs' CRS with a WarpedVRT.
Checks run on the header, before any pixel is read.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioIOError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from core.errors import (
    EmptyRasterError,
    InvalidSettingsError,
    NotARasterError,
    RasterTooLargeError,
    UnsupportedRasterError,
)
from core.normalise import Encoding, InputSpace, InputTransform, Stretch, fit_stretch, to_db
from core.plausibility import check_plausibly_sar
from core.settings import Limits

POLARISATIONS = ("VV", "VH", "HH", "HV")
NAME_POLARISATION = re.compile(r"(?<![a-z])(vv|vh|hh|hv)(?![a-z])", re.IGNORECASE)
STATS_MAX_SIDE = 1024  # decimated read used for encoding detection and the stretch
SUPPORTED_KINDS = {"u", "i", "f"}
BAND_HINT = "expected 1 band (VV or VH), 2 bands (VV and VH) or a 3-band grey rendering"


@dataclass(frozen=True)
class Georef:
    """Where the scene lies: CRS (None if unknown) and pixel grid."""

    crs: CRS | None
    transform: Affine
    width: int
    height: int

    @property
    def is_georeferenced(self) -> bool:
        return self.crs is not None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        left, top = self.transform * (0, 0)
        right, bottom = self.transform * (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)


@dataclass
class SarScene:
    """An open SAR raster: one band, its encoding, its stretch, windowed reads."""

    path: Path
    source: rasterio.io.DatasetReader
    dataset: rasterio.io.DatasetReader | WarpedVRT
    band: int
    band_name: str
    encoding: Encoding
    encoding_detected: bool
    stretch: Stretch
    georef: Georef
    source_dtype: str
    warped_from_gcps: bool
    warnings: list[str]  # what the analyst should know (e.g. no georeference); no global warning state

    def input_transform(self, space: InputSpace) -> InputTransform:
        """dB -> model input for this scene (its encoding, polarisation and whole-scene stretch)."""
        return InputTransform(InputSpace(space), self.encoding, self.band_name, self.stretch)

    def read_window(
        self, window: Window, space: InputSpace = InputSpace.STRETCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model input (C x H x W in [-1, 1]) and a validity mask (H x W, True = valid) for a window."""
        try:
            values = self.dataset.read(self.band, window=window, masked=False)
            gdal_mask = None if self.all_valid else self.dataset.read_masks(self.band, window=window) > 0
        except RasterioIOError as exc:  # e.g. a truncated file whose sampled part was intact
            raise NotARasterError(
                f"{self.path.name} is damaged: rows {window.row_off}-{window.row_off + window.height} "
                "cannot be read. Export or download it again."
            ) from exc
        db = to_db(values, self.encoding)
        valid = np.isfinite(db) if gdal_mask is None else gdal_mask & np.isfinite(db)
        if not valid.all():
            db[~valid] = np.nan
        return self.input_transform(space)(db), valid

    @functools.cached_property
    def all_valid(self) -> bool:
        """GDAL says every pixel of the band is valid (no nodata, no mask): no mask to read per window."""
        return self.dataset.mask_flag_enums[self.band - 1] == [MaskFlags.all_valid]

    def close(self) -> None:
        if self.dataset is not self.source:
            self.dataset.close()
        self.source.close()


def _describe_bands(src: rasterio.io.DatasetReader) -> list[str]:
    names = []
    for i, desc in enumerate(src.descriptions, start=1):
        tags = src.tags(i)
        text = " ".join([desc or "", tags.get("POLARIZATION", ""), tags.get("polarization", "")]).upper()
        names.append(
            "VH" if "VH" in text else "VV" if "VV" in text else "HH" if "HH" in text else "HV" if "HV" in text else ""
        )
    return names


def polarisation_from_name(name: str) -> str | None:
    """VV/VH/HH/HV from file-name conventions (`s1_vh.tif`, `S1A_IW_GRDH_..._VV-dB.tif`), if exactly one is named."""
    found = {m.upper() for m in NAME_POLARISATION.findall(Path(name).stem)}
    return found.pop() if len(found) == 1 else None


def choose_band(src: rasterio.io.DatasetReader, wanted: str, limits: Limits, name: str) -> tuple[int, str]:
    """1-based band index and its polarisation name (VV by default)."""
    if src.count == 0:
        raise UnsupportedRasterError(f"{name} has no bands; {BAND_HINT}.")
    if src.count > limits.max_bands:
        raise UnsupportedRasterError(f"{name} has {src.count} bands; {BAND_HINT}.")
    wanted = wanted.upper()
    names = _describe_bands(src)
    if wanted in names:
        return names.index(wanted) + 1, wanted
    if src.count == 2 and not any(names):  # GEE / SNAP exports put VV first
        return (1, "VV") if wanted == "VV" else (2, "VH")
    if wanted.isdigit() and 1 <= int(wanted) <= src.count:
        return int(wanted), names[int(wanted) - 1] or f"band {wanted}"
    if src.count == 1 or (src.count in (3, 4) and not any(names)):
        return 1, names[0] or "unknown"
    raise InvalidSettingsError(f"{name} has no {wanted} band (bands: {', '.join(n or '?' for n in names)}).")


def detect_encoding(sample_db_candidates: np.ndarray, dtype: np.dtype, tags: dict[str, str]) -> Encoding:
    """Guess the encoding from the dtype, metadata and value range of a sample."""
    text = " ".join(f"{k}={v}" for k, v in tags.items()).lower()
    if "db" in text.replace("dbf", "") and dtype.kind == "f":
        return Encoding.DB
    if "linear" in text and dtype.kind == "f":
        return Encoding.LINEAR
    if dtype == np.uint8:
        return Encoding.DB_U8
    if dtype.kind in "ui":
        return Encoding.AMPLITUDE
    finite = sample_db_candidates[np.isfinite(sample_db_candidates)]
    if finite.size == 0:
        return Encoding.DB
    if (finite < 0).any():
        return Encoding.DB
    p50, p99 = np.percentile(finite, [50, 99])
    return Encoding.LINEAR if p50 < 1.0 and p99 < 50.0 else Encoding.AMPLITUDE


def open_raster(path: str | Path) -> rasterio.io.DatasetReader:
    """rasterio.open with analyst-readable errors for files that are not rasters."""
    path = Path(path)
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        if "bands" in str(exc).lower():  # GDAL refuses 0-band datasets at open
            raise UnsupportedRasterError(f"{path.name} has no usable bands; {BAND_HINT}.") from exc
        raise NotARasterError(
            f"{path.name} is not a readable raster image: expected a GeoTIFF, PNG or JPEG of a SAR scene."
        ) from exc


def _check_header(src: rasterio.io.DatasetReader, limits: Limits, name: str) -> None:
    pixels = src.width * src.height
    if pixels > limits.max_pixels:
        raise RasterTooLargeError(
            f"{name} is {src.width:,} x {src.height:,} px ({pixels / 1e6:,.0f} Mpx); "
            f"the limit is {limits.max_pixels / 1e6:,.0f} Mpx (SARCOLOR_MAX_PIXELS)."
        )
    if src.count == 0:
        raise UnsupportedRasterError(f"{name} has no bands; {BAND_HINT}.")
    kind = np.dtype(src.dtypes[0]).kind if src.dtypes[0] != "complex_int16" else "c"
    if kind not in SUPPORTED_KINDS:
        raise UnsupportedRasterError(
            f"{name} holds {src.dtypes[0]} pixels (complex SLC or boolean?); "
            "colorize a detected GRD product (intensity, amplitude or dB)."
        )
    if src.tags(1, "IMAGE_STRUCTURE").get("NBITS") == "1":
        raise UnsupportedRasterError(f"{name} is a 1-bit (boolean) mask, not a SAR image.")


def _georeferenced_view(src: rasterio.io.DatasetReader) -> tuple[rasterio.io.DatasetReader | WarpedVRT, bool]:
    """The dataset itself, or a WarpedVRT onto a regular grid if it has only GCPs."""
    gcps, gcp_crs = src.gcps
    if src.crs is None and gcps:
        vrt = WarpedVRT(src, src_crs=gcp_crs, crs=gcp_crs, resampling=Resampling.bilinear, src_nodata=src.nodata)
        return vrt, True
    return src, False


def decimated_read(
    dataset, bands: list[int], max_side: int, resampling: Resampling = Resampling.nearest
) -> tuple[np.ndarray, np.ndarray, Affine]:
    """Bands read at <= max_side px a side, the first band's GDAL mask, and the read's transform."""
    scale = max(1.0, max(dataset.width, dataset.height) / max_side)
    shape = (max(1, round(dataset.height / scale)), max(1, round(dataset.width / scale)))
    values = dataset.read(bands, out_shape=(len(bands), *shape), resampling=resampling)
    mask = dataset.read_masks(bands[0], out_shape=shape, resampling=Resampling.nearest) > 0
    step = Affine.scale(dataset.width / shape[1], dataset.height / shape[0])
    return values, mask, dataset.transform @ step


def _polarisation(band_name: str, polarisation: str | None, band_count: int, name: str) -> str:
    """The band's polarisation: `polarisation` if given (not 'auto'), else the band's, else the file name's."""
    if polarisation and polarisation.lower() != "auto":
        if polarisation.upper() not in POLARISATIONS:
            raise InvalidSettingsError(f"Unknown polarisation {polarisation!r}: use auto, VV, VH, HH or HV.")
        return polarisation.upper()
    if band_name not in POLARISATIONS and band_count == 1:
        return polarisation_from_name(name) or band_name
    return band_name


def open_scene(
    path: str | Path,
    band: str = "VV",
    encoding: Encoding | str | None = None,
    limits: Limits | None = None,
    polarisation: str | None = None,
) -> SarScene:
    """Open and validate a SAR raster; raises a `core.errors` type on bad input (`NotSarError`: an optical image).

    The band's polarisation comes from `polarisation` if given (not 'auto'), else from band
    descriptions and tags, else from the file name (single-band files).
    """
    path = Path(path)
    limits = limits or Limits.from_env()
    name = path.name
    src = open_raster(path)
    try:
        _check_header(src, limits, name)
        band_index, band_name = choose_band(src, band, limits, name)
        band_name = _polarisation(band_name, polarisation, src.count, name)
        dataset, warped = _georeferenced_view(src)
        try:
            values, mask, _ = decimated_read(dataset, [band_index], STATS_MAX_SIDE)
            values = values[0]
        except RasterioIOError as exc:
            message = f"{name} is damaged: its pixels cannot be read. Export or download it again."
            raise NotARasterError(message) from exc
        float_values = values.astype(np.float64)
        float_values[~mask] = np.nan
        if encoding in (None, "auto"):
            tags = {**src.tags(), **src.tags(band_index)}
            chosen, detected = detect_encoding(float_values, np.dtype(src.dtypes[0]), tags), True
        else:
            chosen, detected = Encoding(encoding), False
        db = to_db(float_values, chosen)
        try:
            stretch = fit_stretch(db)
        except ValueError:
            raise EmptyRasterError(f"{name} holds no valid pixel: every value is nodata, NaN or zero.") from None
        check_plausibly_sar(src, band_index, chosen, detected, name)
        georef = Georef(dataset.crs, dataset.transform, dataset.width, dataset.height)
        notes = (
            [] if georef.is_georeferenced else [f"{name} has no georeference: the result will not be placed on a map."]
        )
        return SarScene(
            path, src, dataset, band_index, band_name, chosen, detected, stretch, georef, src.dtypes[0], warped, notes
        )
    except BaseException:
        src.close()
        raise


@contextlib.contextmanager
def opened_scene(path: str | Path, **kwargs) -> Iterator[SarScene]:
    """`open_scene` as a context manager."""
    scene = open_scene(path, **kwargs)
    try:
        yield scene
    finally:
        scene.close()
