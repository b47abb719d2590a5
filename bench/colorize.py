"""Benchmark `core.colorize.colorize` on real SAR mosaics: one scene at a time, and a folder of scenes.

    .venv/bin/python bench/colorize.py [--sizes 1,16,100] [--folder 20] [--folder-mpx 4] [--baseline]

Scenes of about 1, 16 and 100 Mpx are mosaicked from real Sentinel-1 patches
(`../shared/data/volkov` fragments if present, else SEN1-2 chips, else the built-in
BigEarthNet samples), converted to float32 VV-equivalent dB (relative values anchored as the
pipeline anchors them) and written as georeferenced GeoTIFFs (EPSG:3395, 10 m). Every run happens in
a fresh subprocess so that its peak RSS (VmHWM) is its own. Per scene: end-to-end time, the model's own time on the same
tiles (a real tile row of the scene through the pipeline's own prediction path, the
same batches and parallel streams, once per tile row, nothing else), their ratio, the
redundancy (predicted pixels over scene pixels) and peak RSS.
The folder part colorizes N scenes serially, in a process pool and on a two-worker
Dask LocalCluster. `--baseline` adds a naive whole-raster run (float64 accumulators
over the full scene, no streaming, no seam matching; same model, tiles, weights and COG writer).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
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

from core.rasters.normalise import Encoding, level_offset_db, to_db  # noqa: E402
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
    """One patch as float32 VV-equivalent dB (NaN where not valid).

    Relative encodings (volkov's `linear_u8`) get the pipeline's own anchoring (`level_offset_db`) before they
    are written as calibrated dB: without it the scene's level is meaningless and the picture unfair.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            values = src.read(1)
    if encoding is None:
        return values.astype(np.float32)
    db = to_db(values, encoding)
    return db + np.float32(level_offset_db(encoding, "VV", float(np.nanmedian(db)))[0])


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
    from core.model.checkpoints import load_checkpoint, untrained_model
    from core.settings import default_checkpoint

    path = default_checkpoint()
    return load_checkpoint(path) if path.is_file() else untrained_model()


def naive_colorize(source: Path, output: Path, model, options) -> None:
    """Baseline: whole raster in memory, float64 accumulators over the full scene, one write."""
    import torch

    from core.model.inference import Predictor
    from core.rasters.cog import cog_writer
    from core.rasters.scene import open_scene
    from core.rasters.tiling import TileGrid, tile_weights

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


def model_seconds(scene: Path, model, options) -> tuple[float, int, float]:
    """The model alone on the pipeline's tiles: (seconds, tiles, redundancy).

    The scene's first real tile row, fed once per tile row through the pipeline's own prediction
    path (`core.colorize.predicted_rows`: same batches, same parallel streams), nothing else.
    """
    from core.colorize import _read_strip, predicted_rows
    from core.model.inference import Predictor
    from core.rasters.normalise import InputSpace
    from core.rasters.scene import open_scene
    from core.rasters.tiling import TileGrid

    predictor = Predictor(model, options.device, options.precision)
    sar = open_scene(scene)
    width, height = sar.georef.width, sar.georef.height
    grid = TileGrid.anchored(sar.region, sar.georef.transform, options.tile, options.overlap)
    space = InputSpace(model.config.input_space)
    strip = _read_strip(sar, space, grid, 0, grid.columns[-1] + grid.tile)
    sar.close()
    started = time.perf_counter()
    for _ in predicted_rows((strip for _ in grid.rows), predictor, grid, options.batch):
        pass
    seconds = time.perf_counter() - started
    return seconds, grid.tile_count, grid.tile_count * options.tile**2 / (width * height)


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
    figures = {"seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb(), "model": model.name}
    if args.child == "pipeline":
        alone = model_seconds(Path(args.scene), model, options)
        figures["model_seconds"], figures["tiles"], figures["redundancy"] = alone
    print(json.dumps(figures))


def run_child(method: str, scene: Path, out: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--scene", str(scene), "--out", str(out)]
    cmd += ["--tile", str(args.tile), "--overlap", str(args.overlap), "--batch", str(args.batch)]
    cmd += ["--device", args.device]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_child(args: argparse.Namespace) -> None:
    """Colorize every scene of --scene (a folder) into --out with one runner; print wall seconds as JSON."""
    from core.colorize import ColorizeOptions
    from core.service.batch import SceneStatus, expand_inputs, plan_tasks, run_dask, run_pool, run_serial
    from core.settings import default_checkpoint

    tasks = plan_tasks(expand_inputs([args.scene]), Path(args.out))
    options = ColorizeOptions(tile=args.tile, overlap=args.overlap, batch=args.batch, device=args.device)
    started = time.perf_counter()
    if args.child == "folder-serial":
        outcomes = list(run_serial(tasks, default_checkpoint(), options))
    elif args.child == "folder-pool":
        outcomes = list(run_pool(tasks, default_checkpoint(), options))
    else:
        from distributed import LocalCluster

        settings = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        with LocalCluster(**settings) as cluster:
            started = time.perf_counter()  # the cluster's start-up is not the batch's time
            outcomes = list(run_dask(tasks, default_checkpoint(), options, scheduler=cluster.scheduler_address))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "done": sum(o.status == SceneStatus.DONE for o in outcomes)}))


