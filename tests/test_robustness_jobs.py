"""Concurrent, killed and unwritable jobs: same bytes as solo runs, nothing complete-looking left, clear errors.

Inputs are mosaics of the real BigEarthNet Sentinel-1 samples; the model is a small untrained U-Net
saved as a checkpoint so that worker processes load exactly the same weights.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from jobworkers import run_job
from scenes import mosaic_scene

from core.colorize import ColorizeOptions, colorize
from core.errors import InvalidSettingsError, OutputError
from core.model.checkpoints import load_checkpoint, save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.cog import PARTIAL_MARKER
from core.samples import Sample
from core.service.jobs import Job, JobStore
from core.service.runner import JobRunner
from core.service.users import LOCAL
from core.settings import Limits

OPTIONS = ColorizeOptions(tile=128, overlap=32)
SIZES = [(520, 480), (600, 410), (450, 560), (640, 500)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = untrained_model(GeneratorConfig(ngf=8, depth=6), seed=7)
    return save_checkpoint(tmp_path_factory.mktemp("model") / "small.pt", model.generator)


@pytest.fixture(scope="module")
def inputs(samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four different real-SAR mosaics (sample order rotated, sizes differ)."""
    folder = tmp_path_factory.mktemp("inputs")
    return [
        mosaic_scene(folder / f"scene{i}.tif", samples[i:] + samples[:i], w, h) for i, (w, h) in enumerate(SIZES)
    ]


@pytest.fixture(scope="module")
def solo(inputs: list[Path], checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Each input colorized alone, one after the other."""
    folder, model = tmp_path_factory.mktemp("solo"), load_checkpoint(checkpoint)
    return [colorize(path, folder / f"{path.stem}.tif", model, OPTIONS).output for path in inputs]


def _create_jobs(store: JobStore, inputs: list[Path]) -> list[Job]:
    return [store.create(LOCAL, path.name, path, settings={"tile": OPTIONS.tile}) for path in inputs]


def _assert_same_as_solo(store: JobStore, jobs: list[Job], inputs: list[Path], solo: list[Path]) -> None:
    """Byte-identical COGs and pixels; each row and output folder holds only its own job."""
    for job, path, reference in zip(jobs, inputs, solo, strict=True):
        row = store.get(job.id, LOCAL)
        assert row.status == "done", row.error
        assert row.stored_path == str(path) and row.file_name == path.name
        output = Path(row.output_path)
        assert output.parent == store.output_dir(job.id)
        assert [p.name for p in output.parent.iterdir()] == [output.name]
        with rasterio.open(output) as got, rasterio.open(reference) as want:
            assert (row.summary.width, row.summary.height) == (want.width, want.height)
            assert np.array_equal(got.read(), want.read()), path.name
        assert output.read_bytes() == reference.read_bytes(), path.name
    assert not [p for p in store.root.rglob(f"*{PARTIAL_MARKER}*")]


def _overlapped(store: JobStore, jobs: list[Job]) -> bool:
    rows = [store.get(job.id, LOCAL) for job in jobs]
    return max(r.started_at for r in rows) < min(r.finished_at for r in rows)


def test_four_threaded_jobs_match_solo_runs(inputs, solo, checkpoint, tmp_path) -> None:
    store = JobStore(tmp_path / "var")
    runner = JobRunner(store, Limits(max_concurrent_jobs=4))
    model = load_checkpoint(checkpoint)
    jobs = _create_jobs(store, inputs)
    for job in jobs:
        runner.submit(job, model, OPTIONS)
    assert all(runner.wait(job.id, 300) for job in jobs)
    _assert_same_as_solo(store, jobs, inputs, solo)
    assert _overlapped(store, jobs), "the four jobs did not run at the same time"


def test_four_jobs_in_spawned_processes_match_solo_runs(inputs, solo, checkpoint, tmp_path) -> None:
    store = JobStore(tmp_path / "var")
    jobs = _create_jobs(store, inputs)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    workers = [
        context.Process(target=run_job, args=(str(store.root), job.id, str(checkpoint), OPTIONS, go)) for job in jobs
    ]
    for worker in workers:
        worker.start()
    go.set()
    for worker in workers:
        worker.join(300)
    assert [w.exitcode for w in workers] == [0] * 4
    _assert_same_as_solo(store, jobs, inputs, solo)


def _wait_for(condition, timeout: float = 120.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def test_sigkilled_worker_leaves_only_partials_and_restart_recovers(samples, checkpoint, tmp_path) -> None:
    scene = mosaic_scene(tmp_path / "big_2000.tif", samples, 2000, 2000)
    store = JobStore(tmp_path / "var")
    job = store.create(LOCAL, scene.name, scene)
    options = ColorizeOptions(tile=128, overlap=32)
    worker = multiprocessing.get_context("spawn").Process(
        target=run_job, args=(str(store.root), job.id, str(checkpoint), options)
    )
    worker.start()
    folder = store.output_dir(job.id)
    assert _wait_for(lambda: folder.is_dir() and any(PARTIAL_MARKER in p.name for p in folder.iterdir()))
    time.sleep(0.5)  # some tile rows written
    assert store.get(job.id, LOCAL).status == "running"
    os.kill(worker.pid, signal.SIGKILL)
    worker.join(30)
    assert worker.exitcode == -signal.SIGKILL

    left = sorted(folder.iterdir())
    assert left and all(PARTIAL_MARKER in p.name and p.name.startswith(".") for p in left), left
    assert not Path(store.get(job.id, LOCAL).output_path).exists()
    assert store.get(job.id, LOCAL).status == "running"  # nobody could record the kill

    count, removed = JobStore(store.root).recover()  # the next start
    assert count == 1 and sorted(removed) == left
    assert list(folder.iterdir()) == []
    row = store.get(job.id, LOCAL)
    assert row.status == "failed" and row.status_label == "failed (interrupted)"


# --- unwritable output, disk full -------------------------------------------------


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator:
    """Mount a tiny tmpfs (root only); skipped where mounting is not permitted."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        target = tmp_path / name
        target.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "--lazy", str(target)], check=False)  # detached now even while a handle closes


