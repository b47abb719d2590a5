"""Publish finished training runs into models/: checkpoint, training log, evaluation, model card.

`python -m training.publish --run runs/colour_ctx [--run runs/pix2pix ...] [--split val [test]]
[--data-root DIR] [--default NAME] [--card NAME ...] [--table MODEL ...]`

- `--run` (repeatable): copies the run's best checkpoint and log to `models/<run name>.pt` and
  `.train.jsonl`, scores the published checkpoints with `training.evaluate` on `--split` (default val;
  data from `--data-root`, default the shared data) into `models/eval/` beside the scores of the models
  evaluated before, and writes each `models/NAME.md` from the checkpoint's metadata, the log and
  `models/eval/summary.json` (measured numbers only).
- `--card NAME` (repeatable): rewrites a published model's card from the current summary.
- `--default NAME`: points `models/default.*` at a published model.
- `--table MODEL ...`: prints the comparison table of these models from the summary.
The models folder is `SARCOLOR_MODELS_DIR` (default models/).
"""

from __future__ import annotations

import argparse
import math
import platform
import shutil
from collections import Counter
from pathlib import Path

import torch

from core.model.checkpoints import load_checkpoint
from core.rasters.normalise import describe_input_space
from core.records.artefacts import (
    DATA_USED,
    FOOTING_STATISTICS,
    TARGET_FOOTING,
    ModelsFolder,
    RecordKind,
    RunFolder,
    read_records,
    records_of,
    val_metric,
)
from core.records.reports import read_summary, scoreboard
from core.settings import models_dir, shared_data_dir
from training.data import read_manifest
from training.evaluate import BASELINES, SPLITS, evaluate, flood_text
from training.variants import VARIANTS


def _training_facts(log_path: Path) -> dict:
    records = read_records(log_path)
    steps, epochs = records_of(records, RecordKind.STEP), records_of(records, RecordKind.EPOCH)
    return {
        "config": next(iter(records_of(records, RecordKind.CONFIG)), {}),
        "steps": steps[-1]["step"] if steps else 0,
        "minutes": (epochs[-1]["time_s"] if epochs else 0) / 60,
        "images_per_s": sum(s.get("images_per_s", 0) for s in steps) / max(len(steps), 1),
        "best_epoch": max(epochs, key=lambda e: e[val_metric("psnr")]) if epochs else {},
    }


def _input_space_text(space: str) -> str:
    """The input space's rules in words, from the constants that implement them."""
    rules = describe_input_space(space)
    parts = []
    if "fixed_range_db" in rules:
        low, high = rules["fixed_range_db"]
        plausible = rules["plausible_median_db"]
        parts.append(
            f"VV-equivalent dB on [{low:g}, {high:g}] (VH + {rules['cross_pol_offset_db']:g} dB); relative, "
            f"uncalibrated and 8-bit scenes with a median outside [{plausible[0]:g}, {plausible[1]:g}] dB anchored "
            f"at a {rules['anchor_median_db']:g} dB median (8-bit ones spanning under {rules['narrow_span_db']:g} dB "
            f"stretched to {rules['typical_span_db']:g} dB)"
        )
    if "low_percentile" in rules:
        parts.append(f"dB stretched by the scene's {rules['low_percentile']:g}-{rules['high_percentile']:g} % range")
    return "; and ".join(parts) + "."


DATA_LINE = "- **Data**: "
TEST_REPORT = "; sen12-test (84) scored once for the report."


def _data_text(cfg: dict, earlier_card: str) -> str:
    """What the run trained and selected on: from its log (`data_used`, recorded since 2026-12-07); for older logs
    the earlier card's words, written when the model was published; else the manifest as it is now."""
    used = cfg.get(DATA_USED)
    if used:
        train = ", ".join(f"{source} {count:,}" for source, count in used["train"].items()) + _left_out(cfg)
        val = ", ".join(f"{source} {count:,}" for source, count in used["val"].items())
        return f"`../shared/data/manifest.csv` train split ({train}); selection on val only ({val})"
    earlier = next((line for line in earlier_card.splitlines() if line.startswith(DATA_LINE)), "")
    if earlier:
        return earlier.removeprefix(DATA_LINE).removesuffix(TEST_REPORT)
    return (
        f"`../shared/data/manifest.csv` train split ({_train_sources(cfg)}); selection on val only (sen12-accioy 15, "
        "volkov 12, BigEarthNet 6 patches × VV/VH, OMBRIA 70 flood sites before and after)"
    )


