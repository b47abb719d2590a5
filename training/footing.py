"""The product's colour footing across every source, EuroSAT included, and its statistics before and after.

The product's look is Sentinel-2 true colour as SEN1-2 renders it (B4/B3/B2, dark objects near black, SEN1-2's
mean brightness). `training.data.measure_footing` states the rule; this module adds the unpaired EuroSAT
patches as one more source and measures what the rule does to each (dark-object level, brightness,
saturation, green share), for the model card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.scoring.metrics import GREEN_A_STAR
from training.data import (
    HAZE_PERCENTILE,
    TargetFooting,
    footing_samples,
    measure_footing,
    read_manifest,
)
from training.eurosat import EUROSAT_DIR, read_eurosat

EUROSAT_SOURCE = "eurosat"  # its name among the footing's sources
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def eurosat_pixels(data_root: Path, every: int = 4) -> np.ndarray:
    """Every `every`-th EuroSAT patch's pixels on a 4-pixel lattice, N x 3 in [0, 1]."""
    images, _, _ = read_eurosat(data_root / EUROSAT_DIR)
    return images[::every, ::4, ::4].reshape(-1, 3).astype(np.float32) / 255.0


def footing_with_eurosat(data_root: Path) -> tuple[dict[str, list[np.ndarray]], dict[str, TargetFooting]]:
    """Train target samples by source, EuroSAT added, and the footing measured on them."""
    samples = footing_samples(read_manifest(data_root, ("train",)))
    samples[EUROSAT_SOURCE] = [eurosat_pixels(data_root)]
    return samples, measure_footing(samples)


def colour_statistics(pixels: np.ndarray) -> dict[str, float]:
    """Dark-object level (1st percentile RGB), mean luma, mean CIELAB chroma and green share of N x 3 pixels."""
    from skimage.color import rgb2lab

    lab = rgb2lab(np.clip(pixels, 0, 1)[None].astype(np.float64))[0]
    dark = np.percentile(pixels, HAZE_PERCENTILE, axis=0)
    return {
        "dark_rgb": [round(float(v), 3) for v in dark],
        "luma": round(float((pixels @ LUMA).mean()), 3),
        "chroma": round(float(np.hypot(lab[:, 1], lab[:, 2]).mean()), 1),
        "green": round(float((lab[:, 1] < GREEN_A_STAR).mean()), 3),
    }


def footing_statistics(samples: dict[str, list[np.ndarray]], footing: dict[str, TargetFooting]) -> dict[str, dict]:
    """Per source: the rule's parameters and `colour_statistics` before and after it."""
    table = {}
    for source, images in sorted(samples.items()):
        pixels = np.concatenate(images)
        rule = footing.get(source, TargetFooting())
        table[source] = {
            "footing": rule.as_dict(),
            "before": colour_statistics(pixels),
            "after": colour_statistics(rule.apply(pixels)),
        }
    return table
