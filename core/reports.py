"""Where training and evaluation outputs live, and readers that tolerate missing or partial files.

File conventions (shared with `training/`), for a checkpoint `models/NAME.pt`:
- `models/NAME.train.jsonl` — training log, one JSON object per line. Keys: `kind`
  ('step' or 'epoch'), `epoch`, `step`, `time_s`, loss components (`g_adv`, `g_l1`, `g_grad`,
  `g_mse`, ... for the generator, `d_real`, `d_fake` for the discriminator), `lr_g`, `lr_d`,
  `images_per_s`; epoch lines add `val_psnr`, `val_ssim` and per-validation-set keys
  (`val_psnr_<set>`, `val_ssim_<set>`). Other kinds (e.g. 'config') are ignored by the charts.
- `models/NAME.md` — the model card (Markdown).
- `models/eval/summary.json` — `{"models": {model or baseline: {split/source key: {n, psnr_mean,
  psnr_ci95, psnr_median, psnr_gain_vs_flat, psnr_gain_vs_flat_ci95, ssim_mean, delta_e_mean,
  chroma_ratio, by_group}}}, ...notes}` (written by `training.evaluate`).
- `models/eval/per_image.csv` — columns model, split, source, group, pair_id, psnr, ssim, delta_e,
  chroma_pred, chroma_true.
- `models/eval/*.png` — sample grids (SAR | prediction | truth): `<model>_val.png`, `<model>_test.png`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

EVAL_DIR_NAME = "eval"
PER_IMAGE_NUMERIC = ("psnr", "ssim", "delta_e", "chroma_pred", "chroma_true")
BASELINE_PREFIX = "baseline_"


def training_log_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}.train.jsonl"


def model_card_path(models_dir: Path, name: str) -> Path:
    return Path(models_dir) / f"{name}.md"


def eval_dir(models_dir: Path) -> Path:
    return Path(models_dir) / EVAL_DIR_NAME


def model_names(models_dir: Path) -> list[str]:
    """Names with a checkpoint or a training log (a run in progress has only a log), default first."""
    folder = Path(models_dir)
    if not folder.is_dir():
        return []
    names = {p.stem for p in folder.glob("*.pt")} | {
        p.name.removesuffix(".train.jsonl") for p in folder.glob("*.train.jsonl")
    }
    return sorted(names, key=lambda n: (n != "default", n))


def run_logs(runs_dir: Path) -> dict[str, Path]:
    """Training logs of runs under `runs_dir` (`<run>/train.jsonl`), newest first."""
    logs = sorted(Path(runs_dir).glob("*/train.jsonl"), key=lambda p: p.stat().st_mtime, reverse=True)
    return {log.parent.name: log for log in logs}


def read_training_log(path: Path) -> list[dict]:
    """Records of a JSON-lines log; unreadable lines (e.g. one being written) are skipped."""
    records = []
    if not Path(path).is_file():
        return records
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def read_summary(models_dir: Path) -> dict | None:
    """`eval/summary.json`, or None if missing or unreadable."""
    path = eval_dir(models_dir) / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def summary_rows(summary: dict, path: tuple[str, ...] = ()) -> list[dict]:
    """Flatten nested summary objects: each dict of numbers becomes one row keyed by its path."""
    values = {k: v for k, v in summary.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    rows = [{"path": " / ".join(path), **values}] if values and path else []
    for key, value in summary.items():
        if isinstance(value, dict):
            rows += summary_rows(value, (*path, str(key)))
    return rows


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


def read_per_image(models_dir: Path) -> list[dict]:
    """Rows of `eval/per_image.csv` with the metric columns as floats (NaN if blank or absent)."""
    path = eval_dir(models_dir) / "per_image.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in PER_IMAGE_NUMERIC:
            try:
                row[key] = float(row.get(key) or "nan")
            except ValueError:
                row[key] = math.nan
    return rows


def sample_grids(models_dir: Path) -> list[Path]:
    """PNG sample grids under `eval/`."""
    folder = eval_dir(models_dir)
    return sorted(folder.rglob("*.png")) if folder.is_dir() else []
