"""The team's Sentinel-1 products (../shared/data/s1-products) made whole for tests: measurement TIFFs of the
annotated size written into a temporary copy of a GRD `.SAFE` zip (the shared zips hold every XML but no pixels)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.windows import Window

from core.rasters.s1.annotation import image_facts
from core.rasters.s1.safe import locate, manifest_files
from core.settings import shared_data_dir

PRODUCTS = shared_data_dir() / "s1-products"
GRD_ZIPS = {
    "2015": PRODUCTS / "grd-safe-xml" / "S1A_IW_GRDH_1SDV_20150222T170750_20150222T170815_004739_005DD8_3768.zip",
    "2021": PRODUCTS / "grd-safe-xml" / "S1A_IW_GRDH_1SDV_20210119T031653_20210119T031718_036201_043ED0_8255.zip",
}
OPERA = PRODUCTS / "opera-rtc"
BORDER = 96  # columns of DN 0 at each side, as a real GRD's swath edges
STRIP = 1024
LEVEL_DB = {"VV": -11.0, "VH": -18.0}  # the pattern's mean sigma0 per polarisation (noise not added)
GAIN = 600.0  # a typical sigma0 LUT value: DN = GAIN * sqrt(sigma0)


Patch = tuple[int, int, int, int]  # first line, last line, first pixel, last pixel (exclusive) of the valid DN


def dn_strip(top: int, height: int, width: int, polarisation: str, patch: Patch | None = None) -> np.ndarray:
    """A uint16 DN pattern (fields of +-6 dB around the polarisation's level), 0 in the border columns and, with
    `patch`, everywhere outside it."""
    y = np.arange(top, top + height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    db = LEVEL_DB[polarisation] + 6.0 * np.sin(x / 311.0) * np.cos(y / 197.0)
    dn = GAIN * np.sqrt(10 ** (db / 10))
    dn[:, :BORDER] = 0
    dn[:, width - BORDER :] = 0
    if patch:
        rows, cols = y[:, 0], x[0]
        dn[(rows < patch[0]) | (rows >= patch[1])] = 0
        dn[:, (cols < patch[2]) | (cols >= patch[3])] = 0
    return np.rint(dn).astype(np.uint16)


def write_measurement(path: Path, width: int, height: int, polarisation: str, gcps, patch: Patch | None = None) -> None:
    """A tiled, compressed uint16 measurement TIFF with the annotation's GCPs, as ESA delivers (plus compression)."""
    profile = dict(driver="GTiff", width=width, height=height, count=1, dtype="uint16", tiled=True, blockxsize=512,
                   blockysize=512, compress="zstd", zstd_level=1, gcps=list(gcps), crs=CRS.from_epsg(4326))  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, height, STRIP):
            rows = min(STRIP, height - top)
            dst.write(dn_strip(top, rows, width, polarisation, patch), 1, window=Window(0, top, width, rows))


def whole_product(which: str, folder: Path, leave_out: str | None = None, patch: Patch | None = None) -> Path:
    """The shared GRD zip `which` ('2015' or '2021') copied into `folder` with its measurement TIFFs written at the
    annotated size (`leave_out`: a polarisation whose measurement stays missing; `patch`: the only valid DN, the
    rest 0 as outside a swath, which keeps a test's run short); returns the new zip."""
    source = GRD_ZIPS[which]
    files = locate(source)
    listed = manifest_files(files)
    target = folder / source.name
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            copy.writestr(info, original.read(info))
        for pol, relative in listed["measurement"].items():
            if pol == leave_out:
                continue
            image = image_facts(files.xml(listed["annotation"][pol]))
            tif = folder / Path(relative).name
            write_measurement(tif, image.width, image.height, pol, image.gcps, patch)
            copy.write(tif, f"{files.root}/{relative}", compress_type=zipfile.ZIP_STORED)
            tif.unlink()
    return target


def renamed_opera(source: Path, target: Path, **tags: str) -> Path:
    """A copy of a real OPERA crop under another name, carrying the product tags OPERA RTC-S1 writes (opera-adt/RTC:
    upper-case keys in the default domain) instead of the ones the shared crops lost."""
    shutil.copy(source, target)
    pol = source.stem.rsplit("_", 1)[1]
    written = {
        "PROJECT": "OPERA",
        "PRODUCT_TYPE": "RTC-S1",
        "PROCESSING_INFORMATION_OUTPUT_BACKSCATTER_NORMALIZATION_CONVENTION": "gamma0",
        "LAYER_NAME": f"RTC-S1 {pol} Backscatter",
        "FILENAME": source.name,
    } | tags
    with rasterio.open(target, "r+") as dst:
        dst.update_tags(**written)
    return target
