"""What one colorize run produced: `ColorizeResult` in memory, `RunSummary` as the job history stores it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from rasterio.crs import CRS

from core.rasters.scene import Georef

METRES_PER_DEGREE = 111_195.0  # of latitude, and of longitude at the equator (mean Earth radius 6371 km)


@dataclass(frozen=True)
class RunSummary:
    """The facts of a finished run, JSON-able: what the history keeps and the result view shows."""

    width: int
    height: int
    crs: str | None  # as `CRS.to_string()`; None when the scene has no georeference
    pixel_size: tuple[float, float]  # CRS units
    bounds: tuple[float, float, float, float]  # left, bottom, right, top in CRS units
    band: str
    encoding: str
    encoding_detected: bool
    stretch_db: tuple[float, float]
    tiles: int
    seconds: float
    device: str
    warped_from_gcps: bool
    warnings: tuple[str, ...] = ()
    guide: str = ""  # 'colour guided by <optical file> (<date>)'; empty: the model's colour alone

    @property
    def pixel_size_m(self) -> tuple[float, float] | None:
        """Pixel width and height in metres (geographic CRSs: at the scene's centre); None without a CRS."""
        if self.crs is None:
            return None
        crs = CRS.from_user_input(self.crs)
        if not crs.is_geographic:
            factor = crs.linear_units_factor[1]
            return self.pixel_size[0] * factor, self.pixel_size[1] * factor
        latitude = math.radians((self.bounds[1] + self.bounds[3]) / 2)
        return self.pixel_size[0] * METRES_PER_DEGREE * math.cos(latitude), self.pixel_size[1] * METRES_PER_DEGREE

    @property
    def megapixels_per_second(self) -> float:
        return self.width * self.height / 1e6 / max(self.seconds, 1e-9)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, georef: Georef, **facts) -> RunSummary:
        """The summary of a run over `georef` (size, CRS, pixel size and bounds taken from it)."""
        return cls(
            width=georef.width,
            height=georef.height,
            crs=georef.crs.to_string() if georef.crs else None,
            pixel_size=(abs(georef.transform.a), abs(georef.transform.e)),
            bounds=georef.bounds,
            **facts,
        )

    @classmethod
    def from_dict(cls, data: Mapping) -> RunSummary:
        """Read a stored summary (JSON lists become tuples; keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)


@dataclass(frozen=True)
class ColorizeResult:
    """What was done, for the UI, the CLI and the job history: the output file, its grid and the run's facts."""

    output: Path
    georef: Georef
    summary: RunSummary
