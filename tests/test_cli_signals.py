"""A `sarcolor colorize` stopped by SIGTERM (a scheduler, `kill`, a container stopping) leaves nothing behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from tests.checks import PROJECT_ROOT

SIDE = 3072  # about 9 Mpx: long enough to be stopped while its output is being written


def _scene(path: Path) -> Path:
    """A georeferenced float32 dB scene of speckled fields."""
    rng = np.random.default_rng(0)
    fields = np.kron(rng.uniform(-20, -6, (SIDE // 256, SIDE // 256)), np.ones((256, 256)))
    db = (fields + 10 * np.log10(rng.gamma(4.0, 0.25, (SIDE, SIDE)))).astype(np.float32)
    profile = {"driver": "GTiff", "width": SIDE, "height": SIDE, "count": 1, "dtype": "float32", "crs": "EPSG:32633",
               "transform": from_origin(500000, 5800000, 10, 10), "tiled": True, "blockxsize": 512,
               "blockysize": 512}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(db, 1)
        dst.update_tags(units="dB")
    return path


def test_sigterm_mid_run_exits_143_with_one_line_and_no_output_or_partial_file(tmp_path: Path) -> None:
    model = tmp_path / "model.pt"
    save_checkpoint(model, untrained_model(GeneratorConfig(ngf=16)).generator)
    scene = _scene(tmp_path / "scene.tif")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "colorize", str(scene), str(out_dir / "colour.tif"), "--model", str(model),
         "--quiet"],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out_dir.iterdir()) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run.poll() is None, f"finished before it could be stopped: {run.communicate()}"
    assert any(".partial" in p.name for p in out_dir.iterdir())  # caught while writing
    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=120)
    assert run.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "error: stopped (SIGTERM); no output was written."
    assert "Traceback" not in stderr
    assert list(out_dir.iterdir()) == []
