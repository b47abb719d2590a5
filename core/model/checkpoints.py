"""Checkpoint files: weights + architecture + normalisation in one torch file.

Loaded with `weights_only=True` (no pickle code execution) and validated, so a
wrong, truncated or foreign file gives a `CheckpointError`, never a crash.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.errors import CheckpointError
from core.model.networks import GeneratorConfig, UNetGenerator, build_generator
from core.rasters.normalise import InputSpace, describe_input_space

FORMAT = "sarcolor-generator"
VERSION = 1


@dataclass
class LoadedModel:
    """A generator ready for inference and what it was trained with."""

    generator: UNetGenerator
    config: GeneratorConfig
    normalisation: dict
    metadata: dict = field(default_factory=dict)
    path: Path | None = None
    prepared_for: object = None  # the torch.device the generator was last prepared for (core.model.inference)

    @property
    def name(self) -> str:
        return self.path.resolve().stem if self.path else "untrained"  # default.pt -> the model it points to


def default_normalisation(space: InputSpace | str = InputSpace.STRETCH) -> dict:
    """The input space a generator was trained in, with its constants (see core.rasters.normalise)."""
    return describe_input_space(space)


def save_checkpoint(
    path: str | Path, generator: UNetGenerator, metadata: dict | None = None, half: bool = True
) -> Path:
    """Write a checkpoint atomically; `half` stores weights as fp16 to halve the size."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in generator.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "generator_config": generator.config.as_dict(),
        "normalisation": default_normalisation(generator.config.input_space),
        "metadata": metadata or {},
        "state_dict": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path) -> LoadedModel:
    """Load and validate a checkpoint; the generator is in eval mode on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Model file not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path.name} is not a readable model checkpoint (corrupt or truncated file).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a sarcolor generator checkpoint.")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path.name} has checkpoint version {payload.get('version')}; this build reads {VERSION}."
        )
    try:
        config = GeneratorConfig(**payload["generator_config"])
        generator = build_generator(config)
        state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
        generator.load_state_dict(state, strict=True)
    except (TypeError, KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name} does not match the generator architecture it declares: {exc}") from exc
    generator.eval()
    # The input space's rules come from the code that implements them, not from what an older file recorded.
    normalisation = default_normalisation(config.input_space)
    return LoadedModel(generator, config, normalisation, payload.get("metadata", {}), path)


def untrained_model(config: GeneratorConfig | None = None, seed: int = 0) -> LoadedModel:
    """A randomly initialised generator (tests and benchmarks only)."""
    torch.manual_seed(seed)
    generator = build_generator(config or GeneratorConfig()).eval()
    normalisation = default_normalisation(generator.config.input_space)
    return LoadedModel(generator, generator.config, normalisation, {"trained": False})


def list_checkpoints(models_dir: str | Path) -> list[Path]:
    """Checkpoint files in a folder, default first."""
    files = sorted(Path(models_dir).glob("*.pt"))
    return sorted(files, key=lambda p: (p.stem != "default", p.stem))
