"""Refactoring keeps behaviour: the COG bytes of today's code equal those of a pinned earlier revision.

Both revisions run here, in this environment, on the same real scenes with the same checkpoint
(today's `models/default.pt`), so CPU kernels and library versions cancel out and only the code
differs. Change OUTPUT_REVISION only in a commit that changes the output on purpose, and say so there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scenes import mosaic_scene

from core.settings import default_checkpoint

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_REVISION = "3eb4125"  # last deliberate output change: predictions kept as half floats (memory)
SCRIPT = """
import sys
from pathlib import Path
try:
    from core.model.checkpoints import load_checkpoint
except ModuleNotFoundError:  # the reference revision predates core's packages
    from core.checkpoints import load_checkpoint
from core.colorize import ColorizeOptions, colorize
model = load_checkpoint(sys.argv[1])
out = Path(sys.argv[2])
for source in sys.argv[3:]:
    for precision in ("fp32", "auto"):
        colorize(source, out / f"{Path(source).stem}_{precision}.tif", model, ColorizeOptions(precision=precision))
"""


def _colorize_with(code_root: Path, out: Path, scenes: list[Path]) -> dict[str, str]:
    """Run the pipeline of the code under `code_root`; {file name: sha256 of its bytes}."""
    out.mkdir()
    args = [sys.executable, "-c", SCRIPT, str(default_checkpoint()), str(out), *map(str, scenes)]
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    run = subprocess.run(args, cwd=code_root, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}


@pytest.fixture(scope="module")
def reference_tree(tmp_path_factory: pytest.TempPathFactory):
    """A worktree of OUTPUT_REVISION, or a skip saying why there is none."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot check out the reference revision")
    known = subprocess.run(["git", "cat-file", "-e", f"{OUTPUT_REVISION}^{{commit}}"], cwd=PROJECT_ROOT)
    if known.returncode != 0:
        pytest.skip(f"revision {OUTPUT_REVISION} is not in this clone's history (shallow clone?)")
    tree = tmp_path_factory.mktemp("reference") / "tree"
    git = ["git", "-C", str(PROJECT_ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(tree), OUTPUT_REVISION], check=True)
    yield tree
    subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False)


def test_todays_code_writes_the_same_cog_bytes_as_the_reference_revision(samples, reference_tree, tmp_path) -> None:
    """Two samples and a mosaic of several tile rows and columns, with streamed and GDAL-built overviews."""
    mosaic = mosaic_scene(tmp_path / "mosaic_2100x600.tif", samples, 2100, 600)
    scenes = [sample.sar for sample in samples[:2]] + [mosaic]
    before = _colorize_with(reference_tree, tmp_path / "before", scenes)
    after = _colorize_with(PROJECT_ROOT, tmp_path / "after", scenes)
    assert len(after) == 6 and after == before
