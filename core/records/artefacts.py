"""A training run's artefacts, defined once: file names, log records, metric names, the JSON-lines log.

Written by `training/` (train, evaluate, publish), read by `core.records.reports`, the dashboard and the tests.

- `runs/<name>/` (`RunFolder`): `train.jsonl` (the log), `last.pt` (full training state, for --resume),
  `best.pt` (generator checkpoint with the best mean val PSNR) and `samples/epoch_NNN.png`.
- `models/` (`ModelsFolder`): per published model `NAME.pt`, `NAME.train.jsonl`, `NAME.md` (model card) and
  `NAME.samples.png` (a link to its val grid); `eval/` (`EvalFolder`): `summary.json`, `per_image.csv`,
  sample grids `<model>_<split>.png` and contact sheets `sheets/<model>_<split>_<source>.png` (every image of
  a val set), all SAR | prediction | truth, written by `training.evaluate`.
- The log: one JSON object per line, `kind` one of `RecordKind`. The config record holds the `TrainConfig`
  fields and run facts; step records `step`, `epoch`, `time_s`, loss components (`g_*` for the generator,
  `d_*` for the discriminator), `lr_g`, `lr_d`, `images_per_s`; epoch records `epoch`, `step`, `time_s`,
  the mean over validation sets of each of `VAL_METRICS` (`val_psnr`) and each set's (`val_psnr_<set>`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

KIND = "kind"
GENERATOR_LOSS_PREFIX, DISCRIMINATOR_LOSS_PREFIX, VAL_PREFIX = "g_", "d_", "val_"
VAL_METRICS = ("psnr", "ssim")  # scored on each validation set's centre crops at the end of each epoch


class RecordKind(StrEnum):
    """What one line of a training log is."""

    CONFIG = "config"
    STEP = "step"
    EPOCH = "epoch"


def generator_loss(name: str) -> str:
    """Log key of a generator loss component: 'l1' -> 'g_l1'."""
    return f"{GENERATOR_LOSS_PREFIX}{name}"


def discriminator_loss(name: str) -> str:
    """Log key of a discriminator loss component: 'real' -> 'd_real'."""
    return f"{DISCRIMINATOR_LOSS_PREFIX}{name}"


def val_metric(metric: str, source: str | None = None) -> str:
    """Log key of a validation metric: the mean over sets ('val_psnr') or one set's ('val_psnr_volkov')."""
    return f"{VAL_PREFIX}{metric}" + (f"_{source}" if source else "")


FLAT_COLOUR, TARGET_FOOTING = "flat_colour", "target_footing"  # run facts, in the config record and checkpoints
FOOTING_STATISTICS = "footing_statistics"  # per source: colour statistics before and after the footing
DATA_USED = "data_used"  # pairs per source a run trained and selected on (`data_used`)


def run_facts(target_footing: Mapping[str, Mapping], flat_colour: list[float]) -> dict:
    """What a run measured on its data: each source's target footing and the mean training colour (RGB 0-1)."""
    return {TARGET_FOOTING: dict(target_footing), FLAT_COLOUR: [round(float(v), 4) for v in flat_colour]}


def data_used(train: Iterable, val: Iterable) -> dict[str, dict[str, int]]:
    """Pairs per source that a run trained on and selected on (records with `source` and `has_colour`); grey-only
    train sources are named `<source> grey-only`. Recorded at training time: the manifest may change later."""
    train_counts = Counter(r.source if r.has_colour else f"{r.source} grey-only" for r in train)
    return {"train": dict(sorted(train_counts.items())), "val": dict(sorted(Counter(r.source for r in val).items()))}


def config_record(config: Mapping, facts: Mapping, world_size: int, bf16: bool) -> dict:
    """The first record of a run: its settings, measured facts (footing, flat colour) and hardware."""
    return {KIND: RecordKind.CONFIG.value, **config, **facts, "world_size": world_size, "bf16": bf16}


def step_record(
    step: int,
    epoch: float,
    time_s: float,
    losses: Mapping[str, float],
    lr_g: float,
    lr_d: float | None,
    images_per_s: float,
) -> dict:
    """One optimiser step: losses, applied learning rates (`lr_d` None without a discriminator), throughput."""
    return {
        KIND: RecordKind.STEP.value,
        "step": step,
        "epoch": epoch,
        "time_s": time_s,
        **losses,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "images_per_s": images_per_s,
    }


def epoch_record(epoch: int, step: int, time_s: float, scores: Mapping[str, Mapping[str, float]]) -> dict:
    """End of an epoch: per validation set (`scores[set][metric]`) and their mean, for each of `VAL_METRICS`."""
    record = {KIND: RecordKind.EPOCH.value, "epoch": epoch, "step": step, "time_s": time_s}
    record |= {val_metric(m): float(np.mean([s[m] for s in scores.values()])) for m in VAL_METRICS}
    for source, by_metric in scores.items():
        record |= {val_metric(m, source): by_metric[m] for m in VAL_METRICS}
    return record


