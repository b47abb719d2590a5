"""Many scenes at once: folder mode on the command line, a process pool and a Dask cluster, on real SAR."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from checks import assert_valid_cog
from scenes import not_an_image

from core.colorize import ColorizeOptions
from core.errors import InvalidSettingsError
from core.service.batch import SUMMARY_NAME, expand_inputs, plan_tasks, run_dask, run_pool, run_serial
from core.settings import default_checkpoint

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ColorizeOptions()


@pytest.fixture(scope="module")
def scene_folder(samples, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real BigEarthNet SAR samples (VV + VH, float dB, UTM) in one folder."""
    folder = tmp_path_factory.mktemp("archive")
    for sample in samples:
        shutil.copy(sample.sar, folder / sample.sar.name)
    return folder


def _sarcolor(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core.cli", "colorize", *map(str, args), "--quiet"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_folder_mode_reports_each_scene_goes_on_after_a_failure_and_resumes(scene_folder: Path, tmp_path) -> None:
    inputs = tmp_path / "inputs"
    shutil.copytree(scene_folder, inputs)
    not_an_image(inputs / "broken.tif")
    out = tmp_path / "colour"
    run = _sarcolor(inputs, out, "--workers", 2)
    assert run.returncode == 1, run.stderr  # one scene failed
    assert "Traceback" not in run.stdout + run.stderr
    summary = {Path(s["source"]).name: s for s in json.loads((out / SUMMARY_NAME).read_text())["scenes"]}
    assert summary.pop("broken.tif")["status"] == "failed"
    assert {s["status"] for s in summary.values()} == {"done"} and len(summary) == len(list(scene_folder.iterdir()))
    for scene in summary.values():
        assert assert_valid_cog(Path(scene["output"]))["width"] == 120
    assert not list(out.glob(".*partial*")), "no half-written file left behind"
    again = _sarcolor(inputs / "*.tif", out)  # a glob this time; complete outputs are skipped
    statuses = {Path(s["source"]).name: s["status"] for s in json.loads((out / SUMMARY_NAME).read_text())["scenes"]}
    assert again.returncode == 1 and statuses.pop("broken.tif") == "failed"
    assert set(statuses.values()) == {"skipped"}


def test_pool_and_dask_cluster_write_the_same_bytes_as_serial(scene_folder: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    sources = expand_inputs([scene_folder])[:4]
    serial = plan_tasks(sources, tmp_path / "serial")
    assert {o.status for o in run_serial(serial, default_checkpoint(), OPTIONS)} == {"done"}
    pooled = plan_tasks(sources, tmp_path / "pool")
    assert {o.status for o in run_pool(pooled, default_checkpoint(), OPTIONS, workers=2)} == {"done"}
    clustered = plan_tasks(sources, tmp_path / "dask")
    cluster_options = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
    with distributed.LocalCluster(**cluster_options) as cluster:
        outcomes = list(run_dask(clustered, default_checkpoint(), OPTIONS, scheduler=cluster.scheduler_address))
    assert {o.status for o in outcomes} == {"done"}
    for a, b, c in zip(serial, pooled, clustered, strict=True):
        assert a.output.read_bytes() == b.output.read_bytes() == c.output.read_bytes(), a.source.name


def test_inputs_expand_from_files_folders_and_globs(scene_folder: Path) -> None:
    files = sorted(scene_folder.iterdir())
    assert expand_inputs([scene_folder]) == files
    assert expand_inputs([files[0], str(scene_folder / "*VV*.tif"), scene_folder]) == [files[0]] + [
        f for f in files if f != files[0]
    ]
    with pytest.raises(InvalidSettingsError, match="No such file or folder"):
        expand_inputs([scene_folder / "missing.tif"])
    with pytest.raises(InvalidSettingsError, match="would both be written"):
        plan_tasks([files[0], Path("elsewhere") / files[0].name], scene_folder)
