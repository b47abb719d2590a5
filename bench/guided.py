"""Benchmark guided colour (`colorize(..., ColorizeOptions(guide=...))`) on a real SAR mosaic and its optical.

    .venv/bin/python bench/guided.py [--sizes 4,16]

A scene of about N Mpx is mosaicked from real volkov Sentinel-1 fragments (float32 dB, EPSG:3395,
10 m, as `bench/colorize.py` builds it); its guide is the same fragments' Sentinel-2 optical in the
same arrangement, warped to UTM zone 11N (another CRS) and cut to the left 90 % of the scene (partial
coverage). Each run is a fresh subprocess, so its peak RSS (VmHWM) is its own. Per run: seconds end
to end, seconds until the first progress report (the fit, before the model's first tile row), peak
RSS, and for a cancelled run how long after the cancel the job stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.warp import Resampling, calculate_default_transform, reproject

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from colorize import PIXEL_M, SCENE_ORIGIN, build_scene, machine, patch_sources, peak_rss_mb  # noqa: E402

GUIDE_CRS = "EPSG:32611"  # UTM 11N: the scene's place (volkov fragment 003, near Los Angeles) in another CRS
COVERED = 0.9  # the guide covers the scene's left 90 %


def build_guide(path: Path, side: int, sar_files: list[Path]) -> Path:
    """The optical fragments of the scene's patches, in its arrangement, warped to `GUIDE_CRS`, left 90 % only."""
    optical = [f.parent.parent / "opt" / f"{f.stem}.jpg" for f in sar_files]
    first = np.asarray(Image.open(optical[0]))
    patch, cols = first.shape[0], -(-side // first.shape[0])
    mosaic = np.zeros((3, side, side), np.uint8)
    for r in range(-(-side // patch)):
        for c in range(cols):
            image = np.asarray(Image.open(optical[(r * cols + c) % len(optical)]).convert("RGB")).transpose(2, 0, 1)
            part = image[:, : min(patch, side - r * patch), : min(patch, side - c * patch)]
            mosaic[:, r * patch : r * patch + part.shape[1], c * patch : c * patch + part.shape[2]] = part
    mosaic[:, :, int(side * COVERED) :] = 0  # no data beyond the cover (0 is the file's nodata)
    crs, transform = CRS.from_epsg(3395), from_origin(*SCENE_ORIGIN, PIXEL_M, PIXEL_M)
    left, top = transform @ (0, 0)
    right, bottom = transform @ (side, side)
    dst_transform, width, height = calculate_default_transform(crs, GUIDE_CRS, side, side, left, bottom, right, top,
                                                               resolution=PIXEL_M)  # fmt: skip
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 3, "dtype": "uint8", "nodata": 0,
               "crs": GUIDE_CRS, "transform": dst_transform, "tiled": True, "compress": "DEFLATE",
               "photometric": "RGB"}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        for band in range(3):
            out = np.zeros((height, width), np.uint8)
            reproject(mosaic[band], out, src_transform=transform, src_crs=crs, dst_transform=dst_transform,
                      dst_crs=GUIDE_CRS, resampling=Resampling.bilinear, src_nodata=0, dst_nodata=0)  # fmt: skip
            dst.write(out, band + 1)
        dst.update_tags(ACQUISITION_DATE="2020-11-04")  # the fragments' Sentinel-2 date (volkov metadata.json)
    return path


def child(args: argparse.Namespace) -> None:
    """One colorize run (guided or not, maybe cancelled after the first progress report); figures as JSON."""
    from core.colorize import ColorizeOptions, colorize
    from core.errors import JobCancelled
    from core.model.checkpoints import load_checkpoint
    from core.settings import default_checkpoint

    model = load_checkpoint(default_checkpoint())
    options = ColorizeOptions(guide=args.guide or None)
    started = time.perf_counter()
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        marks.setdefault("first_progress", time.perf_counter() - started)

    def cancelled() -> bool:
        if args.cancel and "first_progress" in marks:
            marks.setdefault("cancel_at", time.perf_counter() - started)
            return True
        return False

    figures: dict = {}
    try:
        result = colorize(args.scene, args.out, model, options, progress=progress, cancelled=cancelled)
        figures["guide"] = result.summary.guide
        figures["warnings"] = list(result.summary.warnings)
    except JobCancelled:
        figures["cancelled"] = True
        figures["output_written"] = Path(args.out).exists()
    seconds = time.perf_counter() - started
    figures |= {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb()), **{k: round(v, 2)
                for k, v in marks.items()}}  # fmt: skip
    if "cancel_at" in marks:
        figures["stopped_after_cancel_s"] = round(seconds - marks["cancel_at"], 2)
    print(json.dumps(figures))


def run(scene: Path, out: Path, guide: Path | None, cancel: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", "--scene", str(scene), "--out", str(out)]
    cmd += ["--guide", str(guide)] if guide else []
    cmd += ["--cancel"] if cancel else []
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,16", help="scene sizes in Mpx, comma separated")
    parser.add_argument("--work-dir", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scene", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--guide", help=argparse.SUPPRESS)
    parser.add_argument("--cancel", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    source, files, encoding = patch_sources()
    if source != "volkov":
        sys.exit("bench/guided.py needs ../shared/data/volkov (SAR fragments with their optical)")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="sarcolor-guided-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"- machine: {machine()}; load average at start {os.getloadavg()[0]:.2f}")
    print(f"- scene: {source} fragments, float32 dB, EPSG:3395; guide: their optical in {GUIDE_CRS}, left "
          f"{COVERED:.0%}\n")  # fmt: skip
    print("| scene | run | seconds | first progress (s) | peak RSS (MB) | note |")
    print("|---|---|---:|---:|---:|---|")
    for mpx in (float(s) for s in args.sizes.split(",")):
        side = round((mpx * 1e6) ** 0.5)
        scene = build_scene(work / f"scene_{side}.tif", side, files, encoding)
        guide = build_guide(work / f"guide_{side}.tif", side, files)
        for name, kwargs in (("model only", {"guide": None}), ("guided", {"guide": guide}),
                             ("guided, cancelled at first progress", {"guide": guide, "cancel": True})):  # fmt: skip
            out = work / f"out_{side}.tif"
            figures = run(scene, out, **kwargs)
            out.unlink(missing_ok=True)
            print(f"  {name} {side}x{side}: {figures}", file=sys.stderr, flush=True)
            note = figures.get("error") or (
                f"stopped {figures['stopped_after_cancel_s']} s after the cancel; output written: "
                f"{figures['output_written']}" if figures.get("cancelled") else figures.get("guide", ""))
            print(f"| {side}x{side} ({side * side / 1e6:.1f} Mpx) | {name} | {figures.get('seconds', '')} | "
                  f"{figures.get('first_progress', '')} | {figures.get('peak_rss_mb', '')} | {note} |", flush=True)
        scene.unlink()
        guide.unlink()


if __name__ == "__main__":
    main()
