"""How long `sarcolor` takes from the prompt: `--help`, an input error, and a small real scene.

    .venv/bin/python bench/startup.py [--runs 5] [--scene-runs 3] [--root CHECKOUT] [--json OUT.json]

Each command runs in a fresh interpreter (`python -m core.cli ...`, what the `sarcolor` script runs), and the
median wall time of the runs is reported. The input error is a text file given as the scene; the small scene
is the built-in sample (`core.samples.default_sample`, 120 x 120 px BigEarthNet VV+VH dB). Then one
`python -X importtime -m core.cli --help` says which imports the start-up pays for (cumulative seconds of what
the program imports itself). `--root` measures another checkout's CLI (e.g. an older commit, `git worktree add`)
with the same inputs, so that before and after are measured side by side on the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def wall_time(args: list[str], runs: int, root: Path = ROOT) -> tuple[float, int]:
    """Median seconds of `python -m core.cli ARGS` (run in `root`) over `runs` fresh interpreters, and its exit code."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=root, capture_output=True,
                              env=os.environ | {"PYTHONPATH": str(root)})
        times.append(time.perf_counter() - start)
        code = done.returncode
    return statistics.median(times), code


def import_times(args: list[str], root: Path = ROOT) -> dict[str, float]:
    """Cumulative import seconds of each module the program imports itself (not through another import), for one
    `python -X importtime -m core.cli ARGS`."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "core.cli", *args], cwd=root,
                          capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(root)})
    totals: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        if not name.startswith("  "):  # imported by the program itself, not by another import
            totals[name.strip()] += int(parts[1]) / 1e6
    return dict(totals.most_common())


def measure(runs: int, scene_runs: int, root: Path = ROOT) -> dict:
    """The four figures and the import profile of the CLI in `root`."""
    from core.samples import default_sample

    sample = default_sample().sar
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "notes.txt"
        text.write_text("not a raster\n")
        figures = {
            "help_s": wall_time(["--help"], runs, root),
            "input_error_s": wall_time(["colorize", str(text), str(Path(tmp) / "out.tif")], runs, root),
            "users_list_s": wall_time(["users", "list", "--file", str(Path(tmp) / "none.json")], runs, root),
            "small_scene_s": wall_time(["colorize", str(sample), str(Path(tmp) / "scene.tif"), "--quiet"],
                                       scene_runs, root),
        }
    imports = import_times(["--help"], root)
    return {"figures": figures, "help_imports_s": {k: round(v, 3) for k, v in list(imports.items())[:10]},
            "help_imports_total_s": round(sum(imports.values()), 3)}


def main() -> None:
    """Measure and print; optionally save as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scene-runs", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose CLI is measured")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args.runs, args.scene_runs, args.root.resolve())
    for name, (seconds, code) in result["figures"].items():
        print(f"{name:16s} {seconds:6.2f} s  (exit {code})")
    print(f"imports of --help: {result['help_imports_total_s']:.2f} s; top: {result['help_imports_s']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
