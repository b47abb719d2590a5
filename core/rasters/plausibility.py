"""Is a raster plausibly SAR? Optical images are refused before any work, with what they look like.

Four rules, each measured on real files (README, "Robustness"); every refusal says "optical" and tells the
analyst to add the file as the reference (the guide) instead:

- many bands: five or more bands, none named as a SAR polarisation and none negative (dB), is a
  multispectral optical image (Sentinel-2 has 13 bands, BigEarthNet's stack 12; a SAR product has one
  to four; a stack of dB bands is left to the band-count error).
- colour: a 3- or 4-band image whose first three bands differ is an optical RGB image, unless its bands
  or tags name a SAR polarisation (a labelled VV/VH composite). Band descriptions that name nothing
  (a TerraMind S2RGB export's "bands") do not exempt it. Grey renderings (the tharun SAR JPEGs) have
  0 % chromatic pixels; optical RGB (volkov, sen12-test, EuroSAT, sebastianelli Sentinel-2 uint16, the
  BigEarthNet RGB) 62-100 %.
- optical names: a file name, band description or tag naming a Sentinel-2 or Landsat product or
  band (`S2A_MSIL2A_..._B04.tif`, `B8A`, `reflectance`), unless it also names a SAR polarisation.
- smoothness: in one band of integer amplitude DN (wider than 8 bits) or non-negative float, speckle
  makes neighbouring pixels differ: a median of 0.98-1.26 dB on the BigEarthNet Sentinel-1 patches,
  1.09-1.14 dB on sebastianelli's float dB. Sentinel-2 bands read the same way differ by 0.19-1.99 dB
  (dark winter patches are as rough as SAR), so the rule refuses only what is smoother than
  `SPECKLE_FLOOR_DB` (half of the BigEarthNet S2 10 m bands) and the name rule carries the rest.
  8-bit single bands are never refused by it: sen12-gray optical and sen12-accioy SAR both measure
  0.59 dB. A band with negative values is dB, never reflectance. Setting the encoding explicitly
  (not auto) skips this rule, for speckle-filtered SAR.
"""

from __future__ import annotations

import re

import numpy as np
import rasterio
from rasterio.windows import Window

from core.errors import NotSarError
from core.rasters.normalise import Encoding, to_db

CHROMA_SHARE = 0.02  # a pixel is chromatic if its bands spread over more than 2 % of the image's range
COLOUR_PIXELS = 0.05  # more than 5 % chromatic pixels: a colour image
SPECKLE_FLOOR_DB = 0.6  # median neighbour difference below which a band is too smooth for SAR
SMOOTHNESS_WINDOW = 512  # px a side, read at full resolution from the scene's centre
MIN_PAIRS = 100  # fewer valid neighbour pairs than this: too small to judge
OPTICAL_TOKEN = re.compile(
    r"(?<![a-z0-9])(s2[abc]|msil1c|msil2a|b0?[1-9]|b1[0-2]|b8a|lc0[89]|sr_b[1-7]|reflectance|boa|toa)(?![a-z0-9])",
    re.IGNORECASE,
)
SAR_TOKEN = re.compile(r"(?<![a-z])(vv|vh|hh|hv|s1[abc]|grd|grdh|sigma0|gamma0)(?![a-z])", re.IGNORECASE)
MULTISPECTRAL_BANDS = 5  # this many bands or more, none named SAR: an optical multispectral image
AS_REFERENCE = "add it as the reference optical image (the guide) instead, beside a SAR scene"


def chromatic_fraction(rgb: np.ndarray, valid: np.ndarray) -> float:
    """Share of valid pixels whose first three bands (3 x H x W) spread over more than `CHROMA_SHARE` of the range."""
    values = rgb[:, valid].astype(np.float64)
    if values.size == 0:
        return 0.0
    span = float(np.percentile(values, 99) - np.percentile(values, 1)) or 1.0
    return float(np.mean(values.max(axis=0) - values.min(axis=0) > CHROMA_SHARE * span))


def optical_token(texts: list[str]) -> str | None:
    """The optical product or band named in these texts (file stem, descriptions, tags), unless SAR is named too."""
    joined = " ".join(texts)
    if SAR_TOKEN.search(joined):
        return None
    found = OPTICAL_TOKEN.search(joined)
    return found.group(1) if found else None


def neighbour_difference_db(db: np.ndarray) -> float | None:
    """Median absolute dB difference between valid horizontal and vertical neighbours (None: too few pairs)."""
    steps = np.concatenate([np.abs(np.diff(db, axis=axis)).ravel() for axis in (0, 1)])
    steps = steps[np.isfinite(steps)]
    return float(np.median(steps)) if steps.size >= MIN_PAIRS else None


