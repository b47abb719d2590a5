"""Chart labels that do not overlap: points close together get their labels moved apart, upwards."""

from __future__ import annotations

from collections.abc import Sequence


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
