"""Builders of real test inputs: SAR rasters written from real Sentinel-1 data.

Real pixels come from the BigEarthNet samples (`core.samples`, float32 dB VV+VH,
UTM 10 m, 120 x 120) and, when present, from `../shared/data/volkov` fragments
(1024 x 1024 `linear_u8` VH PNGs with corners in EPSG:3395). Each builder writes
one file and returns its path; fixtures in `conftest.py` call them.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.control import GroundControlPoint
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import Affine, from_origin
from rasterio.warp import transform as transform_points

from core.samples import SAMPLES_DIR, Sample, build_samples
from core.settings import shared_data_dir  # noqa: F401 (re-exported for conftest)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DB_U8_CLIP = (-25.0, 0.0)  # dB range of the u8 renderings written here (= core.rasters.normalise.DB_U8_RANGE)
AMPLITUDE_SCALE = 1000.0  # DN = sqrt(linear power) * scale, like raw GRD amplitude


# --- real pixels -------------------------------------------------------------------


def read_sample_db(sample: Sample) -> tuple[np.ndarray, CRS, Affine]:
    """VV and VH dB (2 x 120 x 120 float32), CRS and transform of one BigEarthNet sample."""
    with rasterio.open(sample.sar) as src:
        return src.read().astype(np.float32), src.crs, src.transform


def mosaic_db(samples: Sequence[Sample], width: int, height: int, bands: int = 1) -> np.ndarray:
    """A bands x height x width dB mosaic of the real sample patches (VV first).

    Patches are placed in reading order, cycling through the samples and flipping
    every other one so neighbouring patches differ; the mosaic is cropped to size.
    """
    patches = [read_sample_db(s)[0][:bands] for s in samples]
    side = patches[0].shape[-1]
    rows, cols = -(-height // side), -(-width // side)
    out = np.empty((bands, rows * side, cols * side), dtype=np.float32)
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            patch = patches[k % len(patches)]
            if (k // len(patches)) % 2:
                patch = patch[:, ::-1, :]
            if (r + c) % 2:
                patch = patch[:, :, ::-1]
            out[:, r * side : (r + 1) * side, c * side : (c + 1) * side] = patch
    return out[:, :height, :width]


def db_to_u8(db: np.ndarray) -> np.ndarray:
    """dB -> the SEN1-2-style `db_u8` rendering (clip to [-25, 0] dB, scale to 0-255)."""
    lo, hi = DB_U8_CLIP
    return np.clip(np.rint((db - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def db_to_amplitude_dn(db: np.ndarray) -> np.ndarray:
    """dB -> uint16 amplitude DN (>= 1 where finite, 0 where NaN)."""
    dn = np.rint(10.0 ** (db / 20.0) * AMPLITUDE_SCALE)
    return np.where(np.isfinite(dn), np.clip(dn, 1, 65535), 0).astype(np.uint16)


# --- writers -----------------------------------------------------------------------


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: CRS | None = None,
    transform: Affine | None = None,
    driver: str = "GTiff",
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    descriptions: Sequence[str] | None = None,
    gcps: tuple[list[GroundControlPoint], CRS] | None = None,
) -> Path:
    """Write a bands x h x w (or h x w) array; no georeference unless crs/transform/gcps given."""
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": driver,
        "width": data.shape[2],
        "height": data.shape[1],
        "count": data.shape[0],
        "dtype": data.dtype.name,
    }
    if driver == "GTiff":
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    if crs is not None:
        profile["crs"] = crs
    if transform is not None:
        profile["transform"] = transform
    if nodata is not None:
        profile["nodata"] = nodata
    if gcps is not None:
        profile["gcps"], profile["crs"] = gcps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            if tags:
                dst.update_tags(**tags)
            if descriptions:
                dst.descriptions = tuple(descriptions)
    return path


def mosaic_scene(
    path: Path, samples: Sequence[Sample], width: int, height: int, bands: int = 1, tags: dict | None = None
) -> Path:
    """A georeferenced float32 dB mosaic (UTM of the first sample, 10 m)."""
    _, crs, transform = read_sample_db(samples[0])
    data = mosaic_db(samples, width, height, bands)
    descriptions = ("VV", "VH")[:bands]
    return write_raster(path, data, crs, transform, tags=tags or {"units": "dB"}, descriptions=descriptions)


def nan_border_scene(path: Path, samples: Sequence[Sample], size: int = 300, border: int = 17) -> Path:
    """Float32 dB with NaN borders (no declared nodata), like a terrain-corrected scene edge."""
    _, crs, transform = read_sample_db(samples[0])
    data = mosaic_db(samples, size, size)
    data[:, :border, :] = np.nan
    data[:, -border:, :] = np.nan
    data[:, :, :border] = np.nan
    data[:, :, -2 * border :] = np.nan
    return write_raster(path, data, crs, transform)


def uint16_dn_scene(path: Path, samples: Sequence[Sample], size: int = 300, border: int = 11) -> Path:
    """Georeferenced uint16 amplitude DN with zero borders declared as nodata 0."""
    _, crs, transform = read_sample_db(samples[0])
    dn = db_to_amplitude_dn(mosaic_db(samples, size, size))
    dn[:, :border, :] = 0
    dn[:, :, -border:] = 0
    return write_raster(path, dn, crs, transform, nodata=0)


def gcp_only_scene(path: Path, samples: Sequence[Sample], size: int = 240) -> Path:
    """uint16 amplitude DN with no transform and no CRS, only a 3 x 3 grid of EPSG:4326 GCPs.

    The GCPs are the real lon/lat of the pixels of the UTM mosaic, so a correct warp
    lands the output on the sample's true footprint.
    """
    _, crs, transform = read_sample_db(samples[0])
    dn = db_to_amplitude_dn(mosaic_db(samples, size, size))
    steps = [0, size // 2, size]
    rows, cols = np.meshgrid(steps, steps, indexing="ij")
    xs, ys = rasterio.transform.xy(transform, rows.ravel(), cols.ravel(), offset="ul")
    lons, lats = transform_points(crs, CRS.from_epsg(4326), list(xs), list(ys))
    gcps = [
        GroundControlPoint(row=float(r), col=float(c), x=lon, y=lat, z=0.0)
        for r, c, lon, lat in zip(rows.ravel(), cols.ravel(), lons, lats, strict=True)
    ]
    return write_raster(path, dn, gcps=(gcps, CRS.from_epsg(4326)), tags={"quantity": "amplitude DN"})


def png_scene(path: Path, samples: Sequence[Sample], size: int = 200) -> Path:
    """A plain 8-bit grey PNG (db_u8 rendering of real VV), no georeference."""
    return write_raster(path, db_to_u8(mosaic_db(samples, size, size)), driver="PNG")


def ungeoreferenced_tiff(path: Path, samples: Sequence[Sample], size: int = 200) -> Path:
    """A float32 dB GeoTIFF with neither CRS, transform nor GCPs."""
    return write_raster(path, mosaic_db(samples, size, size))


# --- volkov (../shared/data) --------------------------------------------------------


def volkov_corners(metadata: list[dict], fragment: str) -> list[list[float]]:
    """EPSG:3395 corners (UL, UR, LR, LL) of a volkov fragment.

    18 names have two conflicting entries (different Sentinel-2 tiles); we take the
    first entry in `metadata.json` order, a deterministic choice that is not verified
    against the imagery. Tests use fragments with a single entry.
    """
    entries = [e for e in metadata if e["fragment_filename"] == fragment]
    if not entries:
        raise KeyError(f"{fragment} is not in volkov/metadata.json")
    return entries[0]["corners_EPSG:3395"]


def volkov_entry_counts(metadata: list[dict]) -> dict[str, int]:
    """How many metadata entries each fragment name has."""
    counts: dict[str, int] = {}
    for entry in metadata:
        counts[entry["fragment_filename"]] = counts.get(entry["fragment_filename"], 0) + 1
    return counts


def volkov_scene(path: Path, data_dir: Path, fragment: str = "003.png") -> Path:
    """A georeferenced 1024 x 1024 uint8 `linear_u8` VH GeoTIFF in EPSG:3395 from a volkov fragment."""
    metadata = json.loads((data_dir / "volkov" / "metadata.json").read_text())
    (ulx, uly), _, (lrx, lry), _ = volkov_corners(metadata, fragment)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(data_dir / "volkov" / "sar" / fragment) as src:
            pixels = src.read(1)
    height, width = pixels.shape
    transform = from_origin(ulx, uly, (lrx - ulx) / width, (uly - lry) / height)
    return write_raster(
        path, pixels, CRS.from_epsg(3395), transform, tags={"encoding": "linear_u8"}, descriptions=("VH",)
    )


# --- bad inputs -----------------------------------------------------------------------


def not_an_image(path: Path) -> Path:
    """A text file named like a GeoTIFF."""
    path.write_text("this is a field report, not a raster\n" * 20)
    return path


def truncated_tiff(path: Path, samples: Sequence[Sample]) -> Path:
    """A real 600 x 600 float32 dB GeoTIFF cut to half its bytes (header intact)."""
    _, crs, transform = read_sample_db(samples[0])
    write_raster(path, mosaic_db(samples, 600, 600), crs, transform)
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 2)
    return path


def zero_band_vrt(path: Path) -> Path:
    """A VRT declaring a raster size but no band (GDAL cannot write a 0-band GeoTIFF)."""
    path.write_text('<VRTDataset rasterXSize="64" rasterYSize="64"></VRTDataset>\n')
    return path


def complex_tiff(path: Path, samples: Sequence[Sample]) -> Path:
    """Complex64 'SLC-like' pixels built from real amplitude with a phase ramp."""
    _, crs, transform = read_sample_db(samples[0])
    amplitude = 10.0 ** (mosaic_db(samples, 120, 120) / 20.0)
    phase = np.linspace(0, 2 * np.pi, amplitude.size).reshape(amplitude.shape)
    return write_raster(path, (amplitude * np.exp(1j * phase)).astype(np.complex64), crs, transform)


def all_nodata_tiff(path: Path, samples: Sequence[Sample]) -> Path:
    """A georeferenced float32 raster that is NaN everywhere."""
    _, crs, transform = read_sample_db(samples[0])
    return write_raster(path, np.full((1, 120, 120), np.nan, np.float32), crs, transform)


# --- real Sentinel-2 references ----------------------------------------------------


S2_L2A_ORDER = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def sentinel2_stack(path: Path, order: tuple[str, ...], described: bool) -> Path:
    """A real multi-band Sentinel-2 reference (bigearthnet-common) of the default sample's place, at 120 px."""
    build_samples()  # extracts the package's archives under data/samples/raw once
    raw = SAMPLES_DIR / "raw"
    s1_dir = sorted(p for p in (raw / "BigEarthNet-S1-Example").iterdir() if p.is_dir())[0]
    meta = json.loads(next(s1_dir.glob("*_labels_metadata.json")).read_text())
    folder = raw / "BigEarthNet-S2-Example" / meta["corresponding_s2_patch"]
    bands = []
    for name in order:
        with rasterio.open(next(folder.glob(f"*_{name}.tif"))) as src:
            data = src.read(1)
            if data.shape[0] == 120:
                profile = src.profile
            bands.append(np.kron(data, np.ones((120 // data.shape[0],) * 2, data.dtype)))
    profile.update(count=len(bands), dtype="uint16", driver="GTiff")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack(bands).astype(np.uint16))
        if described:
            dst.descriptions = order
    return path


# --- small real manifests -----------------------------------------------------------


def small_manifest(shared_data: Path, folder: Path, picks: dict[str, int], val_to_train: int = 0) -> Path:
    """A manifest.csv in `folder` holding the first `count` real rows of each source in `picks`.

    Paths are made absolute (they point into the team data); the first `val_to_train` rows move to train.
    """
    with open(shared_data / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [row for source, count in picks.items() for row in [r for r in rows if r["source"] == source][:count]]
    for index, row in enumerate(chosen):
        row["sar"], row["optical"] = str(shared_data / row["sar"]), str(shared_data / row["optical"])
        if index < val_to_train:
            row["split"] = "train"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return folder
