"""Evaluate checkpoints: `python -m training.evaluate --checkpoint models/default.pt --split val`.

Each image goes through the product's own pipeline (core.colorize: tiling, blending,
COG) with the manifest's encoding as override, and is scored against its optical
target on the training footing of its source (`training.data.TargetFooting`).

Sets: the manifest's val sets (sen12-accioy, volkov, OMBRIA's 70 flood sites before and after), a val
set of the real calibrated BigEarthNet patches that `bigearthnet-common` ships (VV and VH, float32 dB, Sentinel-2
truth as reflectance / 0.3), and sen12-test (final report only).

Per image: PSNR (valid pixels), Gaussian SSIM, CIEDE2000 between predicted and true
mean colour, the chroma spread (`core.scoring.metrics.chroma_spread`), and colour per pixel
(valid pixels): mean CIEDE2000, green recall and false green (green: CIELAB a* below
`core.scoring.metrics.GREEN_A_STAR`) with the pixel counts behind them. Per set: mean PSNR
with a 95 % bootstrap interval, the PSNR gain over the flat training colour with a
paired bootstrap interval, SSIM, mean ΔE00 and the chroma-variation ratio (prediction
spread over truth spread; a wash is near 0), mean per-pixel ΔE00 with a 95 % bootstrap
interval, and green recall and false green pooled over the set's pixels (sum of hits
over sum of pixels, so large images weigh more) with 95 % intervals from resampling
images. The green ranking AUC (-a* of the prediction ranking the truth's green pixels) per image, averaged over
the images holding both classes; on OMBRIA's after-flood images the mean L* error of the flooded pixels (the
site's flood mask) and the dry-minus-flooded L* contrast of prediction and truth. Baselines scored on the
same images: SAR grey, the flat mean training colour and the per-image oracle flat colour (the truth's own
mean: the best any single colour can do). Each checkpoint is also scored in its SAR-detail rendering
('<name>+sar-detail', GIHS: `core.colour.sar_detail`), the field's convention of lightness detail from the SAR.
LPIPS needs ImageNet backbone weights, which are not on disk here, so it is reported as unavailable.

Pictures: per model and split a sample grid (three images per val set; best and worst
three on test) and per val set a contact sheet of every image (`EvalFolder.contact_sheet`),
rows SAR | prediction | truth in pair id order.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw

from core.colorize import ColorizeOptions, colorize
from core.colour.sar_detail import SAR_DETAIL
from core.model.checkpoints import load_checkpoint
from core.rasters.normalise import InputSpace
from core.rasters.scene import POLARISATIONS
from core.records.artefacts import TARGET_FOOTING, EvalFolder, ModelsFolder
from core.records.reports import PIXEL_COLOUR, read_per_image
from core.scoring.metrics import (
    GREEN_A_STAR,
    bootstrap_interval,
    bootstrap_ratio_interval,
    chroma_spread,
    dark_share,
    flood_lightness,
    green_ranking_auc,
    mean_colour_delta_e,
    pixel_colour,
    pooled_ratio,
    psnr,
    ssim,
)
from core.settings import models_dir, shared_data_dir
from training.data import (
    PairRecord,
    align,
    bigearthnet_records,
    flood_mask,
    footing_samples,
    load_sar,
    load_target,
    mean_training_colour,
    measure_footing,
    read_manifest,
)

SPLITS = ("train", "val", "test")
LPIPS_STATUS = "unavailable: LPIPS needs ImageNet backbone weights on disk; none were given"
FLAT = "baseline_flat_colour"
ORACLE = "baseline_oracle_flat"
SAR_GREY = "baseline_sar_grey"
BASELINES = (SAR_GREY, FLAT, ORACLE)
# (prediction H x W x 3 in [0, 1], valid mask) of a record; `truth` is read only by the oracle baseline.
Predict = Callable[[PairRecord, np.ndarray], tuple[np.ndarray, np.ndarray]]


def model_predictor(checkpoint: Path, workdir: Path, rendering: str = "model") -> Predict:
    """Prediction through the full colorize pipeline (writes and reads back a COG) in `rendering`."""
    model = load_checkpoint(checkpoint)

    def predict(record: PairRecord, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = workdir / "prediction.tif"
        options = ColorizeOptions(
            band=str(record.band),
            polarisation=record.polarisation if record.polarisation in POLARISATIONS else "auto",
            encoding=record.encoding.value,
            device="auto",
            rendering=rendering,
        )
        colorize(record.sar, out, model, options)
        with rasterio.open(out) as src:
            rgba = src.read()
        return rgba[:3].transpose(1, 2, 0).astype(np.float32) / 255.0, rgba[3] > 0

    return predict


def predicted_lab(checkpoint: Path, records: list[PairRecord], shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """A model's CIELAB (H x W x 3) of each record through the product pipeline, cropped to the record's shape."""
    from training.pseudo_colour import lab_of

    with tempfile.TemporaryDirectory() as tmp:
        predict = model_predictor(checkpoint, Path(tmp))
        rgbs = [predict(record, np.empty(0))[0][:h, :w] for record, (h, w) in zip(records, shapes, strict=True)]
    return [lab_of(rgb) for rgb in rgbs]


def sar_detail_predictors(checkpoints: list[Path], workdir: Path) -> dict[str, Predict]:
    """Each checkpoint's SAR-detail rendering (`core.colour.sar_detail`, GIHS), scored as '<name>+sar-detail'."""
    return {f"{c.stem}+{SAR_DETAIL}": model_predictor(c, workdir, SAR_DETAIL) for c in checkpoints}


