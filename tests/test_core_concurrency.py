"""Threads: jobs sharing one model, and the pipeline's parallel prediction streams, give the pixels of solo runs.

Before `core.model.inference.prepare_generator`, each job converted the shared module to
channels_last while other threads were running it; 16 of 24 threaded outputs differed.
"""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import numpy as np
import rasterio
import torch
from scenes import mosaic_scene

from core.colorize import ColorizeOptions, _read_strip, colorize, predicted_rows
from core.model.checkpoints import untrained_model
from core.model.inference import MAX_CPU_STREAMS, Predictor, single_threaded_torch
from core.model.networks import GeneratorConfig
from core.rasters.normalise import InputSpace
from core.rasters.scene import open_scene
from core.rasters.tiling import TileGrid
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


def test_parallel_prediction_streams_give_the_pixels_of_one_stream(samples, scene_dir, default_unet) -> None:
    """The pipeline's prediction path (several single-threaded streams on a CPU) equals plain
    batch-by-batch prediction on the same real tiles, bit for bit once kept as half floats as the pipeline keeps
    them, and gives torch its threads back."""
    threads_before = torch.get_num_threads()
    predictor = Predictor(default_unet, "cpu", "auto")
    scene = open_scene(mosaic_scene(scene_dir / "streams_700.tif", samples, 700, 600))
    grid = TileGrid(700, 600, 256, 32)
    space = InputSpace(default_unet.config.input_space)
    strips = [_read_strip(scene, space, grid, y0, grid.columns[-1] + grid.tile) for y0 in grid.rows]
    scene.close()
    streamed = [tiles for tiles, _ in predicted_rows(strips, predictor, grid, batch=2)]
    for (strip, _), tiles in zip(strips, streamed, strict=True):
        row = torch.from_numpy(np.stack([strip[:, :, x0 : x0 + grid.tile] for x0 in grid.columns]))
        one_stream = [t.numpy() for start in range(0, len(row), 2)
                      for t in predictor.predict(row[start : start + 2]).to(torch.float16)]  # fmt: skip
        assert all(np.array_equal(a, b) for a, b in zip(tiles, one_stream, strict=True))
    assert predictor.streams == (threads_before if threads_before <= MAX_CPU_STREAMS else 1)
    assert torch.get_num_threads() == threads_before


def test_single_threaded_torch_restores_the_thread_count_when_the_last_user_leaves() -> None:
    before = torch.get_num_threads()
    with single_threaded_torch():
        with single_threaded_torch():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1  # the outer user is still inside
    assert torch.get_num_threads() == before
