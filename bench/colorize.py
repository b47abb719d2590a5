"""Benchmark `core.colorize.colorize` against a naive whole-raster baseline on real SAR mosaics.

    .venv/bin/python bench/colorize.py [--sizes 1,16,100] [--tile 256] [--overlap 64] [--batch 8]

Scenes of about 1, 16 and 100 Mpx are mosaicked from real Sentinel-1 patches
(`../shared/data/volkov` fragments if present, else SEN1-2 chips, else the built-in
BigEarthNet samples), converted to float32 dB and written as georeferenced GeoTIFFs
(EPSG:3395, 10 m). Every run happens in a fresh subprocess so that its peak RSS
(VmHWM) is its own. The baseline reads the whole raster, accumulates prediction x
weight and weight in float64 over the full scene, divides and writes: same model,
same tiles, same weights, same COG writer, no streaming.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin
from rasterio.windows import Window

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.normalise import Encoding, to_db  # noqa: E402
from core.settings import shared_data_dir  # noqa: E402

SCENE_ORIGIN = (-13234943.64, 4048140.83)  # EPSG:3395, volkov fragment 003 (upper left)
PIXEL_M = 10.0


# --- real-content scenes --------------------------------------------------------------


def patch_sources() -> tuple[str, list[Path], Encoding | None]:
    """Which real SAR patches to mosaic: (name, files, encoding; None = float dB GeoTIFF band 1)."""
    data = shared_data_dir()
    manifest = data / "manifest.csv"
    if manifest.is_file():
        rows = list(csv.DictReader(manifest.open()))
        for source, encoding in (("volkov", Encoding.LINEAR_U8), ("sen12-gray", Encoding.DB_U8)):
            files = sorted(data / r["sar"] for r in rows if r["source"] == source)
            if files:
                return source, files, encoding
    from core.samples import build_samples

    return "bigearthnet-samples", [s.sar for s in build_samples()], None


def read_patch_db(path: Path, encoding: Encoding | None) -> np.ndarray:
    """One patch as float32 dB (NaN where not valid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            values = src.read(1)
    return values.astype(np.float32) if encoding is None else to_db(values, encoding)


def build_scene(path: Path, side: int, files: list[Path], encoding: Encoding | None) -> Path:
    """A side x side float32 dB GeoTIFF (DEFLATE, tiled), written one row of patches at a time."""
    first = read_patch_db(files[0], encoding)
    patch = first.shape[0]
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "float32",
        "crs": CRS.from_epsg(3395), "transform": from_origin(*SCENE_ORIGIN, PIXEL_M, PIXEL_M),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "DEFLATE", "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    cols = -(-side // patch)
    with rasterio.open(path, "w", **profile) as dst:
        dst.update_tags(units="dB")
        dst.set_band_description(1, "VH" if encoding == Encoding.LINEAR_U8 else "VV")
        for r in range(-(-side // patch)):
            row = np.concatenate(
                [read_patch_db(files[(r * cols + c) % len(files)], encoding)[:patch, :patch] for c in range(cols)],
                axis=1,
            )
            height = min(patch, side - r * patch)
            dst.write(row[None, :height, :side], window=Window(0, r * patch, side, height))
    return path


# --- runs, each in a fresh process -----------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_model():
    """models/default.pt if present, else an untrained generator of the default config."""
    from core.checkpoints import load_checkpoint, untrained_model
    from core.settings import default_checkpoint

    path = default_checkpoint()
    return load_checkpoint(path) if path.is_file() else untrained_model()


def naive_colorize(source: Path, output: Path, model, options) -> None:
    """Baseline: whole raster in memory, float64 accumulators over the full scene, one write."""
    import torch

    from core.cog import cog_writer
    from core.inference import Predictor
    from core.scene import open_scene
    from core.tiling import TileGrid, tile_weights

    predictor = Predictor(model, options.device, options.precision)
    scene = open_scene(source, band=options.band, encoding=options.encoding)
    width, height = scene.georef.width, scene.georef.height
    grid = TileGrid(width, height, options.tile, options.overlap)
    x, valid = scene.read_window(Window(0, 0, width, height), model.config.input_space)
    pad = ((0, 0), (0, grid.rows[-1] + grid.tile - height), (0, grid.columns[-1] + grid.tile - width))
    x = np.pad(x, pad, "symmetric")
    total = np.zeros((3, height, width), np.float64)
    weight = np.zeros((height, width), np.float64)
    tiles = [(r, c, y0, x0) for r, y0 in enumerate(grid.rows) for c, x0 in enumerate(grid.columns)]
    for start in range(0, len(tiles), options.batch):
        chunk = tiles[start : start + options.batch]
        batch = torch.from_numpy(np.stack([x[:, y0 : y0 + grid.tile, x0 : x0 + grid.tile] for _, _, y0, x0 in chunk]))
        for (r, c, y0, x0), pred in zip(chunk, predictor.predict(batch).numpy(), strict=True):
            h, w = min(grid.tile, height - y0), min(grid.tile, width - x0)
            wt = tile_weights(grid, r, c)[:h, :w].astype(np.float64)
            total[:, y0 : y0 + h, x0 : x0 + w] += pred[:, :h, :w] * wt
            weight[y0 : y0 + h, x0 : x0 + w] += wt
    with cog_writer(output, scene.georef) as writer:
        writer.write(Window(0, 0, width, height), total / weight, valid)
    scene.close()


def child(args: argparse.Namespace) -> None:
    """Run one method on one scene and print its figures as JSON."""
    from core.colorize import ColorizeOptions, colorize

    model = load_model()
    options = ColorizeOptions(tile=args.tile, overlap=args.overlap, batch=args.batch, device=args.device)
    started = time.perf_counter()
    if args.child == "pipeline":
        colorize(args.scene, args.out, model, options)
    else:
        naive_colorize(Path(args.scene), Path(args.out), model, options)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "model": model.name}))


