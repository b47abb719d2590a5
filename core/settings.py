"""Resource limits and paths, read from the environment so deployments can tune them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("SARCOLOR_MODELS_DIR", PROJECT_ROOT / "models"))
DEFAULT_CHECKPOINT = MODELS_DIR / "default.pt"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Limits:
    """Limits enforced before any pixel is read."""

    max_pixels: int = 2_000_000_000
    max_bands: int = 4
    max_concurrent_jobs: int = 2

    @classmethod
    def from_env(cls) -> Limits:
        """Limits from SARCOLOR_MAX_PIXELS / _MAX_BANDS / _MAX_CONCURRENT_JOBS."""
        return cls(
            max_pixels=_env_int("SARCOLOR_MAX_PIXELS", cls.max_pixels),
            max_bands=_env_int("SARCOLOR_MAX_BANDS", cls.max_bands),
            max_concurrent_jobs=_env_int("SARCOLOR_MAX_CONCURRENT_JOBS", cls.max_concurrent_jobs),
        )
