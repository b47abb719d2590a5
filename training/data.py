"""Paired SAR / optical data from `shared/data/manifest.csv`.

SAR goes through `core.normalise.sar_to_model_input` (the function inference uses),
with the stretch fitted on the whole image before cropping. Optical targets become
RGB in [0, 1]; each colour source is scaled by a measured gain so its mean
luminance matches SEN1-2's (volkov is stretched brighter); `gray_u8` targets carry
luminance only and are flagged so losses supervise L alone.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from core.normalise import Encoding, optical_to_unit, sar_to_model_input

ENCODINGS = {
    "db_u8": Encoding.DB_U8,
    "unknown_u8": Encoding.DB_U8,
    "linear_u8": Encoding.LINEAR_U8,
    "db_float": Encoding.DB,
}
REFERENCE_SOURCE = "sen12-gray"  # SEN1-2 train optical: the brightness every source is matched to


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

    @property
    def has_colour(self) -> bool:
        return self.optical_kind != "gray_u8"


def read_manifest(data_root: Path, splits: tuple[str, ...] | None = None) -> list[PairRecord]:
    """Rows of the manifest, optionally limited to some splits."""
    with open(data_root / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
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
        )
        for r in rows
    ]
    return [r for r in records if splits is None or r.split in splits]


def load_sar(record: PairRecord) -> np.ndarray:
    """Model input (H x W float32 in [-1, 1]) with the stretch fitted on the whole image."""
    if record.encoding == Encoding.DB:  # float32 GeoTIFF
        import rasterio

        with rasterio.open(record.sar) as src:
            return sar_to_model_input(src.read(1), record.encoding)
    values = np.asarray(Image.open(record.sar).convert("L"))
    return sar_to_model_input(values, record.encoding)


def load_optical(record: PairRecord) -> np.ndarray:
    """Optical target as H x W x 3 float32 in [0, 1] (grey replicated for gray_u8), before gain."""
    if record.optical_kind == "rgb_u16":
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


def measure_gains(records: list[PairRecord], known: dict[str, float] | None = None) -> dict[str, float]:
    """Per-source gain mapping each source's mean luminance onto SEN1-2's (train rows only).

    `known` (pair_id -> mean luma) spares re-reading images a dataset has already loaded.
    """
    known = known or {}
    means: dict[str, list[float]] = {}
    for record in records:
        if record.split == "train" or record.source == REFERENCE_SOURCE:
            value = known.get(record.pair_id)
            means.setdefault(record.source, []).append(value if value is not None else luminance(load_optical(record)))
    reference = float(np.mean(means[REFERENCE_SOURCE])) if REFERENCE_SOURCE in means else None
    gains = {}
    for source in {r.source for r in records}:
        if reference is None or source not in means or source == REFERENCE_SOURCE:
            gains[source] = 1.0
        else:
            gains[source] = round(reference / float(np.mean(means[source])), 4)
    return gains


def align(sar: np.ndarray, optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crop both to their common size (a few scenes differ by a pixel or two)."""
    h, w = min(sar.shape[0], optical.shape[0]), min(sar.shape[1], optical.shape[1])
    return sar[:h, :w], optical[:h, :w]


class PairDataset(Dataset):
    """Random crops with flips and 90 degree rotations, preloaded in memory.

    Items: (sar 1 x C x C, target 3 x C x C in [-1, 1], has_colour bool).
    Targets are kept before the per-source gain, which is applied per item, so gains can be
    measured from the loaded images (`luminances`) and set afterwards.
    `augment=False` returns the centre crop (deterministic).
    """

    def __init__(self, records: list[PairRecord], gains: dict[str, float], crop: int, augment: bool = True) -> None:
        self.records, self.gains, self.crop, self.augment = records, gains, crop, augment
        self.pairs = []
        for record in records:
            sar, optical = align(load_sar(record), load_optical(record))
            self.pairs.append((sar.astype(np.float32), (optical * 255).round().astype(np.uint8)))
        self.rng = np.random.default_rng()

    def luminances(self) -> dict[str, float]:
        """Mean luma of every loaded target (before gains), by pair id."""
        return {r.pair_id: luminance(optical / 255.0) for r, (_, optical) in zip(self.records, self.pairs, strict=True)}

    def __len__(self) -> int:
        return len(self.records)

    def crops_in(self, index: int) -> int:
        """How many crop-sized areas an image holds (its sampling weight)."""
        h, w = self.pairs[index][0].shape
        return max(1, (h // self.crop) * (w // self.crop))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
        sar, optical = self.pairs[index]
        h, w = sar.shape
        c = self.crop
        if self.augment:
            y, x = self.rng.integers(0, max(1, h - c + 1)), self.rng.integers(0, max(1, w - c + 1))
        else:
            y, x = max(0, (h - c) // 2), max(0, (w - c) // 2)
        sar_crop = sar[y : y + c, x : x + c]
        gain = self.gains.get(self.records[index].source, 1.0)
        opt_crop = np.clip(optical[y : y + c, x : x + c].astype(np.float32) * (gain / 255.0), 0.0, 1.0) * 2.0 - 1.0
        if self.augment:
            k = int(self.rng.integers(4))
            flip = bool(self.rng.integers(2))
            sar_crop, opt_crop = np.rot90(sar_crop, k), np.rot90(opt_crop, k)
            if flip:
                sar_crop, opt_crop = sar_crop[:, ::-1], opt_crop[:, ::-1]
        sar_t = torch.from_numpy(np.ascontiguousarray(sar_crop))[None]
        opt_t = torch.from_numpy(np.ascontiguousarray(opt_crop).transpose(2, 0, 1).copy())
        return sar_t, opt_t, self.records[index].has_colour


def sampling_weights(dataset: PairDataset, colour_fraction: float) -> torch.Tensor:
    """Per-item weights: colour images by area share `colour_fraction`, grey ones the rest."""
    areas = np.array([dataset.crops_in(i) for i in range(len(dataset))], dtype=np.float64)
    colour = np.array([r.has_colour for r in dataset.records])
    weights = np.zeros(len(dataset))
    if colour.any():
        weights[colour] = areas[colour] / areas[colour].sum() * (colour_fraction if (~colour).any() else 1.0)
    if (~colour).any():
        weights[~colour] = areas[~colour] / areas[~colour].sum() * (1.0 - colour_fraction if colour.any() else 1.0)
    return torch.from_numpy(weights)
