"""Train a colorization generator: `python -m training.train --config training/configs/pix2pix.toml`.

Runs on one CPU, one GPU, or several processes under `torchrun` (DDP; gloo on CPU).
Writes to runs/<name>/: train.jsonl (every logged step and every epoch), last.pt
(full training state, for --resume), best.pt (generator checkpoint with the best
mean val PSNR, loadable by core.checkpoints) and samples/epoch_NNN.png.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from core.checkpoints import load_checkpoint, save_checkpoint
from core.inference import bf16_is_fast
from core.networks import build_generator
from core.normalise import InputSpace
from training.config import TrainConfig, load_config
from training.data import (
    PairDataset,
    bigearthnet_records,
    mean_training_colour,
    measure_footing,
    read_manifest,
    sampling_weights,
)
from training.discriminator import PatchDiscriminator
from training.steps import Trainer, _unwrap
from training.validate import save_sample_grid, validate


def _setup_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    use_cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if use_cuda else "cpu")
    return rank, world, device


def _batch(dataset: PairDataset, weights: torch.Tensor, size: int, rng: torch.Generator, device: torch.device):
    indices = torch.multinomial(weights, size, replacement=True, generator=rng).tolist()
    items = [dataset[i] for i in indices]
    sar = torch.stack([s for s, _, _ in items]).to(device).contiguous(memory_format=torch.channels_last)
    real = torch.stack([o for _, o, _ in items]).to(device)
    has_colour = torch.tensor([c for _, _, c in items], device=device)
    return sar, real, has_colour


class JsonLog:
    """Append-only JSON-lines log (rank 0 only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict) -> None:
        if self.enabled:
            with open(self.path, "a") as handle:
                handle.write(json.dumps(record) + "\n")


def train(config: TrainConfig, resume: bool = False, max_minutes: float | None = None) -> Path:
    """Train; returns the path of the best generator checkpoint."""
    rank, world, device = _setup_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + rank)
    run_dir = config.run_dir
    if rank == 0:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_is_fast(device))

    records = [r for r in read_manifest(config.data_root) if r.source not in config.drop_sources]
    space = InputSpace(config.generator.input_space)
    train_set = PairDataset([r for r in records if r.split == "train"], {}, config.crop, space=space)
    samples = train_set.footing_samples()  # no second read of the train images
    footing = measure_footing(samples)
    train_set.footing = footing
    flat_colour = [round(float(v), 4) for v in mean_training_colour(samples, footing)]
    train_set.rng = np.random.default_rng(config.seed + rank)
    val_records = [r for r in records if r.split == "val"] + bigearthnet_records()
    val_sets = {
        source: PairDataset([r for r in val_records if r.source == source], footing, config.crop, False, space)
        for source in sorted({r.source for r in val_records})
    }
    run_facts = {"target_footing": {source: f.as_dict() for source, f in footing.items()}, "flat_colour": flat_colour}
    weights = sampling_weights(train_set, config.colour_fraction)

    generator = build_generator(config.generator).to(device).to(memory_format=torch.channels_last)
    discriminator = PatchDiscriminator(ndf=config.ndf).to(device) if config.uses_discriminator else None
    if world > 1:
        generator = DistributedDataParallel(generator)
        discriminator = DistributedDataParallel(discriminator) if discriminator else None
    trainer = Trainer(config, generator, discriminator, device, use_bf16)

    step, best_psnr, elapsed = 0, -float("inf"), 0.0
    log = JsonLog(run_dir / "train.jsonl", rank == 0)
    resumed = resume and (run_dir / "last.pt").exists()
    if resumed:
        state = torch.load(run_dir / "last.pt", map_location=device, weights_only=False)
        trainer.load_state_dict(state["trainer"])
        step, best_psnr, elapsed = state["step"], state["best_psnr"], state.get("elapsed_s", 0.0)
        torch.set_rng_state(state["rng"])
    elif config.init_from:
        _unwrap(generator).load_state_dict(load_checkpoint(config.init_from).generator.state_dict())
    if not resumed and rank == 0:
        log.path.unlink(missing_ok=True)
        log.write(
            {"kind": "config", **config.as_dict(), **run_facts}
            | {"world_size": world, "bf16": use_bf16}
        )

    rng = torch.Generator().manual_seed(config.seed * 1000 + rank + step)
    started, window_start, window_images = time.perf_counter() - elapsed, time.perf_counter(), 0
    deadline = started + max_minutes * 60 if max_minutes else None
    generator.train()
    while step < config.steps:
        budget_used = step / config.steps
        if deadline is not None:
            budget_used = max(budget_used, (time.perf_counter() - started) / (max_minutes * 60))
        lr_g, lr_d = config.learning_rates(budget_used)
        trainer.set_learning_rates(lr_g, lr_d)
        losses = trainer.step(*_batch(train_set, weights, config.batch, rng, device))
        step += 1
        window_images += config.batch * world
        if step % config.log_every == 0:
            now = time.perf_counter()
            log.write(
                {
                    "kind": "step",
                    "step": step,
                    "epoch": step / config.steps_per_epoch,
                    "time_s": now - started,
                    **losses,
                    "lr_g": lr_g,
                    "lr_d": lr_d if discriminator else None,
                    "images_per_s": window_images / (now - window_start),
                }
            )
            window_start, window_images = now, 0
        out_of_time = deadline is not None and time.perf_counter() > deadline
        if step % config.steps_per_epoch == 0 or step == config.steps or out_of_time:
            best_psnr = _end_epoch(
                config, trainer, val_sets, log, step, started, best_psnr, run_facts, rank, device
            )
            generator.train()
        if out_of_time:
            break
    if world > 1:
        dist.destroy_process_group()
    return run_dir / "best.pt"


