"""Paired SAR / optical data from `shared/data/manifest.csv`.

SAR goes through `core.rasters.normalise.sar_to_model_input` (the function inference uses),
with the stretch fitted on the whole image before cropping. Optical targets become
RGB in [0, 1] on one footing (`TargetFooting`, measured on the train split): a source
whose darkest pixels are blue-tinted (L1C path radiance: volkov, EuroSAT) has its
dark-object level brought down to SEN1-2's, then each source is scaled so its mean
luminance matches SEN1-2's. `gray_u8` targets carry luminance only and are flagged so
losses supervise L alone; `rgb_pseudo` targets are grey SEN1-2 targets given colour by
`training.pseudo_colour` (colour supervision, sampled with the grey share).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from core.rasters.normalise import FIXED_DB_RANGE, Encoding, InputSpace, optical_to_unit, sar_to_model_input
from core.samples import build_samples

ENCODINGS = {
    "db_u8": Encoding.DB_U8,
    "unknown_u8": Encoding.DB_U8,
    "linear_u8": Encoding.LINEAR_U8,
    "db_minmax_u8": Encoding.DB_MINMAX_U8,
    "db_float": Encoding.DB,
}
REFERENCE_SOURCE = "sen12-gray"  # SEN1-2 train optical: the brightness every source is matched to
HAZE_PERCENTILE = 1.0  # a source's dark objects: this percentile of each channel over its train images
HAZE_MIN_BLUE_EXCESS = 0.05  # dark objects bluer than red by more than this count as haze
PSEUDO_KIND = "rgb_pseudo"  # optical_kind of a grey target coloured by training.pseudo_colour


@dataclass(frozen=True)
class PairRecord:
    """One manifest row."""

    pair_id: str
    source: str
    split: str
    sar: Path
    optical: Path
    encoding: Encoding
    optical_kind: str
    group: str
    polarisation: str = "VV"
    band: int = 1  # band of a multi-band SAR GeoTIFF

    @property
    def has_colour(self) -> bool:
        return self.optical_kind != "gray_u8"

    @property
    def real_colour(self) -> bool:
        """Colour observed by a satellite (not grey, not pseudo-colour)."""
        return self.has_colour and self.optical_kind != PSEUDO_KIND


def manifest_rows(data_root: Path) -> list[dict[str, str]]:
    """Rows of `manifest.csv` and of each source folder's own `manifest.csv` (OMBRIA's), each pair once."""
    rows: dict[str, dict[str, str]] = {}
    for path in [data_root / "manifest.csv", *sorted(data_root.glob("*/manifest.csv"))]:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                rows.setdefault(row["pair_id"], row)
    return list(rows.values())


def read_manifest(data_root: Path, splits: tuple[str, ...] | None = None) -> list[PairRecord]:
    """Rows of the manifests, optionally limited to some splits."""
    rows = manifest_rows(data_root)
    records = [
        PairRecord(
            r["pair_id"],
            r["source"],
            r["split"],
            data_root / r["sar"],
            data_root / r["optical"],
            ENCODINGS[r["sar_encoding"]],
            r["optical_kind"],
            r["group"],
            r.get("polarization", "VV"),
        )
        for r in rows
    ]
    return [r for r in records if splits is None or r.split in splits]


def with_pseudo_colour(records: list[PairRecord], folder: Path) -> list[PairRecord]:
    """Records whose grey target has a pseudo-colour PNG in `folder` (training.pseudo_colour) point to it."""
    with open(folder / "pseudo_colour.csv", newline="") as handle:
        files = {row["pair_id"]: folder / row["file"] for row in csv.DictReader(handle)}
    return [
        replace(r, optical=files[r.pair_id], optical_kind=PSEUDO_KIND) if r.pair_id in files else r for r in records
    ]


FLOOD_MASK_FOLDER = "mask"  # OMBRIA: <source folder>/mask/<split>_<site>.png, 255 = flooded
AFTER_SUFFIX = "_after"


def flood_mask(record: PairRecord) -> np.ndarray | None:
    """The flooded area (H x W bool) of an OMBRIA after-flood pair; None for every other pair.

    The mask is the Copernicus EMS delineation after the event, so it marks water only in the after image.
    """
    stem = record.sar.stem
    if record.source != "ombria" or not stem.endswith(AFTER_SUFFIX):
        return None
    path = record.sar.parent.parent / FLOOD_MASK_FOLDER / f"{stem.removesuffix(AFTER_SUFFIX)}.png"
    return np.asarray(Image.open(path).convert("L")) > 127


def bigearthnet_records() -> list[PairRecord]:
    """The BigEarthNet sample patches as val pairs, once per polarisation (VV band 1, VH band 2)."""
    return [
        PairRecord(
            f"bigearthnet/{sample.name}_{pol}",
            "bigearthnet",
            "val",
            sample.sar,
            sample.optical,
            Encoding.DB,
            "rgb_u8",
            sample.name,
            pol,
            band,
        )
        for sample in build_samples()
        for band, pol in ((1, "VV"), (2, "VH"))
    ]


def load_sar(record: PairRecord, space: InputSpace = InputSpace.STRETCH) -> np.ndarray:
    """Model input (C x H x W float32 in [-1, 1]) with the stretch fitted on the whole image."""
    if record.encoding == Encoding.DB:  # float32 GeoTIFF
        import rasterio

        with rasterio.open(record.sar) as src:
            values = src.read(record.band)
    else:
        values = np.asarray(Image.open(record.sar).convert("L"))
    return sar_to_model_input(values, record.encoding, space, record.polarisation)


def load_optical(record: PairRecord) -> np.ndarray:
    """Optical target as H x W x 3 float32 in [0, 1] (grey replicated for gray_u8), before gain."""
    if record.optical_kind == "rgb_u16" or record.optical.suffix.lower() in (".tif", ".tiff"):
        import rasterio  # PIL cannot read 3-band uint16 TIFFs

        with rasterio.open(record.optical) as src:
            return optical_to_unit(src.read([1, 2, 3]), src.dtypes[0]).transpose(1, 2, 0)
    image = Image.open(record.optical)
    if record.optical_kind == "gray_u8":
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0


def luminance(rgb: np.ndarray) -> float:
    """Mean Rec.601 luma of an H x W x 3 image in [0, 1]."""
    return float((rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).mean())


@dataclass(frozen=True)
class TargetFooting:
    """How one source's optical targets are put on SEN1-2's footing: (rgb - haze) * gain, clipped to [0, 1]."""

    haze: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gain: float = 1.0

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        return np.clip((rgb - np.asarray(self.haze, np.float32)) * self.gain, 0.0, 1.0)

    def as_dict(self) -> dict:
        return {"haze": list(self.haze), "gain": self.gain}


def path_radiance(dark: np.ndarray, reference_dark: float) -> np.ndarray:
    """A source's haze: its dark-object level above SEN1-2's, if it is blue-tinted (L1C path radiance); else zero."""
    if dark[2] - dark[0] <= HAZE_MIN_BLUE_EXCESS:
        return np.zeros(3, np.float32)
    return np.clip(dark - reference_dark, 0.0, None).astype(np.float32)


def measure_footing(samples: dict[str, list[np.ndarray]]) -> dict[str, TargetFooting]:
    """Per-source footing from train target pixels (N x 3 in [0, 1]) grouped by source."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    if REFERENCE_SOURCE not in samples:
        return {source: TargetFooting() for source in samples}
    reference_pixels = np.concatenate(samples[REFERENCE_SOURCE])
    reference = float(reference_pixels.mean(0) @ luma)
    reference_dark = float(np.percentile(reference_pixels @ luma, HAZE_PERCENTILE))
    footing = {}
    for source, pixels in samples.items():
        if source == REFERENCE_SOURCE:
            footing[source] = TargetFooting()
            continue
        values = np.concatenate(pixels)
        haze = path_radiance(np.percentile(values, HAZE_PERCENTILE, axis=0), reference_dark)
        dehazed = float(np.clip(values - haze, 0, 1).mean(0) @ luma)
        footing[source] = TargetFooting(tuple(round(float(h), 4) for h in haze), round(reference / dehazed, 4))
    return footing


