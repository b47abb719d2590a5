"""SAR values -> the model's input space. Shared by training and inference.

Every encoding is first converted to backscatter in dB (`to_db`). A model then sees
one of three input spaces (`InputSpace`, stored in its checkpoint):

- `stretch`: the scene's robust 2nd-98th percentile stretch of dB to [-1, 1]. Encodings
  that differ by an affine change in dB land in the same place; the absolute level is lost.
- `fixed`: VV-equivalent dB on a fixed range (`FIXED_DB_RANGE`), keeping the absolute
  level (water < -18 dB, vegetation -12..-6, built-up > -5 in VV). Cross-polarised bands
  (VH, HV) are raised by `CROSS_POL_OFFSET_DB`. A scene without a trustworthy absolute
  level is anchored instead: its median is placed at `ANCHOR_MEDIAN_DB`. That applies to
  relative encodings (`linear_u8`: intensity over the scene's 99th percentile; `db_minmax_u8`: dB
  stretched by the image's own min and max), to raw
  amplitude DN (uncalibrated: 20 log10 DN is not sigma0), and to 8-bit dB renderings that
  cannot have been made on [-25, 0] dB: a median implausible for sigma0 (outside
  `PLAUSIBLE_MEDIAN_DB`: 1 % of SEN1-2 train images) or a 2-98 % span narrower than speckle
  alone allows (below `NARROW_SPAN_DB`: no SEN1-2 train image; every sen12-accioy image).
  A span that narrow is also stretched around the median to SEN1-2's typical span
  (`TYPICAL_SPAN_DB`, `contrast_gain`). Calibrated float inputs (sigma0 or gamma0 in dB
  or linear power) are taken as they are.
- `fixed+stretch`: both, as two channels.

Optical references map to RGB in [0, 1] with `optical_to_unit`, the one rule used by
samples, display copies and training targets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

import numpy as np
from scipy import ndimage

LOW_PERCENTILE = 2.0
HIGH_PERCENTILE = 98.0
DB_U8_RANGE = (-25.0, 0.0)  # the usual SEN1-2 clip for VV backscatter (checked against BigEarthNet, data/README.md)
FIXED_DB_RANGE = (-30.0, 5.0)  # VV-equivalent dB mapped to [-1, 1] by the fixed input space
CROSS_POL_OFFSET_DB = 6.0  # median VV - VH over the BigEarthNet sample patches (4.9-7.7 dB)
ANCHOR_MEDIAN_DB = -12.0  # VV-equivalent median of scenes without an absolute level (SEN1-2 train: -13.2)
PLAUSIBLE_MEDIAN_DB = (-20.0, -6.0)  # an 8-bit dB rendering whose VV-equivalent median falls outside is anchored
# An 8-bit dB rendering whose 2-98 % span is below NARROW_SPAN_DB is anchored and stretched around its median to
# TYPICAL_SPAN_DB (speckle alone spreads 10 m GRD wider). Measured read as [-25, 0] dB: SEN1-2 train (sen12-gray,
# 1,958) median span 18.7 dB; none of the manifest's 2,045 SEN1-2-rendered images below 9.2 dB; every sen12-accioy
# image 5.9-7.3 dB (its bytes sit at 170-250).
NARROW_SPAN_DB = 8.0
TYPICAL_SPAN_DB = 18.7
MAX_CONTRAST_GAIN = 3.0  # a near-uniform image is not blown up into noise
CROSS_POLARISATIONS = ("VH", "HV")
# db_minmax_u8: dB per 8-bit step, so that OMBRIA's 10-90 % spread (104 steps, median image) equals SEN1-2's
# (11.5 dB); the level is relative (min and max are per image and not stored) and is anchored like linear_u8.
DB_MINMAX_SPAN_DB = 28.0


class InputSpace(StrEnum):
    """What the model sees of the dB values (see the module docstring)."""

    STRETCH = "stretch"
    FIXED = "fixed"
    FIXED_STRETCH = "fixed+stretch"

    @property
    def channels(self) -> int:
        return 2 if self == InputSpace.FIXED_STRETCH else 1


class Encoding(StrEnum):
    """How SAR pixel values were stored."""

    DB = "db"  # float sigma0 / gamma0 in dB
    LINEAR = "linear"  # float linear power
    AMPLITUDE = "amplitude"  # integer amplitude DN (raw GRD)
    AMPLITUDE_CALIBRATED = "amplitude_calibrated"  # calibrated amplitude, sqrt of sigma0/gamma0 (HyP3 RTC 'a')
    DB_U8 = "db_u8"  # 8-bit rendering of dB (SEN1-2, display images)
    LINEAR_U8 = "linear_u8"  # 8-bit linear intensity / per-scene p99
    DB_MINMAX_U8 = "db_minmax_u8"  # 8-bit dB stretched by the image's own min and max (OMBRIA, Earth Engine exports)


def to_db(values: np.ndarray, encoding: Encoding) -> np.ndarray:
    """Convert raw values to dB (float32). Non-positive linear values become NaN."""
    v = values.astype(np.float32, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        if encoding == Encoding.DB:
            db = v
        elif encoding == Encoding.LINEAR:
            db = 10.0 * np.log10(np.where(v > 0, v, np.nan))
        elif encoding in (Encoding.AMPLITUDE, Encoding.AMPLITUDE_CALIBRATED):
            db = 20.0 * np.log10(np.where(v > 0, v, np.nan))
        elif encoding == Encoding.DB_U8:
            lo, hi = DB_U8_RANGE
            db = lo + v * ((hi - lo) / 255.0)
        elif encoding == Encoding.LINEAR_U8:
            db = 10.0 * np.log10(np.where(v > 0, v / 255.0, np.nan))
        elif encoding == Encoding.DB_MINMAX_U8:
            db = (v / 255.0 - 1.0) * DB_MINMAX_SPAN_DB
        else:  # pragma: no cover - Enum is closed
            raise ValueError(encoding)
    return db.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Stretch:
    """The dB range mapped to [-1, 1], and the scene's median dB."""

    low_db: float
    high_db: float
    median_db: float

    @property
    def span_db(self) -> float:
        return self.high_db - self.low_db

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_stretch(db: np.ndarray) -> Stretch:
    """Robust range of the finite dB values; raises ValueError if there are none."""
    finite = db[np.isfinite(db)]
    if finite.size == 0:
        raise ValueError("no valid pixel")
    low, median, high = np.percentile(finite, [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE])
    if high - low < 1e-3:  # flat image: centre it instead of dividing by ~0
        low, high = low - 1.0, high + 1.0
    return Stretch(float(low), float(high), float(median))


