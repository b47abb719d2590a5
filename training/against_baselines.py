"""A model against every flat-colour baseline, paired image by image: `python -m training.against_baselines`.

Reads the per-image scores `training.evaluate` wrote (`models/eval/per_image.csv`: each image through the product
pipeline) and, for each val set and metric, gives the model's mean, and against the flat training colour and the
oracle flat colour (each image's own true mean colour) the mean paired difference, model minus baseline, with its
95 % bootstrap interval over images. A difference whose interval leaves out 0 is outside the noise. Metrics: PSNR,
per-pixel and mean-colour ΔE00, the green ranking AUC, and on OMBRIA's after-flood images the flooded pixels' L*
error. Writes `models/eval/against_baselines.json` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from core.records.artefacts import ModelsFolder
from core.records.reports import display_name, read_per_image
from core.scoring.metrics import bootstrap_interval
from core.settings import default_checkpoint, models_dir
from training.evaluate import FLAT, ORACLE

METRICS = {  # per-image column: (name in the table, +1 where higher is better, -1 where lower is)
    "psnr": ("PSNR (dB)", 1),
    "pixel_delta_e": ("per-pixel ΔE00", -1),
    "delta_e": ("mean-colour ΔE00", -1),
    "green_auc": ("green AUC", 1),
    "flood_l_error": ("flooded L* error", -1),
}
BASELINES = (FLAT, ORACLE)


def paired(model: dict[str, float], baseline: dict[str, float], better: int) -> dict | None:
    """Mean model - baseline over the images both scored, its 95 % interval, and whether it is outside the noise
    and which way; None when no image has both."""
    common = sorted(k for k in model.keys() & baseline.keys() if math.isfinite(model[k] + baseline[k]))
    if not common:
        return None
    differences = np.array([model[k] - baseline[k] for k in common])
    low, high = bootstrap_interval(differences)
    outside = bool(low > 0 or high < 0)
    return {
        "images": len(common),
        "difference": float(differences.mean()),
        "ci95": [low, high],
        "outside_noise": outside,
        "model_better": outside and bool(better * differences.mean() > 0),
    }


def by_image(rows: list[dict], model: str, set_key: str, metric: str) -> dict[str, float]:
    """pair id -> the metric of one model on one set ('val/ombria')."""
    return {r["pair_id"]: r[metric] for r in rows if r["model"] == model and f"{r['split']}/{r['source']}" == set_key}


def against_baselines(rows: list[dict], model: str, split: str = "val") -> dict:
    """{set: {metric: {model_mean, images, baselines: {baseline: paired(...)}}}} for every set of `split`."""
    sets = sorted({f"{r['split']}/{r['source']}" for r in rows if r["model"] == model and r["split"] == split})
    result: dict = {}
    for set_key in sets:
        for metric, (_, better) in METRICS.items():
            own = {k: v for k, v in by_image(rows, model, set_key, metric).items() if math.isfinite(v)}
            if not own:
                continue
            result.setdefault(set_key, {})[metric] = {
                "model_mean": float(np.mean(list(own.values()))),
                "images": len(own),
                "baselines": {b: paired(own, by_image(rows, b, set_key, metric), better) for b in BASELINES},
            }
    return result


def _cell(pair: dict | None) -> str:
    if pair is None:
        return "–"
    low, high = pair["ci95"]
    return f"{pair['difference']:+.2f} [{low:+.2f}, {high:+.2f}]" + ("*" if pair["outside_noise"] else "")


def table(result: dict) -> str:
    """The result as a markdown table: each cell the difference [interval], * where outside the noise."""
    lines = [
        "| set | metric | model | " + " | ".join(f"vs {display_name(b)}" for b in BASELINES) + " |",
        "|---|---|---:|" + "---|" * len(BASELINES),
    ]
    for set_key, metrics in result.items():
        for metric, stats in metrics.items():
            cells = " | ".join(_cell(stats["baselines"][baseline]) for baseline in BASELINES)
            name = METRICS[metric][0]
            lines.append(f"| {set_key} ({stats['images']}) | {name} | {stats['model_mean']:.2f} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=default_checkpoint(), help="the model (default: default)")
    parser.add_argument("--split", default="val")
    folder = ModelsFolder(models_dir()).eval
    parser.add_argument("--out", type=Path, default=folder.path / "against_baselines.json")
    args = parser.parse_args(argv)
    model = args.checkpoint.resolve().stem  # default.pt -> the model it links to
    result = against_baselines(read_per_image(folder), model, args.split)
    args.out.write_text(json.dumps({"model": model, "sets": result}, indent=1) + "\n")
    print(f"{model} against the flat colours, paired by image (* outside the noise):\n{table(result)}")


if __name__ == "__main__":
    main()