def sar_grey_predictor(record: PairRecord, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline: the stretched SAR as grey RGB."""
    grey = (load_sar(record, InputSpace.STRETCH)[0] + 1.0) * 0.5
    return np.repeat(grey[..., None], 3, axis=2), np.ones(grey.shape, bool)


def flat_predictor(colour: np.ndarray) -> Predict:
    """Baseline: every pixel gets one colour."""

    def predict(record: PairRecord, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.broadcast_to(colour, truth.shape).copy(), np.ones(truth.shape[:2], bool)

    return predict


def oracle_flat_predictor(record: PairRecord, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline that peeks at the truth: its own mean colour (the best single colour for PSNR)."""
    return np.broadcast_to(truth.reshape(-1, 3).mean(0), truth.shape).copy(), np.ones(truth.shape[:2], bool)


def score(predict: Predict, record: PairRecord, truth: np.ndarray) -> tuple[dict, np.ndarray]:
    """Per-image metrics of one prediction, and the prediction."""
    prediction, valid = predict(record, truth)
    prediction, truth = align(prediction, truth)
    valid = valid[: truth.shape[0], : truth.shape[1]]
    delta_e, greens = pixel_colour(prediction, truth, valid)
    flooded = flood_mask(record)
    flooded = flooded[: truth.shape[0], : truth.shape[1]] if flooded is not None else None
    metrics = {
        "psnr": psnr(prediction, truth, valid),
        "ssim": ssim(prediction, truth),
        "delta_e": mean_colour_delta_e(prediction, truth, valid),
        "chroma_pred": chroma_spread(prediction, valid),
        "chroma_true": chroma_spread(truth, valid),
        "pixel_delta_e": delta_e,
        "green_recall": greens.recall,
        "false_green": greens.false_green,
        **asdict(greens),
        "green_auc": green_ranking_auc(prediction, truth, valid),
        "dark_pred": dark_share(prediction, valid),
        "dark_true": dark_share(truth, valid),
        **flood_lightness(prediction, truth, valid, flooded),
    }
    return {k: round(v, 4) for k, v in metrics.items()}, prediction


def set_stats(rows: list[dict], flat_rows: dict[str, dict]) -> dict:
    """Aggregates of one model on one set; `flat_rows` (pair id -> row) gives the paired flat baseline."""
    p = np.array([r["psnr"] for r in rows])
    gain = np.array([r["psnr"] - flat_rows[r["pair_id"]]["psnr"] for r in rows if r["pair_id"] in flat_rows])
    chroma_true = np.mean([r["chroma_true"] for r in rows])
    return {
        "n": len(rows),
        "psnr_mean": float(p.mean()),
        "psnr_ci95": bootstrap_interval(p),
        "psnr_median": float(np.median(p)),
        "psnr_gain_vs_flat": float(gain.mean()) if gain.size else None,
        "psnr_gain_vs_flat_ci95": bootstrap_interval(gain) if gain.size else None,
        "ssim_mean": float(np.mean([r["ssim"] for r in rows])),
        "delta_e_mean": float(np.mean([r["delta_e"] for r in rows])),
        "chroma_ratio": float(np.mean([r["chroma_pred"] for r in rows]) / max(chroma_true, 1e-9)),
    } | pixel_colour_stats(rows) | ranking_and_flood_stats(rows)


def ranking_and_flood_stats(rows: list[dict]) -> dict:
    """Mean green ranking AUC over the images that hold both classes; the mean share of pixels darker than
    `DARK_L_STAR` in prediction and truth; on flood images the mean L* error of the
    flooded pixels [95 % CI], their mean L* bias and the mean dry-minus-flooded L* contrast of prediction and truth."""
    [auc] = _finite(rows, "green_auc")
    flood = _finite(rows, "flood_l_error", "flood_contrast_pred", "flood_contrast_true")
    stats = {"green_auc_mean": float(auc.mean()) if auc.size else None, "green_auc_images": int(auc.size)}
    dark_pred, dark_true = _finite(rows, "dark_pred", "dark_true")
    if dark_pred.size:
        stats |= {"dark_share_pred": float(dark_pred.mean()), "dark_share_true": float(dark_true.mean())}
    if not flood[0].size:
        return stats
    error, contrast_pred, contrast_true = flood
    [bias] = _finite(rows, "flood_l_bias")  # rows scored before 2026-12-07 (fifth session) lack it
    if bias.size:
        stats["flood_l_bias"] = float(bias.mean())
    return stats | {
        "flood_images": int(error.size),
        "flood_l_error": float(error.mean()),
        "flood_l_error_ci95": bootstrap_interval(error),
        "flood_contrast_pred": float(contrast_pred.mean()),
        "flood_contrast_true": float(contrast_true.mean()),
    }


GREEN_RATIOS = {"green_recall": ("green_hit_px", "green_px"), "false_green": ("other_green_px", "other_px")}


def pixel_colour_stats(rows: list[dict]) -> dict:
    """Mean per-pixel ΔE00 [95 % CI]; green recall and false green pooled over pixels [95 % CI over images].

    Rows scored before these metrics existed (NaN) are left out; a set without any gives None.
    """
    [delta_e] = _finite(rows, "pixel_delta_e")
    mean_key, interval_key = PIXEL_COLOUR["pixel_delta_e"]
    stats = {
        mean_key: float(delta_e.mean()) if delta_e.size else None,
        interval_key: bootstrap_interval(delta_e) if delta_e.size else None,
    }
    for name, (hits_key, totals_key) in GREEN_RATIOS.items():
        hits, totals = _finite(rows, hits_key, totals_key)
        counted = totals.sum() > 0
        pooled_key, interval_key = PIXEL_COLOUR[name]
        stats[pooled_key] = pooled_ratio(hits, totals) if counted else None
        stats[interval_key] = bootstrap_ratio_interval(hits, totals) if counted else None
    return stats


def _finite(rows: list[dict], *keys: str) -> list[np.ndarray]:
    """Each key's values over the rows where all of them are finite."""
    values = np.array([[r.get(k, np.nan) for k in keys] for r in rows], np.float64).reshape(len(rows), len(keys))
    return list(values[np.isfinite(values).all(1)].T)


def summarise(rows: list[dict]) -> dict:
    """Per model, per split/source: `set_stats`, also per group."""
    summary: dict = {}
    flat = {r["pair_id"]: r for r in rows if r["model"] == FLAT}
    for model in sorted({r["model"] for r in rows}):
        summary[model] = {}
        mine = [r for r in rows if r["model"] == model]
        for key in sorted({f"{r['split']}/{r['source']}" for r in mine}):
            subset = [r for r in mine if f"{r['split']}/{r['source']}" == key]
            groups = sorted({r["group"] for r in subset})
            summary[model][key] = set_stats(subset, flat) | {
                "by_group": {g: set_stats([r for r in subset if r["group"] == g], flat) for g in groups}
            }
    return summary


def save_grid(
    picks: list[str],
    predictions: dict,
    records: dict,
    targets: dict,
    path: Path,
    side: int = 256,
    title: str | None = None,
) -> None:
    """Rows of SAR | prediction | truth (`side` px each) for the picked pair ids, under `title` if given."""
    rows = [_triptych(records[p], predictions[p], targets[p], side) for p in picks if p in predictions]
    if not rows:
        return
    image = Image.fromarray((np.concatenate(rows, axis=0) * 255).round().astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    (_titled(image, title) if title else image).save(path)


def _triptych(record: PairRecord, prediction: np.ndarray, truth: np.ndarray, side: int) -> np.ndarray:
    """One row SAR | prediction | truth, each the centre square at `side` px."""
    grey = (load_sar(record, InputSpace.STRETCH)[0] + 1) * 0.5
    sar, truth = align(np.repeat(grey[..., None], 3, axis=2), truth)
    prediction = prediction[: truth.shape[0], : truth.shape[1]]
    return np.concatenate([_square(sar, side), _square(prediction, side), _square(truth, side)], axis=1)


def _titled(image: Image.Image, title: str, height: int = 30) -> Image.Image:
    """The image under a white strip with `title` (up to two lines) in it."""
    sheet = Image.new("RGB", (image.width, image.height + height), "white")
    sheet.paste(image, (0, height))
    ImageDraw.Draw(sheet).multiline_text((4, 2), title, fill="black", spacing=2)
    return sheet


def _square(image: np.ndarray, side: int = 256) -> np.ndarray:
    """Centre square of an image resized to `side` px."""
    h, w = image.shape[:2]
    s = min(h, w)
    crop = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    resized = Image.fromarray((np.clip(crop, 0, 1) * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    return np.asarray(resized, np.float32) / 255.0


def val_sets(records: list[PairRecord]) -> dict[str, list[str]]:
    """Pair ids of each val source, in pair id order: what the contact sheets show."""
    sets: dict[str, list[str]] = {}
    for record in sorted((r for r in records if r.split == "val"), key=lambda r: r.pair_id):
        sets.setdefault(record.source, []).append(record.pair_id)
    return sets


def grid_picks(rows: list[dict], model: str, split: str) -> list[str]:
    """Which images a model's grid shows: for val, three per set (spread over the set); for test, best and worst 3."""
    mine = sorted((r for r in rows if r["model"] == model and r["split"] == split), key=lambda r: r["pair_id"])
    if split == "test":
        ranked = sorted(mine, key=lambda r: r["psnr"])
        return [r["pair_id"] for r in ranked[-3:][::-1] + ranked[:3]]
    picks = []
    for source in sorted({r["source"] for r in mine}):
        ids = [r["pair_id"] for r in mine if r["source"] == source]
        picks += [ids[i] for i in np.linspace(0, len(ids) - 1, min(3, len(ids))).round().astype(int)]
    return picks


def evaluate(
    checkpoints: list[Path],
    splits: tuple[str, ...],
    data_root: Path,
    out_dir: Path,
    extra: dict[str, Predict] | None = None,
    keep_earlier: bool = False,
    sources: tuple[str, ...] = (),
) -> dict:
    """Score checkpoints, `extra` predictors and baselines; write per_image.csv, summary.json, grids.

    With `keep_earlier` the rows already in `out_dir` of the models, splits and sources not scored now are kept and
    summarised with the new ones (publishing one model leaves the others' scores in place; re-scoring one source
    leaves the other sources').
    """
    all_records = read_manifest(data_root)
    samples = footing_samples(all_records)
    footing = measure_footing(samples)
    records = [r for r in all_records if r.split in splits and r.has_colour]
    if "val" in splits:
        records += bigearthnet_records()
    if sources:
        records = [r for r in records if r.source in sources]
    predictors: dict[str, Predict] = {
        SAR_GREY: sar_grey_predictor,
        FLAT: flat_predictor(mean_training_colour(samples, footing)),
        ORACLE: oracle_flat_predictor,
        **(extra or {}),
    }
    folder = EvalFolder(out_dir)
    folder.path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        predictors |= {c.stem: model_predictor(c, Path(tmp)) for c in checkpoints}
        predictors |= sar_detail_predictors(checkpoints, Path(tmp))
        rows = score_all(predictors, records, footing, () if sources else splits, folder)
    if keep_earlier:
        scored = {(r["model"], r["split"], r["source"]) for r in rows}
        rows = [r for r in read_per_image(folder) if (r["model"], r["split"], r["source"]) not in scored] + rows
    return write_results(rows, footing, folder)


def score_all(
    predictors: dict[str, Predict],
    records: list[PairRecord],
    footing: dict,
    grid_splits: tuple[str, ...],
    folder: EvalFolder,
) -> list[dict]:
    """Per-image rows of every predictor on every record; each predictor's sample grid per split in `grid_splits`
    (none when only some sources are scored: a grid shows every set) and val sheets."""
    targets = {r.pair_id: load_target(r, footing) for r in records}  # read once, scored for every model
    by_id = {r.pair_id: r for r in records}
    rows: list[dict] = []
    for name, predict in predictors.items():
        predictions = {}
        for record in records:
            metrics, predictions[record.pair_id] = score(predict, record, targets[record.pair_id])
            rows.append(
                {"model": name, "split": record.split, "source": record.source, "group": record.group}
                | {"pair_id": record.pair_id, **metrics}
            )
        for split in grid_splits:
            save_grid(grid_picks(rows, name, split), predictions, by_id, targets, folder.grid(name, split))
        for source, ids in val_sets(records).items():
            title = f"{name}   val/{source}\nSAR | prediction | truth"
            save_grid(ids, predictions, by_id, targets, folder.contact_sheet(name, "val", source), 128, title)
        print(f"{name}: {len([r for r in rows if r['model'] == name])} images scored", flush=True)
    return rows


def write_results(rows: list[dict], footing: dict, folder: EvalFolder) -> dict:
    """Write the per-image table and the summary of `rows`; returns the summary."""
    with open(folder.per_image, "w", newline="") as handle:
        fields = list(dict.fromkeys(key for row in rows for key in row))  # earlier rows may lack newer metrics
        writer = csv.DictWriter(handle, fieldnames=fields, restval="nan")
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "models": summarise(rows),
        "lpips": LPIPS_STATUS,
        TARGET_FOOTING: {source: f.as_dict() for source, f in footing.items()},
        "splits": sorted({r["split"] for r in rows}, key=SPLITS.index),
        "ssim": "Gaussian window sigma 1.5 (11 px), data range 1, RGB in [0, 1]; PSNR over valid pixels",
        "colour": "ΔE00 between mean CIELAB colours; chroma ratio = predicted over true spread of R-G, (R+G)/2-B",
        "pixel colour": f"per-pixel ΔE00 (mean over valid pixels, then over images); green = CIELAB a* < "
        f"{GREEN_A_STAR:g}: green recall = truth-green pixels painted green, false green = other truth pixels "
        "painted green, both pooled over the set's pixels, 95 % CI by resampling images",
    }
    folder.summary.write_text(json.dumps(summary, indent=2))
    return summary


def format_summary(summary: dict) -> str:
    """One line per model and set: PSNR [CI], gain over flat [CI], SSIM, ΔE00, chroma ratio, pixel colour."""
    lines = []
    for model, table in summary["models"].items():
        for key, s in table.items():
            gain = s["psnr_gain_vs_flat"]
            gain_text = f"{gain:+5.2f} [{s['psnr_gain_vs_flat_ci95'][0]:+.2f}, {s['psnr_gain_vs_flat_ci95'][1]:+.2f}]"
            lines.append(
                f"{model:28s} {key:22s} n={s['n']:3d} PSNR {s['psnr_mean']:6.2f} "
                f"[{s['psnr_ci95'][0]:5.2f}, {s['psnr_ci95'][1]:5.2f}] vs flat {gain_text} "
                f"SSIM {s['ssim_mean']:.3f} ΔE00 {s['delta_e_mean']:5.1f} chroma {s['chroma_ratio']:.2f} "
                f"px ΔE00 {_with_interval(s, 'pixel_delta_e', '.1f')} "
                f"green recall {_with_interval(s, 'green_recall', '.2f')} "
                f"false green {_with_interval(s, 'false_green', '.2f')} "
                f"green AUC {_number(s.get('green_auc_mean'), '.2f')} dark {_number(s.get('dark_share_pred'), '.2f')} "
                f"(truth {_number(s.get('dark_share_true'), '.2f')}){flood_text(s)}"
            )
    return "\n".join(lines)


def _number(value: float | None, spec: str) -> str:
    return "–" if value is None else f"{value:{spec}}"


def flood_text(stats: dict) -> str:
    """' flood L* error e [lo, hi] contrast p (truth t)' for sets with flood masks, else ''."""
    if "flood_l_error" not in stats:
        return ""
    low, high = stats["flood_l_error_ci95"]
    bias = f" bias {stats['flood_l_bias']:+.1f}" if "flood_l_bias" in stats else ""
    return (
        f" flood L* error {stats['flood_l_error']:.1f} [{low:.1f}, {high:.1f}]{bias} contrast "
        f"{stats['flood_contrast_pred']:+.1f} (truth {stats['flood_contrast_true']:+.1f})"
    )


def _with_interval(stats: dict, metric: str, spec: str) -> str:
    """'value [low, high]' of one of `PIXEL_COLOUR` in a summary entry, '–' where it is missing."""
    value_key, interval_key = PIXEL_COLOUR[metric]
    if stats.get(value_key) is None:
        return "–"
    low, high = stats[interval_key]
    return f"{stats[value_key]:{spec}} [{low:{spec}}, {high:{spec}}]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Score checkpoints and baselines on the team data.")
    parser.add_argument("--checkpoint", type=Path, action="append", default=[], help="repeatable")
    parser.add_argument(
        "--pixel-reference",
        type=Path,
        action="append",
        default=[],
        help="a fitted training.studies.pixel_reference model",
    )
    parser.add_argument("--split", nargs="+", default=["val"], choices=SPLITS)
    parser.add_argument("--data-root", type=Path, default=shared_data_dir())
    parser.add_argument("--out", type=Path, default=ModelsFolder(models_dir()).eval.path, help="default: models/eval")
    parser.add_argument("--keep-earlier", action="store_true", help="keep the scores of models not scored now")
    parser.add_argument("--source", nargs="+", default=[], help="score only these sources (default: all)")
    args = parser.parse_args(argv)
    from training.studies.pixel_reference import load_reference

    extra = {path.stem: load_reference(path).predictor() for path in args.pixel_reference}
    summary = evaluate(
        args.checkpoint, tuple(args.split), args.data_root, args.out, extra, args.keep_earlier, tuple(args.source)
    )
    print(format_summary(summary))


if __name__ == "__main__":
    main()
