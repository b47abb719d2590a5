"""Checkpoint files: save -> load gives the same colours; bad files raise CheckpointError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from checks import read_rgba

from core.colorize import ColorizeOptions, colorize
from core.errors import CheckpointError
from core.model.checkpoints import list_checkpoints, load_checkpoint, save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig

OPTIONS = ColorizeOptions(tile=64, overlap=16, precision="fp32")


def _colours(model, source: Path, out: Path) -> np.ndarray:
    colorize(source, out, model, OPTIONS)
    return read_rgba(out)


def test_full_precision_round_trip_is_identical(small_unet, samples, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "g.pt", small_unet.generator, {"epoch": 3}, half=False)
    loaded = load_checkpoint(path)
    assert loaded.config == small_unet.config and loaded.metadata == {"epoch": 3} and loaded.name == "g"
    assert loaded.normalisation["space"] == "db_percentile_stretch"
    before = _colours(small_unet, samples[0].sar, tmp_path / "a.tif")
    after = _colours(loaded, samples[0].sar, tmp_path / "b.tif")
    np.testing.assert_array_equal(before, after)
    assert before[:3].std() > 0


def test_half_precision_round_trip_is_stable(small_unet, samples, tmp_path: Path) -> None:
    """fp16 storage: colours within 2/255 of the fp32 model, and re-saving changes nothing."""
    once = load_checkpoint(save_checkpoint(tmp_path / "h1.pt", small_unet.generator))
    twice = load_checkpoint(save_checkpoint(tmp_path / "h2.pt", once.generator))
    original = _colours(small_unet, samples[0].sar, tmp_path / "a.tif").astype(np.int16)
    first = _colours(once, samples[0].sar, tmp_path / "b.tif").astype(np.int16)
    second = _colours(twice, samples[0].sar, tmp_path / "c.tif").astype(np.int16)
    np.testing.assert_array_equal(first, second)
    assert np.abs(first - original).max() <= 2
    assert (tmp_path / "h1.pt").stat().st_size < 0.6 * sum(p.numel() * 4 for p in small_unet.generator.parameters())


def _valid_bytes(model, tmp_path: Path) -> bytes:
    return save_checkpoint(tmp_path / "valid.pt", model.generator).read_bytes()


def _payload(model) -> dict:
    return {
        "format": "sarcolor-generator",
        "version": 1,
        "generator_config": model.config.as_dict(),
        "normalisation": {},
        "metadata": {},
        "state_dict": model.generator.state_dict(),
    }


def _write_bad(kind: str, model, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.pt"
    if kind == "random_bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "truncated":
        path.write_bytes(_valid_bytes(model, tmp_path)[:-5000])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "plain_state_dict":
        torch.save(model.generator.state_dict(), path)
    elif kind == "wrong_architecture":
        payload = _payload(model)
        payload["generator_config"] = GeneratorConfig(ngf=8, depth=5).as_dict()
        torch.save(payload, path)
    elif kind == "unknown_config_key":
        payload = _payload(model)
        payload["generator_config"]["attention"] = True
        torch.save(payload, path)
    elif kind == "future_version":
        payload = _payload(model)
        payload["version"] = 99
        torch.save(payload, path)
    elif kind == "pickled_object":
        torch.save({"format": "sarcolor-generator", "model": model.generator}, path)
    return path


BAD = ["random_bytes", "truncated", "empty", "plain_state_dict", "wrong_architecture", "unknown_config_key",
       "future_version", "pickled_object"]  # fmt: skip


@pytest.mark.parametrize("kind", BAD)
def test_bad_checkpoint_raises(kind: str, small_unet, tmp_path: Path) -> None:
    path = _write_bad(kind, small_unet, tmp_path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    assert path.name in str(caught.value)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_save_leaves_no_temporary_and_lists_default_first(tmp_path: Path) -> None:
    model = untrained_model(GeneratorConfig(ngf=4, depth=4))
    for name in ("zeta", "default", "alpha"):
        save_checkpoint(tmp_path / f"{name}.pt", model.generator)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alpha.pt", "default.pt", "zeta.pt"]
    assert [p.stem for p in list_checkpoints(tmp_path)] == ["default", "alpha", "zeta"]
