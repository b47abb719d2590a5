"""Benchmark a whole Sentinel-1 GRD product through `sarcolor colorize PRODUCT.zip OUT.tif`: time and peak RSS.

    .venv/bin/python bench/grd.py [--product 2021|2015] [--model PATH]

The shared product (../shared/data/s1-products/grd-safe-xml) gets measurement TIFFs of its annotated size
(25,931 x 16,854 px per polarisation for 2021), written by the tests' helper, zipped; then the CLI colours it in a
fresh process whose peak RSS (VmHWM of the child, from /usr/bin/time-like rusage) is measured. The result is
appended to bench/RESULTS.md with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from colorize import machine  # noqa: E402

from tests.s1_products import whole_product  # noqa: E402


def run(product: Path, out: Path, model: str | None) -> tuple[float, float, str]:
    """Seconds, the child's peak RSS in MB, and its last output line."""
    cmd = [sys.executable, "-m", "core.cli", "colorize", str(product), str(out), "--quiet"]
    cmd += ["--model", model] if model else []
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product", default="2021", choices=["2021", "2015"])
    parser.add_argument("--model", help="checkpoint (default: models/default.pt)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sarcolor-bench-grd-") as work:
        started = time.perf_counter()
        product = whole_product(args.product, Path(work))
        written = time.perf_counter() - started
        load = os.getloadavg()[0]
        seconds, peak_mb, line = run(product, Path(work) / "out.tif", args.model)
    row = (f"| {product.name} | {args.model or 'models/default.pt'} | {seconds:.0f} | {peak_mb:.0f} | "
           f"{load:.1f} | {line.split(': ', 1)[-1]} |")  # fmt: skip
    print(f"measurement TIFFs written in {written:.0f} s\n{row}")
    results = PROJECT_ROOT / "bench" / "RESULTS.md"
    header = (
        f"\n## {time.strftime('%Y-%m-%d')}: a whole GRD product (issue 29), `bench/grd.py`\n\n{machine()}.\n\n"
        "| product | model | seconds | peak RSS (MB) | load at start | CLI summary |\n"
        "|---|---|---:|---:|---:|---|\n"
    )
    with results.open("a") as f:
        f.write(header + row + "\n")


if __name__ == "__main__":
    main()