def _end_epoch(config, trainer, val_sets, log, step, started, best_psnr, run_facts, rank, device) -> float:
    """Validate, log, save samples and checkpoints (rank 0); returns the best val PSNR so far."""
    if rank != 0:
        return best_psnr
    generator = _unwrap(trainer.generator)
    scores = {source: validate(generator, dataset, device) for source, dataset in val_sets.items()}
    mean_psnr = float(np.mean([s["psnr"] for s in scores.values()]))
    mean_ssim = float(np.mean([s["ssim"] for s in scores.values()]))
    epoch = step // config.steps_per_epoch
    record = {
        "kind": "epoch",
        "epoch": epoch,
        "step": step,
        "time_s": time.perf_counter() - started,
        "val_psnr": mean_psnr,
        "val_ssim": mean_ssim,
    }
    for source, s in scores.items():
        record[f"val_psnr_{source}"], record[f"val_ssim_{source}"] = s["psnr"], s["ssim"]
    log.write(record)
    save_sample_grid(
        generator, next(iter(val_sets.values())), config.run_dir / "samples" / f"epoch_{epoch:03d}.png", device
    )
    metadata = {
        "variant": config.variant,
        "train_config": config.as_dict(),
        **run_facts,
        "step": step,
        "val": record,
        "trained": True,
    }
    torch.save(
        {
            "trainer": trainer.state_dict(),
            "step": step,
            "best_psnr": max(best_psnr, mean_psnr),
            "rng": torch.get_rng_state(),
            "elapsed_s": time.perf_counter() - started,
        },
        config.run_dir / "last.pt",
    )
    if mean_psnr > best_psnr:
        save_checkpoint(config.run_dir / "best.pt", generator.cpu(), metadata)
        generator.to(device)
        return mean_psnr
    return best_psnr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--name", help="run name (default from the config)")
    parser.add_argument("--data-root", type=Path, help="folder holding manifest.csv (default ../shared/data)")
    parser.add_argument("--output-dir", type=Path, help="where runs/<name>/ goes")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--steps-per-epoch", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--lr-g", type=float)
    parser.add_argument("--lr-d", type=float)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--max-minutes", type=float, help="stop (and save) after this wall time")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="any config field, e.g. generator.ngf=32"
    )
    args = parser.parse_args(argv)
    config = load_config(
        args.config,
        args.set,
        name=args.name,
        data_root=args.data_root,
        output_dir=args.output_dir,
        steps=args.steps,
        steps_per_epoch=args.steps_per_epoch,
        batch=args.batch,
        threads=args.threads,
        lr_g=args.lr_g,
        lr_d=args.lr_d,
    )
    print(train(config, resume=args.resume, max_minutes=args.max_minutes))


if __name__ == "__main__":
    main()
