"""SAR values -> the model's canonical input space. Shared by training and inference.

Every encoding is first converted to backscatter in dB; a robust per-scene stretch
(2nd-98th percentile of valid dB values) then maps it to [-1, 1]. Encodings that
differ by an affine change in dB (calibration offsets, u8 renderings, amplitude vs
power) therefore land in the same space. Optical references map to RGB in [0, 1] with
`optical_to_unit`, the one rule used by samples, display copies and training targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np

LOW_PERCENTILE = 2.0
HIGH_PERCENTILE = 98.0
DB_U8_RANGE = (-25.0, 0.0)  # the usual SEN1-2 clip for VV backscatter


class Encoding(StrEnum):
    """How SAR pixel values were stored."""

    DB = "db"  # float sigma0 / gamma0 in dB
    LINEAR = "linear"  # float linear power
    AMPLITUDE = "amplitude"  # integer amplitude DN (raw GRD)
    DB_U8 = "db_u8"  # 8-bit rendering of dB (SEN1-2, display images)
    LINEAR_U8 = "linear_u8"  # 8-bit linear intensity / per-scene p99


def to_db(values: np.ndarray, encoding: Encoding) -> np.ndarray:
    """Convert raw values to dB (float32). Non-positive linear values become NaN."""
    v = values.astype(np.float32, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        if encoding == Encoding.DB:
            db = v
        elif encoding == Encoding.LINEAR:
            db = 10.0 * np.log10(np.where(v > 0, v, np.nan))
        elif encoding == Encoding.AMPLITUDE:
            db = 20.0 * np.log10(np.where(v > 0, v, np.nan))
        elif encoding == Encoding.DB_U8:
            lo, hi = DB_U8_RANGE
            db = lo + v * ((hi - lo) / 255.0)
        elif encoding == Encoding.LINEAR_U8:
            db = 10.0 * np.log10(np.where(v > 0, v / 255.0, np.nan))
        else:  # pragma: no cover - Enum is closed
            raise ValueError(encoding)
    return db.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Stretch:
    """The dB range mapped to [-1, 1]."""

    low_db: float
    high_db: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_stretch(db: np.ndarray) -> Stretch:
    """Robust range of the finite dB values; raises ValueError if there are none."""
    finite = db[np.isfinite(db)]
    if finite.size == 0:
        raise ValueError("no valid pixel")
    low, high = np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if high - low < 1e-3:  # flat image: centre it instead of dividing by ~0
        low, high = low - 1.0, high + 1.0
    return Stretch(float(low), float(high))


def apply_stretch(db: np.ndarray, stretch: Stretch) -> np.ndarray:
    """Map dB to [-1, 1] with the given stretch; NaN (nodata) becomes -1."""
    scaled = (db - stretch.low_db) / (stretch.high_db - stretch.low_db)
    scaled = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)
    return (scaled * 2.0 - 1.0).astype(np.float32)


S2_DISPLAY_MAX_REFLECTANCE = 0.3  # optical reflectance shown as full brightness
S2_REFLECTANCE_SCALE = 10000.0  # Sentinel-2 L1C/L2A DN per unit reflectance


def optical_to_unit(values: np.ndarray, dtype: str) -> np.ndarray:
    """Optical RGB values -> [0, 1]: uint8 as is; others as reflectance (DN / 10000 if integer), 0.3 -> 1."""
    v = values.astype(np.float32)
    if dtype == "uint8":
        return v / 255.0
    if np.dtype(dtype).kind in "ui":
        v = v / S2_REFLECTANCE_SCALE
    return np.clip(v / S2_DISPLAY_MAX_REFLECTANCE, 0.0, 1.0)


def sar_to_model_input(values: np.ndarray, encoding: Encoding, stretch: Stretch | None = None) -> np.ndarray:
    """The one function from stored SAR values to model input in [-1, 1].

    With `stretch=None` the stretch is fitted on `values` itself (training: per image).
    """
    db = to_db(values, encoding)
    return apply_stretch(db, stretch or fit_stretch(db))
