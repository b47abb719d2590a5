"""Readers of training and evaluation outputs that tolerate missing or partial files.

File names and the log format live in `core.records.artefacts`. The evaluation files, written by
`training.evaluate`:
- `summary.json` — `{"models": {model or baseline: {split/source key: {n, psnr_mean, psnr_ci95,
  psnr_median, psnr_gain_vs_flat, psnr_gain_vs_flat_ci95, ssim_mean, delta_e_mean, chroma_ratio,
  pixel_delta_e_mean, pixel_delta_e_ci95, green_recall_pooled, green_recall_ci95, false_green_pooled,
  false_green_ci95, by_group}}}, ...notes}`; summaries written before the pixel colour metrics lack
  those keys, and they are null for sets scored before them.
- `per_image.csv` — columns model, split, source, group, pair_id, then `PER_IMAGE_NUMERIC` (blank or NaN
  where not scored).
And by `training.studies.green_ceiling`: `green_ceiling.json` — `{source: {CEILINGS key: {green_share, auc,
false_green_at_recall} or null, ...}}`; by `training.studies.ombria_ceiling`: `ombria_ceiling.json` —
`{"green_auc": {FLOOD_SET_REFERENCES key: auc}, "flood": {FLOOD_SET_REFERENCES key: {l_error, l_bias, ...}}, ...}`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from core.records.artefacts import DISCRIMINATOR_LOSS_PREFIX, GENERATOR_LOSS_PREFIX, VAL_PREFIX, EvalFolder, RunFolder

PER_IMAGE_NUMERIC = (
    *("psnr", "ssim", "delta_e", "chroma_pred", "chroma_true"),
    *("pixel_delta_e", "green_recall", "false_green"),  # per pixel: ΔE00; shares 0-1 (`core.scoring.metrics`)
    *("green_px", "green_hit_px", "other_px", "other_green_px"),  # pixel counts: `core.scoring.metrics.GreenCounts`
    "green_auc",  # -a* ranking the truth's green (`core.scoring.metrics.green_ranking_auc`)
    *("dark_pred", "dark_true"),  # share of pixels darker than L* 25 (`core.scoring.metrics.dark_share`)
    *("flood_px", "flood_l_error", "flood_contrast_pred", "flood_contrast_true", "flood_l_bias"),  # OMBRIA floods
)
PIXEL_COLOUR = {  # metric (a scoreboard column, with _low and _high): its summary.json keys, value and 95 % CI
    "pixel_delta_e": ("pixel_delta_e_mean", "pixel_delta_e_ci95"),
    "green_recall": ("green_recall_pooled", "green_recall_ci95"),
    "false_green": ("false_green_pooled", "false_green_ci95"),
}
CEILINGS = {  # green_ceiling.json key: what that ranking is, as the Evaluation page names it
    "sar": "SAR ceiling: classifier trained in scene",
    "network_in_scene": "SAR ceiling: U-Net fine-tuned in scene",
    "sar_and_truth_lightness": "SAR + true lightness (needs optical)",
}
FLOOD_SET_REFERENCES = {  # ombria_ceiling.json key: what that reference is, as the Evaluation page names it
    "sar_level": "study: smoothed SAR level",
    "best_constant": "study: one L* for all flooded pixels",
    "sar": "study: VV features, learnt on OMBRIA train",
    "sar_and_scene_brightness": "study: + the scene's optical brightness",
    "sar_and_truth_lightness": "study: + the true lightness (needs optical)",
    "site_median_oracle": "study: each site's own median (peeks at truth)",
}
FLOOD_SET = "val/ombria"  # the set `training.studies.ombria_ceiling` measures
FLOOD_L_ERROR_BAR, GREEN_AUC_BAR = 12.0, 0.70  # issue 26's bars on flood sets: flooded L* error, green ranking AUC
CEILING_RECALL = 0.5  # the recall at which `training.studies.green_ceiling` reads false green
BASELINE_PREFIX = "baseline_"
BASELINE_NAMES = {  # what each baseline of `training.evaluate` paints, as pages and charts name it
    "baseline_flat_colour": "flat training colour",
    "baseline_oracle_flat": "oracle flat colour (peeks at truth)",
    "baseline_sar_grey": "SAR as grey",
}


def display_name(model: str) -> str:
    """A model's name as shown: its own for models, what it paints for baselines (never a cut-off id)."""
    if not model.startswith(BASELINE_PREFIX):
        return model
    return BASELINE_NAMES.get(model, model.removeprefix(BASELINE_PREFIX).replace("_", " "))


SERIES_NAMES = {  # training-log columns as chart legends and table headers name them
    "g_adv": "adversarial", "g_l1": "L1 (RGB)", "g_grad": "gradient", "g_total": "total",
    "g_lab_l1": "L1 (CIELAB)", "d_real": "on real images", "d_fake": "on generated images",
    "lr_g": "generator", "lr_d": "discriminator", "images_per_s": "crops per second",
}  # fmt: skip


