"""Run colorize jobs in background threads: progress, cancel, concurrency limits and a queue.

At most `Limits.max_concurrent_jobs` jobs run at once, and at most `Limits.user_running_jobs`
of one user; the others wait in FIFO order (a job whose user is at their own limit lets the
next user's job go first) and report their queue position. A user with `Limits.user_queued_jobs`
jobs waiting, or whose stored results exceed `Limits.user_stored_mb`, cannot queue another
(`UserLimitError`); other users are unaffected. Every state change is written to the `JobStore`,
so the history stays right whatever the UI does.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from core.colorize import ColorizeOptions, colorize
from core.errors import JobCancelled, SarColorError, StorageLimitError, UserLimitError
from core.model.checkpoints import LoadedModel
from core.service.display import reference_scores
from core.service.jobs import Job, JobStatus, JobStore
from core.service.users import User
from core.settings import Limits

log = logging.getLogger(__name__)


@dataclass
class JobHandle:
    """Live state of one submitted job (in memory; the store holds the durable state)."""

    job_id: str
    owner: User  # the job's owner: the runner reads the job as them
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
    """Starts jobs in threads, at most `limits.max_concurrent_jobs` at a time (`limits.user_*` per user)."""

    def __init__(self, store: JobStore, limits: Limits | None = None) -> None:
        self.store = store
        self.limits = limits or Limits.from_env()
        self._changed = threading.Condition()  # guards the queue, the handles and the running counts
        self._queue: list[str] = []
        self._handles: dict[str, JobHandle] = {}
        self._running: Counter[str] = Counter()  # user id -> jobs running now

    def start(
        self, user: User, file_name: str, stored_path: Path, model: LoadedModel, options: ColorizeOptions, **fields
    ) -> Job:
        """Check the user's limits, record a new job of theirs (options as settings, plus `fields`) and queue it."""
        self.check_user_limits(user)
        settings = asdict(options) | fields.pop("settings", {})
        job = self.store.create(user, file_name, stored_path, model=model.name, settings=settings, **fields)
        self.submit(job, model, options)
        return job

    def check_user_limits(self, user: User) -> None:
        """A `UserLimitError` saying which of the user's own limits a new job would break."""
        limit = self.limits.user_queued_jobs
        if limit is not None and self.waiting(user) >= limit:
            raise UserLimitError(
                f"You already have {self.waiting(user)} job(s) waiting for a free slot, your limit "
                f"(SARCOLOR_USER_MAX_QUEUED_JOBS = {limit}). Start this one when one of them has begun, "
                "or cancel one."
            )
        limit = self.limits.user_stored_mb
        used = self.store.stored_bytes(user) if limit is not None else 0
        if limit is not None and used >= limit * 1_000_000:
            raise StorageLimitError(
                f"Your stored scenes and results take {used / 1e6:.1f} MB, over your limit of {limit} MB "
                "(SARCOLOR_USER_MAX_STORED_MB). Delete older results to colorize more; nothing is deleted "
                "without you."
            )

    def waiting(self, user: User) -> int:
        """How many of the user's jobs wait for a slot."""
        with self._changed:
            return sum(self._handles[job_id].owner.id == user.id for job_id in self._queue)

    def submit(self, job: Job, model: LoadedModel, options: ColorizeOptions) -> JobHandle:
        """Queue a job created in the store; it starts as soon as a slot is free (for its owner too)."""
        handle = JobHandle(job.id, User(job.owner, job.owner))
        with self._changed:
            self._handles[job.id] = handle
            self._queue.append(job.id)
        thread = threading.Thread(target=self._run, args=(handle, model, options), name=f"job-{job.id}", daemon=True)
        thread.start()
        return handle

    def handle(self, job_id: str) -> JobHandle | None:
        """The live handle of a job submitted in this process, if any."""
        return self._handles.get(job_id)

    def queue_position(self, job_id: str) -> int | None:
        """1 for the next job to start; None when the job is not waiting."""
        with self._changed:
            return self._queue.index(job_id) + 1 if job_id in self._queue else None

    def cancel(self, job_id: str) -> None:
        """Ask a job to stop at its next tile row (or before it starts)."""
        handle = self._handles.get(job_id)
        if handle:
            handle.cancel_event.set()
            with self._changed:
                self._changed.notify_all()  # a waiting job leaves the queue at once

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Block until the job finishes; True if it did."""
        handle = self._handles.get(job_id)
        return handle.finished.wait(timeout) if handle else True

    def _next_to_start(self) -> str | None:
        """The first waiting job whose owner is under their own limit, if a slot is free (call holding the lock)."""
        if sum(self._running.values()) >= max(1, self.limits.max_concurrent_jobs):
            return None
        per_user = self.limits.user_running_jobs
        for job_id in self._queue:
            if per_user is None or self._running[self._handles[job_id].owner.id] < per_user:
                return job_id
        return None

    def _run(self, handle: JobHandle, model: LoadedModel, options: ColorizeOptions) -> None:
        owner = handle.owner.id
        try:
            with self._changed:
                self._changed.wait_for(lambda: handle.cancel_event.is_set() or self._next_to_start() == handle.job_id)
                self._queue.remove(handle.job_id)
                self._running[owner] += 1
                self._changed.notify_all()  # another slot may still be free for the next in line
            try:
                self._execute(handle, model, options)
            finally:
                with self._changed:
                    self._running[owner] -= 1
                    self._changed.notify_all()
        finally:
            handle.finished.set()

    def _execute(self, handle: JobHandle, model: LoadedModel, options: ColorizeOptions) -> None:
        job = self.store.get(handle.job_id, handle.owner)
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