def scale_to_model_range(db: np.ndarray, low: float, high: float) -> np.ndarray:
    """dB on [low, high] to [-1, 1] float32, clipped, in a new array; NaN (nodata) becomes -1.

    One allocation and in-place steps: this runs on every pixel of every scene.
    """
    scaled = db - low
    scaled /= high - low
    np.copyto(scaled, 0.0, where=np.isnan(scaled))
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= 2.0
    scaled -= 1.0
    return scaled.astype(np.float32, copy=False)


def apply_stretch(db: np.ndarray, stretch: Stretch) -> np.ndarray:
    """Map dB to [-1, 1] with the given stretch; NaN (nodata) becomes -1."""
    return scale_to_model_range(db, stretch.low_db, stretch.high_db)


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


def fill_nearest_valid(db: np.ndarray) -> np.ndarray:
    """NaN (nodata) cells take the dB of the nearest finite cell (Euclidean); as is without NaN or finite cells."""
    finite = np.isfinite(db)
    if finite.all() or not finite.any():
        return db
    nearest = ndimage.distance_transform_edt(~finite, return_distances=False, return_indices=True)
    return db[tuple(nearest)]


def fill_with_texture(db: np.ndarray) -> np.ndarray:
    """NaN (nodata) cells take the dB of valid cells of the same array drawn at random (a fixed seed: the same
    array is filled alike every time); as is without NaN or finite cells.

    A model with a local receptive field reads a hole's fill as ground: nearest-value streaks are smooth, and it
    painted a bright halo around a hole (+12 grey levels of luma on real SAR). Draws from the window's own pixels look
    like more of its speckled ground and leave the pixels around a hole as they are without it.
    """
    finite = np.isfinite(db)
    if finite.all() or not finite.any():
        return db
    filled = db.copy()
    pool = db[finite]
    filled[~finite] = pool[np.random.default_rng(0).integers(0, pool.size, int((~finite).sum()))]
    return filled


def level_offset_db(
    encoding: Encoding, polarisation: str, median_db: float, span_db: float | None = None
) -> tuple[float, bool]:
    """dB to add for the VV-equivalent absolute level, and whether the scene had to be anchored (no trusted level).

    `span_db`: the scene's 2-98 % span in dB, when known; an 8-bit dB rendering narrower than `NARROW_SPAN_DB` was
    not made on `DB_U8_RANGE`, so its level is not trusted either.
    """
    offset = CROSS_POL_OFFSET_DB if polarisation.upper() in CROSS_POLARISATIONS else 0.0
    median = median_db + offset
    low, high = PLAUSIBLE_MEDIAN_DB
    relative = encoding in (Encoding.LINEAR_U8, Encoding.DB_MINMAX_U8, Encoding.AMPLITUDE)
    unknown_range = encoding == Encoding.DB_U8 and (not low <= median <= high or _too_narrow(encoding, span_db))
    anchored = relative or unknown_range
    return (offset + ANCHOR_MEDIAN_DB - median, True) if anchored else (offset, False)