def _train_sources(cfg: dict) -> str:
    """The train sources a run used (all but its drop_sources), with their pair counts from the manifests now."""
    dropped = set(cfg.get("drop_sources") or ())
    try:
        records = read_manifest(Path(cfg.get("data_root") or shared_data_dir()), ("train",))
    except OSError:  # the team data is not on this machine: name the sources without counts
        records = []
    counts = Counter(r.source for r in records if r.source not in dropped)
    grey = {r.source for r in records if not r.has_colour}
    used = [f"{source} {count:,}{' grey-only' if source in grey else ''}" for source, count in sorted(counts.items())]
    return ", ".join(used) + _left_out(cfg)


def _left_out(cfg: dict) -> str:
    dropped = sorted(cfg.get("drop_sources") or ())
    return f"; left out: {', '.join(dropped)}" if dropped else ""


def _gan_settings(cfg: dict) -> str:
    """The adversarial settings, for the variants that have a discriminator."""
    variant = VARIANTS.get(cfg.get("variant", ""))
    if variant is None or not variant.adversarial:
        return "; no discriminator"
    return (
        f"; PatchGAN ndf {cfg['ndf']}, lr D {cfg['lr_d']}, λ L1 {cfg['lambda_l1']}, λ L-gradient "
        f"{cfg['lambda_grad']}, labels real {cfg['real_label']} / fake {cfg['fake_label']}"
    )


def _with_interval(row: dict, column: str, spec: str) -> str:
    """'value [low, high]' of a scoreboard column, '–' where the summary lacks it (scored before it existed)."""
    if math.isnan(row[column]):
        return "–"
    return f"{row[column]:{spec}} [{row[f'{column}_low']:{spec}}, {row[f'{column}_high']:{spec}}]"


