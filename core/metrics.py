"""Image quality metrics on RGB in [0, 1]: PSNR, standard (Gaussian) SSIM and colour measures.

scikit-image is the reference implementation; SSIM uses the Wang et al. settings
(Gaussian window sigma 1.5, 11 px wide, population covariance, data range 1).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = 1.0


def _check(prediction: np.ndarray, target: np.ndarray) -> None:
    if prediction.shape != target.shape or prediction.ndim != 3 or prediction.shape[-1] != 3:
        raise ValueError(f"expected two H x W x 3 images, got {prediction.shape} and {target.shape}")


def psnr(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of H x W x 3 images in [0, 1]; `mask` (H x W bool) limits it to valid pixels."""
    _check(prediction, target)
    if mask is not None:
        prediction, target = prediction[mask], target[mask]
    return float(
        peak_signal_noise_ratio(target.astype(np.float64), prediction.astype(np.float64), data_range=DATA_RANGE)
    )


def ssim(prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM over RGB channels (Gaussian 11 px window, sigma 1.5, data range 1)."""
    _check(prediction, target)
    return float(
        structural_similarity(
            target.astype(np.float64),
            prediction.astype(np.float64),
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=DATA_RANGE,
        )
    )


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.clip(rgb, 0.0, 1.0).astype(np.float64))


def mean_colour_delta_e(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """CIEDE2000 between the mean RGB colours of two H x W x 3 images (valid pixels only), in CIELAB."""
    from skimage.color import deltaE_ciede2000

    _check(prediction, target)
    keep = np.ones(prediction.shape[:2], bool) if mask is None else mask
    mean_pred, mean_true = prediction[keep].mean(0), target[keep].mean(0)
    return float(deltaE_ciede2000(_lab(mean_pred[None, None])[0, 0], _lab(mean_true[None, None])[0, 0]))


def chroma_spread(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Colour variation inside an image: RMS of the std of the opponent channels R-G and (R+G)/2-B."""
    keep = np.ones(rgb.shape[:2], bool) if mask is None else mask
    r, g, b = (rgb[..., i][keep].astype(np.float64) for i in range(3))
    return float(np.sqrt(0.5 * ((r - g).var() + ((r + g) / 2 - b).var())))


def bootstrap_interval(values: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean."""
    values = np.asarray(values, np.float64)
    if values.size < 2:
        return float(values.mean()), float(values.mean())
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, (resamples, values.size))].mean(1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)
