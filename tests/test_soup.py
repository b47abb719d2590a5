"""training.studies.soup: weight-space interpolation of two fine-tunes of one model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import CheckpointError
from core.model.checkpoints import load_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from training.studies.soup import interpolate, main

PUBLISHED = Path(__file__).resolve().parent.parent / "models"


def test_soup_of_the_published_fine_tunes_lies_between_them(tmp_path: Path) -> None:
    """The two published fine-tunes of lab_context: weight 0 and 1 give them back, 0.25 lies a quarter of the way."""
    base, other = (load_checkpoint(PUBLISHED / f"{name}.pt") for name in ("lab_tharun_spread", "lab_pseudo_colour"))
    out = tmp_path / "soup.pt"
    main(["--base", str(base.path), "--other", str(other.path), "--weight", "0.25", "--out", str(out)])
    soup = load_checkpoint(out)
    assert soup.metadata["soup"] == {"base": "lab_tharun_spread", "other": "lab_pseudo_colour", "weight": 0.25}
    a, b, s = (m.generator.state_dict() for m in (base, other, soup))
    moved = [k for k in a if a[k].is_floating_point() and not torch.equal(a[k], b[k])]
    assert moved, "the two fine-tunes should differ"
    for key in moved:  # fp16 storage: a quarter of the way, to half precision
        torch.testing.assert_close(s[key], 0.75 * a[key] + 0.25 * b[key], atol=2e-3, rtol=2e-3)
    for weight, expected in ((0.0, a), (1.0, b)):
        ends = interpolate(base, other, weight).generator.state_dict()
        assert all(torch.equal(ends[k], expected[k]) for k in moved)


def test_soup_refuses_different_architectures_and_weights_outside_0_1() -> None:
    small = untrained_model(GeneratorConfig(ngf=4, depth=5), seed=0)
    wider = untrained_model(GeneratorConfig(ngf=8, depth=5), seed=1)
    with pytest.raises(CheckpointError, match="different architectures"):
        interpolate(small, wider, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        interpolate(small, small, 1.5)
