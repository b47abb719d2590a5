"""Is ONNX Runtime a faster CPU backend than torch for the default model? Measured, not assumed.

    .venv/bin/python bench/onnx_backend.py [--tiles 64] [--batch 8] [--threads 2]

Exports `models/default.pt` to ONNX (fp32), then runs the same batches of real SAR tiles
(the built-in BigEarthNet samples, mirrored up to the tile size) through torch fp32, torch
bf16 autocast (what `core.model.inference` uses where the CPU has AVX512-BF16/AMX) and ONNX
Runtime, and prints tiles/s and the largest difference from torch fp32. Needs the optional
packages `onnx`, `onnxscript` and `onnxruntime` (not in requirements.txt: see bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.model.checkpoints import load_checkpoint  # noqa: E402
from core.model.inference import Predictor  # noqa: E402
from core.rasters.scene import open_scene  # noqa: E402
from core.samples import build_samples  # noqa: E402


def real_tiles(count: int, tile: int, space: str) -> torch.Tensor:
    """`count` tiles of real SAR in the model's input space."""
    tiles = []
    for sample in build_samples():
        scene = open_scene(sample.sar)
        values, _ = scene.read_window(scene.dataset.window(*scene.dataset.bounds), space)
        scene.close()
        height, width = values.shape[1:]
        mirrored = np.pad(values, ((0, 0), (0, max(0, tile - height)), (0, max(0, tile - width))), "symmetric")
        tiles.append(mirrored[:, :tile, :tile])
    return torch.from_numpy(np.stack([tiles[i % len(tiles)] for i in range(count)]))


def tiles_per_second(run, tiles: torch.Tensor, batch: int) -> tuple[float, np.ndarray]:
    """Throughput after one warm-up batch, and the outputs."""
    run(tiles[:batch])
    started, outputs = time.perf_counter(), []
    for start in range(0, len(tiles), batch):
        outputs.append(np.asarray(run(tiles[start : start + batch])))
    return len(tiles) / (time.perf_counter() - started), np.concatenate(outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import onnxruntime

    torch.set_num_threads(args.threads)
    model = load_checkpoint(PROJECT_ROOT / "models" / "default.pt")
    tiles = real_tiles(args.tiles, 256, model.config.input_space)
    fp32, bf16 = Predictor(model, "cpu", "fp32"), Predictor(model, "cpu", "bf16")
    onnx_path = Path(tempfile.mkdtemp()) / "default.onnx"
    torch.onnx.export(
        model.generator.eval(), (tiles[: args.batch],), str(onnx_path), dynamo=True,
        dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
    )  # fmt: skip
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def onnx_run(batch: torch.Tensor) -> np.ndarray:
        return (np.clip(session.run(None, {name: batch.numpy()})[0], -1, 1) + 1) * 0.5

    reference_speed, reference = tiles_per_second(fp32.predict, tiles, args.batch)
    print(f"model {model.name}, {args.tiles} real tiles of 256 px, batch {args.batch}, {args.threads} threads")
    print(f"torch fp32      {reference_speed:6.1f} tiles/s")
    for label, run in (("torch bf16", bf16.predict), ("onnxruntime", onnx_run)):
        speed, out = tiles_per_second(run, tiles, args.batch)
        print(f"{label:15s} {speed:6.1f} tiles/s  ({speed / reference_speed:.2f}x fp32, "
              f"max |diff| {np.abs(out - reference.astype(np.float32)).max():.4f})")  # fmt: skip


if __name__ == "__main__":
    main()
