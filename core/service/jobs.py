"""The job history: one SQLite row per colorize job, plus the job's files under the var dir.

Layout under the var dir (SARCOLOR_VAR_DIR, default `<project>/var/`):
`jobs.sqlite` (this store), `uploads/` (input copies, safe names; the files of one upload in a folder of their
own, `uploads/<id>/`), `outputs/<job id>/` (results).
Statuses: queued -> running -> done | failed | cancelled. A job found `queued` or `running`
when the store opens was cut off by a stopped app: it becomes `failed` with an
"interrupted" reason (shown as "failed (interrupted)").

Every job belongs to a user id (`owner`); every read of a job takes the `User` asking and
answers only with jobs that user may see (`User.can_see`): another user's job is "not found" (None).
Histories from before users existed are owned by the local user (`core.service.users.LOCAL`).

The var dir is private to the server's account: opening the store sets the process's umask to 077
(`keep_files_private`), so every file the service writes there, whoever writes it (the upload copy, GDAL's
results and sidecars, SQLite, the sign-in key), is created 0600 and every folder 0700; the store's own folders,
made by an older version or by `sarcolor users add`, are set to 0700 when it opens.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from core.rasters.cog import cleanup_stale_partials
from core.result import RunSummary
from core.scoring.scores import ReferenceScores
from core.service.users import LOCAL, User
from core.settings import var_dir


class JobStatus(StrEnum):
    """Where a job is in its life: queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)
INTERRUPTED = "interrupted: the app stopped before this job finished"
ORPHAN_UPLOAD_AGE_S = 24 * 3600
PRIVATE_FOLDER = 0o700  # the var dir and its folders: the server's account only
_COLUMNS = {
    "id": "TEXT PRIMARY KEY",
    "created_at": "REAL NOT NULL",
    "file_name": "TEXT NOT NULL",
    "stored_path": "TEXT NOT NULL",
    "size_bytes": "INTEGER",
    "crs": "TEXT",
    "model": "TEXT",
    "settings": "TEXT",
    "status": "TEXT NOT NULL",
    "error": "TEXT",
    "started_at": "REAL",
    "finished_at": "REAL",
    "output_path": "TEXT",
    "reference_name": "TEXT",
    "reference_path": "TEXT",
    "result": "TEXT",
    "scores": "TEXT",  # added by issue 18: histories from before get the column at open (`_add_missing_columns`)
    "owner": f"TEXT NOT NULL DEFAULT '{LOCAL.id}'",  # issue 19: older jobs belong to the local user
}
_JSON_FIELDS = ("settings", "result", "scores")


@dataclass
class Job:
    """One row of the history. Times are Unix seconds; paths are absolute."""

    id: str
    created_at: float
    file_name: str  # as given by the user, shown as is
    stored_path: str  # where the input lies (safe name)
    status: JobStatus
    size_bytes: int | None = None
    crs: str | None = None
    model: str | None = None
    settings: dict = field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    output_path: str | None = None
    reference_name: str | None = None
    reference_path: str | None = None
    result: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)  # `ReferenceScores.as_dict()` once scored against a reference
    owner: str = LOCAL.id  # the user id the job belongs to

    @property
    def reference_scores(self) -> ReferenceScores | None:
        """The stored scores against the reference and their baselines (None: not scored)."""
        return ReferenceScores.from_dict(self.scores) if self.scores else None

    @property
    def summary(self) -> RunSummary | None:
        """The finished run's facts (None until the job is done)."""
        return RunSummary.from_dict(self.result) if self.result else None

    @property
    def status_label(self) -> str:
        """Status for display: 'failed (interrupted)' for jobs cut off by a restart."""
        if self.status == JobStatus.FAILED and (self.error or "").startswith("interrupted"):
            return "failed (interrupted)"
        return self.status

    @property
    def seconds(self) -> float | None:
        """Run time in seconds, once finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    @property
    def wall_seconds(self) -> float | None:
        """Seconds from queueing the job to its end (what the analyst waited), once finished."""
        return None if self.finished_at is None else self.finished_at - self.created_at

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


def keep_files_private() -> None:
    """From now on, this process creates files 0600 and folders 0700 (umask 077): the server's data is its own."""
    os.umask(0o077)


