"""Colour sources: what paints a scene. The pipeline opens one and walks the same path whatever it is.

A source predicts the model's colours tile by tile (`predictor`; not run when the source paints every
pixel itself, `uses_model_colours` False), then gives each written window its final colours (`paint`, in
the pipeline's writer thread). `ModelColour` keeps the model's;
`GuidedColour` (`core.colour.guided`) paints every pixel from an optical guide: its colours where it
covers the scene, the mapping from SAR to colour fitted there everywhere else, the learned change
colour where the SAR overrides it. Either may be rendered with the SAR's detail (`SarDetailColour`,
`core.colour.sar_detail`: GIHS fusion, the field's colorisation convention).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from rasterio.windows import Window

from core.colour.confidence import confidence_writer
from core.colour.guide import open_guide
from core.colour.guided import GuidedColour, fit_guide
from core.colour.sar_detail import (
    DESCRIPTION,
    MODEL,
    RENDERING_TAG,
    SAR_DETAIL,
    check_rendering,
    render_window,
)
from core.model.inference import Predictor
from core.rasters.scene import SarScene, second_view

CancelCheck = Callable[[], bool]


class ColourSource(Protocol):
    """What the pipeline asks for colours."""

    predictor: Predictor  # the model's colours of a batch of tiles
    uses_model_colours: bool  # False: `paint` paints every valid pixel itself and the model is not run
    guide_label: str  # 'colour guided by <file> (<date>)', or '' for the model's own colour

    def paint(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Final 3 x h x w RGB in [0, 1] of a written scene window, from the model's blended colours there."""
        ...

    def tags(self) -> dict[str, str]:
        """GeoTIFF metadata saying how the colour was made, beyond the model's provenance."""
        ...

    def notes(self) -> list[str]:
        """What the analyst should know about this colour."""
        ...

    def close(self) -> None: ...


@dataclass
class ModelColour:
    """The model's colours alone."""

    predictor: Predictor
    guide_label: str = ""
    uses_model_colours: bool = True

    def paint(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> np.ndarray:
        return rgb01

    def tags(self) -> dict[str, str]:
        return {}

    def notes(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


class SarDetailColour:
    """A colour source that renders another one's colours with the SAR's detail (GIHS, `core.colour.sar_detail`).

    `paint` runs in the pipeline's writer thread while the reader thread reads the scene, so the SAR is
    read through its own handle (`close` it; the wrapped source is closed by whoever opened it).
    """

    def __init__(self, inner: ColourSource, scene: SarScene) -> None:
        self.inner = inner
        self.scene = scene
        self.predictor = inner.predictor
        self.uses_model_colours = inner.uses_model_colours
        self.guide_label = inner.guide_label
        self.source, self.view = second_view(scene)

    def paint(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The wrapped source's colours of a written window with the SAR's intensity detail added (GIHS)."""
        rgb01 = self.inner.paint(window, rgb01, valid)
        return render_window(self.scene, self.view, window, rgb01) if valid.any() else rgb01

    def tags(self) -> dict[str, str]:
        return self.inner.tags() | {RENDERING_TAG: DESCRIPTION}

    def notes(self) -> list[str]:
        return self.inner.notes()

    def close(self) -> None:
        if self.view is not self.source:
            self.view.close()
        self.source.close()


@dataclass(frozen=True)
class GuideRequest:
    """The analyst's optical guide: its path, its red, green and blue bands when the file does not say, its name."""

    path: str | None = None
    bands: tuple[int, int, int] | None = None
    name: str | None = None


@contextlib.contextmanager
def colour_source(
    predictor: Predictor,
    scene: SarScene,
    guide: GuideRequest,
    source_name: str,
    cancelled: CancelCheck | None = None,
    fit_progress: Callable[[int, int], None] | None = None,
    output: str | Path | None = None,
    rendering: str = MODEL,
) -> Iterator[ColourSource]:
    """The model's colour, or with a guide path the guide's fitted colour (checked and fitted here); with
    `rendering` 'sar-detail', either rendered with the SAR's intensity detail (GIHS).

    `fit_progress(done, total)`: the guide's fit, window by window. `output`: the result's path; a guided run
    writes its per-pixel confidence beside it (`core.colour.confidence`), kept only when the run succeeds.
    """
    check_rendering(rendering)
    with _colour(predictor, scene, guide, source_name, cancelled, fit_progress, output) as colour:
        if rendering != SAR_DETAIL:
            yield colour
            return
        rendered = SarDetailColour(colour, scene)
        try:
            yield rendered
        finally:
            rendered.close()


@contextlib.contextmanager
def _colour(
    predictor: Predictor,
    scene: SarScene,
    guide: GuideRequest,
    source_name: str,
    cancelled: CancelCheck | None,
    fit_progress: Callable[[int, int], None] | None,
    output: str | Path | None,
) -> Iterator[ColourSource]:
    """The model's colour, or with a guide path the guide's fitted colour."""
    if not guide.path:
        yield ModelColour(predictor)
        return
    with contextlib.ExitStack() as stack:
        opened = open_guide(guide.path, scene.georef, guide.bands, guide.name, source_name)
        stack.callback(opened.close)
        fit = fit_guide(scene, opened, cancelled, fit_progress)
        sidecar = stack.enter_context(confidence_writer(output, scene.georef)) if output is not None else None
        source = GuidedColour(predictor, scene, opened, fit, sidecar)
        stack.callback(source.close)
        yield source
