"""The server's files are its own: uploads, results, sidecars and the history are 0600, their folders 0700
(issue 30, item 11), whatever the umask the server was started with."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.model.checkpoints import load_checkpoint
from core.options import ColorizeOptions
from core.samples import default_sample
from core.service.jobs import JobStatus, JobStore
from core.service.runner import JobRunner
from core.service.users import User, add_account
from core.settings import Limits, default_checkpoint


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022: files 0644, folders 0755) while the test runs; the test process's own afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _modes(root: Path) -> dict[str, str]:
    """Every path under `root` (and `root` itself) -> its permission bits in octal."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root)): oct(stat.S_IMODE(p.stat().st_mode)) for p in paths}


def test_a_served_job_leaves_only_private_files(open_umask: None, tmp_path: Path) -> None:
    """A real guided job with a reference, run by the service's runner: every file 0600, every folder 0700."""
    var = tmp_path / "var"
    add_account(var / "accounts.json", "alice", "a long enough password")  # `sarcolor users add` makes var/ first
    store = JobStore(var)
    sample = default_sample()
    with sample.sar.open("rb") as sar, sample.optical.open("rb") as optical:
        scene, reference = store.store_upload("scene.tif", sar), store.store_upload("optical.tif", optical)
    runner = JobRunner(store, Limits())
    options = ColorizeOptions(guide=str(reference), guide_name="optical.tif")
    job = runner.start(User("alice", "Alice"), "scene.tif", scene, load_checkpoint(default_checkpoint()), options,
                       reference_name="optical.tif", reference_path=str(reference))
    assert runner.wait(job.id, 300)
    done = store.get(job.id, User("alice", "Alice"))
    assert done.status == JobStatus.DONE, done.error
    assert done.scores, "the job was not scored against its reference"
    modes = _modes(var)
    files = {name for name in modes if (var / name).is_file()}
    assert {"jobs.sqlite", "accounts.json"} <= files
    assert any(name.startswith("outputs/") and name.endswith(".confidence.tif") for name in files), files
    assert sum(name.startswith("uploads/") for name in files) == 2
    assert {name: mode for name, mode in modes.items() if name in files and mode != "0o600"} == {}
    assert {name: mode for name, mode in modes.items() if name not in files and mode != "0o700"} == {}


def test_folders_of_an_older_server_are_closed_when_the_store_opens(open_umask: None, tmp_path: Path) -> None:
    """A var dir left 0755 by an older version (or made by hand) is 0700 once the service opens it."""
    var = tmp_path / "var"
    for folder in (var, var / "uploads", var / "outputs"):
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
    JobStore(var)
    assert set(_modes(var).values()) == {"0o700", "0o600"}
