"""An optical reference's red, green and blue bands: found by name, colour interpretation or Sentinel-2 stack."""

from __future__ import annotations

import re
from pathlib import Path

from rasterio.enums import ColorInterp

from core.errors import InvalidSettingsError, ReferenceBandsUnknown

S2_STACKS = {  # band count -> 1-based (red B4, green B3, blue B2) in the usual Sentinel-2 band stacks
    4: (3, 2, 1),  # B2 B3 B4 B8: the 10 m bands
    10: (3, 2, 1),  # B2 B3 B4 B5 B6 B7 B8 B8A B11 B12: 10 m and 20 m bands
    12: (4, 3, 2),  # B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B11 B12: L2A
    13: (4, 3, 2),  # B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12: L1C
}
BAND_NAMES = {"red": ("B4", "RED"), "green": ("B3", "GREEN"), "blue": ("B2", "BLUE")}
S2_STACK_NAMES = {  # band count -> the names of the usual Sentinel-2 stacks in `S2_STACKS`
    4: ("B2", "B3", "B4", "B8"),
    10: ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"),
    12: ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12"),
    13: ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"),
}


def _band_label(description: str | None) -> str:
    """'B04', 'b4', 'B4 (red)', 'Red' -> 'B4' or 'RED'; '' when it names none of them."""
    text = (description or "").upper()
    match = re.search(r"\bB0?([234])\b", text)
    if match:
        return f"B{match.group(1)}"
    return next((word for word in ("RED", "GREEN", "BLUE") if word in text), "")


def rgb_bands(src, override: tuple[int, int, int] | None = None) -> tuple[int, int, int]:
    """1-based (red, green, blue) bands of an optical reference: chosen, named (B4/B3/B2), RGB or a Sentinel-2 stack.

    Raises `ReferenceBandsUnknown` rather than guessing bands 1-3 of a multispectral file.
    """
    name = Path(src.name).name
    if override is not None:
        if not all(1 <= b <= src.count for b in override):
            raise InvalidSettingsError(f"{name} has {src.count} bands; bands {override} do not exist.")
        return override
    labels = [_band_label(d) for d in src.descriptions]
    found = [next((i + 1 for i, label in enumerate(labels) if label in BAND_NAMES[c]), None) for c in BAND_NAMES]
    if all(found):
        return tuple(found)
    if tuple(src.colorinterp[:3]) == (ColorInterp.red, ColorInterp.green, ColorInterp.blue) or src.count == 3:
        return 1, 2, 3
    if src.count in S2_STACKS and not any(labels) and not any(src.descriptions):
        return S2_STACKS[src.count]
    raise ReferenceBandsUnknown(
        f"{name} has {src.count} bands and none is marked red, green or blue (B4, B3, B2): choose which are."
        if src.count >= 3
        else f"{name} has {src.count} band(s); an optical reference needs red, green and blue."
    )


def reference_band_names(src, rgb: tuple[int, int, int]) -> str:
    """Which bands were read as red, green, blue: 'B4/B3/B2 of 13', 'bands 1/2/3 of 3 (RGB)'."""
    named = [re.sub(r"^B0(\d)$", r"B\1", (d or "").strip().upper()) for d in src.descriptions]
    stack = S2_STACK_NAMES.get(src.count) if not any(named) else None
    if stack:
        return f"{'/'.join(stack[b - 1] for b in rgb)} of {src.count}"
    if all(named[b - 1] for b in rgb):
        return f"{'/'.join(named[b - 1] for b in rgb)} of {src.count}"
    suffix = " (RGB)" if src.count == 3 and rgb == (1, 2, 3) else ""
    return f"bands {'/'.join(map(str, rgb))} of {src.count}{suffix}"