def _colorize_small(inputs: list[Path], checkpoint: Path, output: Path) -> None:
    colorize(inputs[3], output, load_checkpoint(checkpoint), OPTIONS)


def test_output_folder_under_a_file_is_a_clear_error(inputs, checkpoint, tmp_path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(OutputError, match=r"Cannot write the result to .*not_a_folder"):
        _colorize_small(inputs, checkpoint, blocker / "out" / "result.tif")
    assert blocker.read_text() == "a file where a folder should be"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_read_only_filesystem_is_a_clear_error(inputs, checkpoint, mount_tmpfs) -> None:
    folder = mount_tmpfs("ro", "ro,size=64k")
    with pytest.raises(OutputError, match=r"Cannot write the result to .*Read-only file system"):
        _colorize_small(inputs, checkpoint, folder / "result.tif")
    assert list(folder.iterdir()) == []


def test_disk_full_is_a_clear_error_and_leaves_nothing(inputs, checkpoint, mount_tmpfs) -> None:
    folder = mount_tmpfs("full", "size=64k")
    with pytest.raises(OutputError, match="disk is full"):
        _colorize_small(inputs, checkpoint, folder / "result.tif")
    assert list(folder.iterdir()) == []


def test_disk_filling_up_mid_run_is_a_clear_error_and_leaves_nothing(inputs, checkpoint, mount_tmpfs) -> None:
    """Room for the bytes (the check before the run passes) but for one file only: the next file the run
    creates fails with ENOSPC, as a disk that others fill during a run would."""
    folder = mount_tmpfs("inodes", "size=8m,nr_inodes=2")
    with pytest.raises(OutputError, match="disk is full") as raised:
        _colorize_small(inputs, checkpoint, folder / "result.tif")
    assert "for this scene" not in str(raised.value)  # not the check before the run
    assert list(folder.iterdir()) == []


def test_too_little_space_for_a_scene_is_said_before_any_work(inputs, checkpoint, mount_tmpfs) -> None:
    folder = mount_tmpfs("small", "size=1m")
    said = r"The disk is full for this scene: .* has 1\.0 MB free, .* needs about \d+\.\d MB"
    with pytest.raises(OutputError, match=said):
        _colorize_small(inputs, checkpoint, folder / "result.tif")
    assert list(folder.iterdir()) == []


def test_disk_full_job_is_failed_in_history(inputs, checkpoint, mount_tmpfs, tmp_path) -> None:
    folder = mount_tmpfs("full", "size=64k")
    store = JobStore(tmp_path / "var")
    job = store.create(LOCAL, inputs[3].name, inputs[3], output_path=str(folder / "result.tif"))
    runner = JobRunner(store)
    runner.submit(job, load_checkpoint(checkpoint), OPTIONS)
    assert runner.wait(job.id, 120)
    row = store.get(job.id, LOCAL)
    assert row.status == "failed" and "disk is full" in row.error
    assert list(folder.iterdir()) == []


# --- limits are configuration -------------------------------------------------------


def test_limits_are_read_from_the_environment(tmp_path, monkeypatch) -> None:
    for name, value in [("MAX_PIXELS", "1_000"), ("MAX_BANDS", "2"), ("MAX_CONCURRENT_JOBS", "3")]:
        monkeypatch.setenv(f"SARCOLOR_{name}", value)
    assert Limits.from_env() == Limits(max_pixels=1000, max_bands=2, max_concurrent_jobs=3)
    assert JobRunner(JobStore(tmp_path)).limits.max_concurrent_jobs == 3


@pytest.mark.parametrize("value", ["lots", "0", "-4", "1.5"])
def test_bad_limit_setting_is_one_clear_line(value, inputs, checkpoint, tmp_path, monkeypatch, capsys) -> None:
    from core.cli import main as cli_main

    monkeypatch.setenv("SARCOLOR_MAX_PIXELS", value)
    with pytest.raises(InvalidSettingsError, match=f"SARCOLOR_MAX_PIXELS must be a positive whole number.*{value}"):
        Limits.from_env()
    code = cli_main(["colorize", str(inputs[0]), str(tmp_path / "o.tif"), "--model", str(checkpoint), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "SARCOLOR_MAX_PIXELS" in err[0]
    assert list(tmp_path.iterdir()) == []
