"""The dual-polarisation false colour SAR analysts already use: red VV, green VH, blue the VV/VH ratio, per window.

For a scene whose product brought both polarisations (a `.SAFE` product, an RTC pair): the map can show it as a
layer beside the colourised one. Each channel is a fixed dB range, so windows and scenes compare.
"""

from __future__ import annotations

import numpy as np
import rasterio
from rasterio.windows import Window

from core.errors import InvalidSettingsError
from core.rasters.normalise import Encoding
from core.rasters.scene import SarScene, read_band_db

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


def has_dual_pol(scene: SarScene) -> bool:
    """The scene's product brought the cross-polarised band beside the co-polarised one the model reads."""
    return scene.product is not None and CROSS.get(scene.band_name, "") in scene.product.companions


def dual_pol_window(scene: SarScene, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """The false colour of one window of the scene's grid (`false_colour`); `InvalidSettingsError` without VH."""
    if not has_dual_pol(scene):
        raise InvalidSettingsError(f"{scene.path.name} has no cross-polarised band: no dual-pol false colour.")
    co_db, _ = read_band_db(scene.dataset, scene.band, scene.encoding, window, scene.path.name)
    companion = scene.product.companions[CROSS[scene.band_name]]
    if companion.startswith("band "):  # another band of the same raster (a calibrated .SAFE product)
        cross_db, _ = read_band_db(scene.dataset, int(companion.split()[1]), scene.encoding, window, scene.path.name)
    else:  # the sibling file of an RTC pair, on the same grid (checked when the scene was opened)
        with rasterio.open(companion) as src:
            cross_db, _ = read_band_db(src, 1, Encoding(scene.encoding), window, src.name)
    return false_colour(co_db, cross_db)
