"""The one door for SAR inputs: a GeoTIFF/PNG/JPEG as it is, a GRD `.SAFE` (folder, manifest or zip) calibrated
to sigma0 with thermal noise removed, or an RTC product (OPERA, HyP3: a file, a folder or a zip of its pair).

`prepare_input` says which raster the pipeline reads, in which encoding, what the output's tags record of the
product, and the polarisation that comes with it (VH beside VV).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import rasterio
from rasterio.errors import RasterioIOError

from core.errors import InvalidSettingsError, NotARasterError, UnsupportedRasterError
from core.rasters.s1 import grd, rtc, safe

CROSS = {"VV": "VH", "HH": "HV"}


@dataclass
class PreparedInput:
    """What the pipeline reads for one input, and what it knows of it."""

    raster: Path  # the raster to read (the input itself, a scratch sigma0 file, or one file of an RTC pair)
    name: str  # the input's name as the analyst gave it
    encoding: str | None = None  # known from the product (None: detect)
    tags: dict[str, str] = field(default_factory=dict)  # for the output: product, backscatter, polarisations
    notes: list[str] = field(default_factory=list)
    companions: dict[str, str] = field(default_factory=dict)  # other polarisations: name -> raster (band or file)
    scratch: Path | None = None  # a folder to delete when done

    def discard(self) -> None:
        """Delete the scratch files, if any."""
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def is_container(path: str | Path) -> bool:
    """True for a zip, a folder or a `.SAFE` manifest: inputs that are unpacked or calibrated before they are read."""
    path = Path(path)
    return path.suffix.lower() == ".zip" or path.is_dir() or path.name.lower() == safe.MANIFEST


def prepare_input(path: str | Path, band: str = "") -> PreparedInput:
    """What to read for `path`; `core.errors` types for products that cannot be coloured. `band` ('VV', 'VH', ...)
    picks the file of an RTC pair that the model colours (default: the file given, else the co-polarised one)."""
    path = Path(path)
    if is_container(path):
        if safe.is_safe(path):
            return _grd(path)
        return _rtc_container(path, band)
    pair = rtc.siblings(path)
    return _rtc(pair, path.name, path, band) if pair else PreparedInput(path, path.name)


def _grd(path: Path) -> PreparedInput:
    product = grd.calibrated_product(path)
    tags = {k: v for k, v in product.tags.items() if k != "encoding"}
    pols = tags["SARCOLOR_POLARISATIONS"].split()
    companions = {p: f"band {i}" for i, p in enumerate(pols, start=1) if i > 1}
    return PreparedInput(product.raster, path.name, "linear", tags, product.notes, companions, product.raster.parent)


def _rtc_container(path: Path, band: str) -> PreparedInput:
    """A folder or zip of one RTC product's files (its .SAFE-less zip, as HyP3 delivers)."""
    if path.is_dir():
        members = [str(p) for p in sorted(path.iterdir()) if p.is_file()]
    else:
        # GDAL's braces keep the zip's absolute path whole: `Path` would fold /vsizip//abs/... into a relative one
        members = [f"/vsizip/{{{path.resolve()}}}/{m}" for m in safe.zip_members(path) if not m.endswith("/")]
    pair = rtc.pair_of(members, path.name)
    if not pair:
        raise UnsupportedRasterError(
            f"{path.name} holds no Sentinel-1 .SAFE product (no manifest.safe) and no RTC GeoTIFF (OPERA or HyP3); "
            "give the product's zip as downloaded, its .SAFE folder, or a GeoTIFF."
        )
    return _rtc(pair, path.name, None, band)


def _rtc(pair: dict[str, rtc.RtcFile], name: str, given: Path | None, band: str) -> PreparedInput:
    """The file of the polarisation asked for (else the one given, else the co-polarised one) for the model, the
    other polarisation kept beside it."""
    main = pair.get(band.upper())
    main = main or (pair.get(rtc.identify(str(given)).polarisation) if given else pair.get("VV") or pair.get("HH"))
    main = main or next(iter(pair.values()))
    others = {p: f.path for p, f in pair.items() if p != main.polarisation}
    _check_same_grid(main, [pair[p] for p in others])
    tags = {
        "SARCOLOR_PRODUCT": main.stem,
        "SARCOLOR_BACKSCATTER": f"{main.quantity} ({'γ0' if main.quantity == 'gamma0' else 'σ0'}), "
        f"terrain-corrected ({main.kind}, {main.encoding})",
        "SARCOLOR_POLARISATIONS": " ".join(sorted(pair, key=lambda p: (p not in CROSS, p))),
    } | {f"SARCOLOR_{p}_SOURCE": Path(f).name for p, f in others.items()}
    return PreparedInput(Path(main.path), name, main.encoding, tags, [], others)


def _grid(path: str) -> tuple:
    try:
        with rasterio.open(path) as src:
            return src.crs, src.transform, src.width, src.height
    except RasterioIOError as exc:
        raise NotARasterError(f"{Path(path).name} is not a readable raster; download it again.") from exc


def _check_same_grid(main: rtc.RtcFile, others: list[rtc.RtcFile]) -> None:
    """A pair is usable together only on one grid (CRS, pixel grid, size)."""
    grid = _grid(main.path)
    for other in others:
        if _grid(other.path) != grid:
            raise InvalidSettingsError(
                f"{main.name} and {other.name} are on different grids (CRS, pixel size or extent differ); "
                "resample one onto the other, or colour one polarisation at a time."
            )
