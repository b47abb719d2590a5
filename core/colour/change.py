"""Where the SAR contradicts the optical guide (new water), and what colour it then shows: a prior learned on OMBRIA.

Per scene, `ExpectedSar` records what SAR level each guide colour has in this scene (the median dB
at 2 px, and its spread, per CIELAB bin of the guide), from the pixels the guided fit samples. Per
pixel, `change_features` sets the SAR against that expectation (a field the guide shows, whose SAR
is as dark as the scene's water, stands out), against the scene's own levels, and beside the guide's
colour, the fitted colour and the SAR's texture. `ChangePrior`, a small MLP trained on OMBRIA's
flood sites (`training.change_prior`: SAR after the flood, guide before it, the flood mask as the
truth), turns them into the probability that the pixel changed to water, and the colour that water
has in OMBRIA's after-flood optical. The file is `models/priors/change_prior.pt` (card beside it,
`change_prior.md`); it lives apart from the generator checkpoints in `models/*.pt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from core.colour.cells import POOL
from core.colour.colour_fit import MEAN_SCALES, TEXTURE_SCALES, TRUNCATE
from core.model.inference import single_threaded_torch

L_BINS, AB_BINS, AB_RANGE = 10, 8, 40.0  # guide CIELAB bins: L* in 10s, a* and b* in 10s over [-40, 40]
MIN_BIN_PIXELS = 30  # fewer sampled pixels in a colour bin: its lightness row, else the whole scene, stands in
MIN_SPREAD_DB = 0.5  # floor of the expected spread (dB), so a uniform colour bin cannot give huge scores
LEVEL_PLANE = MEAN_SCALES.index(2.0)  # the SAR feature plane the expectation is about (dB, Gaussian 2 px)
WIDE_PLANE, WIDEST_PLANE = MEAN_SCALES.index(8.0), MEAN_SCALES.index(16.0)
TEXTURE_PLANES = (len(MEAN_SCALES), len(MEAN_SCALES) + 1)  # local std of dB at TEXTURE_SCALES
CHANGE_FEATURES = 10
HIDDEN = 32
PROBABILITY_SMOOTHING = 4.0  # px: the change probability is a patch's, not a speckle's
PRIOR_FILE = "change_prior.pt"
assert TEXTURE_SCALES == (2.0, 8.0)


def _bins(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat index of each colour's (L, a, b) bin and of its lightness bin."""
    lightness = np.clip((lab[..., 0] / (100.0 / L_BINS)).astype(np.int32), 0, L_BINS - 1)
    ab = np.clip(((lab[..., 1:] + AB_RANGE) / (2 * AB_RANGE / AB_BINS)).astype(np.int32), 0, AB_BINS - 1)
    return (lightness * AB_BINS + ab[..., 0]) * AB_BINS + ab[..., 1], lightness


def _robust(values: np.ndarray) -> tuple[float, float]:
    median = float(np.median(values))
    return median, max(1.4826 * float(np.median(np.abs(values - median))), MIN_SPREAD_DB)