# --- report -------------------------------------------------------------------------------


def machine() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "CPU")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def scene_table(args: argparse.Namespace, files: list[Path], encoding: Encoding | None, work: Path) -> None:
    """One scene at a time: end to end against the model alone, and peak RSS."""
    print("| method | scene | Mpx | seconds | Mpx/s | model alone (s) | end-to-end / model | redundancy | peak RSS (MB) |")  # noqa: E501
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for mpx in (float(s) for s in args.sizes.split(",")):
        side = round((mpx * 1e6) ** 0.5)
        scene = build_scene(work / f"scene_{side}.tif", side, files, encoding)
        for method in ("pipeline", *(("baseline",) if args.baseline else ())):
            out = work / f"out_{method}_{side}.tif"
            f = run_child(method, scene, out, args)
            out.unlink(missing_ok=True)
            print(f"  {method} {side}x{side}: {f}", file=sys.stderr, flush=True)
            mpx = side * side / 1e6
            if "error" in f:
                print(f"| {method} | {side}x{side} | {mpx:.1f} | failed: {f['error']} | | | | | |")
                continue
            model = " | | "
            if "model_seconds" in f:
                model = f"{f['model_seconds']:.1f} | {f['seconds'] / f['model_seconds']:.2f} | {f['redundancy']:.2f}"
            print(
                f"| {method} | {side}x{side} | {mpx:.1f} | {f['seconds']:.1f} | {mpx / f['seconds']:.2f} | {model} "
                f"| {f['peak_rss_mb']:.0f} |", flush=True
            )
        scene.unlink()


def folder_table(args: argparse.Namespace, files: list[Path], encoding: Encoding | None, work: Path) -> None:
    """N scenes: serial, process pool, Dask LocalCluster."""
    folder = work / "folder"
    folder.mkdir(exist_ok=True)
    side = round((args.folder_mpx * 1e6) ** 0.5)
    for i in range(args.folder):
        build_scene(folder / f"scene_{i:02d}.tif", side, files[i % len(files) :] + files[: i % len(files)], encoding)
    print(f"\n{args.folder} scenes of {side}x{side} px ({args.folder * side * side / 1e6:.0f} Mpx in all):\n")
    print("| runner | seconds | scenes done | Mpx/s |")
    print("|---|---:|---:|---:|")
    for runner in ("folder-serial", "folder-pool", "folder-dask"):
        out = work / runner
        f = run_child(runner, folder, out, args)
        shutil.rmtree(out, ignore_errors=True)
        print(f"  {runner}: {f}", file=sys.stderr, flush=True)
        if "error" in f:
            print(f"| {runner} | failed: {f['error']} | | |")
        else:
            total = f["done"] * side * side / 1e6
            print(f"| {runner[7:]} | {f['seconds']:.1f} | {f['done']} | {total / f['seconds']:.2f} |", flush=True)
    shutil.rmtree(folder)


def main() -> None:
    from core.colorize import ColorizeOptions

    defaults = ColorizeOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,16,100", help="scene sizes in Mpx, comma separated ('' for none)")
    parser.add_argument("--tile", type=int, default=defaults.tile)
    parser.add_argument("--overlap", type=int, default=defaults.overlap)
    parser.add_argument("--batch", type=int, default=defaults.batch)
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--baseline", action="store_true", help="also run the naive whole-raster baseline")
    parser.add_argument("--folder", type=int, default=20, help="scenes in the folder benchmark (0: skip it)")
    parser.add_argument("--folder-mpx", type=float, default=4.0, help="size of each folder scene in Mpx")
    parser.add_argument("--work-dir", type=Path, help="where scenes are written (default: a temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (folder_child if args.child.startswith("folder") else child)(args)
        return

    source, files, encoding = patch_sources()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sarcolor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# sarcolor colorize benchmark, {date.today()}")
    print(f"- machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"- patches: {source} ({len(files)} real SAR patches), float32 dB GeoTIFF, EPSG:3395, DEFLATE")
    print(f"- settings: tile {args.tile}, overlap {args.overlap}, batch {args.batch}, device {args.device}")
    print(f"- model: {load_model().name}\n")
    if args.sizes:
        scene_table(args, files, encoding, work)
    if args.folder:
        folder_table(args, files, encoding, work)


if __name__ == "__main__":
    main()
