"""Training configuration: a plain dataclass read from a small TOML file."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.model.networks import GeneratorConfig
from core.settings import runs_dir, shared_data_dir
from training.variants import Variant, get_variant


@dataclass
class TrainConfig:
    """Everything one training run needs; the variant selects the losses."""

    name: str = "pix2pix"
    variant: str = "pix2pix"  # a name in training.variants.VARIANTS
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    ndf: int = 32  # PatchGAN width (64 in pix2pix; 32 keeps the 70 px field at 1/4 the cost)
    data_root: Path = field(default_factory=shared_data_dir)
    crop: int = 256
    batch: int = 8
    steps: int = 2000  # total optimiser steps (the budget shared by variants)
    steps_per_epoch: int = 250
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_schedule: str = "constant"  # constant | cosine (over the step budget or --max-minutes, whichever ends first)
    lambda_l1: float = 100.0
    lambda_grad: float = 0.0  # CIELAB L-channel gradient loss weight
    real_label: float = 1.0  # label smoothing: real target for D
    fake_label: float = 0.0  # label smoothing: fake target for D
    colour_fraction: float = 0.6  # share of samples drawn from RGB (not grey) targets
    drop_sources: tuple[str, ...] = ()  # train sources left out (e.g. ones whose colours contradict SEN1-2's)
    chroma_weight: float = 1.0  # lab_ab: weight of the a/b error against L's (tanh units: L/50, a/b/110)
    chroma_spread_weight: float = 0.0  # lab_ab: weight of the per-image a/b spread term (losses.chroma_spread_loss)
    flood_weight: float = 0.0  # lab_ab: weight of the L error on OMBRIA's flooded pixels (losses.flood_lightness_loss)
    init_from: str = ""  # generator checkpoint to start from (fine-tuning); ignored on --resume
    pseudo_colour: str = ""  # folder of training.pseudo_colour: grey SEN1-2 targets given EuroSAT-learned colour
    level_jitter_db: float = 0.0  # train crops' SAR level moved by up to +- this (training.data.LevelJitter)
    contrast_jitter: float = 0.0  # and their contrast by a factor within exp(+- this)
    colour_prior_weight: float = 0.0  # lab_ab: weight of the EuroSAT colour critic's adversarial term
    seed: int = 0
    threads: int = 0  # torch threads; 0 = torch default
    precision: str = "auto"  # auto | bf16 | fp32
    log_every: int = 1  # every step goes to the JSON-lines log
    output_dir: Path = field(default_factory=runs_dir)

    def __post_init__(self) -> None:
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose constant or cosine")
        if isinstance(self.generator, dict):
            self.generator = GeneratorConfig(**self.generator)
        if self.generator.output_space != self.variant_spec.output_space:
            raise ValueError(
                f"variant {self.variant!r} trains a generator with output_space {self.variant_spec.output_space!r}, "
                f"not {self.generator.output_space!r}"
            )
        if self.variant_spec.bins != bool(self.generator.ab_bins):
            need = "needs generator.ab_bins > 0" if self.variant_spec.bins else "regresses a*b*: generator.ab_bins = 0"
            raise ValueError(f"variant {self.variant!r} {need}")
        if self.flood_weight and self.variant_spec.loss != "lab_l1":
            raise ValueError(f"flood_weight needs a lab_ab variant (L in the output); {self.variant!r} is not one")
        self.data_root, self.output_dir = Path(self.data_root), Path(self.output_dir)
        self.betas, self.drop_sources = tuple(self.betas), tuple(self.drop_sources)

    def learning_rates(self, budget_used: float) -> tuple[float, float]:
        """(lr_g, lr_d) once `budget_used` (0..1) of the run is spent."""
        factor = 1.0
        if self.lr_schedule == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * min(max(budget_used, 0.0), 1.0)))
        return self.lr_g * factor, self.lr_d * factor

    @property
    def variant_spec(self) -> Variant:
        """The variant's description (adversarial or not, loss, log key, output space)."""
        return get_variant(self.variant)

    @property
    def run_dir(self) -> Path:
        return self.output_dir / self.name

    def as_dict(self) -> dict:
        data = asdict(self)
        data["data_root"], data["output_dir"] = str(self.data_root), str(self.output_dir)
        return data


def parse_setting(text: str) -> tuple[list[str], object]:
    """`a.b=value` -> (['a', 'b'], value read as TOML, or as a plain string if it is not TOML)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value
    return key.strip().split("."), parsed


def load_config(path: str | Path, settings: list[str] | None = None, **overrides) -> TrainConfig:
    """Read a TOML config; `settings` (KEY=VALUE, dotted for nested tables) and keyword overrides win."""
    raw = tomllib.loads(Path(path).read_text())
    for text in settings or []:
        keys, value = parse_setting(text)
        table = raw
        for key in keys[:-1]:
            table = table.setdefault(key, {})
        table[keys[-1]] = value
    raw.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    return TrainConfig(**raw)
