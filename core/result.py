"""What one colorize run produced: `ColorizeResult` in memory, `RunSummary` as the job history stores it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.scene import Georef


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

    @property
    def megapixels_per_second(self) -> float:
        return self.width * self.height / 1e6 / max(self.seconds, 1e-9)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> RunSummary:
        """Read a stored summary (JSON lists become tuples; keys this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)


@dataclass
class ColorizeResult:
    """What was done, for the UI, the CLI and the job history."""

    output: Path
    georef: Georef
    band: str
    encoding: str
    encoding_detected: bool
    stretch_db: tuple[float, float]
    tiles: int
    seconds: float
    device: str
    warped_from_gcps: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def megapixels_per_second(self) -> float:
        return self.georef.width * self.georef.height / 1e6 / max(self.seconds, 1e-9)

    def summary(self) -> RunSummary:
        """The facts worth keeping once the run is over."""
        georef = self.georef
        return RunSummary(
            width=georef.width,
            height=georef.height,
            crs=georef.crs.to_string() if georef.crs else None,
            pixel_size=(abs(georef.transform.a), abs(georef.transform.e)),
            bounds=georef.bounds,
            band=self.band,
            encoding=self.encoding,
            encoding_detected=self.encoding_detected,
            stretch_db=self.stretch_db,
            tiles=self.tiles,
            seconds=self.seconds,
            device=self.device,
            warped_from_gcps=self.warped_from_gcps,
            warnings=tuple(self.warnings),
        )
