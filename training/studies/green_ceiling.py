"""How much of a val set's green can its own SAR tell apart? A leave-one-image-out ceiling.

`python -m training.studies.green_ceiling` asks, for each val set, whether the SAR carries the signal that issue 16's
green bar needs. For every image, a gradient-boosting classifier learns "green" (truth a* < -5) from the
pixel reference's multi-scale SAR features (`training.studies.pixel_reference.pixel_features`) on the *other images of
the same set* and scores the held-out one. It sees labels from the same scene, season and rendering, which no
product model has; if it cannot rank green above the rest, no model trained elsewhere will from those features.
A second run adds the truth's own lightness at the same scales: the ceiling of colouring a perfect lightness.

Reported per set: the share of green pixels, the pooled ROC AUC (0.5 = chance), the false green at green
recall 0.5 (issue 16 asks recall >= 0.5 with false green <= 0.25), the per-image AUC of the smoothed SAR
level alone (whether "brighter is greener" holds, and whether it flips between images), each published model's
own a* as a ranking, and on the dual-pol BigEarthNet patches the AUC of VV, VH and the cross-polarisation ratio
VH - VV, split into what a patch's mean ratio alone gets and the ratio's AUC within each patch.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import rasterio
import torch
from scipy.ndimage import gaussian_filter
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from torch.nn import functional

from core.model.checkpoints import list_checkpoints, load_checkpoint
from core.rasters.normalise import InputSpace
from core.records.artefacts import ModelsFolder
from core.records.reports import CEILING_RECALL
from core.scoring.metrics import GREEN_A_STAR
from core.settings import default_checkpoint, models_dir, shared_data_dir
from training.data import PairRecord, align, bigearthnet_records, load_optical, load_sar, read_manifest
from training.evaluate import predicted_lab
from training.pseudo_colour import lab_of
from training.studies.pixel_reference import SCALES, pixel_features

LEVEL_SIGMA = 4.0  # px: the smoothing of the SAR level in the per-image check


@dataclass(frozen=True)
class ImagePixels:
    """One val image: per-pixel features (N x F), truth lightness features (N x S) and green labels (N)."""

    pair_id: str
    sar: np.ndarray
    lightness: np.ndarray
    green: np.ndarray
    level: np.ndarray  # the smoothed SAR level (fixed dB input) per pixel
    truth_shape: tuple[int, int]


@dataclass(frozen=True)
class Ceiling:
    """How well one ranking finds a set's green: pooled ROC AUC and the false green at recall 0.5."""

    green_share: float
    auc: float
    false_green_at_recall: float

    @classmethod
    def of(cls, score: np.ndarray, green: np.ndarray) -> Ceiling:
        """The ceiling of per-pixel scores (higher = greener) against the truth's green labels."""
        return cls(float(green.mean()), float(roc_auc_score(green, score)), false_green_at_recall(score, green))


def image_pixels(record: PairRecord) -> ImagePixels:
    """Features and labels of one val pair (SAR on the model's fixed+stretch input, truth as read)."""
    sar, optical = align(load_sar(record, InputSpace.FIXED_STRETCH).transpose(1, 2, 0), load_optical(record))
    sar = sar.transpose(2, 0, 1)
    lab = lab_of(np.clip(optical, 0.0, 1.0))
    lightness = np.stack([gaussian_filter(lab[..., 0], s) if s else lab[..., 0] for s in SCALES], axis=-1)
    features = pixel_features(sar)
    return ImagePixels(
        record.pair_id,
        features.reshape(-1, features.shape[-1]),
        lightness.reshape(-1, len(SCALES)).astype(np.float32),
        (lab[..., 1] < GREEN_A_STAR).ravel(),
        gaussian_filter(sar[0], LEVEL_SIGMA).ravel(),
        lab.shape[:2],
    )


def false_green_at_recall(scores: np.ndarray, green: np.ndarray, recall: float = CEILING_RECALL) -> float:
    """Share of non-green pixels scored at or above the threshold that finds `recall` of the green ones."""
    threshold = np.quantile(scores[green], 1.0 - recall)
    return float((scores[~green] >= threshold).mean())


def leave_one_out(images: list[ImagePixels], with_lightness: bool, per_image: int, seed: int) -> Ceiling:
    """Score each image with a classifier fitted on a sample of the others' pixels; pool the scores."""
    rng = np.random.default_rng(seed)

    def features(image: ImagePixels) -> np.ndarray:
        return np.hstack([image.sar, image.lightness]) if with_lightness else image.sar

    samples = [rng.choice(len(image.green), min(per_image, len(image.green)), replace=False) for image in images]
    scores, labels = [], []
    for held_out, image in enumerate(images):
        train = [i for i in range(len(images)) if i != held_out]
        x = np.vstack([features(images[i])[samples[i]] for i in train])
        y = np.concatenate([images[i].green[samples[i]] for i in train])
        classifier = HistGradientBoostingClassifier(max_iter=150, random_state=seed).fit(x, y)
        scores.append(classifier.predict_proba(features(image))[:, 1])
        labels.append(image.green)
    return Ceiling.of(np.concatenate(scores), np.concatenate(labels))


