"""Open a SAR raster as a `SarScene`: validated, band chosen, encoding known, readable by window.

Everything goes through rasterio/GDAL: GeoTIFF, PNG and JPEG alike. GCP-only rasters
(raw GRD) are warped on the fly to a regular grid in the GCPs' CRS with a WarpedVRT.
Checks run on the header, before any pixel is read.
"""

from __future__ import annotations

import contextlib
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
from core.rasters.normalise import Encoding, InputSpace, InputTransform, Stretch, fill_with_texture, fit_stretch, to_db
from core.rasters.plausibility import check_band_count, check_plausibly_sar
from core.rasters.products import PreparedInput, prepare_input
from core.settings import Limits

POLARISATIONS = ("VV", "VH", "HH", "HV")
NAME_POLARISATION = re.compile(r"(?<![a-z])(vv|vh|hh|hv)(?![a-z])", re.IGNORECASE)
STATS_MAX_SIDE = 1024  # decimated read used for encoding detection and the stretch
STRETCHED_EXTREME_SHARE = 1e-4  # at most this share of an 8-bit image at 0 and at 255: stretched to its min and max
SCAN_ROWS = 256  # rows read at a time when looking for the valid pixels' bounding box
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
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)


@dataclass
class SarScene:
    """An open SAR raster: one band, its encoding, its stretch, windowed reads.

    `region` is the bounding box of the valid pixels: the part the pipeline tiles, and the part
    the stretch is measured on, so nodata around the data (a frame, padding) changes nothing.
    """

    path: Path
    source: rasterio.io.DatasetReader
    dataset: rasterio.io.DatasetReader | WarpedVRT
    band: int
    band_name: str
    encoding: Encoding
    encoding_detected: bool
    stretch: Stretch
    georef: Georef
    region: Window
    source_dtype: str
    warped_from_gcps: bool
    warnings: list[str]  # what the analyst should know (e.g. no georeference); no global warning state
    product: PreparedInput | None = None  # a product behind the raster (.SAFE, RTC pair): its tags, its scratch

    def input_transform(self, space: InputSpace) -> InputTransform:
        """dB -> model input for this scene (its encoding, polarisation and whole-scene stretch)."""
        return InputTransform(InputSpace(space), self.encoding, self.band_name, self.stretch)

    def read_window(
        self, window: Window, space: InputSpace = InputSpace.STRETCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """Model input (C x H x W in [-1, 1]) and a validity mask (H x W, True = valid) for a window.

        Nodata inside the window is filled with its valid pixels drawn at random (`fill_with_texture`) before the
        model sees it.
        """
        db, valid = read_band_db(self.dataset, self.band, self.encoding, window, self.path.name)
        return self.input_transform(space)(fill_with_texture(db)), valid

    @property
    def product_tags(self) -> dict[str, str]:
        """What the output records of the product (empty for a plain raster)."""
        return dict(self.product.tags) if self.product else {}

    def close(self) -> None:
        if self.dataset is not self.source:
            self.dataset.close()
        self.source.close()
        if self.product is not None:
            self.product.discard()


def _all_valid(dataset, band: int) -> bool:
    """GDAL says every pixel of the band is valid (no nodata, no mask): no mask to read per window."""
    return dataset.mask_flag_enums[band - 1] == [MaskFlags.all_valid]


def read_band_db(dataset, band: int, encoding: Encoding, window: Window, name: str) -> tuple[np.ndarray, np.ndarray]:
    """dB of one band in a window (NaN where invalid) and its validity (GDAL mask or nodata, and finite dB)."""
    try:
        values = dataset.read(band, window=window, masked=False)
        gdal_mask = None if _all_valid(dataset, band) else dataset.read_masks(band, window=window) > 0
    except RasterioIOError as exc:  # e.g. a truncated file whose sampled part was intact
        raise NotARasterError(
            f"{name} is damaged: rows {window.row_off}-{window.row_off + window.height} "
            "cannot be read. Export or download it again."
        ) from exc
    db = to_db(values, encoding)
    valid = np.isfinite(db) if gdal_mask is None else gdal_mask & np.isfinite(db)
    if not valid.all():
        db[~valid] = np.nan
    return db, valid


def valid_region(dataset, band: int, encoding: Encoding, name: str) -> Window:
    """Bounding box of the band's valid pixels, exact: one pass over the band, `SCAN_ROWS` rows at a time."""
    rows = np.zeros(dataset.height, bool)
    columns = np.zeros(dataset.width, bool)
    for top in range(0, dataset.height, SCAN_ROWS):
        window = Window(0, top, dataset.width, min(SCAN_ROWS, dataset.height - top))
        _, valid = read_band_db(dataset, band, encoding, window, name)
        rows[top : top + window.height] = valid.any(axis=1)
        columns |= valid.any(axis=0)
    if not rows.any():
        raise EmptyRasterError(f"{name} holds no valid pixel: every value is nodata, NaN or zero.")
    (ys,), (xs,) = np.nonzero(rows), np.nonzero(columns)
    return Window(int(xs[0]), int(ys[0]), int(xs[-1]) + 1 - int(xs[0]), int(ys[-1]) + 1 - int(ys[0]))


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


def stretched_to_own_range(sample: np.ndarray) -> bool:
    """True if 8-bit values touch 0 and 255 with a handful of pixels each (at most `STRETCHED_EXTREME_SHARE`): an
    image stretched by its own min and max (`db_minmax_u8`, Earth Engine exports), not one clipped to a fixed dB range,
    which piles pixels up at the ends. Measured: 87 % of OMBRIA's images, 0.4 % of SEN1-2 train's."""
    values = sample[np.isfinite(sample)]
    most = max(1.0, STRETCHED_EXTREME_SHARE * values.size)
    low, high = int((values == 0).sum()), int((values == 255).sum())
    return 0 < low <= most and 0 < high <= most


def detect_encoding(sample_db_candidates: np.ndarray, dtype: np.dtype, tags: dict[str, str]) -> Encoding:
    """Guess the encoding from the dtype, metadata and value range of a sample.

    A tag `encoding=<name>` naming one of ours (as `linear_u8` on volkov exports) wins when it fits the dtype.
    """
    declared = next((v.strip().lower() for k, v in tags.items() if k.lower() == "encoding"), "")
    if declared in {e.value for e in Encoding} and declared.endswith("_u8") == (dtype == np.uint8):
        return Encoding(declared)
    text = " ".join(f"{k}={v}" for k, v in tags.items()).lower()
    if "db" in text.replace("dbf", "") and dtype.kind == "f":
        return Encoding.DB
    if "linear" in text and dtype.kind == "f":
        return Encoding.LINEAR
    if dtype == np.uint8:
        return Encoding.DB_MINMAX_U8 if stretched_to_own_range(sample_db_candidates) else Encoding.DB_U8
    if dtype.kind in "ui":
        return Encoding.AMPLITUDE
    finite = sample_db_candidates[np.isfinite(sample_db_candidates)]
    if finite.size == 0:
        return Encoding.DB
    if (finite < 0).any():
        return Encoding.DB
    p50, p99 = np.percentile(finite, [50, 99])
    return Encoding.LINEAR if p50 < 1.0 and p99 < 50.0 else Encoding.AMPLITUDE


def open_raster(path: str | Path, what: str = "a SAR scene", name: str | None = None) -> rasterio.io.DatasetReader:
    """rasterio.open with analyst-readable errors for files that are not rasters (`what` the file should hold,
    `name` the file's name as the analyst gave it)."""
    path = Path(path)
    name = name or path.name
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        if "bands" in str(exc).lower():  # GDAL refuses 0-band datasets at open
            raise UnsupportedRasterError(f"{name} has no usable bands; {BAND_HINT}.") from exc
        raise NotARasterError(
            f"{name} is not a readable raster image: expected a GeoTIFF, PNG or JPEG of {what}."
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


def second_view(scene: SarScene) -> tuple[rasterio.io.DatasetReader, rasterio.io.DatasetReader | WarpedVRT]:
    """Another handle on the scene's raster (file, georeferenced view) for another thread: GDAL handles are not
    thread-safe. Close the file (and the view, when it is another object) when done."""
    src = open_raster(scene.path)
    view, _ = _georeferenced_view(src)
    return src, view


def decimated_read(
    dataset,
    bands: list[int],
    max_side: int,
    resampling: Resampling = Resampling.nearest,
    window: Window | None = None,
) -> tuple[np.ndarray, np.ndarray, Affine]:
    """Bands of `window` (default: all) read at <= max_side px a side, the first band's GDAL mask, the transform."""
    window = window or Window(0, 0, dataset.width, dataset.height)
    scale = max(1.0, max(window.width, window.height) / max_side)
    shape = (max(1, round(window.height / scale)), max(1, round(window.width / scale)))
    values = dataset.read(bands, out_shape=(len(bands), *shape), resampling=resampling, window=window)
    mask = dataset.read_masks(bands[0], out_shape=shape, resampling=Resampling.nearest, window=window) > 0
    step = Affine.scale(window.width / shape[1], window.height / shape[0])
    return values, mask, dataset.window_transform(window) @ step


def _sample_db(dataset, band: int, encoding: Encoding, window: Window | None = None) -> np.ndarray:
    """A decimated read of the band in dB (NaN where invalid), for the stretch."""
    values, mask, _ = decimated_read(dataset, [band], STATS_MAX_SIDE, window=window)
    db = to_db(values[0], encoding)
    db[~mask] = np.nan
    return db


def _polarisation(band_name: str, polarisation: str | None, band_count: int, name: str) -> str:
    """The band's polarisation: `polarisation` if given (not 'auto'), else the band's, else the file name's."""
    if polarisation and polarisation.lower() != "auto":
        if polarisation.upper() not in POLARISATIONS:
            raise InvalidSettingsError(f"Unknown polarisation {polarisation!r}: use auto, VV, VH, HH or HV.")
        return polarisation.upper()
    if band_name not in POLARISATIONS and band_count == 1:
        return polarisation_from_name(name) or band_name
    return band_name


def _sample(dataset, band: int, name: str) -> np.ndarray:
    """A decimated read of the band as float64, NaN where masked; `NotARasterError` when it cannot be read."""
    try:
        values, mask, _ = decimated_read(dataset, [band], STATS_MAX_SIDE)
    except RasterioIOError as exc:
        message = f"{name} is damaged: its pixels cannot be read. Export or download it again."
        raise NotARasterError(message) from exc
    sample = values[0].astype(np.float64)
    sample[~mask] = np.nan
    return sample


def _chosen_encoding(
    src: rasterio.io.DatasetReader, band: int, sample: np.ndarray, encoding: Encoding | str | None
) -> tuple[Encoding, bool]:
    """The encoding asked for, or the one detected from the sample, dtype and tags; and whether it was detected."""
    if encoding in (None, "auto"):
        tags = {**src.tags(), **src.tags(band)}
        return detect_encoding(sample, np.dtype(src.dtypes[0]), tags), True
    return Encoding(encoding), False


def sampled_region(dataset, valid: np.ndarray) -> Window:
    """The valid pixels' bounding box from a decimated validity mask, one sample cell wider on every side (so it
    holds every valid pixel): a whole product's box without a full pass over it."""
    (ys,), (xs,) = np.nonzero(valid.any(axis=1)), np.nonzero(valid.any(axis=0))
    sy, sx = dataset.height / valid.shape[0], dataset.width / valid.shape[1]
    top, left = max(0, int((ys[0] - 1) * sy)), max(0, int((xs[0] - 1) * sx))
    bottom = min(dataset.height, int(np.ceil((ys[-1] + 2) * sy)))
    right = min(dataset.width, int(np.ceil((xs[-1] + 2) * sx)))
    return Window(left, top, right - left, bottom - top)


def _region_and_stretch(
    dataset, band: int, encoding: Encoding, sample: np.ndarray, name: str, exact: bool = True
) -> tuple[Window, Stretch]:
    """The valid pixels' bounding box (exact, or from the sample) and the stretch measured inside it;
    `EmptyRasterError` with no valid pixel."""
    db = to_db(sample, encoding)
    if not np.isfinite(db).any():
        raise EmptyRasterError(f"{name} holds no valid pixel: every value is nodata, NaN or zero.")
    region = Window(0, 0, dataset.width, dataset.height)
    if not np.isfinite(db).all():  # nodata in the sample: measure the stretch on the valid pixels' box
        exact_region = valid_region(dataset, band, encoding, name) if exact else None
        region = exact_region or sampled_region(dataset, np.isfinite(db))
        db = _sample_db(dataset, band, encoding, region)
    return region, fit_stretch(db)


def open_scene(
    path: str | Path,
    band: str = "VV",
    encoding: Encoding | str | None = None,
    limits: Limits | None = None,
    polarisation: str | None = None,
) -> SarScene:
    """Open and validate a SAR raster or product; raises a `core.errors` type on bad input (`NotSarError`: an
    optical image).

    A `.SAFE` product (folder, manifest or zip) is calibrated to sigma0 with thermal noise removed, an RTC file
    or pair is read with its sibling polarisation known (`core.rasters.products`). The band's polarisation comes
    from `polarisation` if given (not 'auto'), else from band descriptions and tags, else from the file name.
    """
    prepared = prepare_input(path, band)
    from_product = encoding in (None, "auto") and prepared.encoding is not None
    if from_product:
        encoding = prepared.encoding
    try:
        limits = limits or Limits.from_env()
        exact = prepared.scratch is None  # a whole calibrated product: its valid box from the decimated sample
        scene = _open_raster_scene(prepared.raster, prepared.name, band, encoding, limits, polarisation, exact)
    except BaseException:
        prepared.discard()
        raise
    scene.product = prepared if prepared.raster != Path(path) or prepared.tags else None
    scene.encoding_detected = scene.encoding_detected or from_product  # known from the product, not the analyst's
    scene.warnings += prepared.notes
    return scene


def _open_raster_scene(
    path: Path,
    name: str,
    band: str,
    encoding: Encoding | str | None,
    limits: Limits,
    polarisation: str | None,
    exact_region: bool = True,
) -> SarScene:
    """`open_scene` for one raster file (`name`: the input's name as the analyst gave it; `exact_region`: the
    valid pixels' box from a full pass, else from the decimated sample)."""
    src = open_raster(path, name=name)
    try:
        _check_header(src, limits, name)
        check_band_count(src, name)  # before the band count's own error: a Sentinel-2 stack is told it is optical
        band_index, band_name = choose_band(src, band, limits, name)
        band_name = _polarisation(band_name, polarisation, src.count, path.name)
        dataset, warped = _georeferenced_view(src)
        sample = _sample(dataset, band_index, name)
        chosen, detected = _chosen_encoding(src, band_index, sample, encoding)
        region, stretch = _region_and_stretch(dataset, band_index, chosen, sample, name, exact=exact_region)
        check_plausibly_sar(src, band_index, chosen, detected, name)
        georef = Georef(dataset.crs, dataset.transform, dataset.width, dataset.height)
        notes = (
            [] if georef.is_georeferenced else [f"{name} has no georeference: the result will not be placed on a map."]
        )
        return SarScene(
            path,
            src,
            dataset,
            band_index,
            band_name,
            chosen,
            detected,
            stretch,
            georef,
            region,
            src.dtypes[0],
            warped,
            notes,
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