def series_name(column: str) -> str:
    """A training-log column as a legend names it: 'val_psnr_volkov' -> 'volkov', 'val_psnr' -> 'mean of all
    sets', 'g_lab_l1' -> 'L1 (CIELAB)'; an unknown loss keeps its name without the prefix."""
    if column in SERIES_NAMES:
        return SERIES_NAMES[column]
    if column.startswith(VAL_PREFIX):
        _, _, rest = column.removeprefix(VAL_PREFIX).partition("_")
        return rest or "mean of all sets"
    return column.removeprefix(GENERATOR_LOSS_PREFIX).removeprefix(DISCRIMINATOR_LOSS_PREFIX).replace("_", " ")


def headline_scores(summary: dict, model: str) -> dict[str, float]:
    """{set: mean PSNR} of one model from the evaluation summary: the numbers a summary table shows."""
    return {row["set"]: row["psnr"] for row in scoreboard(summary) if row["model"] == model}


def run_logs(runs_dir: Path) -> dict[str, Path]:
    """Training logs of the runs under `runs_dir`, newest first."""
    logs = [RunFolder(folder).train_log for folder in Path(runs_dir).glob("*")]
    logs = sorted((log for log in logs if log.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    return {log.parent.name: log for log in logs}


def read_summary(folder: EvalFolder) -> dict | None:
    """The evaluation summary, or None if missing or unreadable."""
    try:
        return json.loads(folder.summary.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def scoreboard(summary: dict) -> list[dict]:
    """One row per (set, model) from `summary["models"]`: the numbers the Evaluation page and cards show."""
    rows = []
    for model, sets in summary.get("models", {}).items():
        for key, stats in sets.items():
            if not isinstance(stats, dict) or "psnr_mean" not in stats:
                continue
            low, high = stats.get("psnr_ci95") or (math.nan, math.nan)
            gain_low, gain_high = stats.get("psnr_gain_vs_flat_ci95") or (math.nan, math.nan)
            rows.append(
                {
                    "set": key,
                    "model": model,
                    "baseline": model.startswith(BASELINE_PREFIX),
                    "n": stats.get("n"),
                    "psnr": stats["psnr_mean"],
                    "psnr_low": low,
                    "psnr_high": high,
                    "gain_vs_flat": stats.get("psnr_gain_vs_flat", math.nan),
                    "gain_low": gain_low,
                    "gain_high": gain_high,
                    "ssim": stats.get("ssim_mean", math.nan),
                    "delta_e": stats.get("delta_e_mean", math.nan),
                    "chroma_ratio": stats.get("chroma_ratio", math.nan),
                }
                | _pixel_colour(stats)
            )
    return rows


def _pixel_colour(stats: dict) -> dict:
    """The `PIXEL_COLOUR` columns of one summary entry, each with `_low` and `_high`; NaN where absent."""
    columns = {}
    for column, (value_key, interval_key) in PIXEL_COLOUR.items():
        value = stats.get(value_key)
        low, high = stats.get(interval_key) or (math.nan, math.nan)
        columns |= {column: math.nan if value is None else value, f"{column}_low": low, f"{column}_high": high}
    return columns


def read_per_image(folder: EvalFolder) -> list[dict]:
    """Rows of the per-image table with the metric columns as floats (NaN if blank or absent)."""
    if not folder.per_image.is_file():
        return []
    with open(folder.per_image, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in PER_IMAGE_NUMERIC:
            try:
                row[key] = float(row.get(key) or "nan")
            except ValueError:
                row[key] = math.nan
    return rows


def ceiling_points(folder: EvalFolder, set_key: str) -> list[dict]:
    """Green ceilings of one scoreboard set ('val/sen12-accioy'): false green at recall 0.5; [] if not measured."""
    try:
        measured = json.loads(folder.green_ceiling.read_text(encoding="utf-8")).get(set_key.split("/")[-1]) or {}
    except (OSError, json.JSONDecodeError):
        return []
    return [
        {"model": label, "green_recall": CEILING_RECALL, "false_green": measured[key]["false_green_at_recall"]}
        for key, label in CEILINGS.items()
        if isinstance(measured.get(key), dict)
    ]


def flood_set_rows(summary: dict, folder: EvalFolder, set_key: str) -> list[dict]:
    """Flooded pixels' L* error and green ranking AUC on one set: each model and baseline (`summary.json`), and on
    OMBRIA val the study's references (`ombria_ceiling.json`); [] where the set has no flood sites."""
    rows = [
        {
            "name": display_name(model),
            "kind": "Baseline" if model.startswith(BASELINE_PREFIX) else "Model",
            "flood_l_error": stats.get("flood_l_error", math.nan),
            "green_auc": stats.get("green_auc_mean", math.nan),
        }
        for model, sets in summary.get("models", {}).items()
        if isinstance(stats := sets.get(set_key), dict) and stats.get("flood_l_error") is not None
    ]
    if not rows or set_key != FLOOD_SET:
        return rows
    try:
        measured = json.loads(folder.ombria_ceiling.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return rows
    aucs, floods = measured.get("green_auc") or {}, measured.get("flood") or {}
    return rows + [
        {
            "name": label,
            "kind": "What VV can tell",
            "flood_l_error": (floods.get(key) or {}).get("l_error", math.nan),
            "green_auc": aucs.get(key, math.nan),
        }
        for key, label in FLOOD_SET_REFERENCES.items()
        if key in aucs or key in floods
    ]
