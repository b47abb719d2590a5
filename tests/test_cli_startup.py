"""`sarcolor --help` and an input error answer without loading torch or the model (issue 30, item 13).

Checked in a fresh interpreter by what it has imported, not by a timing (`bench/startup.py` measures the time).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "kornia", "skimage", "core.colorize", "core.model.checkpoints")

PROBE = """
import contextlib, io, sys
from core.cli import main
{call}
heavy = [name for name in {heavy!r} if name in sys.modules]
print("HEAVY", heavy)
"""


def _loaded(call: str) -> str:
    """What a fresh interpreter has of `HEAVY` after `call`, as the line 'HEAVY [...]'."""
    code = PROBE.format(call=call, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_and_help_load_no_torch() -> None:
    """Importing the CLI and printing `--help` (of the command and of `colorize`) loads none of the heavy modules."""
    call = (
        "for argv in (['--help'], ['colorize', '--help'], ['users', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        main(argv)"
    )
    assert _loaded(call) == "HEAVY []"


def test_input_error_loads_no_torch(tmp_path: Path) -> None:
    """A text file given as the scene is refused (exit 2, one error line) before torch or the model loads."""
    text = tmp_path / "notes.txt"
    text.write_text("not a raster\n")
    call = f"assert main(['colorize', {str(text)!r}, {str(tmp_path / 'out.tif')!r}]) == 2"
    assert _loaded(call) == "HEAVY []"
    assert not (tmp_path / "out.tif").exists()


def test_a_scene_still_loads_the_model(tmp_path: Path) -> None:
    """The probe can fail: a real run does import torch and the pipeline."""
    from core.samples import default_sample

    call = f"assert main(['colorize', {str(default_sample().sar)!r}, {str(tmp_path / 'out.tif')!r}, '--quiet']) == 0"
    assert "'torch'" in _loaded(call)
    assert (tmp_path / "out.tif").is_file()
