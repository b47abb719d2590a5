"""Evaluate checkpoints: `python -m training.evaluate --checkpoint models/default.pt --split test val`.

Each image goes through the product's own pipeline (core.colorize: tiling, blending,
COG) with the manifest's encoding as override, and is scored against its optical
target (after the same per-source gain as in training) with PSNR and Gaussian SSIM on
RGB in [0, 1]. Two trivial baselines are scored in the same run: SAR grey replicated
to RGB, and the mean training colour. Writes per_image.csv, summary.json and a
best/worst example grid per model. LPIPS needs ImageNet backbone weights, which are
not on disk here, so it is reported as unavailable.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from core.checkpoints import LoadedModel, load_checkpoint
from core.colorize import ColorizeOptions, colorize
from core.metrics import psnr, ssim
from training.config import DEFAULT_DATA_ROOT
from training.data import PairRecord, align, load_optical, load_sar, measure_gains, read_manifest

LPIPS_STATUS = "unavailable: LPIPS needs ImageNet backbone weights on disk; none were given"
Predict = Callable[[PairRecord], tuple[np.ndarray, np.ndarray]]  # -> (H x W x 3 in [0, 1], valid mask)


def model_predictor(model: LoadedModel, workdir: Path) -> Predict:
    """Prediction through the full colorize pipeline (writes and reads back a COG)."""

    def predict(record: PairRecord) -> tuple[np.ndarray, np.ndarray]:
        out = workdir / "prediction.tif"
        colorize(record.sar, out, model, ColorizeOptions(encoding=record.encoding.value, device="auto"))
        with rasterio.open(out) as src:
            rgba = src.read()
        return rgba[:3].transpose(1, 2, 0).astype(np.float32) / 255.0, rgba[3] > 0

    return predict


def sar_grey_predictor(record: PairRecord) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: the normalised SAR as grey RGB."""
    grey = (load_sar(record) + 1.0) * 0.5
    return np.repeat(grey[..., None], 3, axis=2), np.ones(grey.shape, bool)


def mean_colour_predictor(mean_rgb: np.ndarray) -> Predict:
    """Baseline: every pixel gets the mean training colour."""

    def predict(record: PairRecord) -> tuple[np.ndarray, np.ndarray]:
        shape = load_sar(record).shape
        return np.broadcast_to(mean_rgb, (*shape, 3)).copy(), np.ones(shape, bool)

    return predict


def mean_training_colour(records: list[PairRecord], gains: dict[str, float]) -> np.ndarray:
    """Mean RGB of the colour training targets (after gains), weighting images equally."""
    means = [load_target(r, gains).reshape(-1, 3).mean(0) for r in records if r.split == "train" and r.has_colour]
    return np.mean(means, axis=0).astype(np.float32)


def load_target(record: PairRecord, gains: dict[str, float]) -> np.ndarray:
    """The optical target in [0, 1] with the source's training gain applied."""
    return np.clip(load_optical(record) * gains.get(record.source, 1.0), 0, 1)


