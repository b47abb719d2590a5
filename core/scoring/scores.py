"""Scores of a result against an optical reference, beside the two single colours it must beat.

A score alone can flatter: a dark, washed-out result may still beat the model's flat training
colour. So every score comes with two baselines painted on the same pixels: the flat training
colour (what a wash would paint) and the reference's own mean colour (it peeks at the reference:
the best any single colour could do). A result earns a score only where it beats both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np

from core.scoring.metrics import mean_colour_delta_e, pixel_colour, psnr, ssim

HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "delta_e": False, "pixel_delta_e": False,
                    "green_recall": True, "false_green": False}  # fmt: skip


@dataclass(frozen=True)
class ImageScores:
    """One image against the reference: PSNR (dB), SSIM, mean-colour and per-pixel ΔE00, green recall, false green."""

    psnr: float
    ssim: float
    delta_e: float
    pixel_delta_e: float
    green_recall: float  # 0-1; NaN when the reference has no green pixel
    false_green: float  # 0-1; NaN when the reference is all green


def score_image(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray) -> ImageScores:
    """Every score of one H x W x 3 image in [0, 1] against the reference, over `mask`."""
    pixel_de, green = pixel_colour(prediction, target, mask)
    return ImageScores(
        psnr(prediction, target, mask),
        ssim(prediction, target),
        mean_colour_delta_e(prediction, target, mask),
        pixel_de,
        green.recall,
        green.false_green,
    )


def flat_image(colour: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An H x W x 3 image of one RGB colour."""
    return np.broadcast_to(np.asarray(colour, np.float32), shape)


def beats(model: float, baselines: list[float], metric: str) -> bool:
    """True if `model` is strictly better than every baseline on `metric` (NaN: not defined here, never better)."""
    if math.isnan(model):
        return False
    return all(model > b if HIGHER_IS_BETTER[metric] else model < b for b in baselines if not math.isnan(b))


@dataclass(frozen=True)
class ReferenceScores:
    """The result, the flat training colour (None if the model records none) and the reference's mean colour."""

    model: ImageScores
    reference_mean: ImageScores  # peeks at the reference: the best a single colour could do
    flat: ImageScores | None
    overlap: float  # share of the result's valid pixels the reference covers
    reference_bands: str  # which of the reference's bands were read as red, green, blue

    def baselines(self, metric: str) -> list[float]:
        """The baselines' values of one metric."""
        return [getattr(s, metric) for s in (self.flat, self.reference_mean) if s is not None]

    def best_baseline(self, metric: str) -> float:
        """The better baseline value of one metric (NaN when neither is defined)."""
        defined = [b for b in self.baselines(metric) if not math.isnan(b)]
        if not defined:
            return float("nan")
        return max(defined) if HIGHER_IS_BETTER[metric] else min(defined)

    def comparison(self, metric: str) -> float:
        """What the model's score is judged against: the better single colour, except for the green pair.

        A single colour paints all pixels green or none, so its green recall is 100 % or 0 %: no yardstick.
        Green recall is judged against chance, the recall of painting the same share of pixels green at random,
        which equals the result's own false green; false green alone is judged against nothing (NaN).
        """
        if metric == "green_recall":
            return self.model.false_green
        if metric == "false_green":
            return float("nan")
        return self.best_baseline(metric)

    def earned(self, metric: str) -> bool:
        """The model beats its comparison on this metric (both single colours; chance for green recall)."""
        comparison = self.comparison(metric)
        return not math.isnan(comparison) and beats(getattr(self.model, metric), [comparison], metric)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> ReferenceScores:
        """Read stored scores (as written by `as_dict`)."""
        flat = data.get("flat")
        return cls(
            ImageScores(**data["model"]),
            ImageScores(**data["reference_mean"]),
            ImageScores(**flat) if flat else None,
            data["overlap"],
            data["reference_bands"],
        )


def score_with_baselines(
    prediction: np.ndarray,
    target: np.ndarray,
    mask: np.ndarray,
    flat_colour: np.ndarray | None,
    overlap: float,
    reference_bands: str,
) -> ReferenceScores:
    """The result's scores and its two single-colour baselines' on the same pixels (H x W x 3 in [0, 1])."""
    mean_colour = target[mask].mean(axis=0)
    return ReferenceScores(
        score_image(prediction, target, mask),
        score_image(flat_image(mean_colour, target.shape), target, mask),
        None if flat_colour is None else score_image(flat_image(flat_colour, target.shape), target, mask),
        overlap,
        reference_bands,
    )
