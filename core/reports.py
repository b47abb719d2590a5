"""Readers of training and evaluation outputs that tolerate missing or partial files.

File names and the log format live in `core.run_artefacts`. The evaluation files, written by
`training.evaluate`:
- `summary.json` — `{"models": {model or baseline: {split/source key: {n, psnr_mean, psnr_ci95,
  psnr_median, psnr_gain_vs_flat, psnr_gain_vs_flat_ci95, ssim_mean, delta_e_mean, chroma_ratio,
  by_group}}}, ...notes}`.
- `per_image.csv` — columns model, split, source, group, pair_id, psnr, ssim, delta_e, chroma_pred,
  chroma_true.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from core.run_artefacts import EvalFolder, RunFolder

PER_IMAGE_NUMERIC = ("psnr", "ssim", "delta_e", "chroma_pred", "chroma_true")
BASELINE_PREFIX = "baseline_"


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
            )
    return rows


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
