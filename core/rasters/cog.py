"""Write the result: a tiled GTiff and its overviews filled window by window, then a COG, renamed when complete.

Nothing appears under the final name until the COG is whole; temporary files carry
a `.partial` marker so a later start can remove leftovers of a killed job.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.windows import Window

from core.errors import OutputError
from core.rasters.overviews import RGBA, Pyramid
from core.rasters.scene import Georef

PARTIAL_MARKER = ".partial-"
BLOCK = 512  # px, the COG tile
COG_OPTIONS = {
    "COMPRESS": "DEFLATE",  # every GDAL, QGIS and browser reader has it (ZSTD measured no faster here)
    "LEVEL": "1",  # 4.3x faster than the default level 6 on this CPU, files 15 % larger (bench/RESULTS.md)
    "PREDICTOR": "2",
    "BLOCKSIZE": str(BLOCK),
    "OVERVIEWS": "AUTO",
    "RESAMPLING": "AVERAGE",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",  # GDAL compresses blocks on every core
}
MIN_FREE_BYTES = 1 << 20  # below this after a failed write, the disk is taken to be full
COG_SIZE_FACTOR = 0.6  # COG bytes per raw RGBA byte, generous (0.49 measured on a 16 Mpx result)
OTHER_WRITE_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR, errno.EDQUOT)
WRITE_ERRORS = (OSError, rasterio.errors.RasterioError, CPLE_BaseError)  # GDAL reports ENOSPC as a CPLE error


SYNTHETIC_NOTE = "synthetic: generated from SAR by a model, not an optical observation"  # tag SYNTHETIC
FLAT_COLOUR_TAG = "SARCOLOR_FLAT_COLOUR"  # the model's mean training colour, "r g b" in [0, 1]


def partial_path(final: Path, suffix: str) -> Path:
    """A hidden, unique temporary name beside the final output."""
    return final.with_name(f".{final.name}{PARTIAL_MARKER}{uuid.uuid4().hex[:12]}{suffix}")


def cleanup_stale_partials(folder: str | Path, older_than_s: float = 0.0) -> list[Path]:
    """Remove temporary files left by killed jobs; returns what was removed."""
    removed = []
    now = time.time()
    for path in Path(folder).glob(f".*{PARTIAL_MARKER}*"):
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime >= older_than_s:
                path.unlink()
                removed.append(path)
    return removed


def _disk_full(folder: Path, exc: Exception) -> bool:
    """ENOSPC, said or seen: GDAL's errors often lose the errno, so also look at the free space."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno == errno.ENOSPC
    if os.strerror(errno.ENOSPC) in str(exc):
        return True
    if any(os.strerror(code) in str(exc) for code in OTHER_WRITE_ERRNOS):
        return False
    try:
        return shutil.disk_usage(folder).free < MIN_FREE_BYTES
    except OSError:
        return False


def space_needed(width: int, height: int) -> int:
    """Bytes a result needs at its peak: the uncompressed scratch, its overview levels (< 1/3 more) and the COG."""
    raw = 4 * width * height
    return int(raw * (4 / 3 + COG_SIZE_FACTOR)) + MIN_FREE_BYTES


def _check_free_space(folder: Path, georef: Georef) -> None:
    """Fail before any work, not after an hour, when the folder cannot hold what the run will write."""
    needed, free = space_needed(georef.width, georef.height), shutil.disk_usage(folder).free
    if free < needed and os.access(folder, os.W_OK):  # an unwritable folder gets its own error on the first write
        raise OutputError(
            f"The disk is full for this scene: {folder} has {_size_text(free)} free, and colorizing it needs "
            f"about {_size_text(needed)} (temporary files and the result). Free some space or choose another folder."
        )


def _size_text(count: int) -> str:
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def _output_error(path: Path, exc: Exception) -> OutputError:
    if _disk_full(path.parent, exc):
        return OutputError(f"The disk is full: {path.parent} has no room for the result.")
    return OutputError(f"Cannot write the result to {path.parent}: {exc}")


class RgbaWriter:
    """Writes RGB + alpha uint8 windows into a tiled scratch GTiff, top to bottom, and feeds its overviews."""

    def __init__(self, dataset: rasterio.io.DatasetWriter, overviews: Pyramid) -> None:
        self.dataset = dataset
        self.overviews = overviews

    def write(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> None:
        """rgb01: 3 x h x w in [0, 1]; valid: h x w bool. Invalid pixels become transparent black."""
        scaled = rgb01 * 255.0
        np.rint(scaled, out=scaled)
        rgba = np.empty((4, *valid.shape), np.uint8)
        np.clip(scaled, 0, 255, out=rgba[:3], casting="unsafe")
        rgba[3] = valid
        rgba[3] *= 255
        if not valid.all():
            rgba[:3, ~valid] = 0
        try:
            self.dataset.write(rgba, window=window)
            self.overviews.add(rgba)
        except WRITE_ERRORS as exc:
            raise _output_error(Path(self.dataset.name), exc) from exc


@contextlib.contextmanager
def cog_writer(final: str | Path, georef: Georef, tags: dict[str, str] | None = None) -> Iterator[RgbaWriter]:
    """Yield a writer; on clean exit convert to a COG (with `tags` as dataset metadata) and rename it to `final`.

    On any exception every temporary file is removed and `final` is untouched.
    """
    final = Path(final)
    scratch, cog = partial_path(final, ".tif"), partial_path(final, ".cog.tif")
    profile = _scratch_profile(georef)
    pyramid = Pyramid(scratch, profile, BLOCK, lambda suffix: partial_path(final, suffix))
    try:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            _check_free_space(final.parent, georef)
            dataset = rasterio.open(scratch, "w", **profile)
            dataset.colorinterp = RGBA
            dataset.update_tags(**(tags or {}))
            pyramid.start()
        except WRITE_ERRORS as exc:
            raise _output_error(final, exc) from exc
        try:
            yield RgbaWriter(dataset, pyramid)
        except BaseException:
            with contextlib.suppress(*WRITE_ERRORS):
                dataset.close()
            with contextlib.suppress(*WRITE_ERRORS):
                pyramid.close()
            raise
        try:
            dataset.close()  # flushes cached blocks: a full disk may only show here
            rasterio.shutil.copy(pyramid.finish(), cog, driver="COG", **COG_OPTIONS)
            os.replace(cog, final)
        except WRITE_ERRORS as exc:
            raise _output_error(final, exc) from exc
    finally:
        for path in (scratch, cog, *pyramid.files):
            with contextlib.suppress(OSError):  # missing, or its folder never existed: never mask the real error
                path.unlink()


def _scratch_profile(georef: Georef) -> dict:
    """The uncompressed tiled RGBA scratch (and, resized, its overview levels)."""
    profile = {
        "driver": "GTiff",
        "width": georef.width,
        "height": georef.height,
        "count": 4,
        "dtype": "uint8",
        "crs": georef.crs,
        "transform": georef.transform,
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        "compress": "NONE",  # scratch only: the COG step compresses once
        "interleave": "band",  # numpy's layout: written without interleaving (1.9 -> 1.2 s for 100 Mpx)
        "photometric": "RGB",
        "BIGTIFF": "IF_SAFER",
    }
    if not georef.is_georeferenced:
        profile.pop("transform")
    return profile
