"""Built-in real sample scenes from the PyPI package `bigearthnet-common`.

Its wheel ships six georeferenced Sentinel-1 patches (VV and VH, float32 dB, UTM,
10 m, 120 x 120 px) and the Sentinel-2 patch of the same place. `build_samples`
turns each into a 2-band VV+VH SAR GeoTIFF and a true-colour RGB reference GeoTIFF.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import rasterio

from core.rasters.normalise import optical_to_unit
from core.settings import PROJECT_ROOT

SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"


@dataclass(frozen=True)
class Sample:
    """One built-in scene: SAR GeoTIFF, optical reference GeoTIFF and a label."""

    name: str
    sar: Path
    optical: Path
    label: str


def _extract(archive: str, target: Path) -> Path:
    folder = target / archive.removesuffix(".tar.bz2")
    if not folder.is_dir():
        with resources.as_file(resources.files("bigearthnet_common") / archive) as path, tarfile.open(path) as tar:
            tar.extractall(target, filter="data")
    return folder


def _write_sar(s1_dir: Path, out: Path) -> None:
    bands = []
    for pol in ("VV", "VH"):
        with rasterio.open(next(s1_dir.glob(f"*_{pol}.tif"))) as src:
            bands.append(src.read(1))
            profile = src.profile
    profile.update(count=2, dtype="float32", driver="GTiff", nodata=None)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack(bands).astype(np.float32))
        dst.descriptions = ("VV", "VH")
        dst.update_tags(units="dB", quantity="sigma0")


def _write_optical(s2_dir: Path, out: Path) -> None:
    channels = []
    for band in ("B04", "B03", "B02"):
        with rasterio.open(next(s2_dir.glob(f"*_{band}.tif"))) as src:
            unit = optical_to_unit(src.read(1), src.dtypes[0])
            profile = src.profile
        channels.append((unit * 255.0).astype(np.uint8))
    profile.update(count=3, dtype="uint8", driver="GTiff", nodata=None, photometric="RGB")
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(np.stack(channels))


def build_samples(target: Path = SAMPLES_DIR) -> list[Sample]:
    """Extract the package's archives once and write the sample GeoTIFFs."""
    target.mkdir(parents=True, exist_ok=True)
    s1_root = _extract("BigEarthNet-S1-Example.tar.bz2", target / "raw")
    s2_root = _extract("BigEarthNet-S2-Example.tar.bz2", target / "raw")
    samples = []
    for s1_dir in sorted(p for p in s1_root.iterdir() if p.is_dir()):
        meta = json.loads(next(s1_dir.glob("*_labels_metadata.json")).read_text())
        name = s1_dir.name.split("_", 5)[-1]  # e.g. 33UUP_87_48
        sar, optical = target / f"{name}_S1_VVVH_dB.tif", target / f"{name}_S2_RGB.tif"
        if not sar.exists():
            _write_sar(s1_dir, sar)
        if not optical.exists():
            _write_optical(s2_root / meta["corresponding_s2_patch"], optical)
        samples.append(Sample(name, sar, optical, f"{name} ({', '.join(meta['labels'][:2])})"))
    return samples


def default_sample() -> Sample:
    """The scene the app opens with."""
    return build_samples()[0]


if __name__ == "__main__":
    for sample in build_samples():
        print(sample.sar)
