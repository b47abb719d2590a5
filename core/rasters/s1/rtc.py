"""Terrain-corrected (RTC) products, one GeoTIFF per polarisation: OPERA RTC-S1 and ASF HyP3 GAMMA RTC.

Recognised by their file names: OPERA RTC-S1 is linear gamma0 power; HyP3 says in its name's letters whether it
holds gamma0 or sigma0 (g/s) and power, dB or amplitude (p/d/a). Given one polarisation's file its siblings are
found beside it; given a folder or a zip, the pair in it. Ancillary layers (masks, maps, DEM) are skipped.

A renamed file is recognised by what it carries (`identify`):
- OPERA RTC-S1 writes its product metadata into each GeoTIFF's default domain (opera-adt/RTC): PROJECT=OPERA,
  PRODUCT_TYPE=RTC-S1, the backscatter's normalisation (gamma0 or sigma0) in
  PROCESSING_INFORMATION_OUTPUT_BACKSCATTER_NORMALIZATION_CONVENTION, the polarisation in LAYER_NAME
  ('RTC-S1 VV Backscatter') and the original name in FILENAME. Values are compared without case (files before
  the v1.0 release upper-cased them).
- HyP3 GAMMA RTC sets no product tags (only AREA_OR_POINT); its ArcGIS sidecar `<file>.xml` says
  "Cell values indicate VV gamma-0 power", which is read when it is beside the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

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
NORMALISATION_TAG = "PROCESSING_INFORMATION_OUTPUT_BACKSCATTER_NORMALIZATION_CONVENTION"
LAYER_POL = re.compile(rf"\b(?P<pol>{POLS})\b", re.IGNORECASE)
HYP3_SIDECAR = re.compile(rf"\b(?P<pol>{POLS}) (?P<quantity>gamma|sigma)-0 (?P<scale>power|decibel|amplitude)\b",
                          re.IGNORECASE)  # fmt: skip
TAGGED_SUFFIXES = (".tif", ".tiff")
MAX_FOLDER_FILES = 500  # files a renamed product's siblings are looked for among (each opened for its tags)


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


def identify(path: str) -> RtcFile | None:
    """The RTC file at `path`, by its name or, renamed, by its tags (OPERA) or its ArcGIS sidecar (HyP3)."""
    if (named := recognise(path)) is not None or is_ancillary(Path(path).name):
        return named
    if not path.lower().endswith(TAGGED_SUFFIXES):
        return None
    return _by_tags(path) or _by_sidecar(path)


def _by_tags(path: str) -> RtcFile | None:
    """An OPERA RTC-S1 GeoTIFF known by its product tags, whatever its name."""
    try:
        with rasterio.open(path) as src:
            tags, description = src.tags(), src.descriptions[0] or ""
    except (RasterioError, OSError):
        return None
    upper = {key.upper(): str(value) for key, value in tags.items()}
    product = upper.get("PRODUCT_TYPE", "").upper().replace("_", "-")
    if upper.get("PROJECT", "").upper() != "OPERA" or not product.startswith("RTC-S1") or "STATIC" in product:
        return None
    original = OPERA.match(Path(upper.get("FILENAME", "")).name)
    layer = LAYER_POL.search(upper.get("LAYER_NAME", "") or description)
    pol = (layer["pol"] if layer else original["pol"] if original else "").upper()
    if not pol:
        return None
    quantity = "sigma0" if upper.get(NORMALISATION_TAG, "gamma0").lower() == "sigma0" else "gamma0"
    stem = original["stem"] if original else upper.get("PRODUCT_ID") or Path(path).stem
    return RtcFile(path, "OPERA RTC-S1", stem, pol, quantity, "linear")


def _by_sidecar(path: str) -> RtcFile | None:
    """A HyP3 GAMMA RTC GeoTIFF known by the ArcGIS metadata HyP3 ships beside it (`<file>.xml`)."""
    sidecar = Path(f"{path}.xml")
    if not sidecar.is_file():
        return None
    text = sidecar.read_text(errors="replace")[:200_000]
    found = HYP3_SIDECAR.search(text) if "hyp3" in text.lower() else None
    if found is None:
        return None
    scale = {"power": "p", "decibel": "d", "amplitude": "a"}[found["scale"].lower()]
    quantity = "gamma0" if found["quantity"].lower() == "gamma" else "sigma0"
    stem = Path(path).stem
    stem = stem[: -len(found["pol"]) - 1] if stem.upper().endswith("_" + found["pol"].upper()) else stem
    return RtcFile(path, "HyP3 GAMMA RTC", stem, found["pol"].upper(), quantity, HYP3_SCALES[scale])


def pair_of(candidates: list[str], where: str) -> dict[str, RtcFile]:
    """The one RTC product among `candidates` (paths), by polarisation; refuses none or several products."""
    found = [f for f in map(identify, candidates) if f is not None]
    stems = sorted({f.stem for f in found})
    if len(stems) > 1:
        raise InvalidSettingsError(
            f"{where} holds {len(stems)} RTC products; give one of their files, or colour them all into a folder: "
            "sarcolor colorize FOLDER OUT_FOLDER/"
        )
    return {f.polarisation: f for f in found}


def siblings(path: Path) -> dict[str, RtcFile]:
    """`path`'s own product: its polarisations found beside it (by name, or a renamed file's by their tags)."""
    own = identify(str(path))
    if own is None:
        return {}
    if recognise(str(path)) is not None:
        beside = [str(p) for p in sorted(path.parent.glob(f"{own.stem}_*")) if p.is_file()]
        return pair_of(beside, path.parent.name)
    files = sorted(p for p in path.parent.iterdir() if p.suffix.lower() in TAGGED_SUFFIXES and p.is_file())
    found = [f for f in map(identify, map(str, files[:MAX_FOLDER_FILES])) if f is not None and f.stem == own.stem]
    return {f.polarisation: f for f in found} | {own.polarisation: own}