def safe_name(name: str, max_length: int = 120) -> str:
    """A file name safe on any file system: no folders, no control or odd characters."""
    base = Path(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload"
    stem, dot, suffix = base.rpartition(".")
    if dot and len(suffix) <= 8:
        return f"{stem[: max_length - len(suffix) - 1] or 'upload'}.{suffix}"
    return base[:max_length]


class JobStore:
    """SQLite-backed job history; safe to use from several threads (one connection per call)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else var_dir()
        self.uploads = self.root / "uploads"
        self.outputs = self.root / "outputs"
        keep_files_private()
        for folder in (self.root, self.uploads, self.outputs):
            folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
            folder.chmod(PRIVATE_FOLDER)
        self.path = self.root / "jobs.sqlite"
        with self._connect() as db:
            columns = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
            db.execute(f"CREATE TABLE IF NOT EXISTS jobs ({columns})")
            _add_missing_columns(db)
            db.execute("CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, created_at)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def recover(self) -> tuple[int, list[Path]]:
        """Startup: jobs cut off by a stop -> failed (interrupted); remove stale partials and old orphan uploads."""
        with contextlib.closing(self._connect()) as db, db:
            cursor = db.execute(
                "UPDATE jobs SET status='failed', error=?, finished_at=? WHERE status IN ('queued','running')",
                (INTERRUPTED, time.time()),
            )
            count = cursor.rowcount
        removed = [p for folder in self.outputs.glob("*") if folder.is_dir() for p in cleanup_stale_partials(folder)]
        return count, removed + self._remove_orphan_uploads()

    def _remove_orphan_uploads(self, older_than_s: float = ORPHAN_UPLOAD_AGE_S) -> list[Path]:
        """Uploads that no job refers to (uploaded, never run) once they are a day old."""
        with contextlib.closing(self._connect()) as db:
            used = {p for row in db.execute("SELECT stored_path, reference_path FROM jobs") for p in row if p}
        used |= {str(Path(p).parent) for p in used}  # an upload's own folder is used when a file in it is
        now, removed = time.time(), []
        for path in self.uploads.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if str(path) not in used and now - path.stat().st_mtime > older_than_s:
                    if path.is_dir():  # the files of one upload, together (an RTC pair)
                        shutil.rmtree(path)
                    else:
                        path.unlink()
                    removed.append(path)
        return removed

    def create(self, owner: User, file_name: str, stored_path: str | Path, **fields) -> Job:
        """Insert a queued job belonging to `owner` and give it its output folder."""
        job = Job(
            id=uuid.uuid4().hex[:12],
            created_at=time.time(),
            file_name=file_name,
            stored_path=str(stored_path),
            status=JobStatus.QUEUED,
            owner=owner.id,
            **fields,
        )
        row = {name: getattr(job, name) for name in _COLUMNS}
        for name in _JSON_FIELDS:
            row[name] = json.dumps(row[name])
        with contextlib.closing(self._connect()) as db, db:
            db.execute(f"INSERT INTO jobs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        return job

    def output_dir(self, job_id: str) -> Path:
        """The folder holding one job's results."""
        return self.outputs / job_id

    def update(self, job_id: str, **fields) -> None:
        """Set some columns of one job."""
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise KeyError(f"unknown job fields: {sorted(unknown)}")
        if "status" in fields and fields["status"] not in set(JobStatus):
            raise ValueError(f"unknown status {fields['status']!r}")
        values = [json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items()]
        with contextlib.closing(self._connect()) as db, db:
            db.execute(f"UPDATE jobs SET {', '.join(f'{k}=?' for k in fields)} WHERE id=?", (*values, job_id))

    def get(self, job_id: str, user: User) -> Job | None:
        """One job if `user` may see it; None when it does not exist or belongs to someone else."""
        with contextlib.closing(self._connect()) as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _to_job(row) if row and user.can_see(row["owner"]) else None

    def list(self, user: User, limit: int = 500) -> list[Job]:
        """The jobs `user` may see (an admin: everyone's), most recent first."""
        where, args = ("", ()) if user.is_admin else ("WHERE owner=?", (user.id,))
        with contextlib.closing(self._connect()) as db:
            rows = db.execute(f"SELECT * FROM jobs {where} ORDER BY created_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [_to_job(row) for row in rows]

    def own_jobs(self, user: User) -> list[Job]:
        """The user's own jobs (an admin's too: not everyone's), oldest first."""
        with contextlib.closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM jobs WHERE owner=? ORDER BY created_at", (user.id,)).fetchall()
        return [_to_job(row) for row in rows]

    def job_bytes(self, job: Job) -> int:
        """Bytes a job holds on disk: its output folder and its input/reference copies under uploads/."""
        files = [p for p in self.output_dir(job.id).rglob("*") if p.is_file()]
        files += [f for p in (job.stored_path, job.reference_path) if p for f in self._upload_files(Path(p))]
        return sum(p.stat().st_size for p in files if p.exists())

    def stored_bytes(self, user: User) -> int:
        """Bytes the user's own jobs hold on disk."""
        return sum(self.job_bytes(job) for job in self.own_jobs(user))

    def oldest_to_free(self, user: User, limit_bytes: int) -> list[Job]:
        """The user's oldest finished jobs whose deletion brings their storage under `limit_bytes` (to offer)."""
        jobs = [(job, self.job_bytes(job)) for job in self.own_jobs(user)]
        excess = sum(size for _, size in jobs) - limit_bytes
        chosen: list[Job] = []
        for job, size in jobs:
            if excess < 0:
                break
            if job.is_finished:
                chosen.append(job)
                excess -= size
        return chosen

    def delete(self, job_id: str, user: User) -> None:
        """Remove a job's row, its output folder and its input/reference copies (never files outside the var dir).

        Only a job `user` may see; any other id is left alone, as if it did not exist.
        """
        job = self.get(job_id, user)
        if job is None:
            return
        shutil.rmtree(self.output_dir(job_id), ignore_errors=True)
        for path in (job.stored_path, job.reference_path):
            if path and self._owns(Path(path)):
                _remove_upload(self.uploads, Path(path))
        with contextlib.closing(self._connect()) as db, db:
            db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def _owns(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.uploads.resolve())

    def store_upload(self, name: str, stream: BinaryIO) -> Path:
        """Copy an upload (any readable binary stream) into uploads/ under a unique safe name."""
        target = self.uploads / f"{uuid.uuid4().hex[:8]}-{safe_name(name)}"
        _copy(stream, target)
        return target

    def store_uploads(self, files: list[tuple[str, BinaryIO]]) -> Path:
        """Copy the files of one upload together into their own private folder under uploads/, each under its safe
        original name (an RTC file then finds its sibling polarisation by name); returns the folder."""
        folder = self.uploads / uuid.uuid4().hex[:12]
        folder.mkdir(mode=PRIVATE_FOLDER)
        for name, stream in files:
            _copy(stream, folder / safe_name(name))
        return folder

    def discard_upload(self, folder: Path) -> None:
        """Remove an upload's folder that no job took (files refused together)."""
        if self._owns(folder) and folder.resolve().parent == self.uploads.resolve():
            shutil.rmtree(folder, ignore_errors=True)

    def upload_bytes(self, path: Path) -> int:
        """Bytes of an input: its upload's files together (an RTC pair), or the one file."""
        return sum(p.stat().st_size for p in self._upload_files(path)) or path.stat().st_size

    def _upload_files(self, path: Path) -> list[Path]:
        """An input copy and, when it lies in an upload's own folder, the files beside it (its pair)."""
        if not self._owns(path):
            return []
        if path.parent.resolve() != self.uploads.resolve():
            return [p for p in path.parent.iterdir() if p.is_file()]
        return [path] if path.is_file() else []


def _copy(stream: BinaryIO, target: Path) -> None:
    with open(target, "wb") as out:
        shutil.copyfileobj(stream, out, length=16 * 1024 * 1024)


def _remove_upload(uploads: Path, path: Path) -> None:
    """Delete an input copy; one in an upload's own folder goes with its folder (its pair, the folder itself)."""
    if path.parent.resolve() != uploads.resolve():
        shutil.rmtree(path.parent, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Migrate a history written by an older version: add the columns it lacks (empty for its jobs)."""
    present = {row["name"] for row in db.execute("PRAGMA table_info(jobs)")}
    for name, kind in _COLUMNS.items():
        if name not in present:
            with contextlib.suppress(sqlite3.OperationalError):  # another process added it first
                db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {kind}")


def _to_job(row: sqlite3.Row) -> Job:
    values = dict(row)
    for name in _JSON_FIELDS:
        values[name] = json.loads(values[name]) if values[name] else {}
    values["status"] = JobStatus(values["status"])
    return Job(**values)