def metrics_table(summary: dict | None, models: list[str]) -> list[str]:
    """Markdown rows per set: PSNR, gain over flat, SSIM, mean-colour ΔE00, chroma ratio, per-pixel ΔE00, green."""
    if not summary:
        return ["(not evaluated yet)"]
    rows = [r for r in scoreboard(summary) if r["model"] in models]
    lines = [
        "| set | model | n | PSNR dB [95 % CI] | vs flat colour dB [95 % CI] | SSIM | mean-colour ΔE00 | chroma ratio "
        "| per-pixel ΔE00 [95 % CI] | green recall [95 % CI] | false green [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["set"].startswith("test"), r["set"], models.index(r["model"]))):
        lines.append(
            f"| {r['set']} | {r['model']} | {r['n']} | {r['psnr']:.2f} [{r['psnr_low']:.2f}, {r['psnr_high']:.2f}] "
            f"| {r['gain_vs_flat']:+.2f} [{r['gain_low']:+.2f}, {r['gain_high']:+.2f}] | {r['ssim']:.3f} "
            f"| {r['delta_e']:.1f} | {r['chroma_ratio']:.2f} | {_with_interval(r, 'pixel_delta_e', '.1f')} "
            f"| {_with_interval(r, 'green_recall', '.2f')} | {_with_interval(r, 'false_green', '.2f')} |"
        )
    return lines


def comparison_table(summary: dict, models: list[str]) -> list[str]:
    """Markdown rows: one per model, one column per set: PSNR [CI] (gain over flat), ΔE00s, chroma, green [CIs]."""
    rows = scoreboard(summary)
    sets = sorted({r["set"] for r in rows}, key=lambda s: (s.startswith("test"), s))
    by = {(r["model"], r["set"]): r for r in rows}
    lines = ["| model | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for model in models:
        cells = []
        for name in sets:
            r = by.get((model, name))
            cells.append(
                f"{r['psnr']:.2f} [{r['psnr_low']:.1f}, {r['psnr_high']:.1f}] ({r['gain_vs_flat']:+.2f}) · "
                f"ΔE {r['delta_e']:.1f} · chroma {r['chroma_ratio']:.2f} · "
                f"px ΔE {_with_interval(r, 'pixel_delta_e', '.1f')} · green {_with_interval(r, 'green_recall', '.2f')}"
                f" · false green {_with_interval(r, 'false_green', '.2f')}"
                if r
                else "n/a"
            )
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def _pseudo_colour_text(cfg: dict) -> str:
    """How the grey SEN1-2 targets got colour, when the run used pseudo-colour."""
    if not cfg.get("pseudo_colour"):
        return ""
    return (
        f" The grey SEN1-2 targets carry pseudo-colour from `{cfg['pseudo_colour']}` (their own lightness, a*b* from"
        " the EuroSAT colouriser, `training.pseudo_colour`) and supervise L, a*, b*."
    )


def _start_and_extra_losses(cfg: dict) -> str:
    """Where the weights started (fine-tuning) and the a/b spread term, when the run used them."""
    text = f"; started from `{cfg['init_from']}` (fine-tuned)" if cfg.get("init_from") else ""
    if cfg.get("chroma_spread_weight"):
        text += f"; a/b weight {cfg.get('chroma_weight')}, per-image a/b spread term × {cfg['chroma_spread_weight']}"
    if cfg.get("colour_prior_weight"):
        text += f"; EuroSAT colour critic (`training.colour_prior`) × {cfg['colour_prior_weight']}"
    if cfg.get("flood_weight"):
        text += f"; L error of OMBRIA's flooded pixels (train flood masks) × {cfg['flood_weight']}"
    return text


def flood_lines(summary: dict | None, models: list[str]) -> list[str]:
    """Each model's flooded pixels' L* error and dry-minus-flooded contrast on sets with flood masks
    (`training.evaluate.flood_text`)."""
    lines = [
        f"- {key}, {model}:{text}"
        for model in models
        for key, stats in sorted((summary or {}).get("models", {}).get(model, {}).items())
        if isinstance(stats, dict) and (text := flood_text(stats))
    ]
    return ["", "Flood sites (after-flood images, the site's flood mask):", "", *lines] if lines else []


def footing_table(statistics: dict) -> list[str]:
    """Each source's colour before -> after the footing: dark-object RGB, mean luma, mean chroma C*, green share."""
    if not statistics:
        return []
    lines = [
        "| source | haze subtracted (RGB) | gain | dark objects (1st pct RGB) | mean luma | mean chroma C* | green |",
        "|---|---|---:|---|---|---|---|",
    ]
    for source, row in statistics.items():
        before, after, rule = row["before"], row["after"], row["footing"]
        cells = [f"{before[key]} → {after[key]}" for key in ("dark_rgb", "luma", "chroma", "green")]
        lines.append(f"| {source} | {rule['haze']} | {rule['gain']} | " + " | ".join(cells) + " |")
    return ["", "Colour footing of each source (train targets, every 4th pixel; EuroSAT every 4th patch):", "", *lines]


def model_card(name: str, checkpoint: Path, log_path: Path, summary: dict | None, earlier_card: str = "") -> str:
    """Markdown model card with data, input space, target rule, settings, hardware, time and measured metrics.

    `earlier_card`: the card this one replaces, whose data line stands for logs that do not record their data."""
    model = load_checkpoint(checkpoint)
    facts = _training_facts(log_path)
    cfg = facts["config"]
    gen = model.config
    params = sum(p.numel() for p in model.generator.parameters())
    footing = model.metadata.get(TARGET_FOOTING) or cfg.get(TARGET_FOOTING, {})
    grid = ModelsFolder(checkpoint.parent).eval.grid(name, "val")
    lines = [
        f"# Model card: `{name}`",
        "",
        f"- **Variant**: `{model.metadata.get('variant')}` (losses; config `{cfg.get('name', name)}` under "
        "`training/configs/`)",
        f"- **Generator**: U-Net, ngf {gen.ngf}, depth {gen.depth}, {gen.norm} norm, {gen.upsample} upsampling, "
        f"tile context {'on' if gen.context else 'off'}, output {gen.output_space}; {params / 1e6:.2f} M parameters, "
        f"fp16 weights ({checkpoint.stat().st_size / 1e6:.1f} MB)",
        f"- **Input space** `{gen.input_space}` (`core.rasters.normalise`): {_input_space_text(gen.input_space)}",
        f"{DATA_LINE}{_data_text(cfg, earlier_card)}{TEST_REPORT}",
        f"- **Target footing** (measured on train; `training.data.TargetFooting`: (rgb - haze) × gain): {footing}. "
        "Grey targets supervise CIELAB L only." + _pseudo_colour_text(cfg),
        *footing_table(model.metadata.get(FOOTING_STATISTICS) or cfg.get(FOOTING_STATISTICS, {})),
        f"- **Training**: {facts['steps']} steps of batch {cfg.get('batch')} random {cfg.get('crop')} px crops "
        f"(flips, 90° rotations; colour targets {cfg.get('colour_fraction', 0):.0%} of samples), Adam "
        f"{tuple(cfg.get('betas', ()))}, lr G {cfg.get('lr_g')} ({cfg.get('lr_schedule', 'constant')}), seed "
        f"{cfg.get('seed')}" + _gan_settings(cfg) + _start_and_extra_losses(cfg),
        f"- **Hardware and time**: {platform.machine()} CPU, {cfg.get('threads') or torch.get_num_threads()} "
        f"thread(s); {facts['minutes']:.0f} min wall time, {facts['images_per_s']:.1f} crops/s; "
        f"bf16 {'on' if cfg.get('bf16') else 'off'}",
        f"- **Checkpoint chosen at** step {model.metadata.get('step')} (best mean val PSNR on val centre crops "
        f"during training: {facts['best_epoch'].get(val_metric('psnr'), float('nan')):.2f} dB)",
        "",
        "## Measured quality (full images through the product pipeline; `training.evaluate`)",
        "",
        *metrics_table(summary, [name, *BASELINES]),
        *flood_lines(summary, [name, *BASELINES]),
        "",
        "Flat colour: the mean training colour everywhere; oracle flat: each image's own true mean colour. "
        f"SSIM: {(summary or {}).get('ssim', 'n/a')}. Pixel colour: {(summary or {}).get('pixel colour', 'n/a')}. "
        f"LPIPS: {(summary or {}).get('lpips', 'n/a')}.",
        "",
        f"Training log: `{log_path.name}`; validation samples: `{grid.relative_to(checkpoint.parent)}` "
        "(SAR | prediction | truth).",
    ]
    return "\n".join(lines) + "\n"


def publish(runs: list[Path], folder: Path, data_root: Path, splits: tuple[str, ...] = ("val",)) -> list[Path]:
    """Copy each run's best checkpoint and log into `folder`, evaluate them, write their cards; the checkpoints."""
    models = ModelsFolder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    checkpoints = []
    for run in runs:
        checkpoints.append(shutil.copyfile(RunFolder(run).best_checkpoint, models.checkpoint(run.name)))
        shutil.copyfile(RunFolder(run).train_log, models.training_log(run.name))
    evaluate(checkpoints, splits, data_root, models.eval.path, keep_earlier=True)
    for checkpoint in checkpoints:
        write_card(checkpoint.stem, folder)
    return checkpoints


def write_card(name: str, folder: Path) -> Path:
    """(Re)write `NAME.md` from the published checkpoint, log and the current evaluation summary."""
    models = ModelsFolder(folder)
    path = models.card(name)
    earlier = path.read_text() if path.exists() else ""
    card = model_card(name, models.checkpoint(name), models.training_log(name), read_summary(models.eval), earlier)
    samples, grid = models.samples(name), models.eval.grid(name, "val")
    samples.unlink(missing_ok=True)
    if grid.exists():
        samples.symlink_to(grid.relative_to(folder))
    path.write_text(card)
    return path


def set_default(name: str, folder: Path) -> Path:
    """Point `default.*` at a published model with relative symlinks (no second copy of its files)."""
    for suffix in ModelsFolder.PUBLISHED_SUFFIXES:
        link, target = folder / f"default{suffix}", folder / f"{name}{suffix}"
        link.unlink(missing_ok=True)
        if target.exists():
            link.symlink_to(target.name)
    return ModelsFolder(folder).checkpoint("default")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, action="append", default=[], help="runs/<name> (repeatable)")
    parser.add_argument("--split", nargs="+", default=["val"], choices=SPLITS, help="what --run models are scored on")
    parser.add_argument("--data-root", type=Path, default=shared_data_dir(), help="folder holding manifest.csv")
    parser.add_argument("--card", action="append", default=[], help="rewrite the card of a published model")
    parser.add_argument("--default", help="make this published model the default (choose it by val metrics)")
    parser.add_argument("--table", nargs="+", metavar="MODEL", help="print the comparison table of these models")
    args = parser.parse_args(argv)
    folder = models_dir()
    if args.run:
        print("\n".join(str(path) for path in publish(args.run, folder, args.data_root, tuple(args.split))))
    for name in args.card:
        print(write_card(name, folder))
    if args.default:
        print(set_default(args.default, folder))
    if args.table:
        print("\n".join(comparison_table(read_summary(ModelsFolder(folder).eval) or {}, args.table)))


if __name__ == "__main__":
    main()
