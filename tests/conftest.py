"""Shared fixtures: real sample scenes, a deterministic stand-in model, small generators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from scenes import (
    gcp_only_scene,
    mosaic_scene,
    nan_border_scene,
    png_scene,
    shared_data_dir,
    uint16_dn_scene,
    ungeoreferenced_tiff,
    volkov_entry_counts,
    volkov_scene,
)
from torch import nn

from core.model.checkpoints import LoadedModel, default_normalisation, untrained_model
from core.model.networks import GeneratorConfig
from core.samples import Sample, build_samples

PIXEL_WEIGHTS = (1.5, -1.0, 0.7)
PIXEL_BIASES = (0.2, 0.1, -0.3)


class PixelModel(nn.Module):
    """Deterministic per-pixel stand-in generator: 1x1 conv + tanh, no spatial context."""

    def __init__(self) -> None:
        super().__init__()
        self.config = GeneratorConfig(depth=4)  # tiles must be multiples of 16
        self.conv = nn.Conv2d(1, 3, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor(PIXEL_WEIGHTS).view(3, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor(PIXEL_BIASES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Sample]:
    """The six real BigEarthNet VV+VH dB samples, built into a session temp folder."""
    return build_samples(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def scene_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenes")


@pytest.fixture(scope="session")
def pixel_model() -> LoadedModel:
    """The per-pixel stand-in wrapped like a loaded checkpoint."""
    model = PixelModel().eval()
    return LoadedModel(model, model.config, default_normalisation(), {"stand_in": True})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def default_unet() -> LoadedModel:
    """An untrained generator of the default architecture (the real pipeline network)."""
    return untrained_model(GeneratorConfig(), seed=0)


@pytest.fixture(scope="session")
def small_unet() -> LoadedModel:
    """A small untrained U-Net (fast checkpoint round trips)."""
    return untrained_model(GeneratorConfig(ngf=4, depth=5), seed=1)


@pytest.fixture(scope="session")
def odd_scene(samples: list[Sample], scene_dir: Path) -> Path:
    """1000 x 777 georeferenced float32 dB mosaic of real VV patches."""
    return mosaic_scene(scene_dir / "odd_1000x777.tif", samples, 1000, 777)


@pytest.fixture(scope="session")
def gcp_scene(samples: list[Sample], scene_dir: Path) -> Path:
    return gcp_only_scene(scene_dir / "gcp_only_dn.tif", samples)


@pytest.fixture(scope="session")
def nan_scene(samples: list[Sample], scene_dir: Path) -> Path:
    return nan_border_scene(scene_dir / "nan_border_db.tif", samples)


@pytest.fixture(scope="session")
def dn_scene(samples: list[Sample], scene_dir: Path) -> Path:
    return uint16_dn_scene(scene_dir / "amplitude_dn.tif", samples)


@pytest.fixture(scope="session")
def png_path(samples: list[Sample], scene_dir: Path) -> Path:
    return png_scene(scene_dir / "upload.png", samples)


@pytest.fixture(scope="session")
def plain_tiff(samples: list[Sample], scene_dir: Path) -> Path:
    return ungeoreferenced_tiff(scene_dir / "no_georef_db.tif", samples)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $SARCOLOR_SHARED_DATA); skips when absent."""
    path = shared_data_dir()
    if not (path / "volkov" / "metadata.json").is_file():
        pytest.skip(f"team data not found at {path} (set SARCOLOR_SHARED_DATA to run volkov tests)")
    return path


@pytest.fixture(scope="session")
def volkov_tif(shared_data: Path, scene_dir: Path) -> Path:
    """Georeferenced 1024 x 1024 EPSG:3395 scene from volkov fragment 003 (single metadata entry)."""
    counts = volkov_entry_counts(json.loads((shared_data / "volkov" / "metadata.json").read_text()))
    assert counts["003.png"] == 1
    return volkov_scene(scene_dir / "volkov_003.tif", shared_data, "003.png")
