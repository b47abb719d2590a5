"""Terrain-corrected (RTC) products, one GeoTIFF per polarisation: OPERA RTC-S1 and ASF HyP3 GAMMA RTC.

Recognised by their file names: OPERA RTC-S1 is linear gamma0 power; HyP3 says in its name's letters whether it
holds gamma0 or sigma0 (g/s) and power, dB or amplitude (p/d/a). Given one polarisation's file its siblings are
found beside it; given a folder or a zip, the pair in it. Ancillary layers (masks, maps, DEM) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidSettingsError

POLS = "VV|VH|HH|HV"
OPERA = re.compile(rf"^(?P<stem>OPERA_L2_RTC-S1_.+)_(?P<pol>{POLS})\.tiff?$", re.IGNORECASE)
HYP3 = re.compile(
    rf"^(?P<stem>S1[A-D]_(IW|EW|SM)_\d{{8}}T\d{{6}}_[DS][VHD][PRO]_RTC\d+_[A-Z]_"
    rf"(?P<flags>[gs][pda][um][nf][ed][dm])_[0-9A-F]{{4}})_(?P<pol>{POLS})\.tiff?$",
    re.IGNORECASE,
)
ANCILLARY = ("_mask", "_ls_map", "rtc_anf", "_inc_map", "_area", "_dem", "_rgb", "_incidence_angle",
             "_number_of_looks", ".h5")  # fmt: skip
HYP3_SCALES = {"p": "linear", "d": "db", "a": "amplitude_calibrated"}  # Encoding values: never anchored


@dataclass(frozen=True)
class RtcFile:
    """One polarisation of an RTC product."""

    path: str  # a file path or a GDAL /vsizip/ path
    kind: str  # 'OPERA RTC-S1' | 'HyP3 GAMMA RTC'
    stem: str  # the name without its polarisation: shared by a product's files
    polarisation: str
    quantity: str  # 'gamma0' | 'sigma0'
    encoding: str  # a core.rasters.normalise.Encoding value

    @property
    def name(self) -> str:
        return Path(self.path).name


def is_ancillary(name: str) -> bool:
    """A mask, map, DEM, RGB preview or HDF5 file that comes with an RTC product, not backscatter."""
    lower = name.lower()
    return any(part in lower for part in ANCILLARY)


def recognise(path: str) -> RtcFile | None:
    """The RTC file `path` names, or None (an ancillary layer or another file)."""
    name = Path(path).name
    if is_ancillary(name):
        return None
    if found := OPERA.match(name):
        return RtcFile(path, "OPERA RTC-S1", found["stem"], found["pol"].upper(), "gamma0", "linear")
    if found := HYP3.match(name):
        flags = found["flags"].lower()
        quantity = "gamma0" if flags[0] == "g" else "sigma0"
        return RtcFile(path, "HyP3 GAMMA RTC", found["stem"], found["pol"].upper(), quantity, HYP3_SCALES[flags[1]])
    return None


def pair_of(candidates: list[str], where: str) -> dict[str, RtcFile]:
    """The one RTC product among `candidates` (paths), by polarisation; refuses none or several products."""
    found = [f for f in map(recognise, candidates) if f is not None]
    stems = sorted({f.stem for f in found})
    if len(stems) > 1:
        raise InvalidSettingsError(
            f"{where} holds {len(stems)} RTC products; give one of their files, or colour them all into a folder: "
            "sarcolor colorize FOLDER OUT_FOLDER/"
        )
    return {f.polarisation: f for f in found}


def siblings(path: Path) -> dict[str, RtcFile]:
    """`path`'s own product: its polarisations found beside it, by polarisation."""
    own = recognise(str(path))
    if own is None:
        return {}
    beside = [str(p) for p in sorted(path.parent.glob(f"{own.stem}_*")) if p.is_file()]
    return pair_of(beside, path.parent.name)