def score(predict: Predict, record: PairRecord, target: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(PSNR, SSIM, prediction) of one record; PSNR over valid pixels only."""
    prediction, valid = predict(record)
    prediction, target = align(prediction, target)
    valid = valid[: target.shape[0], : target.shape[1]]
    return psnr(prediction, target, valid), ssim(prediction, target), prediction


def summarise(rows: list[dict]) -> dict:
    """Mean / median PSNR and SSIM per model, per split/source and per group."""
    summary: dict = {}
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        summary[model] = {}
        for key in sorted({f"{r['split']}/{r['source']}" for r in mine}):
            subset = [r for r in mine if f"{r['split']}/{r['source']}" == key]
            summary[model][key] = _stats(subset) | {
                "by_group": {
                    g: _stats([r for r in subset if r["group"] == g]) for g in sorted({r["group"] for r in subset})
                }
            }
    return summary


def _stats(rows: list[dict]) -> dict:
    p, s = np.array([r["psnr"] for r in rows]), np.array([r["ssim"] for r in rows])
    return {
        "n": len(rows),
        "psnr_mean": float(p.mean()),
        "psnr_median": float(np.median(p)),
        "ssim_mean": float(s.mean()),
        "ssim_median": float(np.median(s)),
    }


def save_best_worst(
    name: str,
    rows: list[dict],
    predictions: dict[str, np.ndarray],
    records: dict[str, PairRecord],
    targets: dict[str, np.ndarray],
    path: Path,
    count: int = 3,
) -> None:
    """Grid of SAR | prediction | truth for the best and worst test images by PSNR."""
    ranked = sorted((r for r in rows if r["model"] == name and r["pair_id"] in predictions), key=lambda r: r["psnr"])
    picks = ranked[-count:][::-1] + ranked[:count]
    tiles = []
    for row in picks:
        record = records[row["pair_id"]]
        sar = np.repeat(((load_sar(record) + 1) * 0.5)[..., None], 3, axis=2)
        sar, truth = align(sar, targets[row["pair_id"]])
        pred = predictions[row["pair_id"]][: truth.shape[0], : truth.shape[1]]
        tiles.append(np.concatenate([sar, pred, truth], axis=1)[:256, :768])
    if tiles:
        Image.fromarray((np.concatenate(tiles, axis=0) * 255).round().astype(np.uint8)).save(path)


def evaluate(checkpoints: list[Path], splits: tuple[str, ...], data_root: Path, out_dir: Path) -> dict:
    """Score checkpoints and baselines; write per_image.csv, summary.json, grids."""
    all_records = read_manifest(data_root)
    gains = measure_gains(all_records)
    records = [r for r in all_records if r.split in splits and r.has_colour]
    targets = {r.pair_id: load_target(r, gains) for r in records}  # read once, scored for every model
    predictors: dict[str, Predict] = {
        "baseline_sar_grey": sar_grey_predictor,
        "baseline_mean_colour": mean_colour_predictor(mean_training_colour(all_records, gains)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for checkpoint in checkpoints:
            model = load_checkpoint(checkpoint)
            predictors[checkpoint.stem] = model_predictor(model, Path(tmp))
        for name, predict in predictors.items():
            test_predictions = {}
            for record in records:
                p, s, prediction = score(predict, record, targets[record.pair_id])
                rows.append(
                    {
                        "model": name,
                        "split": record.split,
                        "source": record.source,
                        "group": record.group,
                        "pair_id": record.pair_id,
                        "psnr": round(p, 4),
                        "ssim": round(s, 4),
                    }
                )
                if record.split == "test":
                    test_predictions[record.pair_id] = prediction
            save_best_worst(
                name,
                rows,
                test_predictions,
                {r.pair_id: r for r in records},
                targets,
                out_dir / f"{name}_best_worst.png",
            )
            print(f"{name}: {len([r for r in rows if r['model'] == name])} images scored", flush=True)
    with open(out_dir / "per_image.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "models": summarise(rows),
        "lpips": LPIPS_STATUS,
        "optical_gains": gains,
        "splits": list(splits),
        "ssim": "Gaussian window sigma 1.5 (11 px), data range 1, RGB in [0, 1]; PSNR over valid pixels",
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Score checkpoints and baselines on the team data.")
    parser.add_argument("--checkpoint", type=Path, action="append", default=[], help="repeatable")
    parser.add_argument("--split", nargs="+", default=["test"], choices=["train", "val", "test"])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT)
    parser.add_argument("--out", type=Path, default=Path("models/eval"))
    args = parser.parse_args(argv)
    summary = evaluate(args.checkpoint, tuple(args.split), args.data_root, args.out)
    for model, table in summary["models"].items():
        for key, stats in table.items():
            print(
                f"{model:24s} {key:28s} n={stats['n']:3d}  "
                f"PSNR {stats['psnr_mean']:6.2f} dB  SSIM {stats['ssim_mean']:.3f}"
            )


if __name__ == "__main__":
    main()
