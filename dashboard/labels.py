"""Labels that show whole: chart labels moved apart when their points are close, table columns as wide as their
longest text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def spread_labels(xs: Sequence[float], ys: Sequence[float], x_near: float, gap: float) -> list[float]:
    """The y of each point's label: its own y, or moved up until no label placed before it (lower first) lies
    within `x_near` horizontally and `gap` vertically. Units are the chart's data units."""
    placed: list[tuple[float, float]] = []
    label_y = [0.0] * len(ys)
    for i in sorted(range(len(ys)), key=lambda i: (ys[i], xs[i])):
        y = ys[i]
        while any(abs(xs[i] - px) < x_near and abs(y - py) < gap for px, py in placed):
            y += gap
        placed.append((xs[i], y))
        label_y[i] = y
    return label_y


def text_width(texts: Iterable[str]) -> int:
    """A table column's width in px that shows the longest of `texts` whole (the table's 14 px font, with its
    padding): a canvas-drawn table otherwise sizes a column from a few rows and cuts the rest short."""
    return 8 * max((len(text) for text in texts), default=0) + 24
