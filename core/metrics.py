"""Image quality metrics on RGB in [0, 1]: PSNR and standard (Gaussian) SSIM.

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
