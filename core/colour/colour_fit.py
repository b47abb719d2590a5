"""SAR -> colour, learned at run time from one scene's own pixels against its optical reference.

Per pixel, `sar_features` describes the backscatter around it (Gaussian means of dB at five
scales, local standard deviation at two). `ColourFit` is a small MLP (7 -> 32 -> 32 -> 6)
that predicts, from them, the median CIELAB colour of the reference and its spread (a
Laplace scale per channel): trained with the Laplace negative log-likelihood, it says both
what colour this SAR has in this place and how sure that colour is. It fits 200 k pixels in
0.6-1.6 s on one CPU core and predicts 0.4 s per Mpx (RGB included).

Chosen by measurement (models/eval/guided.json, `methods`): on the volkov spatial hold-out
(fit on one half of a scene, score the other), scikit-learn's HistGradientBoosting on the same
features scores the same PSNR with a higher ΔE00 and predicts 14x slower; a 30 s fine-tune of
the default U-Net on the scene is within noise of both and takes 47x longer to fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from core.model.inference import single_threaded_torch
from core.rasters.normalise import fill_nearest_valid

MEAN_SCALES = (1.0, 2.0, 4.0, 8.0, 16.0)  # px: Gaussian means of dB (a raw-pixel channel added nothing, only speckle)
TEXTURE_SCALES = (2.0, 8.0)  # px: local standard deviation of dB
TRUNCATE = 4.0  # Gaussian kernels reach 4 sigma
FEATURE_HALO = int(TRUNCATE * max(MEAN_SCALES) + 0.5)  # px of context a pixel's features read on each side
FEATURES = len(MEAN_SCALES) + len(TEXTURE_SCALES)
HIDDEN = 32
STEPS = 400  # Adam steps of 4,096 pixels: 1,500 steps scored the same on the volkov hold-out
MIN_STEPS, MAX_EPOCHS = 100, 40  # a small sample (a scene under ~40 k pixels) is passed over at most 40 times
BATCH = 4096
LEARNING_RATE = 3e-3
WARMUP = 0.1  # share of the steps over which the learning rate rises
MAX_LOG_SCALE = 4.0  # the predicted Laplace scale is clamped to exp(+-4) standard deviations of the colour
SEED = 0


def sar_features(db: np.ndarray) -> np.ndarray:
    """H x W dB (NaN: nodata, filled from the nearest valid pixel) -> H x W x `FEATURES` float32.

    Beyond the array's edges the values are mirrored, so a window read with `FEATURE_HALO` px of
    context on each side (clipped at the scene's edges) gives its inner pixels the whole scene's features.
    """
    db = fill_nearest_valid(db.astype(np.float32, copy=False))
    if not np.isfinite(db).any():
        db = np.zeros_like(db)
    planes = [gaussian_filter(db, sigma, truncate=TRUNCATE) for sigma in MEAN_SCALES]
    squared = db * db
    for sigma in TEXTURE_SCALES:
        mean = planes[MEAN_SCALES.index(sigma)]
        variance = gaussian_filter(squared, sigma, truncate=TRUNCATE) - mean * mean
        planes.append(np.sqrt(np.clip(variance, 0.0, None)))
    return np.stack(planes, axis=-1)


def _network() -> nn.Sequential:
    return nn.Sequential(nn.Linear(FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                         nn.Linear(HIDDEN, 6))  # fmt: skip


def _initialise(network: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default Linear initialisation, drawn from `generator` (no global random state)."""
    with torch.no_grad():
        for layer in network:
            if isinstance(layer, nn.Linear):
                bound = 1.0 / layer.in_features**0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)


def _learning_rate(step: int, steps: int) -> float:
    """Linear warm-up over the first `WARMUP` of the steps, then cosine decay to 0."""
    warm = max(1, int(WARMUP * steps))
    if step < warm:
        return LEARNING_RATE * (step + 1) / warm
    return LEARNING_RATE * 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))


class _Adam:
    """Adam (Kingma & Ba), written out: torch.optim's first step imports torch._dynamo (+155 MB RSS, measured)."""

    def __init__(self, parameters: list[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999)) -> None:
        self.parameters, self.betas, self.count = parameters, betas, 0
        self.first = [torch.zeros_like(p) for p in parameters]
        self.second = [torch.zeros_like(p) for p in parameters]

    @torch.no_grad()
    def step(self, learning_rate: float) -> None:
        self.count += 1
        beta1, beta2 = self.betas
        correction1, correction2 = 1 - beta1**self.count, 1 - beta2**self.count
        for parameter, first, second in zip(self.parameters, self.first, self.second, strict=True):
            first.mul_(beta1).add_(parameter.grad, alpha=1 - beta1)
            second.mul_(beta2).addcmul_(parameter.grad, parameter.grad, value=1 - beta2)
            denominator = (second / correction2).sqrt_().add_(1e-8)
            parameter.addcdiv_(first, denominator, value=-learning_rate / correction1)


@dataclass
class ColourFit:
    """A fitted SAR-features -> CIELAB model: median colour and Laplace scale per channel."""

    network: nn.Sequential
    feature_mean: np.ndarray
    feature_std: np.ndarray
    colour_mean: np.ndarray
    colour_std: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, lab: np.ndarray, steps: int = STEPS) -> ColourFit:
        """Fit on N x F features and N x 3 CIELAB colours; the same data give the same fit.

        One thread: a network this small gains nothing from more, and OpenMP threads that wait on a busy
        core made a fit 10x slower (measured: 7 s -> 72 s with another process on one of two cores).
        """
        with single_threaded_torch():
            return cls._fit(features, lab, min(steps, max(MIN_STEPS, MAX_EPOCHS * len(features) // BATCH)))

    @classmethod
    def _fit(cls, features: np.ndarray, lab: np.ndarray, steps: int) -> ColourFit:
        generator = torch.Generator().manual_seed(SEED)
        network = _network()
        _initialise(network, generator)
        fitted = cls(network, features.mean(0), features.std(0) + 1e-6, lab.mean(0), lab.std(0) + 1e-6)
        x = torch.from_numpy(((features - fitted.feature_mean) / fitted.feature_std).astype(np.float32))
        y = torch.from_numpy(((lab - fitted.colour_mean) / fitted.colour_std).astype(np.float32))
        adam = _Adam(list(fitted.network.parameters()))
        for step in range(steps):
            pick = torch.randint(0, len(x), (min(BATCH, len(x)),), generator=generator)
            out = fitted.network(x[pick])
            median, log_scale = out[:, :3], out[:, 3:].clamp(-MAX_LOG_SCALE, MAX_LOG_SCALE)
            loss = ((y[pick] - median).abs() * torch.exp(-log_scale) + log_scale).mean()  # Laplace NLL
            fitted.network.zero_grad()
            loss.backward()
            adam.step(_learning_rate(step, steps))
        return fitted

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """... x F features -> (median CIELAB, Laplace scale in CIELAB units), each ... x 3 float32."""
        flat = features.reshape(-1, features.shape[-1])
        x = torch.from_numpy(((flat - self.feature_mean) / self.feature_std).astype(np.float32))
        with single_threaded_torch(), torch.inference_mode():
            out = self.network(x).numpy()
        median = out[:, :3] * self.colour_std + self.colour_mean
        scale = np.exp(np.clip(out[:, 3:], -MAX_LOG_SCALE, MAX_LOG_SCALE)) * self.colour_std
        shape = (*features.shape[:-1], 3)
        return median.astype(np.float32).reshape(shape), scale.astype(np.float32).reshape(shape)