def _padded_input(record: PairRecord, space: str, side: int) -> torch.Tensor:
    """The model input of a val image, reflect-padded to `side` px (the U-Net's depth needs 256)."""
    sar = load_sar(record, InputSpace(space))
    h, w = sar.shape[1:]
    return torch.from_numpy(np.pad(sar, ((0, 0), (0, side - h), (0, side - w)), mode="reflect"))


def _green_logit(generator: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The network's own a* output read as a logit of green (tanh a* of -1 -> +5)."""
    return -5.0 * generator(x, raw_output=True)[:, 1]


def network_ceiling(
    checkpoint: Path, records: list[PairRecord], images: list[ImagePixels], folds: int = 5, steps: int = 300
) -> Ceiling:
    """A trained U-Net fine-tuned on the set's own green labels, scored on held-out images (grouped folds).

    Its a* channel learns green (binary cross-entropy) from the other folds' images with flips and rotations;
    a stronger ceiling than `leave_one_out`: the model's pretrained SAR features plus in-scene labels.
    """
    side = 256
    space = load_checkpoint(checkpoint).config.input_space
    inputs = torch.stack([_padded_input(r, space, side) for r in records])
    labels = torch.zeros(len(images), side, side)
    known = torch.zeros_like(labels, dtype=torch.bool)
    for i, image in enumerate(images):
        h, w = image.truth_shape
        labels[i, :h, :w] = torch.from_numpy(image.green.reshape(h, w).astype(np.float32))
        known[i, :h, :w] = True
    scores = [np.empty(0)] * len(images)
    generator = torch.Generator().manual_seed(0)
    for fold in range(folds):
        held = [i for i in range(len(images)) if i % folds == fold]
        train = [i for i in range(len(images)) if i % folds != fold]
        model = load_checkpoint(checkpoint).generator.train()
        optimiser = torch.optim.Adam(model.parameters(), lr=2e-4)
        for _ in range(steps):
            pick = torch.tensor(train)[torch.randint(len(train), (4,), generator=generator)]
            turns, flip = (int(v) for v in torch.randint(4, (2,), generator=generator))
            x, y, m = (torch.rot90(t[pick], turns, dims=(-2, -1)) for t in (inputs, labels, known))
            x, y, m = (t.flip(-1) if flip % 2 else t for t in (x, y, m))
            loss = functional.binary_cross_entropy_with_logits(_green_logit(model, x)[m], y[m])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.inference_mode():
            logits = _green_logit(model.eval(), inputs[held])
        for i, logit in zip(held, logits, strict=True):
            scores[i] = logit[known[i]].numpy()
    return Ceiling.of(np.concatenate(scores), np.concatenate([image.green for image in images]))


def within_image_auc(green: np.ndarray, score: np.ndarray) -> float | None:
    """AUC of `score` for green inside one image (None when it is all green or none)."""
    return None if green.all() or not green.any() else float(roc_auc_score(green, score))


def level_auc(image: ImagePixels) -> float | None:
    """AUC of "brighter SAR is greener" within one image (None when it is all green or none)."""
    return within_image_auc(image.green, image.level)


def polarisation_levels(records: list[PairRecord], images: list[ImagePixels]) -> dict[str, list[np.ndarray]]:
    """The smoothed VV, VH and VH - VV (dB) of each dual-pol val patch, cut to its truth, flattened."""
    levels: dict[str, list[np.ndarray]] = {"VV": [], "VH": [], "VH-VV": []}
    for record, image in zip(records, images, strict=True):
        with rasterio.open(record.sar) as src:
            vv, vh = (gaussian_filter(src.read(band), LEVEL_SIGMA) for band in (1, 2))
        h, w = image.truth_shape
        for name, level in (("VV", vv), ("VH", vh), ("VH-VV", vh - vv)):
            levels[name].append(level[:h, :w].ravel())
    return levels


def cross_pol_auc(levels: dict[str, list[np.ndarray]], images: list[ImagePixels]) -> dict[str, float]:
    """Pooled AUC of each polarisation level for the truth's green.

    The cross-polarisation ratio measures volume scattering (vegetation); the product colours one band at a time.
    """
    labels = np.concatenate([image.green for image in images])
    return {name: float(roc_auc_score(labels, np.concatenate(values))) for name, values in levels.items()}


def cross_pol_within(ratios: list[np.ndarray], images: list[ImagePixels]) -> dict:
    """Does VH - VV rank green within a patch, or only tell greener patches from others?

    `patch_mean_auc` scores every pixel by its patch's mean ratio (between patches only); `per_patch` is each
    patch's own AUC (None where it is all green or none).
    """
    labels = np.concatenate([image.green for image in images])
    patch_means = np.concatenate([np.full(ratio.shape, ratio.mean()) for ratio in ratios])
    per_patch = {
        image.pair_id: within_image_auc(image.green, ratio) for ratio, image in zip(ratios, images, strict=True)
    }
    return {"patch_mean_auc": float(roc_auc_score(labels, patch_means)), "per_patch": per_patch}


def val_sets(data_root: Path) -> dict[str, list[PairRecord]]:
    """The colour val sets of issue 16's bar: sen12-accioy and BigEarthNet (VV, the product's default band)."""
    accioy = [r for r in read_manifest(data_root, ("val",)) if r.source == "sen12-accioy"]
    return {"sen12-accioy": accioy, "bigearthnet": [r for r in bigearthnet_records() if r.polarisation == "VV"]}


def model_ranking(checkpoint: Path, records: list[PairRecord], images: list[ImagePixels]) -> Ceiling:
    """How well a model's own a* (through the product pipeline) ranks the truth's green: the same scores."""
    labs = predicted_lab(checkpoint, records, [image.truth_shape for image in images])
    scores = [-lab[..., 1].ravel() for lab in labs]
    return Ceiling.of(np.concatenate(scores), np.concatenate([image.green for image in images]))


def measure(
    records: list[PairRecord],
    images: list[ImagePixels],
    checkpoint: Path,
    ranked: list[Path],
    per_image: int = 4000,
    seed: int = 0,
) -> dict:
    """The ceilings (SAR; SAR + truth lightness; `checkpoint` fine-tuned in scene), each `ranked` model's own
    ranking, and the per-image level AUCs of one set (`images`: `image_pixels` of `records`)."""
    return {
        "images": len(images),
        "sar": asdict(leave_one_out(images, False, per_image, seed)),
        "sar_and_truth_lightness": asdict(leave_one_out(images, True, per_image, seed)),
        "network_in_scene": asdict(network_ceiling(checkpoint, records, images)) | {"checkpoint": _name(checkpoint)},
        "level_auc_per_image": {image.pair_id: level_auc(image) for image in images},
        "models": {_name(c): asdict(model_ranking(c, records, images)) for c in ranked},
    }


def _name(checkpoint: Path) -> str:
    return checkpoint.resolve().stem  # default.pt -> the model it links to


def _ranking(label: str, ceiling: dict) -> str:
    false_green = ceiling["false_green_at_recall"]
    return f"{label} AUC {ceiling['auc']:.2f}, false green at recall {CEILING_RECALL} {false_green:.2f}"


def describe(name: str, stats: dict) -> str:
    """One line per set: the share of green, each ranking and the per-image range of the level AUC."""
    levels = [v for v in stats["level_auc_per_image"].values() if v is not None]
    parts = [
        f"{name}: green {stats['sar']['green_share']:.2f}",
        _ranking("SAR ceiling", stats["sar"]),
        _ranking("with the truth's lightness", stats["sar_and_truth_lightness"]),
        _ranking("the model fine-tuned in scene", stats["network_in_scene"]),
        f"per-image SAR-level AUC {min(levels):.2f}-{max(levels):.2f}",
        *(_ranking(f"{model}'s own a*", ranking) for model, ranking in stats["models"].items()),
    ]
    if "cross_pol_auc" in stats:
        aucs = ", ".join(f"{band} {auc:.2f}" for band, auc in stats["cross_pol_auc"].items())
        parts.append(f"AUC of the smoothed level {aucs}")
        within = stats["cross_pol_within"]
        patches = [auc for auc in within["per_patch"].values() if auc is not None]
        parts.append(
            f"VH - VV: AUC {within['patch_mean_auc']:.2f} from each patch's mean alone, "
            f"{min(patches):.2f}-{max(patches):.2f} within patches"
        )
    return "; ".join(parts)


def _published(folder: Path) -> list[Path]:
    """Every published checkpoint once (default.pt is a link to one of them)."""
    return sorted({path.resolve() for path in list_checkpoints(folder)})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--per-image", type=int, default=4000, help="training pixels sampled from each image")
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint(), help="model fine-tuned in scene")
    parser.add_argument("--rank", type=Path, nargs="*", help="models whose own a* ranks green (default: all published)")
    parser.add_argument("--out", type=Path, default=ModelsFolder(models_dir()).eval.green_ceiling)
    args = parser.parse_args(argv)
    ranked = args.rank if args.rank is not None else _published(models_dir())
    sets = val_sets(args.data_root)
    pixels = {name: [image_pixels(r) for r in records] for name, records in sets.items()}  # read once
    result = {name: measure(sets[name], pixels[name], args.checkpoint, ranked, args.per_image) for name in sets}
    levels = polarisation_levels(sets["bigearthnet"], pixels["bigearthnet"])
    result["bigearthnet"]["cross_pol_auc"] = cross_pol_auc(levels, pixels["bigearthnet"])
    result["bigearthnet"]["cross_pol_within"] = cross_pol_within(levels["VH-VV"], pixels["bigearthnet"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, stats in result.items():
        print(describe(name, stats))


if __name__ == "__main__":
    main()