@dataclass
class ExpectedSar:
    """This scene's SAR level (dB, 2 px mean) per guide colour, its spread, and the scene's own levels."""

    median: np.ndarray  # per colour bin, dB
    spread: np.ndarray  # per colour bin, dB (1.4826 x median absolute deviation)
    levels: np.ndarray  # the 10th, 50th and 90th percentiles of the sampled dB

    @classmethod
    def learn(cls, features: np.ndarray, lab: np.ndarray) -> ExpectedSar:
        """From N x F SAR features (`core.colour.colour_fit.sar_features`) and the N x 3 guide colours there."""
        level = features[:, LEVEL_PLANE]
        full, lightness = _bins(lab)
        whole = _robust(level)
        rows = [_robust(level[lightness == i]) if (lightness == i).sum() >= MIN_BIN_PIXELS else whole
                for i in range(L_BINS)]  # fmt: skip
        median = np.array([rows[b // (AB_BINS * AB_BINS)][0] for b in range(L_BINS * AB_BINS**2)], np.float32)
        spread = np.array([rows[b // (AB_BINS * AB_BINS)][1] for b in range(L_BINS * AB_BINS**2)], np.float32)
        order = np.argsort(full, kind="stable")
        bins, starts, counts = np.unique(full[order], return_index=True, return_counts=True)
        for b, start, count in zip(bins, starts, counts, strict=True):
            if count >= MIN_BIN_PIXELS:
                median[b], spread[b] = _robust(level[order[start : start + count]])
        return cls(median, spread, np.percentile(level, [10, 50, 90]).astype(np.float32))

    def score(self, level: np.ndarray, lab: np.ndarray) -> np.ndarray:
        """(dB - the level expected of the guide's colour there) / its spread."""
        full, _ = _bins(lab)
        return (level - self.median[full]) / self.spread[full]

    def relative(self, level: np.ndarray) -> np.ndarray:
        """dB against the scene: (dB - median) / (90th - 10th percentile)."""
        low, middle, high = self.levels
        return (level - middle) / max(float(high - low), 1.0)


def change_features(
    sar: np.ndarray, guide_lab: np.ndarray, median: np.ndarray, score: np.ndarray, expected: ExpectedSar
) -> np.ndarray:
    """H x W x `CHANGE_FEATURES` float32 from the SAR features, guide and fitted CIELAB, disagreement score."""
    level, wide = sar[..., LEVEL_PLANE], sar[..., WIDE_PLANE]
    planes = [
        expected.score(level, guide_lab),
        expected.score(wide, guide_lab),
        expected.relative(level),
        expected.relative(wide),
        expected.relative(sar[..., WIDEST_PLANE]),
        sar[..., TEXTURE_PLANES[0]],
        sar[..., TEXTURE_PLANES[1]],
        guide_lab[..., 0] / 50.0 - 1.0,  # the guide's a* and b* are left out: OMBRIA's land colours are regional
        (median[..., 0] - guide_lab[..., 0]) / 50.0,  # (with them, 50 % of an arid zone's sand came out water)
        np.minimum(score, 10.0) / 5.0,
    ]
    return np.stack([np.clip(p, -20.0, 20.0).astype(np.float32, copy=False) for p in planes], axis=-1)


def prior_network() -> nn.Sequential:
    """Change features -> (logit of change to water, water's L*, a*, b* normalised)."""
    return nn.Sequential(nn.Linear(CHANGE_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, 4))  # fmt: skip


@dataclass
class ChangePrior:
    """The learned prior: the probability that a pixel changed to water, and the water's CIELAB colour."""

    network: nn.Sequential
    feature_mean: np.ndarray
    feature_std: np.ndarray
    colour_mean: np.ndarray
    colour_std: np.ndarray
    feature_low: np.ndarray  # features are clamped to the training range (0.5th-99.5th percentiles): a scene unlike
    feature_high: np.ndarray  # OMBRIA's (desert, snow) meets the prior at its edge, not in an extrapolation

    def save(self, path: Path, card: dict) -> None:
        """One literal, read back by `load` with the same keys."""
        torch.save({"state": self.network.state_dict(), "feature_mean": self.feature_mean,
                    "feature_std": self.feature_std, "colour_mean": self.colour_mean,
                    "colour_std": self.colour_std, "feature_low": self.feature_low, "feature_high": self.feature_high,
                    "features": CHANGE_FEATURES, "card": card}, path)  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> ChangePrior:
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved["features"] != CHANGE_FEATURES:
            raise ValueError(f"{path} was trained on {saved['features']} change features, this code makes "
                             f"{CHANGE_FEATURES}: retrain it (python -m training.change_prior).")  # fmt: skip
        network = prior_network()
        network.load_state_dict(saved["state"])
        network.eval()
        return cls(network, *(np.asarray(saved[k], np.float32)
                              for k in ("feature_mean", "feature_std", "colour_mean", "colour_std", "feature_low",
                                        "feature_high")))  # fmt: skip

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cells h x w x F -> (probability of change to water, smoothed over `PROBABILITY_SMOOTHING` px; water
        CIELAB)."""
        flat = np.clip(features.reshape(-1, features.shape[-1]), self.feature_low, self.feature_high)
        x = torch.from_numpy((flat - self.feature_mean) / self.feature_std)
        with single_threaded_torch(), torch.inference_mode():
            out = self.network(x).numpy()
        shape = features.shape[:-1]
        logit = out[:, 0].reshape(shape)
        probability = 1.0 / (1.0 + np.exp(-np.clip(logit, -30.0, 30.0)))
        probability = gaussian_filter(probability, PROBABILITY_SMOOTHING / POOL, truncate=TRUNCATE)
        water = (out[:, 1:] * self.colour_std + self.colour_mean).reshape(*shape, 3)
        return probability.astype(np.float32), water.astype(np.float32)


_LOADED: dict[Path, ChangePrior] = {}


def default_prior() -> ChangePrior | None:
    """The committed prior (the project's `models/priors/change_prior.pt`, part of the product like the code), loaded
    once; None when the file is absent."""
    from core.settings import PROJECT_ROOT

    path = PROJECT_ROOT / "models" / "priors" / PRIOR_FILE
    if path not in _LOADED:
        if not path.is_file():
            return None
        _LOADED[path] = ChangePrior.load(path)
    return _LOADED[path]
