"""Assertions on colorized outputs, shared by the core tests."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from streamlit.testing.v1 import AppTest

from core.model.checkpoints import LoadedModel, save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.scene import open_scene

COG_BLOCK = 512


def read_rgba(path: Path) -> np.ndarray:
    """The 4 x h x w uint8 output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as dst:
            return dst.read()


def assert_valid_cog(path: Path) -> rasterio.profiles.Profile:
    """RGB + alpha uint8, COG layout, tiled, overviews when larger than one block; returns the profile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as dst:
            assert dst.driver == "GTiff"
            assert dst.count == 4 and set(dst.dtypes) == {"uint8"}
            assert dst.colorinterp == (ColorInterp.red, ColorInterp.green, ColorInterp.blue, ColorInterp.alpha)
            structure = dst.tags(ns="IMAGE_STRUCTURE")
            assert structure.get("LAYOUT") == "COG", structure
            assert structure.get("COMPRESSION") == "DEFLATE"
            assert dst.profile["tiled"] and dst.block_shapes[0] == (COG_BLOCK, COG_BLOCK)
            overviews = dst.overviews(1)
            if max(dst.width, dst.height) > COG_BLOCK:
                assert overviews, "no overviews on a raster larger than one block"
                assert all(dst.overviews(b) == overviews for b in range(1, 5))
            else:
                assert overviews == []
            return dst.profile


def reference_rgb(source: Path, model: LoadedModel, **open_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel model applied to the whole scene at once (no tiling): RGB in [0, 1] and validity."""
    scene = open_scene(source, **open_kwargs)
    try:
        window = rasterio.windows.Window(0, 0, scene.georef.width, scene.georef.height)
        x, valid = scene.read_window(window, model.config.input_space)
    finally:
        scene.close()
    with torch.inference_mode():
        y = model.generator(torch.from_numpy(x)[None]).float()
    return ((y.clamp(-1, 1) + 1) * 0.5)[0].numpy(), valid


def assert_matches_reference(rgba: np.ndarray, rgb01: np.ndarray, valid: np.ndarray) -> None:
    """Output RGB within 1/255 of the reference where valid; alpha = validity; black where invalid."""
    expected = np.clip(np.rint(rgb01 * 255), 0, 255).astype(np.int16)
    diff = np.abs(rgba[:3].astype(np.int16) - expected)[:, valid]
    assert diff.max(initial=0) <= 1, f"max diff {diff.max()} / 255"
    np.testing.assert_array_equal(rgba[3], np.where(valid, 255, 0))
    assert not rgba[:3, ~valid].any()


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m core.cli ARGS` from the project root, as an analyst runs `sarcolor`; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *map(str, args)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def fresh_app(tmp_path: Path, monkeypatch, timeout: float = 180) -> AppTest:
    """The dashboard after its first run, on a tiny untrained default checkpoint and an empty var dir in `tmp_path`."""
    models = tmp_path / "models"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(models))
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(tmp_path / "var"))
    at = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "app.py"), default_timeout=timeout)
    at.run()
    return at
