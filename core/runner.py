"""Run colorize jobs in background threads: progress, cancel, a concurrency limit and a queue.

At most `Limits.max_concurrent_jobs` jobs run at once; the others wait in FIFO order
and report their queue position. Every state change is written to the `JobStore`,
so the history stays right whatever the UI does.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.checkpoints import LoadedModel
from core.colorize import ColorizeOptions, colorize
from core.display import reference_scores
from core.errors import JobCancelled, SarColorError
from core.jobs import Job, JobStatus, JobStore
from core.settings import Limits

log = logging.getLogger(__name__)


@dataclass
class JobHandle:
    """Live state of one submitted job (in memory; the store holds the durable state)."""

    job_id: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    done_tiles: int = 0
    total_tiles: int = 0

    @property
    def fraction(self) -> float:
        return self.done_tiles / self.total_tiles if self.total_tiles else 0.0


FOLDERS = re.compile(r"(?:/[^\s/:'\"]+)+/")  # absolute folder paths (server details) inside a message


def message_as_given(message: str, job: Job) -> str:
    """A message naming the file as the user gave it (not its stored, prefixed name) and no server folders."""
    return FOLDERS.sub("", message.replace(Path(job.stored_path).name, job.file_name))


def score_job(job: Job, output: Path) -> dict:
    """The result's scores against the job's reference, with their baselines (empty: no reference, or unusable)."""
    if not job.reference_path:
        return {}
    bands = job.settings.get("reference_bands")
    try:
        return reference_scores(output, job.reference_path, bands=tuple(bands) if bands else None).as_dict()
    except SarColorError as exc:  # the result view says why when it shows the job
        log.info("job %s not scored: %s", job.id, exc)
        return {}


class JobRunner:
    """Starts jobs in threads, at most `limits.max_concurrent_jobs` at a time."""

    def __init__(self, store: JobStore, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits.from_env()
        self._slots = threading.Semaphore(max(1, self.limits.max_concurrent_jobs))
        self._lock = threading.Lock()
        self._queue: list[str] = []
        self._handles: dict[str, JobHandle] = {}

    def start(
        self, file_name: str, stored_path: Path, model: LoadedModel, options: ColorizeOptions, **fields
    ) -> Job:
        """Record a new job (its options as settings, plus `fields`) and queue it: the whole lifecycle from here."""
        settings = asdict(options) | fields.pop("settings", {})
        job = self.store.create(file_name, stored_path, model=model.name, settings=settings, **fields)
        self.submit(job.id, model, options)
        return job

    def submit(self, job_id: str, model: LoadedModel, options: ColorizeOptions) -> JobHandle:
        """Queue a job created in the store; it starts as soon as a slot is free."""
        handle = JobHandle(job_id)
        with self._lock:
            self._handles[job_id] = handle
            self._queue.append(job_id)
        thread = threading.Thread(target=self._run, args=(handle, model, options), name=f"job-{job_id}", daemon=True)
        thread.start()
        return handle

    def handle(self, job_id: str) -> JobHandle | None:
        """The live handle of a job submitted in this process, if any."""
        return self._handles.get(job_id)

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._lock:
            return self._queue.index(job_id) + 1 if job_id in self._queue else None

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop at its next tile row (or before it starts)."""
        handle = self._handles.get(job_id)
        if handle:
            handle.cancel_event.set()

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job finishes; True if it did."""
        handle = self._handles.get(job_id)
        return handle.finished.wait(timeout) if handle else True

    def _run(self, handle: JobHandle, model: LoadedModel, options: ColorizeOptions) -> None:
        try:
            with self._slots:
                with self._lock:
                    self._queue.remove(handle.job_id)
                self._execute(handle, model, options)
        finally:
            handle.finished.set()

    def _execute(self, handle: JobHandle, model: LoadedModel, options: ColorizeOptions) -> None:
        job = self.store.get(handle.job_id)
        if job is None:  # deleted while queued
            return
        output = Path(job.output_path or self.store.output_dir(job.id) / f"{Path(job.stored_path).stem}_colorized.tif")
        started = time.time()
        self.store.update(job.id, status=JobStatus.RUNNING, started_at=started, output_path=str(output))

        def progress(done: int, total: int) -> None:
            handle.done_tiles, handle.total_tiles = done, total

        try:
            if handle.cancel_event.is_set():
                raise JobCancelled("The job was cancelled before it started; no output was written.")
            result = colorize(
                job.stored_path, output, model, options, progress, handle.cancel_event.is_set, self.limits,
                source_name=Path(job.file_name.replace("\\", "/")).name,
            )
        except JobCancelled as exc:
            self.store.update(job.id, status=JobStatus.CANCELLED, error=str(exc), finished_at=time.time())
        except SarColorError as exc:
            log.info("job %s failed: %s", job.id, exc, exc_info=exc)  # the library's own words, for the server log
            error = message_as_given(str(exc), job)
            self.store.update(job.id, status=JobStatus.FAILED, error=error, finished_at=time.time())
        except Exception as exc:  # a bug, not bad input: keep history right, log the traceback
            log.exception("job %s crashed", job.id)
            message = f"Unexpected error ({type(exc).__name__}): {exc}. The job was stopped; nothing was written."
            self.store.update(job.id, status=JobStatus.FAILED, error=message, finished_at=time.time())
        else:
            summary = replace(result.summary, warnings=tuple(message_as_given(w, job) for w in result.summary.warnings))
            done = {"status": JobStatus.DONE, "finished_at": time.time(), "error": None}
            self.store.update(job.id, crs=summary.crs, result=summary.as_dict(), scores=score_job(job, output), **done)