def footing_pixels(rgb01: np.ndarray) -> np.ndarray:
    """Every 4th pixel of a target (H x W x 3 in [0, 1]) as N x 3: what `measure_footing` samples."""
    return rgb01[::4, ::4].reshape(-1, 3)


def footing_samples(records: list[PairRecord]) -> dict[str, list[np.ndarray]]:
    """`footing_pixels` of each train target, by source (read from disk)."""
    samples: dict[str, list[np.ndarray]] = {}
    for record in records:
        if record.split == "train":
            samples.setdefault(record.source, []).append(footing_pixels(load_optical(record)))
    return samples


def mean_training_colour(samples: dict[str, list[np.ndarray]], footing: dict[str, TargetFooting]) -> np.ndarray:
    """Mean RGB of the colour training targets on their footing, weighting images equally."""
    means = [
        footing[source].apply(pixels).mean(0)
        for source, images in samples.items()
        if source != "sen12-gray"
        for pixels in images
    ]
    return np.mean(means, axis=0).astype(np.float32)


def load_target(record: PairRecord, footing: dict[str, TargetFooting]) -> np.ndarray:
    """The optical target in [0, 1] on the training footing of its source."""
    return footing.get(record.source, TargetFooting()).apply(load_optical(record))


def align(sar: np.ndarray, optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop both to their common size (a few scenes differ by a pixel or two)."""
    h, w = min(sar.shape[0], optical.shape[0]), min(sar.shape[1], optical.shape[1])
    return sar[:h, :w], optical[:h, :w]


@dataclass(frozen=True)
class LevelJitter:
    """Random level and contrast of a SAR crop: the model must read land cover, not a source's footing.

    The sources reach the model on different footings (calibrated BigEarthNet dB, SEN1-2's 8-bit dB anchored or
    not, volkov's relative values): a model that keys colour to the footing paints every scene of one source alike.
    """

    level_db: float = 0.0  # the crop's level moves by up to +- this many dB
    contrast: float = 0.0  # and its contrast about its median by a factor within exp(+- this)

    def __call__(self, sar: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not (self.level_db or self.contrast):
            return sar
        units_per_db = 2.0 / (FIXED_DB_RANGE[1] - FIXED_DB_RANGE[0])
        shift = rng.uniform(-self.level_db, self.level_db) * units_per_db
        gain = np.exp(rng.uniform(-self.contrast, self.contrast))
        median = np.median(sar, axis=(1, 2), keepdims=True)
        return np.clip((sar - median) * gain + median + shift, -1.0, 1.0).astype(np.float32)


class Sample(NamedTuple):
    """One training crop."""

    sar: torch.Tensor  # C_in x S x S
    target: torch.Tensor  # 3 x S x S RGB in [-1, 1]
    has_colour: bool
    flooded: torch.Tensor  # 1 x S x S bool: OMBRIA's flood mask on an after-flood crop, all False elsewhere


class PairDataset(Dataset):
    """Random crops with flips and 90 degree rotations, preloaded in memory.

    Items: `Sample`s.
    Targets are kept before the per-source footing, which is applied per item, so the
    footing can be measured from the loaded images (`footing_samples`) and set afterwards.
    `augment=False` returns the centre crop (deterministic).
    """

    def __init__(
        self,
        records: list[PairRecord],
        footing: dict[str, TargetFooting],
        crop: int,
        augment: bool = True,
        space: InputSpace = InputSpace.STRETCH,
        jitter: LevelJitter = LevelJitter(),
    ) -> None:
        self.records, self.footing, self.crop, self.augment = records, footing, crop, augment
        self.jitter = jitter
        self.pairs, self.floods = [], []
        for record in records:
            sar, optical = load_sar(record, space), load_optical(record)
            h, w = min(sar.shape[1], optical.shape[0]), min(sar.shape[2], optical.shape[1])
            self.pairs.append((sar[:, :h, :w].astype(np.float32), (optical[:h, :w] * 255).round().astype(np.uint8)))
            mask = flood_mask(record)
            self.floods.append(np.zeros((h, w), bool) if mask is None else mask[:h, :w])
        self.rng = np.random.default_rng()

    def footing_samples(self) -> dict[str, list[np.ndarray]]:
        """`footing_pixels` of each loaded target, by source (no second read of the images)."""
        samples: dict[str, list[np.ndarray]] = {}
        for record, (_, optical) in zip(self.records, self.pairs, strict=True):
            samples.setdefault(record.source, []).append(footing_pixels(optical) / np.float32(255.0))
        return samples

    def __len__(self) -> int:
        return len(self.records)

    def crops_in(self, index: int) -> int:
        """How many crop-sized areas an image holds (its sampling weight)."""
        h, w = self.pairs[index][0].shape[1:]
        return max(1, (h // self.crop) * (w // self.crop))

    def __getitem__(self, index: int) -> Sample:
        sar, optical = self.pairs[index]
        h, w = sar.shape[1:]
        c = self.crop
        if self.augment:
            y, x = self.rng.integers(0, max(1, h - c + 1)), self.rng.integers(0, max(1, w - c + 1))
        else:
            y, x = max(0, (h - c) // 2), max(0, (w - c) // 2)
        sar_crop = sar[:, y : y + c, x : x + c]
        flood_crop = self.floods[index][None, y : y + c, x : x + c]
        footing = self.footing.get(self.records[index].source, TargetFooting())
        opt_crop = footing.apply(optical[y : y + c, x : x + c].astype(np.float32) / 255.0).transpose(2, 0, 1) * 2 - 1
        if self.augment:
            sar_crop = self.jitter(sar_crop, self.rng)
            k = int(self.rng.integers(4))
            flip = bool(self.rng.integers(2))
            sar_crop, opt_crop, flood_crop = (_rotate_flip(a, k, flip) for a in (sar_crop, opt_crop, flood_crop))
        return Sample(
            torch.from_numpy(np.ascontiguousarray(sar_crop)),
            torch.from_numpy(np.ascontiguousarray(opt_crop, dtype=np.float32)),
            self.records[index].has_colour,
            torch.from_numpy(np.ascontiguousarray(flood_crop)),
        )


def _rotate_flip(array: np.ndarray, quarter_turns: int, flip: bool) -> np.ndarray:
    """C x H x W array turned by `quarter_turns` x 90 degrees, then mirrored left-right if `flip`."""
    turned = np.rot90(array, quarter_turns, axes=(1, 2))
    return turned[:, :, ::-1] if flip else turned


def sampling_weights(dataset: PairDataset, colour_fraction: float) -> torch.Tensor:
    """Per-item weights: real colour images by area share `colour_fraction`, grey or pseudo-colour ones the rest."""
    areas = np.array([dataset.crops_in(i) for i in range(len(dataset))], dtype=np.float64)
    colour = np.array([r.real_colour for r in dataset.records])
    weights = np.zeros(len(dataset))
    if colour.any():
        weights[colour] = areas[colour] / areas[colour].sum() * (colour_fraction if (~colour).any() else 1.0)
    if (~colour).any():
        weights[~colour] = areas[~colour] / areas[~colour].sum() * (1.0 - colour_fraction if colour.any() else 1.0)
    return torch.from_numpy(weights)
