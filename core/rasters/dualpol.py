"""The dual-polarisation false colour SAR analysts already use: red VV, green VH, blue the VV/VH ratio, per window.

For a scene that brought both polarisations (a `.SAFE` product, an RTC pair, a 2-band VV/VH raster): the map can
show it as a layer beside the colourised one. Each channel is a fixed dB range, so windows and scenes compare.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine
from rasterio.windows import Window

from core.errors import InvalidSettingsError
from core.rasters.normalise import Encoding, to_db
from core.rasters.scene import SarScene, choose_band, decimated_read, read_band_db
from core.settings import Limits

VV_DB = (-25.0, 0.0)  # red
VH_DB = (-32.0, -7.0)  # green
RATIO_DB = (0.0, 15.0)  # blue: VV - VH in dB (bare soil and water high, vegetation low)
CROSS = {"VV": "VH", "HH": "HV"}


def _unit(db: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((db - low) / (high - low), 0.0, 1.0)


def false_colour(co_db: np.ndarray, cross_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB in [0, 1] (3 x H x W float32, 0 where invalid) and validity from co- and cross-polarised dB."""
    valid = np.isfinite(co_db) & np.isfinite(cross_db)
    rgb = np.stack([_unit(co_db, *VV_DB), _unit(cross_db, *VH_DB), _unit(co_db - cross_db, *RATIO_DB)])
    rgb[:, ~valid] = 0.0
    return rgb.astype(np.float32), valid


def _cross_source(scene: SarScene) -> str | None:
    """Where the cross-polarised band lies: "band N" of the scene's raster, a sibling file's path, or None.

    A product (`.SAFE`, RTC pair) says so in its companions; a plain raster with both bands (a BigEarthNet or
    GEE export: VV and VH) has it as its other band.
    """
    cross = CROSS.get(scene.band_name)
    if cross is None:
        return None
    if scene.product is not None:
        return scene.product.companions.get(cross)
    if scene.source.count < 2:
        return None
    try:
        index, name = choose_band(scene.source, cross, Limits(), scene.path.name)
    except InvalidSettingsError:
        return None
    return f"band {index}" if name == cross and index != scene.band else None


def has_dual_pol(scene: SarScene) -> bool:
    """The scene brought the cross-polarised band beside the co-polarised one the model reads."""
    return _cross_source(scene) is not None


def _read_cross(scene: SarScene, window: Window, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """The cross-polarised band in dB (NaN where invalid) over `window`, decimated to `out_shape` if given."""
    companion = _cross_source(scene)
    if companion is None:
        raise InvalidSettingsError(f"{scene.path.name} has no cross-polarised band: no dual-pol false colour.")
    if companion.startswith("band "):  # another band of the same raster (a calibrated .SAFE, a 2-band export)
        return _band_db(scene.dataset, int(companion.split()[1]), scene.encoding, window, out_shape)
    with rasterio.open(companion) as src:  # the sibling file of an RTC pair, on the same grid (checked at open)
        return _band_db(src, 1, Encoding(scene.encoding), window, out_shape)


def _band_db(dataset, band: int, encoding: Encoding, window: Window, out_shape: tuple[int, int] | None) -> np.ndarray:
    """One band's dB over `window` (NaN where invalid), at full resolution or decimated (nearest) to `out_shape`."""
    if out_shape is None:
        db, _ = read_band_db(dataset, band, encoding, window, Path(dataset.name).name)
        return db
    values = dataset.read(band, window=window, out_shape=out_shape, resampling=Resampling.nearest)
    mask = dataset.read_masks(band, window=window, out_shape=out_shape, resampling=Resampling.nearest) > 0
    db = to_db(values, encoding)
    db[~mask] = np.nan
    return db


def dual_pol_window(scene: SarScene, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """The false colour of one window of the scene's grid (`false_colour`); `InvalidSettingsError` without VH."""
    cross_db = _read_cross(scene, window)
    co_db, _ = read_band_db(scene.dataset, scene.band, scene.encoding, window, scene.path.name)
    return false_colour(co_db, cross_db)


def dual_pol_overview(scene: SarScene, max_side: int) -> tuple[np.ndarray, np.ndarray, Affine]:
    """The false colour of the whole scene read at <= `max_side` px a side (for a map), its validity and transform."""
    window = Window(0, 0, scene.dataset.width, scene.dataset.height)
    values, mask, transform = decimated_read(scene.dataset, [scene.band], max_side, Resampling.nearest, window)
    co_db = to_db(values[0], scene.encoding)
    co_db[~mask] = np.nan
    rgb, valid = false_colour(co_db, _read_cross(scene, window, co_db.shape))
    return rgb, valid, transform
