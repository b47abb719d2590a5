"""Entry points for worker processes started by the robustness tests (importable under `spawn`)."""

from __future__ import annotations

from multiprocessing.synchronize import Event

from core.colorize import ColorizeOptions
from core.model.checkpoints import load_checkpoint
from core.service.jobs import JobStore
from core.service.runner import JobRunner
from core.service.users import LOCAL
from core.settings import Limits


def run_job(var: str, job_id: str, checkpoint: str, options: ColorizeOptions, go: Event | None = None) -> None:
    """Run one job of the store at `var` through the job runner, as the app does, after `go` is set."""
    store = JobStore(var)
    model = load_checkpoint(checkpoint)
    if go is not None:
        go.wait(120)
    runner = JobRunner(store, Limits(max_concurrent_jobs=1))
    runner.submit(store.get(job_id, LOCAL), model, options)
    runner.wait(job_id)