def _too_narrow(encoding: Encoding, span_db: float | None) -> bool:
    """True for an 8-bit dB rendering whose span is narrower than speckle alone allows at [-25, 0] dB."""
    return encoding == Encoding.DB_U8 and span_db is not None and span_db < NARROW_SPAN_DB


def contrast_gain(encoding: Encoding, stretch: Stretch) -> float:
    """Factor on dB around the median restoring the contrast of an 8-bit dB rendering narrower than `NARROW_SPAN_DB`
    (made on an unknown range) to `TYPICAL_SPAN_DB`, at most `MAX_CONTRAST_GAIN`; 1 for every other scene."""
    if not _too_narrow(encoding, stretch.span_db):
        return 1.0
    return min(TYPICAL_SPAN_DB / stretch.span_db, MAX_CONTRAST_GAIN)


def fixed_scale(db: np.ndarray) -> np.ndarray:
    """VV-equivalent dB on `FIXED_DB_RANGE` to [-1, 1]; NaN (nodata) becomes -1."""
    return scale_to_model_range(db, *FIXED_DB_RANGE)


@dataclass(frozen=True)
class InputTransform:
    """dB of one scene -> model input channels (C x H x W float32 in [-1, 1])."""

    space: InputSpace
    encoding: Encoding
    polarisation: str
    stretch: Stretch

    @property
    def anchored(self) -> bool:
        """True if the scene's absolute level is not trusted and its median was anchored."""
        return self._level()[1]

    @property
    def contrast_gain(self) -> float:
        """The factor restoring the contrast of an 8-bit rendering made on an unknown range (1: none)."""
        return contrast_gain(self.encoding, self.stretch)

    def __call__(self, db: np.ndarray) -> np.ndarray:
        """Nodata (NaN) is filled with the scene median, so holes do not darken their surroundings."""
        finite = np.isfinite(db)
        if not finite.all():
            db = np.where(finite, db, np.float32(self.stretch.median_db))
        channels = []
        if self.space in (InputSpace.FIXED, InputSpace.FIXED_STRETCH):
            offset, _ = self._level()
            channels.append(fixed_scale(self._restored(db) + offset))
        if self.space in (InputSpace.STRETCH, InputSpace.FIXED_STRETCH):
            channels.append(apply_stretch(db, self.stretch))
        return channels[0][None] if len(channels) == 1 else np.stack(channels)

    def _level(self) -> tuple[float, bool]:
        s = self.stretch
        return level_offset_db(self.encoding, self.polarisation, s.median_db, s.span_db)

    def _restored(self, db: np.ndarray) -> np.ndarray:
        """dB with its contrast restored around the scene median (`contrast_gain`); unchanged at gain 1."""
        gain = self.contrast_gain
        if gain == 1.0:
            return db
        median = np.float32(self.stretch.median_db)
        return (db - median) * np.float32(gain) + median


def describe_input_space(space: InputSpace | str) -> dict:
    """The input space's rules and constants, as recorded in a checkpoint and shown on its model card."""
    space = InputSpace(space)
    names = {InputSpace.STRETCH: "db_percentile_stretch", InputSpace.FIXED: "db_fixed_vv_equivalent"}
    record: dict = {"space": names.get(space, "db_fixed_vv_equivalent+db_percentile_stretch")}
    if space in (InputSpace.FIXED, InputSpace.FIXED_STRETCH):
        record |= {
            "fixed_range_db": list(FIXED_DB_RANGE),
            "cross_pol_offset_db": CROSS_POL_OFFSET_DB,
            "anchor_median_db": ANCHOR_MEDIAN_DB,
            "plausible_median_db": list(PLAUSIBLE_MEDIAN_DB),
            "narrow_span_db": NARROW_SPAN_DB,
            "typical_span_db": TYPICAL_SPAN_DB,
        }
    if space in (InputSpace.STRETCH, InputSpace.FIXED_STRETCH):
        record |= {"low_percentile": LOW_PERCENTILE, "high_percentile": HIGH_PERCENTILE}
    return record


def sar_to_model_input(
    values: np.ndarray, encoding: Encoding, space: InputSpace = InputSpace.STRETCH, polarisation: str = "VV"
) -> np.ndarray:
    """The one function from a whole image's stored SAR values to model input (C x H x W in [-1, 1]).

    The stretch is fitted on the image itself, as `core.rasters.scene` fits it on the whole scene.
    """
    db = to_db(values, encoding)
    return InputTransform(InputSpace(space), encoding, polarisation, fit_stretch(db))(db)
