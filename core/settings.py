"""Resource limits and paths, read from the environment so deployments can tune them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidSettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Checkpoint folder: SARCOLOR_MODELS_DIR (read at call time), default <project>/models."""
    return Path(os.environ.get("SARCOLOR_MODELS_DIR", PROJECT_ROOT / "models"))


def default_checkpoint() -> Path:
    """The checkpoint the app and the CLI use when none is chosen."""
    return models_dir() / "default.pt"


def shared_data_dir() -> Path:
    """The team's paired data (manifest.csv): SARCOLOR_SHARED_DATA, default <project>/../shared/data."""
    return Path(os.environ.get("SARCOLOR_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def runs_dir() -> Path:
    """Training runs in progress or finished (SARCOLOR_RUNS_DIR, default <project>/runs)."""
    return Path(os.environ.get("SARCOLOR_RUNS_DIR", PROJECT_ROOT / "runs"))


def var_dir() -> Path:
    """Folder for the job database, uploads and outputs (SARCOLOR_VAR_DIR, default <project>/var)."""
    return Path(os.environ.get("SARCOLOR_VAR_DIR", PROJECT_ROOT / "var"))


def accounts_file() -> Path:
    """The built-in sign-in accounts (SARCOLOR_ACCOUNTS, default <var dir>/accounts.json); absent: no sign-in."""
    return Path(os.environ.get("SARCOLOR_ACCOUNTS", var_dir() / "accounts.json"))


def signin_lifetime_s() -> int:
    """How long a built-in sign-in lasts across reloads and tabs (SARCOLOR_SIGNIN_HOURS, default 12), in seconds."""
    return _env_int("SARCOLOR_SIGNIN_HOURS", 12) * 3600


def admin_ids() -> frozenset[str]:
    """Users signed in through the identity provider who see every job (SARCOLOR_ADMINS: comma-separated e-mails)."""
    return frozenset(name.strip().lower() for name in os.environ.get("SARCOLOR_ADMINS", "").split(",") if name.strip())


def _env_int(name: str, default: int | None) -> int | None:
    """A positive integer from the environment; a clear error if it is set to anything else."""
    value = os.environ.get(name, "").strip().replace("_", "")
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise InvalidSettingsError(f"{name} must be a positive whole number (got {os.environ[name]!r}).")
    return int(value)


@dataclass(frozen=True)
class Limits:
    """Limits enforced before any pixel is read."""

    max_pixels: int = 2_000_000_000
    max_bands: int = 4
    max_concurrent_jobs: int = 2
    gdal_cache_mb: int = 64  # GDAL block cache per run; 256 MB measured +310 MB peak RSS at 100 Mpx, no faster
    # A guided run also warps its optical and writes the confidence sidecar: at 64 MB their blocks evict each
    # other (64 Mpx: 26.0 s; 128 MB 25.1 s; 256 MB 18.4 s; 512 MB 19.0 s, bench/RESULTS.md).
    guided_gdal_cache_mb: int = 256
    user_running_jobs: int | None = None  # per analyst; None: no limit of their own (only max_concurrent_jobs)
    user_queued_jobs: int | None = None  # jobs one analyst may have waiting for a slot
    user_stored_mb: int | None = None  # one analyst's inputs and results on disk, in MB (10^6 bytes)
    upload_zip_mb: int | None = None  # the largest zip the dashboard takes, in MB; None: only server.maxUploadSize

    @classmethod
    def from_env(cls) -> Limits:
        """Limits from SARCOLOR_MAX_PIXELS / _MAX_BANDS / _MAX_CONCURRENT_JOBS / _GDAL_CACHE_MB /
        _GUIDED_GDAL_CACHE_MB / _USER_* / _MAX_UPLOAD_ZIP_MB."""
        return cls(
            max_pixels=_env_int("SARCOLOR_MAX_PIXELS", cls.max_pixels),
            max_bands=_env_int("SARCOLOR_MAX_BANDS", cls.max_bands),
            max_concurrent_jobs=_env_int("SARCOLOR_MAX_CONCURRENT_JOBS", cls.max_concurrent_jobs),
            gdal_cache_mb=_env_int("SARCOLOR_GDAL_CACHE_MB", cls.gdal_cache_mb),
            guided_gdal_cache_mb=_env_int("SARCOLOR_GUIDED_GDAL_CACHE_MB", cls.guided_gdal_cache_mb),
            user_running_jobs=_env_int("SARCOLOR_USER_MAX_RUNNING_JOBS", None),
            user_queued_jobs=_env_int("SARCOLOR_USER_MAX_QUEUED_JOBS", None),
            user_stored_mb=_env_int("SARCOLOR_USER_MAX_STORED_MB", None),
            upload_zip_mb=_env_int("SARCOLOR_MAX_UPLOAD_ZIP_MB", None),
        )