def _centre_window(src: rasterio.io.DatasetReader) -> Window:
    """At most `SMOOTHNESS_WINDOW` px a side from the middle of the raster."""
    width, height = min(src.width, SMOOTHNESS_WINDOW), min(src.height, SMOOTHNESS_WINDOW)
    return Window((src.width - width) // 2, (src.height - height) // 2, width, height)


def _centre_db(src: rasterio.io.DatasetReader, band: int, encoding: Encoding) -> np.ndarray:
    """The scene's central window at full resolution, in dB, NaN where invalid."""
    window = _centre_window(src)
    db = to_db(src.read(band, window=window), encoding)
    db[src.read_masks(band, window=window) == 0] = np.nan
    return db


def _texts(src: rasterio.io.DatasetReader, name: str) -> list[str]:
    """The file stem (separators as spaces), band descriptions and tags: where a raster says what it is."""
    tags = [f"{k} {v}" for tags in (src.tags(), *(src.tags(i) for i in src.indexes)) for k, v in tags.items()]
    return [re.sub(r"[_.\-]", " ", name.rsplit(".", 1)[0]), *(d or "" for d in src.descriptions), *tags]


def names_sar(src: rasterio.io.DatasetReader, name: str) -> bool:
    """Whether the file's name, band descriptions or tags name a SAR polarisation or product."""
    return SAR_TOKEN.search(" ".join(_texts(src, name))) is not None


def check_band_count(src: rasterio.io.DatasetReader, name: str) -> None:
    """Refuse a raster of `MULTISPECTRAL_BANDS` or more bands, none named as SAR nor in dB: multispectral optical."""
    if src.count < MULTISPECTRAL_BANDS or names_sar(src, name):
        return
    first = src.read(1, out_shape=_thumbnail_shape(src)).astype(np.float64)
    if (first[np.isfinite(first)] < 0).any():  # dB: SAR bands, stacked
        return
    raise NotSarError(
        f"{name} looks like an optical multispectral image, not SAR: it has {src.count} bands (Sentinel-2 has "
        f"13; a SAR scene has one to four) and none is named VV, VH, HH or HV. Please {AS_REFERENCE}. "
        "A stack of SAR bands: save its VV or VH band alone."
    )


def check_colour(src: rasterio.io.DatasetReader, rgb: np.ndarray, valid: np.ndarray, name: str) -> None:
    """Refuse a 3- or 4-band image whose first three bands hold different colours, unless it names SAR bands."""
    if src.count not in (3, 4) or names_sar(src, name):
        return
    share = chromatic_fraction(rgb, valid)
    if share > COLOUR_PIXELS:
        raise NotSarError(
            f"{name} looks like an optical RGB image, not SAR ({share:.0%} of its pixels are coloured): "
            f"please {AS_REFERENCE}. A SAR colour composite: upload its VV or VH band alone."
        )


def check_not_optical_product(src: rasterio.io.DatasetReader, name: str) -> None:
    """Refuse a raster whose name, band descriptions or tags name an optical product or band."""
    token = optical_token(_texts(src, name))
    if token:
        raise NotSarError(
            f"{name} looks like an optical image, not SAR (it is labelled {token!r}, an optical band or product): "
            f"please {AS_REFERENCE}."
        )


def check_speckle(src: rasterio.io.DatasetReader, band: int, encoding: Encoding, name: str) -> None:
    """Refuse one band of >8-bit integers or non-negative floats that is too smooth to carry speckle."""
    if encoding not in (Encoding.AMPLITUDE, Encoding.LINEAR):  # dB has negative values; 8-bit cannot be told
        return
    step = neighbour_difference_db(_centre_db(src, band, encoding))
    if step is not None and step < SPECKLE_FLOOR_DB:
        raise NotSarError(
            f"{name} looks like optical reflectance (e.g. a Sentinel-2 band), not SAR: neighbouring pixels differ "
            f"by {step:.2f} dB, where SAR speckle makes them differ by at least {SPECKLE_FLOOR_DB} dB. "
            f"Please {AS_REFERENCE}; if it is speckle-filtered SAR, set its encoding (not auto)."
        )


def check_plausibly_sar(
    src: rasterio.io.DatasetReader, band: int, encoding: Encoding, detected: bool, name: str
) -> None:
    """Raise `NotSarError` if the raster looks like an optical image (the module docstring's rules)."""
    check_not_optical_product(src, name)
    if src.count in (3, 4):
        rgb = src.read([1, 2, 3], out_shape=(3, *_thumbnail_shape(src)))
        valid = src.read_masks(1, out_shape=_thumbnail_shape(src)) > 0
        check_colour(src, rgb, valid, name)
    if detected:
        check_speckle(src, band, encoding, name)


def _thumbnail_shape(src: rasterio.io.DatasetReader, side: int = 256) -> tuple[int, int]:
    """(rows, columns) of a decimated read at most `side` px a side."""
    scale = max(1.0, max(src.width, src.height) / side)
    return max(1, round(src.height / scale)), max(1, round(src.width / scale))
