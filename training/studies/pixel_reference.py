"""A fast non-deep reference: per-pixel gradient boosting on multi-scale backscatter statistics.

`python -m training.studies.pixel_reference --out runs/pixel_gbm.pkl` fits three scikit-learn
HistGradientBoostingRegressors (CIELAB L, a, b) on pixels sampled from the train split:
L from every target (the 1,958 grey SEN1-2 ones included), a/b from the colour targets
only, on the same target footing as the networks. Features come from both input
channels (fixed VV-equivalent dB and the scene stretch): Gaussian means at several
scales, local standard deviations, and the image's own percentiles (global context).
`--space` picks the input space (for the input-space ablation).
It is scored by `training.evaluate --pixel-reference` beside the networks; it is a
yardstick, not a product model (the dashboard runs checkpoints only).
"""

from __future__ import annotations

import argparse
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.color import lab2rgb, rgb2lab
from sklearn.ensemble import HistGradientBoostingRegressor

from core.rasters.normalise import InputSpace
from core.settings import shared_data_dir
from training.data import PairRecord, footing_samples, load_sar, load_target, measure_footing, read_manifest

SCALES = (0.0, 2.0, 4.0, 8.0, 16.0)
STD_SCALES = (2.0, 8.0)
PERCENTILES = (10, 50, 90)


def local_statistics(
    channel: np.ndarray, mean_scales: tuple[float, ...] = SCALES, spread_scales: tuple[float, ...] = STD_SCALES
) -> list[np.ndarray]:
    """Gaussian means of one H x W input channel at `mean_scales` (0: the pixel itself), then its local standard
    deviations at `spread_scales`."""
    features = [gaussian_filter(channel, sigma) if sigma else channel for sigma in mean_scales]
    for sigma in spread_scales:
        mean, mean_sq = gaussian_filter(channel, sigma), gaussian_filter(channel**2, sigma)
        features.append(np.sqrt(np.clip(mean_sq - mean**2, 0, None)))
    return features


def pixel_features(sar: np.ndarray) -> np.ndarray:
    """C x H x W model input (fixed+stretch) -> H x W x F features."""
    features = []
    for channel in sar:
        features += local_statistics(channel)
        for value in np.percentile(channel, PERCENTILES):
            features.append(np.full_like(channel, value))
    return np.stack(features, axis=-1).astype(np.float32)


@dataclass
class PixelReference:
    """Three fitted regressors: CIELAB L, a, b from `pixel_features` of one input space."""

    models: list[HistGradientBoostingRegressor]
    space: InputSpace = InputSpace.FIXED_STRETCH

    def predict_rgb(self, sar: np.ndarray) -> np.ndarray:
        """C x H x W model input -> H x W x 3 RGB in [0, 1]."""
        features = pixel_features(sar)
        flat = features.reshape(-1, features.shape[-1])
        lab = np.stack([m.predict(flat) for m in self.models], axis=-1).reshape(*features.shape[:2], 3)
        lab[..., 0] = np.clip(lab[..., 0], 0, 100)
        return np.clip(lab2rgb(lab), 0, 1).astype(np.float32)

    def predictor(self):
        """A `training.evaluate.Predict` for this model."""

        def predict(record: PairRecord, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            rgb = self.predict_rgb(load_sar(record, self.space))
            return rgb, np.ones(rgb.shape[:2], bool)

        return predict


def sample_pixels(
    records: list[PairRecord], footing: dict, per_image: int, space: InputSpace, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(features N x F, CIELAB targets N x 3) sampled evenly from each image."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for record in records:
        sar = load_sar(record, space)
        target = load_target(record, footing)
        h, w = min(sar.shape[1], target.shape[0]), min(sar.shape[2], target.shape[1])
        features = pixel_features(sar[:, :h, :w])
        take = rng.integers(0, h * w, per_image)
        xs.append(features.reshape(-1, features.shape[-1])[take])
        ys.append(rgb2lab(target[:h, :w]).reshape(-1, 3)[take])
    return np.concatenate(xs), np.concatenate(ys)


def fit_reference(
    data_root: Path,
    space: InputSpace = InputSpace.FIXED_STRETCH,
    pixels: int = 400_000,
    luminance_from_grey_only: bool = False,
    drop_sources: tuple[str, ...] = (),
    seed: int = 0,
) -> PixelReference:
    """Fit L on every train target (or the grey SEN1-2 ones only) and a/b on the colour ones."""
    records = [r for r in read_manifest(data_root) if r.split == "train" and r.source not in drop_sources]
    footing = measure_footing(footing_samples(records))
    grey = [r for r in records if not r.has_colour]
    colour = [r for r in records if r.has_colour]
    x_grey, y_grey = sample_pixels(grey, footing, max(1, pixels // 2 // len(grey)), space, seed)
    x_col, y_col = sample_pixels(colour, footing, max(1, pixels // 2 // len(colour)), space, seed + 1)
    if luminance_from_grey_only:
        x_all, l_all = x_grey, y_grey[:, 0]
    else:
        x_all, l_all = np.concatenate([x_grey, x_col]), np.concatenate([y_grey[:, 0], y_col[:, 0]])
    models = []
    for x, y in ((x_all, l_all), (x_col, y_col[:, 1]), (x_col, y_col[:, 2])):
        model = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.1, max_leaf_nodes=63, random_state=seed)
        models.append(model.fit(x, y))
    return PixelReference(models, space)


def save_reference(reference: PixelReference, path: Path) -> Path:
    """Write the regressors and their input space (read back by `load_reference`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump({"models": reference.models, "space": reference.space.value}, handle)
    return path


def load_reference(path: Path) -> PixelReference:
    """A reference written by this module (a trusted local pickle)."""
    with open(path, "rb") as handle:
        saved = pickle.load(handle)
    return PixelReference(saved["models"], InputSpace(saved["space"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fit the per-pixel gradient-boosting reference.")
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--pixels", type=int, default=400_000)
    parser.add_argument("--space", default=InputSpace.FIXED_STRETCH.value, choices=[s.value for s in InputSpace])
    parser.add_argument("--luminance-from-grey-only", action="store_true", help="L from SEN1-2 grey targets only")
    parser.add_argument("--drop-source", action="append", default=[], help="leave a train source out")
    parser.add_argument("--out", type=Path, default=Path("runs/pixel_gbm.pkl"))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    reference = fit_reference(
        args.data_root, InputSpace(args.space), args.pixels, args.luminance_from_grey_only, tuple(args.drop_source)
    )
    save_reference(reference, args.out)
    print(f"{args.out}: fitted in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
