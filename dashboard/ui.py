"""Shared pieces of the pages: process-wide resources (store, runner, model) and formatting."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import streamlit as st

from core.model.checkpoints import LoadedModel, list_checkpoints, load_checkpoint
from core.samples import Sample, build_samples
from core.service.jobs import Job, JobStatus, JobStore
from core.service.runner import JobRunner
from core.service.users import User
from core.settings import Limits, models_dir, var_dir


@st.cache_resource(show_spinner=False)
def _store(root: str) -> JobStore:
    store = JobStore(root)
    store.recover()  # jobs cut off by the last stop -> failed (interrupted); stale partials removed
    return store


@st.cache_resource(show_spinner=False)
def _runner(root: str) -> JobRunner:
    return JobRunner(_store(root), Limits.from_env())


def store() -> JobStore:
    """The job history of this deployment (opened once per process)."""
    return _store(str(var_dir()))


def runner() -> JobRunner:
    """The background job runner (one per process)."""
    return _runner(str(var_dir()))


FILE_CHARS = 28  # History: the longest file name a row shows whole (the table fits 1280 px)


def shortened(text: str, chars: int) -> str:
    """`text` if it has at most `chars` characters, else its start and end around an ellipsis."""
    if len(text) <= chars:
        return text
    head = (chars - 1) // 2
    return f"{text[:head]}…{text[len(text) - (chars - 1 - head):]}"


def status_label(job: Job) -> str:
    """A job's status for display; queued jobs say their place in the queue (SARCOLOR_MAX_CONCURRENT_JOBS)."""
    position = runner().queue_position(job.id) if job.status == JobStatus.QUEUED else None
    return f"queued (position {position})" if position else job.status_label


def storage_caption(user: User) -> None:
    """How much of their storage limit the analyst's scenes and results take (nothing without a limit)."""
    limit = runner().limits.user_stored_mb
    if limit is not None:
        used = store().stored_bytes(user)
        st.caption(f"Your scenes and results take {fmt_bytes(used)} of your {fmt_bytes(limit * 1_000_000)}.")


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _model(path: str, mtime: float) -> LoadedModel:
    return load_checkpoint(path)


def load_model(path: Path) -> LoadedModel:
    """A checkpoint, loaded once per process (reloaded if the file changes)."""
    return _model(str(path), path.stat().st_mtime)


def checkpoints() -> list[Path]:
    """Model files in the models folder, default first."""
    folder = models_dir()
    return list_checkpoints(folder) if folder.is_dir() else []


def model_choices() -> list[Path]:
    """Each model once, default first: an alias (`default.pt` -> `x.pt`) stands for its target."""
    unique: dict[Path, Path] = {}
    for path in checkpoints():
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def model_label(path: Path) -> str:
    """A model as the analyst picks it: its own name, '(default)' after the default's (not the alias's name)."""
    if path.is_symlink():
        return f"{path.resolve().stem} (default)"
    return path.stem


@st.cache_resource(show_spinner="Preparing the built-in samples…")
def samples() -> list[Sample]:
    """Real BigEarthNet Sentinel-1 scenes with their Sentinel-2 reference."""
    return build_samples()


def no_model_message() -> None:
    """Say clearly that no checkpoint is installed, and where to put one."""
    st.warning(
        f"No trained model found in the `{models_dir().name}/` folder. Ask the administrator to put a checkpoint "
        "(`*.pt`, e.g. `default.pt`) there or to set `SARCOLOR_MODELS_DIR` (models are trained with `training/`).",
        icon=":material/model_training:",
    )


def fmt_bytes(size: int | None) -> str:
    """1234567 -> '1.2 MB'."""
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def plain(text: str) -> str:
    """`text` shown as is in Markdown: the characters that would make emphasis, links or HTML are escaped."""
    return re.sub(r"([\\`*_\[\]<>~|#])", r"\\\1", text)


def fmt_time(timestamp: float | None) -> str:
    """Unix seconds -> local 'YYYY-MM-DD HH:MM:SS'."""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S") if timestamp else "–"


def fmt_short_time(timestamp: float | None) -> str:
    """Unix seconds -> local 'DD Mon HH:MM', for a table column."""
    return dt.datetime.fromtimestamp(timestamp).strftime("%d %b %H:%M") if timestamp else "–"


def fmt_seconds(seconds: float | None) -> str:
    """Duration for humans."""
    if seconds is None:
        return "–"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


SETTING_NAMES = {"band": "polarisation", "reference_bands": "reference bands (red/green/blue)"}
SETTING_UNITS = {"tile": " px", "overlap": " px"}


def settings_text(settings: dict) -> str:
    """A job's settings as the analyst set them: unset and automatic ones left out ('auto' is the default, and what
    was detected is in the scene facts), the band as its polarisation, the reference's bands as 'red/green/blue'."""
    shown = []
    for key, value in settings.items():
        if value is None or value == "auto" or (key == "polarisation" and "band" in settings):
            continue
        if key == "reference_bands":
            value = "/".join(map(str, value))
        name = SETTING_NAMES.get(key, key.replace("_", " "))
        shown.append(f"{name} **{value}{SETTING_UNITS.get(key, '')}**")
    return " · ".join(shown)


def reference_label(job: Job) -> str:
    """The reference as the analyst named it, with the bands its scores read ('–' without one)."""
    if not job.reference_name:
        return "–"
    scores = job.reference_scores
    return f"{job.reference_name} (read as {scores.reference_bands})" if scores else job.reference_name
