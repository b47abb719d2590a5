"""Image quality metrics on RGB in [0, 1]: PSNR, standard (Gaussian) SSIM and colour measures.

scikit-image is the reference implementation; SSIM uses the Wang et al. settings
(Gaussian window sigma 1.5, 11 px wide, population covariance, data range 1). Colour is
compared in CIELAB (sRGB, D65): per image (mean colours), per pixel (CIEDE2000) and as
green masks (a* below `GREEN_A_STAR`: does the prediction put vegetation where it is?).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = 1.0
GREEN_A_STAR = -5.0  # CIELAB a* below which a pixel counts as green


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


def _valid(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return np.ones(image.shape[:2], bool) if mask is None else mask


def _lab(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(np.clip(rgb, 0.0, 1.0).astype(np.float64))


def _valid_lab(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """CIELAB of the valid pixels of both images, N x 3 each."""
    _check(prediction, target)
    keep = _valid(prediction, mask)
    return _lab(prediction[keep]), _lab(target[keep])


def _mean_delta_e(prediction_lab: np.ndarray, target_lab: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(prediction_lab, target_lab).mean())


def _green_counts(prediction_lab: np.ndarray, target_lab: np.ndarray) -> GreenCounts:
    painted, green = prediction_lab[:, 1] < GREEN_A_STAR, target_lab[:, 1] < GREEN_A_STAR
    return GreenCounts(
        int(green.sum()), int((painted & green).sum()), int((~green).sum()), int((painted & ~green).sum())
    )


def mean_colour_delta_e(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """CIEDE2000 between the mean RGB colours of two H x W x 3 images (valid pixels only), in CIELAB."""
    from skimage.color import deltaE_ciede2000

    _check(prediction, target)
    keep = _valid(prediction, mask)
    mean_pred, mean_true = prediction[keep].mean(0), target[keep].mean(0)
    return float(deltaE_ciede2000(_lab(mean_pred[None, None])[0, 0], _lab(mean_true[None, None])[0, 0]))


def pixel_delta_e(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean per-pixel CIEDE2000 (ΔE00, CIELAB units) over the valid pixels of two H x W x 3 images in [0, 1]."""
    return _mean_delta_e(*_valid_lab(prediction, target, mask))


@dataclass(frozen=True)
class GreenCounts:
    """Valid-pixel counts behind green recall and false green (green: CIELAB a* < `GREEN_A_STAR`)."""

    green_px: int  # green in the truth
    green_hit_px: int  # ...and painted green
    other_px: int  # not green in the truth
    other_green_px: int  # ...but painted green

    @property
    def recall(self) -> float:
        """Share (0-1) of the truth's green pixels painted green; NaN when the truth has none."""
        return self.green_hit_px / self.green_px if self.green_px else float("nan")

    @property
    def false_green(self) -> float:
        """Share (0-1) of the truth's non-green pixels painted green; NaN when the truth has none."""
        return self.other_green_px / self.other_px if self.other_px else float("nan")


def green_counts(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> GreenCounts:
    """Pixel counts of green in the truth and in the prediction, over the valid pixels of two H x W x 3 images."""
    return _green_counts(*_valid_lab(prediction, target, mask))


def pixel_colour(
    prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
) -> tuple[float, GreenCounts]:
    """`pixel_delta_e` and `green_counts` from one CIELAB conversion of each image."""
    labs = _valid_lab(prediction, target, mask)
    return _mean_delta_e(*labs), _green_counts(*labs)


def green_recall(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share (0-1) of the truth's green pixels that the prediction paints green; NaN when the truth has none."""
    return green_counts(prediction, target, mask).recall


def false_green(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share (0-1) of the truth's non-green pixels that the prediction paints green; NaN when the truth has none."""
    return green_counts(prediction, target, mask).false_green


def chroma_spread(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Colour variation inside an image: RMS of the std of the opponent channels R-G and (R+G)/2-B."""
    keep = _valid(rgb, mask)
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


def pooled_ratio(hits: np.ndarray, totals: np.ndarray) -> float:
    """sum(hits) / sum(totals) over images (each pixel weighs the same); NaN when the totals are 0."""
    total = float(np.sum(totals))
    return float(np.sum(hits)) / total if total else float("nan")


def bootstrap_ratio_interval(
    hits: np.ndarray, totals: np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of `pooled_ratio`, resampling whole images."""
    hits, totals = np.asarray(hits, np.float64), np.asarray(totals, np.float64)
    if hits.size < 2:
        return pooled_ratio(hits, totals), pooled_ratio(hits, totals)
    picks = np.random.default_rng(seed).integers(0, hits.size, (resamples, hits.size))
    sums = totals[picks].sum(1)
    ratios = hits[picks].sum(1)[sums > 0] / sums[sums > 0]  # a resample without any total has no ratio
    low, high = np.percentile(ratios, [2.5, 97.5]) if ratios.size else (np.nan, np.nan)
    return float(low), float(high)


MIN_CLASS_SHARE = 0.01  # a ranking is scored only where each class holds at least this share of the pixels


def ranking_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of `scores` for telling `positive` pixels from the rest (Mann-Whitney, ties counted half);
    NaN when either class holds less than `MIN_CLASS_SHARE` of the pixels."""
    from scipy.stats import rankdata

    positives = int(positive.sum())
    negatives = positive.size - positives
    if min(positives, negatives) < MIN_CLASS_SHARE * max(positive.size, 1):
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def green_ranking_auc(prediction: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """How well the prediction's -a* ranks the truth's green pixels (a* < `GREEN_A_STAR`) above the rest: ROC AUC.

    0.5 is chance, 1 a perfect ranking. A ranking judges where green goes, whatever the painted a* level.
    """
    prediction_lab, target_lab = _valid_lab(prediction, target, mask)
    return ranking_auc(-prediction_lab[:, 1], target_lab[:, 1] < GREEN_A_STAR)


FLOOD_KEYS = ("flood_px", "flood_l_error", "flood_contrast_pred", "flood_contrast_true", "flood_l_bias")


def flood_lightness(
    prediction: np.ndarray, target: np.ndarray, valid: np.ndarray, flooded: np.ndarray | None
) -> dict[str, float]:
    """Lightness on flooded ground: mean |L* error| over the flooded pixels, their mean L* predicted minus true (the
    bias), and the dry-minus-flooded contrast of mean L* in the prediction and in the truth (water is darker than
    dry land: positive). NaN without a mask or without both flooded and dry valid pixels."""
    empty = dict.fromkeys(FLOOD_KEYS, float("nan"))
    if flooded is None:
        return empty
    flood, dry = flooded & valid, ~flooded & valid
    if not flood.any() or not dry.any():
        return empty | {"flood_px": float(flood.sum())}
    l_pred, l_true = _lab(prediction)[..., 0], _lab(target)[..., 0]
    water_pred, water_true = l_pred[flood], l_true[flood]
    return {
        "flood_px": float(flood.sum()),
        "flood_l_error": float(np.abs(water_pred - water_true).mean()),
        "flood_contrast_pred": float(l_pred[dry].mean() - water_pred.mean()),
        "flood_contrast_true": float(l_true[dry].mean() - water_true.mean()),
        "flood_l_bias": float(water_pred.mean() - water_true.mean()),
    }


DARK_L_STAR = 25.0  # CIELAB L* below which a pixel reads as water or shadow


def dark_share(rgb: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share (0-1) of the valid pixels of an H x W x 3 image darker than `DARK_L_STAR`: how much reads as water."""
    return float((_lab(rgb[_valid(rgb, mask)])[:, 0] < DARK_L_STAR).mean())