def run_child(method: str, scene: Path, out: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--scene", str(scene), "--out", str(out)]
    cmd += ["--tile", str(args.tile), "--overlap", str(args.overlap), "--batch", str(args.batch)]
    cmd += ["--device", args.device]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "CPU")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,16,100", help="scene sizes in Mpx, comma separated")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument("--work-dir", type=Path, help="where scenes are written (default: a temp dir)")
    parser.add_argument("--child", choices=["pipeline", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    source, files, encoding = patch_sources()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sarcolor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# sarcolor colorize benchmark, {date.today()}")
    print(f"- machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"- patches: {source} ({len(files)} real SAR patches), float32 dB GeoTIFF, EPSG:3395, DEFLATE")
    print(f"- settings: tile {args.tile}, overlap {args.overlap}, batch {args.batch}, device {args.device}")
    rows = []
    for mpx in (float(s) for s in args.sizes.split(",")):
        side = round((mpx * 1e6) ** 0.5)
        scene = build_scene(work / f"scene_{side}.tif", side, files, encoding)
        for method in ("pipeline", *(() if args.no_baseline else ("baseline",))):
            out = work / f"out_{method}_{side}.tif"
            figures = run_child(method, scene, out, args)
            out.unlink(missing_ok=True)
            rows.append((method, side, figures))
            print(f"  {method} {side}x{side}: {figures}", file=sys.stderr, flush=True)
        scene.unlink()
    print(f"- model: {rows[0][2].get('model', '?')} (GeneratorConfig defaults)\n")
    print("| method | scene | Mpx | seconds | Mpx/s | peak RSS (MB) |")
    print("|---|---|---:|---:|---:|---:|")
    for method, side, f in rows:
        mpx = side * side / 1e6
        if "error" in f:
            print(f"| {method} | {side}x{side} | {mpx:.1f} | failed: {f['error']} | | |")
        else:
            print(
                f"| {method} | {side}x{side} | {mpx:.1f} | {f['seconds']:.1f} | {mpx / f['seconds']:.2f} "
                f"| {f['peak_rss_mb']:.0f} |"
            )


if __name__ == "__main__":
    main()
