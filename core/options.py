"""What an analyst may set for one run (`ColorizeOptions`): plain data, importable without torch, so that the
command line builds its arguments and answers `--help` without loading the model's libraries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ColorizeOptions:
    """User settings of one run."""

    band: str = "VV"
    polarisation: str = "auto"  # auto (from metadata or file name) | VV | VH | HH | HV
    encoding: str = "auto"  # auto | one of core.rasters.normalise.Encoding
    tile: int = 256  # the trained tile size: 512 px tiles cost the default 0.35-0.48 dB on val (bench/RESULTS.md)
    overlap: int = 32  # seamless on real SAR, same val PSNR as 64, 1.31x redundancy instead of 1.78x
    batch: int = 4  # tiles a call: fastest per CPU stream (16 Mpx: 2.42 s; 8: 2.66; 16: 2.90); raise it on a GPU
    device: str = "auto"
    precision: str = "auto"
    guide: str | None = None  # an optical image of the place (path): its colours guide the result (core.colour.guided)
    guide_bands: tuple[int, int, int] | None = None  # the guide's red, green, blue bands when the file does not say
    guide_name: str | None = None  # the guide's name as the analyst gave it (default: its file name)
    rendering: str = "model"  # model | sar-detail: the model's colour with the SAR's detail (core.colour.sar_detail)
