"""Errors an analyst can act on. Every message names the file and the problem."""

from __future__ import annotations

from collections.abc import Callable


class SarColorError(Exception):
    """Base class: a problem the user can understand and fix; never a crash."""


class NotARasterError(SarColorError):
    """The file is not an image we can read (wrong format, truncated, corrupt)."""


class UnsupportedRasterError(SarColorError):
    """The raster can be read but is not SAR we can colorize (dtype, bands)."""


class RasterTooLargeError(SarColorError):
    """The raster exceeds the configured pixel limit (checked before reading)."""


class EmptyRasterError(SarColorError):
    """The raster holds no valid pixel (all nodata / NaN)."""


class CheckpointError(SarColorError):
    """A model checkpoint is missing, corrupt or of the wrong architecture."""


class InvalidSettingsError(SarColorError):
    """Tile size, overlap, band or another option is not usable."""


class OutputError(SarColorError):
    """The result could not be written (unwritable folder, disk full)."""


class JobCancelled(SarColorError):
    """The job was cancelled by the user; nothing was written."""


def stop_if_cancelled(cancelled: Callable[[], bool] | None) -> None:
    """Raise `JobCancelled` when the job's cancel check says so (None: the job cannot be cancelled)."""
    if cancelled and cancelled():
        raise JobCancelled("The job was cancelled; no output was written.")


class ReferenceBandsUnknown(UnsupportedRasterError):
    """An optical reference whose red, green and blue bands cannot be identified: ask the user."""


class NotSarError(UnsupportedRasterError):
    """The raster is an image but looks optical (colour, reflectance, an optical band's name), not SAR."""


class AccountError(SarColorError):
    """An account cannot be added, removed or signed in to (bad name, short password, unknown user)."""


class UserLimitError(SarColorError):
    """The analyst is over one of their own limits (jobs waiting, stored results); other analysts are unaffected."""


class StorageLimitError(UserLimitError):
    """The analyst's stored results take more than their limit: older results must be deleted first."""
