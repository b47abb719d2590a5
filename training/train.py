"""Train a colorization generator: `python -m training.train --config training/configs/pix2pix.toml`.

Runs on one CPU, one GPU, or several processes under `torchrun` (DDP; gloo on CPU).
Writes to runs/<name>/ (`core.records.artefacts.RunFolder`): train.jsonl (every logged step and every
epoch), last.pt (full training state, for --resume), best.pt (generator checkpoint with the best
mean val PSNR, loadable by core.model.checkpoints) and samples/epoch_NNN.png.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.model.checkpoints import load_checkpoint, save_checkpoint
from core.model.inference import use_bf16
from core.model.networks import build_generator
from core.rasters.normalise import InputSpace
from core.records.artefacts import (
    DATA_USED,
    FOOTING_STATISTICS,
    JsonLinesLog,
    RunFolder,
    config_record,
    data_used,
    epoch_record,
    run_facts,
    step_record,
    val_metric,
)
from training.colour_prior import ColourPrior
from training.config import TrainConfig, load_config
from training.data import (
    REFERENCE_SOURCE,
    LevelJitter,
    PairDataset,
    TargetFooting,
    bigearthnet_records,
    footing_samples,
    mean_training_colour,
    measure_footing,
    read_manifest,
    sampling_weights,
    with_pseudo_colour,
)
from training.discriminator import PatchDiscriminator
from training.eurosat import EUROSAT_DIR
from training.footing import EUROSAT_SOURCE, eurosat_pixels, footing_statistics
from training.steps import Trainer, unwrap
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


@dataclass
class TrainingData:
    """What the loop draws batches from and validates on, and the facts measured on the train split."""

    train_set: PairDataset
    weights: torch.Tensor  # sampling weight of each train image
    val_sets: dict[str, PairDataset]  # per source
    facts: dict  # core.records.artefacts.run_facts: in the config record and the checkpoint's metadata
    footing: dict[str, TargetFooting]  # per source, EuroSAT included


def load_data(config: TrainConfig, rank: int) -> TrainingData:
    """Train and val sets from the manifest, on the target footing measured on the train split."""
    records = [r for r in read_manifest(config.data_root) if r.source not in config.drop_sources]
    space = InputSpace(config.generator.input_space)
    train_records = [r for r in records if r.split == "train"]
    if config.pseudo_colour:
        train_records = with_pseudo_colour(train_records, Path(config.pseudo_colour))
    jitter = LevelJitter(config.level_jitter_db, config.contrast_jitter)
    train_set = PairDataset(train_records, {}, config.crop, space=space, jitter=jitter)
    samples = train_set.footing_samples()  # no second read of the train images
    if config.pseudo_colour:  # the reference brightness is the grey truth's, not its pseudo-colour's
        samples[REFERENCE_SOURCE] = footing_samples([r for r in records if r.source == REFERENCE_SOURCE])[
            REFERENCE_SOURCE
        ]
    colour_samples = dict(samples)
    if (config.data_root / EUROSAT_DIR).is_dir() or config.colour_prior_weight:  # the colour prior's patches
        samples[EUROSAT_SOURCE] = [eurosat_pixels(config.data_root)]
    footing = measure_footing(samples)
    train_set.footing = footing
    train_set.rng = np.random.default_rng(config.seed + rank)
    val_records = [r for r in records if r.split == "val"] + bigearthnet_records()
    val_sets = {
        source: PairDataset([r for r in val_records if r.source == source], footing, config.crop, False, space)
        for source in sorted({r.source for r in val_records})
    }
    flat_colour = mean_training_colour(colour_samples, footing)
    facts = run_facts({source: f.as_dict() for source, f in footing.items()}, flat_colour)
    facts[FOOTING_STATISTICS] = footing_statistics(samples, footing)
    facts[DATA_USED] = data_used(train_records, val_records)
    return TrainingData(train_set, sampling_weights(train_set, config.colour_fraction), val_sets, facts, footing)


def build_trainer(config: TrainConfig, data: TrainingData, world: int, device: torch.device) -> Trainer:
    """G (D for adversarial variants, the colour critic if asked) on the device, DDP-wrapped under torchrun."""
    bf16 = use_bf16(config.precision, device)
    generator = build_generator(config.generator).to(device).to(memory_format=torch.channels_last)
    discriminator = PatchDiscriminator(ndf=config.ndf).to(device) if config.variant_spec.adversarial else None
    if world > 1:
        generator = DistributedDataParallel(generator)
        discriminator = DistributedDataParallel(discriminator) if discriminator else None
    prior = None
    if config.colour_prior_weight:
        prior = ColourPrior(config.data_root, data.footing[EUROSAT_SOURCE], config.lr_d, config.betas)
        prior.critic.to(device)
    return Trainer(config, generator, discriminator, device, bf16, prior)


def _batch(data: TrainingData, size: int, rng: torch.Generator, device: torch.device) -> tuple[torch.Tensor, ...]:
    """(SAR, target, has_colour, flooded) of `size` train images drawn by their sampling weights."""
    indices = torch.multinomial(data.weights, size, replacement=True, generator=rng).tolist()
    items = [data.train_set[i] for i in indices]
    sar = torch.stack([item.sar for item in items]).to(device).contiguous(memory_format=torch.channels_last)
    real = torch.stack([item.target for item in items]).to(device)
    has_colour = torch.tensor([item.has_colour for item in items], device=device)
    flooded = torch.stack([item.flooded for item in items]).to(device)
    return sar, real, has_colour, flooded


@dataclass
class RunState:
    """Where a run stands; last.pt keeps it, with the trainer and the torch RNG, for --resume."""

    step: int = 0
    best_psnr: float = -math.inf  # best mean val PSNR so far (dB)
    elapsed_s: float = 0.0  # wall time of the run up to the last save

    def save(self, path: Path, trainer: Trainer) -> None:
        """Write last.pt."""
        state = {"trainer": trainer.state_dict(), "step": self.step, "best_psnr": self.best_psnr}
        torch.save(state | {"rng": torch.get_rng_state(), "elapsed_s": self.elapsed_s}, path)

    @classmethod
    def load(cls, path: Path, trainer: Trainer) -> RunState:
        """Read last.pt into the trainer and the torch RNG; returns the saved state."""
        state = torch.load(path, map_location=trainer.device, weights_only=False)
        trainer.load_state_dict(state["trainer"])
        torch.set_rng_state(state["rng"])
        return cls(state["step"], state["best_psnr"], state.get("elapsed_s", 0.0))


@dataclass
class Clock:
    """Wall time of the run (counting the time before a resume) against the optional --max-minutes."""

    elapsed_before: float = 0.0
    max_minutes: float | None = None
    started: float = field(default_factory=time.perf_counter)
    window_start: float = field(default_factory=time.perf_counter)  # throughput window
    window_images: int = 0

    def elapsed(self) -> float:
        """Seconds of the run so far."""
        return self.elapsed_before + time.perf_counter() - self.started

    def budget_used(self, steps_used: float) -> float:
        """Share (0..1) of the budget spent: the steps', or the wall time's when that runs out first."""
        return max(steps_used, self.elapsed() / (self.max_minutes * 60)) if self.max_minutes else steps_used

    def out_of_time(self) -> bool:
        """Whether --max-minutes is up."""
        return bool(self.max_minutes) and self.elapsed() > self.max_minutes * 60

    def images_per_s(self) -> float:
        """Throughput since the last call (counted by `window_images`), and a new window."""
        now = time.perf_counter()
        rate = self.window_images / (now - self.window_start)
        self.window_start, self.window_images = now, 0
        return rate


def train(config: TrainConfig, resume: bool = False, max_minutes: float | None = None) -> Path:
    """Train; returns the path of the best generator checkpoint."""
    rank, world, device = _setup_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + rank)
    run = RunFolder(config.run_dir)
    if rank == 0:
        run.samples_dir.mkdir(parents=True, exist_ok=True)
    data = load_data(config, rank)
    trainer = build_trainer(config, data, world, device)
    log = JsonLinesLog(run.train_log, enabled=rank == 0)
    if resume and run.last_state.exists():
        state = RunState.load(run.last_state, trainer)
    else:
        state = RunState()
        facts = data.facts
        if config.init_from:
            facts = facts | {"init_fresh_layers": init_generator(unwrap(trainer.generator), config.init_from)}
        log.restart()
        log.write(config_record(config.as_dict(), facts, world, trainer.use_bf16))

    clock = Clock(state.elapsed_s, max_minutes)
    rng = torch.Generator().manual_seed(config.seed * 1000 + rank + state.step)
    trainer.generator.train()
    while state.step < config.steps:
        lr_g, lr_d = config.learning_rates(clock.budget_used(state.step / config.steps))
        trainer.set_learning_rates(lr_g, lr_d)
        losses = trainer.step(*_batch(data, config.batch, rng, device))
        state.step += 1
        clock.window_images += config.batch * world
        if state.step % config.log_every == 0:
            lr_d_applied = lr_d if trainer.discriminator else None
            epoch = state.step / config.steps_per_epoch
            log.write(step_record(state.step, epoch, clock.elapsed(), losses, lr_g, lr_d_applied, clock.images_per_s()))
        out_of_time = clock.out_of_time()
        if state.step % config.steps_per_epoch == 0 or state.step == config.steps or out_of_time:
            if rank == 0:
                end_epoch(config, trainer, data, log, state, clock.elapsed())
            trainer.generator.train()
        if out_of_time:
            break
    if world > 1:
        dist.destroy_process_group()
    return run.best_checkpoint


def init_generator(generator: nn.Module, checkpoint: str | Path) -> list[str]:
    """Start from a trained generator's weights wherever the shapes agree; returns the layers left fresh.

    The same architecture loads whole. A layer with fewer outputs keeps the first ones (a bins model's
    L-only output layer keeps a LAB model's L); a new head (the a*b* bins) starts fresh.
    """
    own = generator.state_dict()
    trained = load_checkpoint(checkpoint).generator.state_dict()
    matching = {k: _leading(v, own[k].shape) for k, v in trained.items() if k in own}
    matching = {k: v for k, v in matching.items() if v is not None}
    generator.load_state_dict(matching, strict=False)
    return sorted(k for k in own if k not in matching)


def _leading(weights: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """`weights` itself, or its first outputs when only the output count (dim 0) is smaller; else None."""
    if weights.shape == shape:
        return weights
    if weights.dim() and weights.shape[1:] == shape[1:] and weights.shape[0] > shape[0]:
        return weights[: shape[0]]
    return None


def end_epoch(
    config: TrainConfig, trainer: Trainer, data: TrainingData, log: JsonLinesLog, state: RunState, elapsed_s: float
) -> None:
    """Validate, log, save the sample grid, last.pt and, when the mean val PSNR is the best yet, best.pt."""
    run, generator, device = RunFolder(config.run_dir), unwrap(trainer.generator), trainer.device
    scores = {source: validate(generator, dataset, device) for source, dataset in data.val_sets.items()}
    epoch = state.step // config.steps_per_epoch
    record = epoch_record(epoch, state.step, elapsed_s, scores)
    log.write(record)
    save_sample_grid(generator, next(iter(data.val_sets.values())), run.sample_grid(epoch), device)
    mean_psnr = record[val_metric("psnr")]
    improved = mean_psnr > state.best_psnr
    state.best_psnr, state.elapsed_s = max(state.best_psnr, mean_psnr), elapsed_s
    state.save(run.last_state, trainer)
    if improved:
        metadata = {"variant": config.variant, "train_config": config.as_dict(), **data.facts}
        metadata |= {"step": state.step, "val": record, "trained": True}
        save_checkpoint(run.best_checkpoint, generator.cpu(), metadata)
        generator.to(device)


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
