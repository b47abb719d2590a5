"""Regression: threads sharing one freshly loaded model give the same pixels as solo runs.

Before `core.inference.prepare_generator`, each job converted the shared module to
channels_last while other threads were running it; 16 of 24 threaded outputs differed.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import rasterio

from core.checkpoints import untrained_model
from core.colorize import ColorizeOptions, colorize
from core.networks import GeneratorConfig
from core.samples import build_samples

OPTIONS = ColorizeOptions(tile=128, overlap=32)


def _scenes(folder: Path) -> list[Path]:
    paths = []
    for index, sample in enumerate(build_samples()[:4]):
        with rasterio.open(sample.sar) as src:
            data = np.tile(src.read(1), (4, 4))[:360, :400]
            profile = {**src.profile, "count": 1, "width": 400, "height": 360}
        path = folder / f"scene{index}.tif"
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data[None])
        paths.append(path)
    return paths


def test_threads_sharing_a_fresh_model_match_solo_runs(tmp_path: Path) -> None:
    scenes = _scenes(tmp_path)
    base = untrained_model(GeneratorConfig(ngf=8, depth=6))
    solo = []
    for index, scene in enumerate(scenes):
        colorize(scene, tmp_path / f"solo{index}.tif", copy.deepcopy(base), OPTIONS)
        solo.append(rasterio.open(tmp_path / f"solo{index}.tif").read())
    for trial in range(3):
        shared = copy.deepcopy(base)  # not yet prepared for the device: the racy case
        outputs = [tmp_path / f"t{trial}_{i}.tif" for i in range(len(scenes))]
        threads = [
            threading.Thread(target=colorize, args=(s, o, shared, OPTIONS))
            for s, o in zip(scenes, outputs, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for index, output in enumerate(outputs):
            assert np.array_equal(rasterio.open(output).read(), solo[index]), f"trial {trial}, scene {index}"
