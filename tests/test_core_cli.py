"""`sarcolor colorize` as an analyst runs it: exit codes, COG output, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import assert_valid_cog, run_cli
from scenes import not_an_image

from core.model.checkpoints import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(small_unet, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("models") / "small.pt", small_unet.generator)


def test_cli_colorizes_sample(samples, checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.tif"
    run = run_cli("colorize", samples[0].sar, out, "--model", checkpoint, "--tile", 64, "--overlap", 16, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "Mpx/s" in run.stdout and "120x120" in run.stdout
    assert assert_valid_cog(out)["width"] == 120


@pytest.mark.parametrize("case", ["not_an_image", "bad_model", "bad_tile"])
def test_cli_fails_with_one_line(case: str, samples, checkpoint: Path, tmp_path: Path) -> None:
    source = not_an_image(tmp_path / "notes.tif") if case == "not_an_image" else samples[0].sar
    model = tmp_path / "missing.pt" if case == "bad_model" else checkpoint
    tile = 100 if case == "bad_tile" else 64
    out = tmp_path / "out" / "result.tif"
    run = run_cli("colorize", source, out, "--model", model, "--tile", tile, "--overlap", 16, "--quiet")
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert "Traceback" not in run.stderr
    assert not out.parent.exists() or not any(out.parent.iterdir())
