"""A GRD `.SAFE` product -> a scratch GeoTIFF of sigma0 with thermal noise removed, one band per polarisation.

Refuses, in one line each, what cannot be coloured: SLC and other non-GRD products, modes other than IW, a
measurement the manifest lists but the product lacks, polarisations on different grids.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import rasterio
from rasterio.errors import RasterioIOError

from core.errors import NotARasterError, UnsupportedRasterError
from core.rasters.s1.annotation import ImageFacts, image_facts, sigma_nought, thermal_noise
from core.rasters.s1.calibrate import Polarisation, scratch_folder, write_sigma0
from core.rasters.s1.safe import SafeFiles, locate, manifest_facts, manifest_files

POLARISATION_ORDER = ("VV", "HH", "VH", "HV")  # co-polarised first: the model's band
MODES = {"EW": "Extra Wide swath (40 m)", "SM": "StripMap", "WV": "Wave"}


@dataclass(frozen=True)
class CalibratedProduct:
    """The scratch raster of a GRD product and what the output's tags should say of it."""

    raster: Path
    tags: dict[str, str]
    notes: list[str]


def _check_kind(files: SafeFiles) -> None:
    facts = manifest_facts(files)
    kind, mode = facts.get("productType", "?"), facts.get("mode", "?")
    if kind != "GRD":
        raise UnsupportedRasterError(
            f"This product is {kind}; only GRD products can be coloured: {files.name}. "
            "Download the GRD (Level-1 Ground Range Detected) product of this acquisition instead."
        )
    if mode != "IW":
        raise UnsupportedRasterError(
            f"This product is {mode} ({MODES.get(mode, 'not IW')}); only IW GRD products can be coloured, the "
            f"model learned from IW scenes at 10 m: {files.name}."
        )


def _polarisations(files: SafeFiles) -> tuple[list[Polarisation], ImageFacts]:
    """Each listed polarisation with its LUTs, co-polarised first; every listed file must be there."""
    listed = manifest_files(files)
    names = [p for p in POLARISATION_ORDER if p in listed["measurement"]]
    if not names:
        raise UnsupportedRasterError(f"{files.name}: its manifest lists no measurement; it is not a GRD product.")
    pols, images = [], []
    for name in names:
        for kind in ("measurement", "annotation", "calibration", "noise"):
            relative = listed[kind].get(name)
            if relative is None or not files.exists(relative):
                raise NotARasterError(
                    f"{files.name} is incomplete: its manifest lists {relative or f'a {name} {kind} file'} but the "
                    "product does not hold it. Download the whole product again."
                )
        images.append(image_facts(files.xml(listed["annotation"][name])))
        calibration = sigma_nought(files.xml(listed["calibration"][name]))
        noise = thermal_noise(files.xml(listed["noise"][name]))
        pols.append(Polarisation(name, files.gdal_path(listed["measurement"][name]), calibration, noise))
    _check_grids(files.name, pols, images)
    return pols, images[0]


def _check_grids(name: str, pols: list[Polarisation], images: list[ImageFacts]) -> None:
    """Every polarisation's annotation and measurement raster on one grid."""
    first = images[0]
    for pol, image in zip(pols, images, strict=True):
        if (image.width, image.height) != (first.width, first.height):
            raise UnsupportedRasterError(
                f"{name}: {pols[0].name} and {pol.name} are on different grids ({first.width} x {first.height} "
                f"and {image.width} x {image.height} px); colour one polarisation at a time."
            )
        try:
            with rasterio.open(pol.measurement) as src:
                size = (src.width, src.height)
        except RasterioIOError as exc:
            raise NotARasterError(f"{name}: its {pol.name} measurement cannot be opened; download it again.") from exc
        if size != (image.width, image.height):
            raise UnsupportedRasterError(
                f"{name}: the {pol.name} measurement is {size[0]} x {size[1]} px but its annotation says "
                f"{image.width} x {image.height}; the files do not belong together. Download the product again."
            )


def _tags(files: SafeFiles, pols: list[Polarisation]) -> tuple[dict[str, str], list[str]]:
    """What the output says of its input, and what the analyst should know."""
    noise = pols[0].noise
    zero = all(not values.any() for pol in pols for values in pol.noise.range_vectors.values)
    blocks = f", {len(noise.azimuth_blocks)} swath blocks" if noise.azimuth_blocks else ""
    backscatter = "sigma0 (σ0), " + ("thermal noise annotated as zero, none removed" if zero
                                     else "thermal noise removed")  # fmt: skip
    tags = {
        "SARCOLOR_PRODUCT": files.product_id,
        "SARCOLOR_BACKSCATTER": backscatter,
        "SARCOLOR_THERMAL_NOISE": f"{noise.generation}{blocks}" + (" (all zero)" if zero else ""),
        "SARCOLOR_POLARISATIONS": " ".join(p.name for p in pols),
        "encoding": "linear",
    }
    notes = [f"{files.name}: the product's thermal noise annotation is all zero (an early processor version), so "
             "sigma0 is calibrated but its noise could not be removed."] if zero else []  # fmt: skip
    return tags, notes


def calibrated_product(path: Path) -> CalibratedProduct:
    """Calibrate and denoise a `.SAFE` folder, manifest or zip into a scratch raster (delete its folder when done)."""
    files = locate(path)
    _check_kind(files)
    pols, image = _polarisations(files)
    tags, notes = _tags(files, pols)
    folder = scratch_folder(image, len(pols))
    raster = folder / f"{files.product_id}_sigma0.tif"
    try:
        medians = write_sigma0(pols, image, raster, files.name, tags)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    tags |= {f"SARCOLOR_{p.name}_MEDIAN_DB": f"{m:.2f}" for p, m in zip(pols, medians, strict=True)}
    return CalibratedProduct(raster, tags, notes)
