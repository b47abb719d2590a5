"""What VV alone can tell on OMBRIA's flood sites, learnt from OMBRIA train's own labels: issue 26's two flood-set bars.

`python -m training.studies.ombria_ceiling` fits gradient boosting on per-pixel SAR features (local means and spreads
of the model's fixed input at scales up to the U-Net's reach; nothing image-wide, as the product's extent rule
demands) sampled from OMBRIA train (624 sites, before and after), and scores OMBRIA val (70 sites) as
`training.evaluate` does (the truth on its source's training footing):
- **green ranking**: a classifier of the truth's green (a* < -5); per-image ROC AUC, averaged over the images that
  hold both classes (the bar: >= 0.70);
- **flooded lightness**: a regressor of the truth's L* (absolute error); on each after-flood image the mean |L* error|
  over the site's flooded pixels, averaged over sites (the bar: <= 12).

Each is fitted again with the scene's optical brightness added (the truth's mean L* over its dry pixels, one number
per image, which no SAR-only product has), and, for green, with the truth's own lightness per pixel. Flooded
lightness also gets the best single L* for all flooded pixels (fitted on train) and each val site's own median
(peeks at the truth: the floor of any predictor that paints a site's water one lightness). The published model
(`--checkpoint`, the default) is scored beside them on the same images through the product pipeline. Every flood
row also gives the error left once each site's own bias is taken out: what knowing each scene's brightness would
leave. If the SAR learners stay above the bar and the brightness closes most of the gap, the bar asks for what VV
does not carry.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from core.rasters.normalise import InputSpace
from core.records.artefacts import ModelsFolder
from core.scoring.metrics import GREEN_A_STAR, ranking_auc
from core.settings import default_checkpoint, models_dir, shared_data_dir
from training.data import (
    PairRecord,
    TargetFooting,
    align,
    flood_mask,
    footing_samples,
    load_sar,
    load_target,
    measure_footing,
    read_manifest,
)
from training.evaluate import predicted_lab
from training.pseudo_colour import lab_of
from training.studies.pixel_reference import local_statistics

MEAN_SCALES = (0.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # px: Gaussian sigmas of the local means
SPREAD_SCALES = (2.0, 8.0)  # px: of the local standard deviations (speckle and texture)
LEVEL_SIGMA = 4.0  # px: the smoothed SAR level, the simplest ranking (the last feature)


@dataclass(frozen=True)
class Site:
    """One OMBRIA image, flattened: SAR features (N x F), the truth's CIELAB (N x 3) and its flood mask (N, or None)."""

    pair_id: str
    features: np.ndarray
    lab: np.ndarray
    flooded: np.ndarray | None
    shape: tuple[int, int] = (0, 0)  # the image's height and width before flattening

    @property
    def brightness(self) -> float:
        """The scene's optical brightness: the truth's mean L* over its dry pixels."""
        dry = np.ones(len(self.lab), bool) if self.flooded is None else ~self.flooded
        return float(self.lab[dry, 0].mean())

    @property
    def has_water(self) -> bool:
        return self.flooded is not None and bool(self.flooded.any())

    @property
    def water_l(self) -> np.ndarray:
        """The truth's L* on the flooded pixels (empty without a flood mask)."""
        return self.lab[self.flooded, 0] if self.has_water else np.empty(0, np.float32)

    @property
    def green(self) -> np.ndarray:
        return self.lab[:, 1] < GREEN_A_STAR

    def with_brightness(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        features = self.features[rows]
        return np.hstack([features, np.full((len(features), 1), self.brightness, np.float32)])


def local_features(sar: np.ndarray) -> np.ndarray:
    """H x W model input (fixed dB) -> H x W x F: local means, local spreads, then the smoothed level."""
    planes = local_statistics(sar, MEAN_SCALES, SPREAD_SCALES)
    return np.stack([*planes, gaussian_filter(sar, LEVEL_SIGMA)], axis=-1).astype(np.float32)


def read_site(record: PairRecord, footing: dict[str, TargetFooting]) -> Site:
    """One pair as the model sees its SAR and as `training.evaluate` scores it (the truth on its source's footing)."""
    sar, optical = align(load_sar(record, InputSpace.FIXED)[0], load_target(record, footing))
    flooded = flood_mask(record)
    h, w = sar.shape
    return Site(
        record.pair_id,
        local_features(sar).reshape(h * w, -1),
        lab_of(optical).reshape(-1, 3).astype(np.float32),
        None if flooded is None else flooded[:h, :w].ravel(),
        (h, w),
    )


def subsample(site: Site, per_image: int, rng: np.random.Generator) -> Site:
    """`per_image` random pixels of a train site, and as many of its flooded ones (water is a small share)."""
    rows = [rng.choice(len(site.lab), min(per_image, len(site.lab)), replace=False)]
    if site.has_water:
        water = np.flatnonzero(site.flooded)
        rows.append(rng.choice(water, min(per_image, len(water)), replace=False))
    kept = np.concatenate(rows)
    flooded = None if site.flooded is None else site.flooded[kept]
    return Site(site.pair_id, site.features[kept], site.lab[kept], flooded, site.shape)


def stacked(sites: list[Site]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(SAR features, the same with the scene's brightness, truth CIELAB) of all pixels of `sites`."""
    return (
        np.vstack([site.features for site in sites]),
        np.vstack([site.with_brightness() for site in sites]),
        np.vstack([site.lab for site in sites]),
    )


def mean_auc(scores: list[np.ndarray], sites: list[Site]) -> float:
    """Per-image ranking AUC of green, averaged over the images holding both classes."""
    aucs = [ranking_auc(score, site.green) for score, site in zip(scores, sites, strict=True)]
    return float(np.nanmean(aucs))


def flood_error(values: list[np.ndarray], sites: list[Site]) -> dict[str, float]:
    """Mean |L* error| over each site's flooded pixels, averaged over sites; the mean bias; and the error left once
    each site's own bias is taken out (what knowing each scene's brightness would leave)."""
    flooded = [(v[s.flooded], s.water_l) for v, s in zip(values, sites, strict=True) if s.has_water]
    errors = [float(np.abs(pred - true).mean()) for pred, true in flooded]
    biases = [float(pred.mean() - true.mean()) for pred, true in flooded]
    unbiased = [float(np.abs(pred - bias - true).mean()) for (pred, true), bias in zip(flooded, biases, strict=True)]
    return {
        "sites": len(errors),
        "l_error": float(np.mean(errors)),
        "l_bias": float(np.mean(biases)),
        "l_error_without_site_bias": float(np.mean(unbiased)),
    }


def best_constant(sites: list[Site]) -> float:
    """The single L* that minimises the site-averaged mean |error| over the flooded pixels of `sites`."""
    water = [site.water_l for site in sites if site.has_water]
    grid = np.arange(0.0, 100.0, 0.25)
    costs = [np.mean([np.abs(values - c).mean() for values in water]) for c in grid]
    return float(grid[int(np.argmin(costs))])


def green_ceiling(train: list[Site], val: list[Site], seed: int) -> dict[str, float]:
    """Mean per-image green AUC on val of the SAR level, and of classifiers fitted on train's pixels."""
    x, x_bright, lab = stacked(train)
    green = lab[:, 1] < GREEN_A_STAR
    level_sign = 1.0 if ranking_auc(x[:, -1], green) >= 0.5 else -1.0
    result = {"sar_level": mean_auc([level_sign * site.features[:, -1] for site in val], val)}
    lightness = np.hstack([x, lab[:, :1]])
    for name, features, of_site in (
        ("sar", x, lambda s: s.features),
        ("sar_and_scene_brightness", x_bright, Site.with_brightness),
        ("sar_and_truth_lightness", lightness, lambda s: np.hstack([s.features, s.lab[:, :1]])),
    ):
        classifier = HistGradientBoostingClassifier(max_iter=200, random_state=seed).fit(features, green)
        result[name] = mean_auc([classifier.predict_proba(of_site(site))[:, 1] for site in val], val)
    return result


def flood_ceiling(train: list[Site], val: list[Site], seed: int) -> dict[str, dict[str, float]]:
    """Flooded-pixel L* error on val: the best constant, SAR regressors (with and without the scene's brightness)
    fitted on train, and each site's own median (the floor of one lightness per site)."""
    x, x_bright, lab = stacked(train)
    constant = best_constant(train)
    result = {"best_constant": flood_error([np.full(len(s.lab), constant) for s in val], val) | {"l_star": constant}}
    for name, features, of_site in (
        ("sar", x, lambda s: s.features),
        ("sar_and_scene_brightness", x_bright, Site.with_brightness),
    ):
        regressor = HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, random_state=seed)
        regressor.fit(features, lab[:, 0])
        result[name] = flood_error([regressor.predict(of_site(site)) for site in val], val)
    medians = [np.full(len(s.lab), np.median(s.water_l) if s.has_water else 0.0) for s in val]
    result["site_median_oracle"] = flood_error(medians, val)
    return result


def model_scores(checkpoint: Path, records: list[PairRecord], sites: list[Site]) -> dict:
    """A published model through the product pipeline on the same val images: its green AUC and flood error."""
    labs = [lab.reshape(-1, 3) for lab in predicted_lab(checkpoint, records, [site.shape for site in sites])]
    return {
        "checkpoint": checkpoint.resolve().stem,
        "green_auc": mean_auc([-lab[:, 1] for lab in labs], sites),
        "flood": flood_error([lab[:, 0] for lab in labs], sites),
    }


def between_sites(sites: list[Site]) -> dict[str, float]:
    """How flooded L* varies between sites (standard deviation, correlation with the dry land's), and the truth's
    dry-minus-flooded contrast as `training.evaluate` averages it."""
    after = [s for s in sites if s.has_water and not s.flooded.all()]
    water = np.array([s.water_l.mean() for s in after])
    dry = np.array([s.brightness for s in after])
    return {
        "sites": len(after),
        "flood_l_sd": float(water.std()),
        "corr_with_dry_l": float(np.corrcoef(water, dry)[0, 1]),
        "flood_contrast_true": float((dry - water).mean()),
    }


def ombria_split(data_root: Path, split: str) -> list[PairRecord]:
    return [r for r in read_manifest(data_root, (split,)) if r.source == "ombria"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--per-image", type=int, default=600, help="train pixels per image (and as many flooded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint(), help="the model scored beside them")
    parser.add_argument(
        "--as-shipped", action="store_true", help="score against OMBRIA's truth as it ships (no footing)"
    )
    parser.add_argument("--out", type=Path, default=ModelsFolder(models_dir()).eval.ombria_ceiling)
    args = parser.parse_args(argv)
    footing = {} if args.as_shipped else measure_footing(footing_samples(read_manifest(args.data_root)))
    rng = np.random.default_rng(args.seed)
    train = [subsample(read_site(r, footing), args.per_image, rng) for r in ombria_split(args.data_root, "train")]
    val_records = ombria_split(args.data_root, "val")
    val = [read_site(r, footing) for r in val_records]
    result = {
        "truth": "as shipped" if args.as_shipped else "training footing (as training.evaluate scores)",
        "train_images": len(train),
        "val_images": len(val),
        "between_sites_val": between_sites(val),
        "between_sites_train": between_sites(train),
        "green_auc": green_ceiling(train, val, args.seed),
        "flood": flood_ceiling(train, val, args.seed),
        "model": model_scores(args.checkpoint, val_records, val),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