def records_of(records: list[dict], kind: RecordKind) -> list[dict]:
    """The records of one kind, in log order."""
    return [record for record in records if record.get(KIND) == kind]


class JsonLinesLog:
    """Append-only JSON-lines file; a disabled one (DDP ranks other than 0) writes nothing."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path, self.enabled = Path(path), enabled

    def restart(self) -> None:
        """Drop what an earlier run wrote to this path."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def write(self, record: Mapping) -> None:
        """Append one record as one line."""
        if self.enabled:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")


def read_records(path: Path) -> list[dict]:
    """Records of a JSON-lines log; unreadable lines (e.g. one being written) are skipped, no file gives []."""
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


@dataclass
class RunFolder:
    """`runs/<name>/`: what one training run writes."""

    path: Path
    train_log: Path = field(init=False)
    last_state: Path = field(init=False)  # full training state, for --resume
    best_checkpoint: Path = field(init=False)  # generator checkpoint with the best mean val PSNR
    samples_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.train_log, self.last_state = self.path / "train.jsonl", self.path / "last.pt"
        self.best_checkpoint, self.samples_dir = self.path / "best.pt", self.path / "samples"

    def sample_grid(self, epoch: int) -> Path:
        """The validation sample grid saved at the end of an epoch."""
        return self.samples_dir / f"epoch_{epoch:03d}.png"


GRID_COLUMNS = {  # pictures whose columns are not the usual SAR | prediction | truth (training/studies/evaluate_guided)
    "guided.png": "SAR | reference of another date | guided | default | truth",
    "guided_planted.png": "SAR | reference (forest where the lake is planted) | guided | default",
}


@dataclass
class EvalFolder:
    """`models/eval/`: what `training.evaluate` writes."""

    path: Path
    summary: Path = field(init=False)
    per_image: Path = field(init=False)
    green_ceiling: Path = field(init=False)  # what the SAR itself can tell of green (`training.studies.green_ceiling`)
    ombria_ceiling: Path = field(init=False)  # what VV can tell on OMBRIA val (`training.studies.ombria_ceiling`)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.summary, self.per_image = self.path / "summary.json", self.path / "per_image.csv"
        self.green_ceiling = self.path / "green_ceiling.json"
        self.ombria_ceiling = self.path / "ombria_ceiling.json"

    def grid(self, model: str, split: str) -> Path:
        """Sample grid (SAR | prediction | truth) of a model on a split."""
        return self.path / f"{model}_{split}.png"

    def grid_columns(self, grid: Path) -> str:
        """What the columns of a sample grid or contact sheet show, left to right."""
        return GRID_COLUMNS.get(grid.name, "SAR | prediction | truth")

    def grids(self) -> list[Path]:
        """Every PNG sample grid in the folder."""
        return sorted(self.path.glob("*.png")) if self.path.is_dir() else []

    def contact_sheet(self, model: str, split: str, source: str) -> Path:
        """Every image of one set (SAR | prediction | truth, 128 px per cell) as a model painted it."""
        return self.path / "sheets" / f"{model}_{split}_{source}.png"

    def contact_sheets(self) -> list[Path]:
        """Every contact sheet in the folder."""
        return sorted((self.path / "sheets").glob("*.png"))


@dataclass(frozen=True)
class ModelsFolder:
    """`models/`: published models, each a checkpoint with its training log, card and samples link."""

    path: Path
    TRAINING_LOG_SUFFIX = ".train.jsonl"
    PUBLISHED_SUFFIXES = (".pt", TRAINING_LOG_SUFFIX, ".samples.png", ".md")  # what `default.*` links to

    def checkpoint(self, name: str) -> Path:
        return self.path / f"{name}.pt"

    def training_log(self, name: str) -> Path:
        return self.path / f"{name}{self.TRAINING_LOG_SUFFIX}"

    def card(self, name: str) -> Path:
        return self.path / f"{name}.md"

    def samples(self, name: str) -> Path:
        return self.path / f"{name}.samples.png"

    @property
    def eval(self) -> EvalFolder:
        return EvalFolder(self.path / "eval")

    def names(self) -> list[str]:
        """Names with a checkpoint or a training log (a run in progress has only a log), default first."""
        if not self.path.is_dir():
            return []
        logs = self.path.glob(f"*{self.TRAINING_LOG_SUFFIX}")
        names = {p.stem for p in self.path.glob("*.pt")} | {p.name.removesuffix(self.TRAINING_LOG_SUFFIX) for p in logs}
        return sorted(names, key=lambda n: (n != "default", n))
