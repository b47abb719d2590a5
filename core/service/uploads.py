"""An analyst's upload as the pipeline reads it: one file, one zip, or the polarisations of one RTC product.

The files of one upload are stored together in their own folder under their safe original names
(`JobStore.store_uploads`), so an RTC file finds its sibling polarisation as it does on disk
(`core.rasters.products`). Which of them the pipeline is handed (the VV file of a pair) is `input_name`'s choice:
from their names, or from what the stored files carry (a renamed OPERA file's tags, `core.rasters.s1.rtc.identify`).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import InvalidSettingsError
from core.rasters.s1 import rtc
from core.service.jobs import safe_name
from core.settings import Limits

GRD_ZIP_MB = 1700  # a whole IW GRDH .SAFE zip, both polarisations: about 1.7 GB and more


def large_product_advice(limit_mb: int | None) -> str:
    """What to do with a product too large to upload here (`limit_mb`: the largest upload, None: unknown)."""
    limit = f"Up to {limit_mb:,} MB per file. " if limit_mb else ""
    return (
        f"{limit}A whole GRD .SAFE zip (about {GRD_ZIP_MB / 1000:.1f} GB and more) is best coloured with "
        "`sarcolor colorize PRODUCT.zip OUT.tif`, or a folder of them in batch mode; on a private server, its "
        "administrator can raise `server.maxUploadSize`."
    )


def input_name(names: list[str], folder: Path | None = None) -> str:
    """The stored (safe) name of the file the pipeline reads for an upload of `names` (stored in `folder`, if given).

    One file (a raster or a zip) is read as it is; several must be the polarisations of one RTC product (OPERA or
    HyP3, known by name or, stored, by their tags), and the co-polarised one (VV, or HH) is read with the others
    beside it. `InvalidSettingsError` otherwise.
    """
    stored = [safe_name(name) for name in names]
    if len(stored) == 1:
        return stored[0]
    found = _rtc_files(stored, folder)
    pols = {f.polarisation: f for f in found if f is not None}
    stems = {f.stem for f in found if f is not None}
    if not stored or None in found or len(stems) != 1 or len(pols) != len(stored):
        raise InvalidSettingsError(
            f"{' and '.join(names)} are not the polarisations of one product. Upload one file, or the VV and VH "
            "files of one OPERA or HyP3 RTC product (the same name, ending _VV and _VH), or one zip holding them."
        )
    return (pols.get("VV") or pols.get("HH") or found[0]).name


def _rtc_files(stored: list[str], folder: Path | None) -> list[rtc.RtcFile | None]:
    """The RTC file each stored name is: by its name, or with `folder` by what the stored file carries."""
    if folder is None:
        return [rtc.recognise(name) for name in stored]
    return [rtc.identify(str(folder / name)) for name in stored]


def upload_label(names: list[str], chosen: str, folder: Path | None = None) -> str:
    """How the job of an upload of `names` is named, `chosen` being `input_name(names, folder)`: the file's name, or
    for a pair the name of the file read and the polarisation beside it ('..._VV.tif (+ VH)')."""
    if len(names) == 1:
        return names[0]
    read = next(name for name in names if safe_name(name) == chosen)
    others = [safe_name(name) for name in names if name != read]
    beside = sorted(f.polarisation for f in _rtc_files(others, folder) if f is not None)
    return f"{read} (+ {' '.join(beside)})"


def check_zip_size(name: str, size_bytes: int, limits: Limits, upload_limit_mb: int | None = None) -> None:
    """Refuse a zip larger than the app's own limit for zips (`Limits.upload_zip_mb`), with what to do instead."""
    limit = limits.upload_zip_mb
    if name.lower().endswith(".zip") and limit is not None and size_bytes > limit * 1_000_000:
        raise InvalidSettingsError(
            f"{name} ({size_bytes / 1e6:,.0f} MB) is larger than the {limit:,} MB this app takes for a zip. "
            + large_product_advice(upload_limit_mb).replace("`server.maxUploadSize`", "SARCOLOR_MAX_UPLOAD_ZIP_MB")
        )
