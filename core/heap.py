"""Give freed heap memory back to the system (glibc's `malloc_trim`), where the C library offers it.

A wide scene's rows pass through many threads (reader, prediction streams, writer), each with its own glibc arena;
freed strips and activations stay in those arenas as resident memory. Trimming once per written row returns them,
so peak memory follows what is in use rather than what was once used. A no-op elsewhere (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim_heap() -> None:
    """Return the free memory of every malloc arena to the system (a few ms)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
