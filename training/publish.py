"""Publish trained runs into models/: checkpoint, training log, model card, comparison table.

`python -m training.publish --run runs/unet_mse --name unet_mse [--default]` copies the
run's best checkpoint and log and writes `models/NAME.md` from the checkpoint's
metadata, the log and `models/eval/summary.json` (measured numbers only).
`--comparison` rewrites the variant table in `models/README.md`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
from pathlib import Path

import torch

from core.checkpoints import load_checkpoint
from core.settings import models_dir

EVAL_KEYS = ("test/sen12-test", "val/sen12-accioy", "val/volkov")
BASELINES = ("baseline_sar_grey", "baseline_mean_colour")


def _eval_row(summary: dict, model: str) -> str:
    cells = []
    for key in EVAL_KEYS:
        stats = summary["models"].get(model, {}).get(key)
        cells.append(f"{stats['psnr_mean']:.2f} / {stats['ssim_mean']:.3f}" if stats else "n/a")
    return " | ".join(cells)


def _training_facts(log_path: Path) -> dict:
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    steps = [line for line in lines if line["kind"] == "step"]
    epochs = [line for line in lines if line["kind"] == "epoch"]
    return {
        "config": next(line for line in lines if line["kind"] == "config"),
        "steps": steps[-1]["step"] if steps else 0,
        "minutes": (epochs[-1]["time_s"] if epochs else 0) / 60,
        "best_epoch": max(epochs, key=lambda e: e["val_psnr"]) if epochs else None,
    }


def _gan_settings(cfg: dict) -> str:
    """The adversarial settings, for the variants that have a discriminator."""
    if cfg["variant"] not in ("pix2pix", "cgan_lab_grad"):
        return "; no discriminator"
    return (
        f"; PatchGAN ndf {cfg['ndf']}, lr D {cfg['lr_d']}, λ L1 {cfg['lambda_l1']}, λ L-gradient "
        f"{cfg['lambda_grad']}, labels real {cfg['real_label']} / fake {cfg['fake_label']}"
    )


def model_card(name: str, checkpoint: Path, log_path: Path, summary: dict | None) -> str:
    """Markdown model card with data, split, settings, hardware, time and measured metrics."""
    model = load_checkpoint(checkpoint)
    facts = _training_facts(log_path)
    cfg = facts["config"]
    params = sum(p.numel() for p in model.generator.parameters())
    best = facts["best_epoch"] or {}
    variant = model.metadata.get("variant")
    lines = [
        f"# Model card: `{name}`",
        "",
        f"- **Variant**: `{variant}` (config `training/configs/{variant}.toml`)",
        f"- **Generator**: U-Net, ngf {model.config.ngf}, depth {model.config.depth}, {model.config.norm} norm, "
        f"{model.config.upsample} upsampling, output {model.config.output_space}; {params / 1e6:.2f} M parameters, "
        f"weights stored as fp16 ({checkpoint.stat().st_size / 1e6:.1f} MB)",
        "- **Input**: one SAR band, any encoding, converted to dB and stretched by the scene's 2nd-98th percentile "
        "to [-1, 1] (`core.normalise`); output RGB.",
        "- **Data**: `../shared/data/manifest.csv` train split (volkov 88, sen12-gray 1958 grey-only, "
        "sebastianelli-zone9 23, tharun-scenes 3); model selection on the val split (volkov 12, sen12-accioy 15); "
        "sen12-test (84) used only for the final report below.",
        f"- **Optical brightness gains** (matched to SEN1-2 mean luminance, measured on train): {cfg.get('gains')}",
        f"- **Training**: {facts['steps']} steps of batch {cfg['batch']} random {cfg['crop']} px crops "
        f"(flips, 90° rotations; colour targets drawn {cfg['colour_fraction']:.0%} of the time), Adam "
        f"{tuple(cfg['betas'])}, lr G {cfg['lr_g']}, seed {cfg['seed']}" + _gan_settings(cfg),
        f"- **Hardware and time**: {platform.machine()} CPU, {cfg['threads'] or torch.get_num_threads()} thread(s), "
        f"shared with other jobs; {facts['minutes']:.0f} min wall time; bf16 {'on' if cfg.get('bf16') else 'off'}",
        f"- **Checkpoint chosen at** step {model.metadata.get('step')} (best mean val PSNR "
        f"{best.get('val_psnr', float('nan')):.2f} dB on centre crops during training)",
        "",
        "## Measured quality (PSNR dB / SSIM, full images through the product pipeline)",
        "",
        "| model | sen12-test | val sen12-accioy | val volkov |",
        "|---|---|---|---|",
    ]
    if summary:
        for row in (name, *BASELINES):
            lines.append(f"| {row} | {_eval_row(summary, row)} |")
        lines += ["", f"SSIM: {summary['ssim']}. LPIPS: {summary['lpips']}."]
    else:
        lines.append("| (not evaluated yet) | | | |")
    lines += ["", f"Training log: `{log_path.name}` (JSON lines; shown on the dashboard's Training page)."]
    return "\n".join(lines) + "\n"


def publish(run: Path, name: str, folder: Path) -> Path:
    """Copy a run's best checkpoint and log into models/ and write its card."""
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / f"{name}.pt"
    shutil.copyfile(run / "best.pt", checkpoint)
    shutil.copyfile(run / "train.jsonl", folder / f"{name}.train.jsonl")
    samples = sorted((run / "samples").glob("epoch_*.png"))
    if samples:
        shutil.copyfile(samples[-1], folder / f"{name}.samples.png")
    summary_path = folder / "eval" / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    card = model_card(name, checkpoint, folder / f"{name}.train.jsonl", summary)
    (folder / f"{name}.md").write_text(card)
    return checkpoint


def set_default(name: str, folder: Path) -> Path:
    """Point `default.*` at a published model with relative symlinks (no second copy of its files)."""
    for suffix in (".pt", ".train.jsonl", ".samples.png", ".md"):
        link, target = folder / f"default{suffix}", folder / f"{name}{suffix}"
        if target.exists():
            link.unlink(missing_ok=True)
            link.symlink_to(target.name)
    return folder / "default.pt"


def comparison_table(summary: dict, variants: list[str]) -> str:
    """Markdown table: PSNR/SSIM per variant and baseline on sen12-test and both val sets."""
    header = ["| model | sen12-test | val sen12-accioy | val volkov |", "|---|---|---|---|"]
    return "\n".join(header + [f"| {m} | {_eval_row(summary, m)} |" for m in (*variants, *BASELINES)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, action="append", default=[], help="runs/<name> (repeatable)")
    parser.add_argument("--comparison", action="store_true", help="print the variant comparison table")
    parser.add_argument("--default", help="make this published model the default (choose it by val metrics)")
    args = parser.parse_args(argv)
    for run in args.run:
        print(publish(run, run.name, models_dir()))
    if args.default:
        print(set_default(args.default, models_dir()))
    if args.comparison:
        summary = json.loads((models_dir() / "eval" / "summary.json").read_text())
        print(comparison_table(summary, [r.name for r in args.run]))


if __name__ == "__main__":
    main()
