"""Colour guided by an optical reference of another date: its colours where the SAR agrees, the SAR's where not,
and the colour this scene's SAR has in it everywhere the reference does not reach.

Per scene, before the tiles (`fit_guide`): cells (`core.colour.cells`, 4 x 4 px) sampled from up to
`MAX_FIT_WINDOWS` windows where the scene and the reference overlap teach a `ColourFit` what colour
this SAR has in this place, and how sure that colour is. A second fit leaves out the sampled cells where
the reference disagrees with the first fit over an area (`DROP_ABOVE`): a change must not teach the
fit that water looks like the field it replaced. The same sample teaches `ExpectedSar` (the SAR level
of each reference colour here), which the change prior (`core.colour.change`) sets the SAR against.

Per window, while the pipeline writes (`GuidedColour.paint`, in the writer thread), on cells: the
disagreement score is |reference - fitted colour| / fitted spread (CIELAB, mean of the three channels),
averaged over `CHANGE_SMOOTHING` px so that a coherent patch counts and single pixels do not; the
reference's share is (1 - w) x its proximity, w = `SAR_SHARE` where they agree rising to 1 between scores
`CHANGE_START` and `CHANGE_FULL`, the proximity rising from 0 at the coverage's edge to 1 about
2 `EDGE_FEATHER` px inside (no seam); the change prior gives the probability of new water and its colour.
At full resolution: RGB = fitted + share (reference - fitted), moved to the water colour by the
probability; beyond the reference and in its holes the share is 0: the fitted colour. Every valid
pixel is painted here (the model is not run). Memory stays flat: fitting holds a sample of cells,
prediction goes window by window.
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from rasterio.errors import WindowError
from rasterio.windows import Window
from scipy.ndimage import distance_transform_edt, gaussian_filter
from skimage.color import lab2rgb, rgb2lab

from core.colour.cells import POOL, Cells, aligned, block_cells, upsample
from core.colour.change import ChangePrior, ExpectedSar, change_features, default_prior
from core.colour.colour_fit import FEATURE_HALO, FEATURES, TRUNCATE, ColourFit, sar_features
from core.colour.confidence import BANDS as CONFIDENCE_BANDS
from core.colour.confidence import confidence_bands
from core.colour.guide import Guide, GuideError
from core.errors import stop_if_cancelled
from core.model.inference import Predictor
from core.rasters.scene import SarScene, decimated_read, read_band_db, second_view

GUIDE_TAG = "SARCOLOR_GUIDE"  # 'colour guided by <optical file> (<its date>)'
GUIDE_DETAIL_TAG = "SARCOLOR_GUIDE_DETAIL"

SAR_SHARE = 0.4  # where reference and SAR agree: the best on the Jan <-> Jul pairs for every left-out patch (README)
CHANGE_SMOOTHING = 6.0  # px: a change is a patch, not a pixel (the score's Gaussian sigma)
CHANGE_START, CHANGE_FULL = 3.0, 5.0  # disagreement score where a change begins / is complete
DROP_ABOVE = 2.5  # second fit: sampled pixels scoring above this are left out (0.0-1.8 % of them, measured)
EDGE_FEATHER = 4.0  # px: the guided colour fades into the model's over ~2 sigma inside the coverage edge
SAMPLE_CELLS = 100_000  # cells (`POOL` x `POOL` px) the fit learns from, whatever the scene size
FIT_WINDOW = 256  # px side of a sampled window
MAX_FIT_WINDOWS = 24
MIN_OVERLAP_PIXELS = 2_000  # fewer valid pixels shared with the reference: refused
COVERAGE_SIDE = 512  # px: the coarse grid on which the reference's share of the scene is measured
COLUMN_CHUNK = 1024  # px: a written window is composed this many columns at a time (bounded memory)
PAINT_THREADS = 2  # column chunks composed side by side (the machines here have 2 cores)
SCORE_HALO = int(TRUNCATE * CHANGE_SMOOTHING + 0.5)  # px around a window whose score its pixels average
SCORE_CELLS = -(-SCORE_HALO // POOL) + 1  # cells around a window's own whose terms it needs (scores, upsampling)
HALO = FEATURE_HALO + SCORE_HALO  # SAR context read around every window
GUIDE_HALO = SCORE_CELLS * POOL  # reference context read around every window (its scores and upsampling)
SEED = 0
CancelCheck = Callable[[], bool]
FitProgress = Callable[[int, int], None]


@dataclass
class Block:
    """A window of the scene with `HALO` px of SAR context and `GUIDE_HALO` px of the reference (clipped at the
    scene's edges, starting on cell boundaries), and its cells (`core.colour.cells`)."""

    db: np.ndarray  # h x w dB, NaN where the SAR has no data
    sar_valid: np.ndarray  # h x w bool
    rgb: np.ndarray  # 3 x h' x w' reference RGB in [0, 1], from block pixel `guide_at`
    covered: np.ndarray  # h' x w' bool: the reference has data here
    inner: tuple[slice, slice]  # the window's own rows and columns inside the block
    first: tuple[int, int]  # the scene (row, col) of the block's first pixel, multiples of `POOL`
    guide_at: tuple[int, int]  # the block (row, col) of the reference part's first pixel, multiples of `POOL`
    cells: Cells

    @property
    def inner_cells(self) -> tuple[slice, slice]:
        """The cells that hold the window's own pixels."""
        rows, cols = self.inner
        return (slice(rows.start // POOL, -(-rows.stop // POOL)), slice(cols.start // POOL, -(-cols.stop // POOL)))

    @property
    def inner_guide(self) -> tuple[slice, slice]:
        """The window's own pixels in the reference part."""
        (rows, cols), (top, left) = self.inner, self.guide_at
        return slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)


def read_block(scene: SarScene, guide: Guide, window: Window, dataset=None) -> Block:
    """SAR dB and the reference's RGB over `window` plus their context (`dataset`: the scene's raster, default its
    own handle; another thread must pass its own, `core.rasters.scene.second_view`)."""
    height, width = scene.georef.height, scene.georef.width
    top, bottom, left, right = (int(window.row_off), int(window.row_off + window.height), int(window.col_off),
                                int(window.col_off + window.width))  # fmt: skip
    row0, row1 = aligned(top - HALO, bottom + HALO, height)
    col0, col1 = aligned(left - HALO, right + HALO, width)
    db, valid = read_band_db(dataset or scene.dataset, scene.band, scene.encoding,
                             Window(col0, row0, col1 - col0, row1 - row0), scene.path.name)  # fmt: skip
    guide_rows, guide_cols = aligned(top - GUIDE_HALO, bottom + GUIDE_HALO, height), aligned(
        left - GUIDE_HALO, right + GUIDE_HALO, width)
    rgb, covered = guide.read(Window(guide_cols[0], guide_rows[0], guide_cols[1] - guide_cols[0],
                                     guide_rows[1] - guide_rows[0]))  # fmt: skip
    inner = (slice(top - row0, bottom - row0), slice(left - col0, right - col0))
    guide_at = (guide_rows[0] - row0, guide_cols[0] - col0)
    cells = block_cells(db, valid, rgb, covered, (row0, col0), guide_at)
    return Block(db, valid, rgb, covered, inner, (row0, col0), guide_at, cells)


def reference_lab(rgb: np.ndarray) -> np.ndarray:
    """3 x h x w RGB in [0, 1] -> h x w x 3 CIELAB float32."""
    return rgb2lab(np.clip(rgb.transpose(1, 2, 0), 0.0, 1.0)).astype(np.float32)


def disagreement(guide_lab: np.ndarray, median: np.ndarray, scale: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Per cell: mean |reference - fitted| / spread over the channels, averaged over `CHANGE_SMOOTHING` px."""
    score = (np.abs(guide_lab - median) / scale).mean(axis=-1)
    weight = covered.astype(np.float32)
    total = gaussian_filter(score * weight, CHANGE_SMOOTHING / POOL, truncate=TRUNCATE)
    share = gaussian_filter(weight, CHANGE_SMOOTHING / POOL, truncate=TRUNCATE)
    return np.where(share > 1e-3, total / np.maximum(share, 1e-3), 0.0).astype(np.float32)


def disagreeing(score: np.ndarray) -> np.ndarray:
    """0 where reference and fitted colour agree, rising to 1 between scores `CHANGE_START` and `CHANGE_FULL`."""
    return np.clip((score - CHANGE_START) / (CHANGE_FULL - CHANGE_START), 0.0, 1.0)


def sar_weight(score: np.ndarray, share: float = SAR_SHARE) -> np.ndarray:
    """The SAR's share of each pixel's colour: `share` where reference and SAR agree, 1 where they disagree."""
    return 1.0 - (1.0 - share) * (1.0 - disagreeing(score))


@dataclass
class GuideFit:
    """A scene's fitted colour, and what the fit saw: left-out share of its sample, reference coverage.

    `expected`: the SAR level each guide colour has in this scene (for the change prior); `prior`: the learned
    change prior (None: no change to water is painted); `distance`: px from each cell of a coarse grid of the
    scene to the nearest cell the guide covers, `cell` scene px a side.
    """

    colour: ColourFit
    left_out: float  # share of sampled pixels the second fit left out (coherent disagreement)
    coverage: float  # share of the scene's valid pixels the reference covers (`coverage`)
    expected: ExpectedSar | None = None
    prior: ChangePrior | None = None
    distance: np.ndarray | None = None  # coarse grid, scene px
    cell: tuple[float, float] = (1.0, 1.0)  # scene px per coarse cell (rows, columns)

    def distance_in(self, window: Window) -> np.ndarray:
        """Scene px from each pixel of `window` to the nearest guide pixel (on the coarse grid: +- a cell)."""
        shape = (int(window.height), int(window.width))
        if self.distance is None:
            return np.zeros(shape, np.float32)
        rows = ((np.arange(shape[0]) + window.row_off + 0.5) / self.cell[0]).astype(int)
        cols = ((np.arange(shape[1]) + window.col_off + 0.5) / self.cell[1]).astype(int)
        rows = np.clip(rows, 0, self.distance.shape[0] - 1)
        cols = np.clip(cols, 0, self.distance.shape[1] - 1)
        return self.distance[np.ix_(rows, cols)]


@dataclass
class _Sample:
    cells: Cells  # the fit window's block, pooled (kept for the second pass: read once)
    inner: tuple[slice, slice]  # the window's own cells in it
    picks: np.ndarray  # flat indices into the window's cells
    features: np.ndarray
    lab: np.ndarray


def fit_windows(area: Window) -> list[Window]:
    """Up to `MAX_FIT_WINDOWS` windows of `FIT_WINDOW` px spread evenly over `area`."""
    height, width = int(area.height), int(area.width)
    side_y, side_x = min(FIT_WINDOW, height), min(FIT_WINDOW, width)
    rows_max, cols_max = math.ceil(height / side_y), math.ceil(width / side_x)
    rows = max(1, min(rows_max, round(math.sqrt(MAX_FIT_WINDOWS * height / width))))
    cols = max(1, min(cols_max, MAX_FIT_WINDOWS // rows))
    ys = np.linspace(area.row_off, area.row_off + height - side_y, rows).round().astype(int)
    xs = np.linspace(area.col_off, area.col_off + width - side_x, cols).round().astype(int)
    return [Window(int(x), int(y), side_x, side_y) for y in ys for x in xs]


def _overlap(scene: SarScene, guide: Guide) -> Window:
    """The scene's valid region inside the reference's footprint."""
    try:
        return scene.region.intersection(guide.footprint)
    except WindowError:
        raise GuideError(f"{guide.name} does not overlap the valid pixels of {scene.path.name}.") from None


@dataclass
class Coverage:
    """Where the reference has data, on a coarse grid of the scene."""

    share: float  # of the scene's valid pixels
    distance: np.ndarray  # scene px from each coarse cell to the nearest covered one
    cell: tuple[float, float]  # scene px per cell (rows, columns)


def coverage(scene: SarScene, guide: Guide) -> Coverage:
    """The share of the scene's valid pixels that the reference has data for, and the distance to it."""
    _, valid, grid = decimated_read(scene.dataset, [scene.band], COVERAGE_SIDE)
    covered = guide.covered_on(valid.shape, grid, scene.georef.crs)
    cell = (scene.georef.height / valid.shape[0], scene.georef.width / valid.shape[1])
    distance = distance_transform_edt(~covered, sampling=cell) if covered.any() else np.full(valid.shape, np.inf)
    share = float((covered & valid).sum() / max(int(valid.sum()), 1))
    return Coverage(share, distance.astype(np.float32), cell)


def _samples(
    scene: SarScene, guide: Guide, cancelled: CancelCheck | None, progress: FitProgress | None
) -> list[_Sample]:
    """Features and reference colours of pixels drawn from each fit window."""
    area = _overlap(scene, guide)
    windows = fit_windows(area)
    rng = np.random.default_rng(SEED)
    samples, shared = [], 0
    for index, window in enumerate(windows):
        stop_if_cancelled(cancelled)
        if progress:
            progress(index, 2 * len(windows))
        block = read_block(scene, guide, window)
        cells, inner = block.cells, block.inner_cells
        usable = (cells.valid & cells.covered)[inner].ravel()
        shared += int(usable.sum()) * POOL * POOL
        picks = np.flatnonzero(usable)
        picks = rng.choice(picks, min(len(picks), SAMPLE_CELLS // len(windows)), replace=False)
        features = sar_features(cells.db, cells.square)[inner].reshape(-1, FEATURES)[picks]
        lab = reference_lab(np.nan_to_num(cells.rgb))[inner].reshape(-1, 3)[picks]
        samples.append(_Sample(cells, inner, picks, features, lab))
    if shared < MIN_OVERLAP_PIXELS:
        raise GuideError(
            f"{guide.name} covers too little of {scene.path.name}: {shared:,} pixels with data in both where "
            f"at least {MIN_OVERLAP_PIXELS:,} are needed (does it show the same place? has it no-data there?)."
        )
    return samples


def _agreeing(sample: _Sample, colour: ColourFit) -> np.ndarray:
    """Which of a window's sampled cells the reference and the fitted colour agree on (score <= `DROP_ABOVE`)."""
    cells = sample.cells
    median, scale = colour.predict(sar_features(cells.db, cells.square))
    score = disagreement(reference_lab(np.nan_to_num(cells.rgb)), median, scale, cells.covered & cells.valid)
    return score[sample.inner].ravel()[sample.picks] <= DROP_ABOVE


def fit_guide(
    scene: SarScene,
    guide: Guide,
    cancelled: CancelCheck | None = None,
    progress: FitProgress | None = None,
    prior: ChangePrior | bool | None = True,
) -> GuideFit:
    """Learn this scene's SAR -> colour from the reference, leaving out where they disagree over an area.

    `progress(done, total)`: fit windows done, over both passes (the second re-scores the cells the first read).
    `prior`: True for the committed change prior, or one to use, or None/False for none.
    """
    samples = _samples(scene, guide, cancelled, progress)
    features = np.concatenate([s.features for s in samples])
    lab = np.concatenate([s.lab for s in samples])
    first = ColourFit.fit(features, lab)
    keep = []
    for index, sample in enumerate(samples):
        stop_if_cancelled(cancelled)
        if progress:
            progress(len(samples) + index, 2 * len(samples))
        keep.append(_agreeing(sample, first))
    agree = np.concatenate(keep)
    colour = ColourFit.fit(features[agree], lab[agree]) if agree.sum() >= MIN_OVERLAP_PIXELS else first
    covers = coverage(scene, guide)
    if progress:
        progress(2 * len(samples), 2 * len(samples))
    chosen = default_prior() if prior is True else prior or None
    return GuideFit(colour, float(1.0 - agree.mean()), covers.share, ExpectedSar.learn(features, lab), chosen,
                    covers.distance, covers.cell)  # fmt: skip


@dataclass
class Composed:
    """The guided colours of a window and where they came from (each h x w, 0-1)."""

    rgb: np.ndarray  # 3 x h x w RGB in [0, 1]
    guide_share: np.ndarray  # the share of the reference's own colour
    change: np.ndarray  # the share of the learned change colour: the SAR overrode the reference (new water)


def change_weight(probability: np.ndarray) -> np.ndarray:
    """How far towards the water colour a cell moves: 0 up to even odds of water, rising to 1 when sure (2p - 1).

    Moving a cell to water pays only when water is the likelier answer; blending by the probability itself put four
    arid dune patches (January -> July) 11.8 dB below the stale optical, against 2.0 dB with 2p - 1."""
    return np.clip(2.0 * probability - 1.0, 0.0, 1.0)


def edge_proximity(covered: np.ndarray) -> np.ndarray:
    """Cells: 0 outside the reference's coverage, rising to 1 about 2 `EDGE_FEATHER` px inside it (no seam)."""
    near = gaussian_filter(covered.astype(np.float32), EDGE_FEATHER / POOL, truncate=TRUNCATE)
    return np.clip(2.0 * near - 1.0, 0.0, 1.0) * covered


def guide_terms(cells: Cells, fit: GuideFit, near: tuple[slice, slice]) -> tuple[np.ndarray, ...]:
    """Over the cells `near`: SAR features, fitted CIELAB, the reference's CIELAB (the fitted colour where it has
    none), coverage, disagreement score. The one place these are made, for the product and for training."""
    sar = sar_features(cells.db, cells.square)[near]
    median, scale = fit.colour.predict(sar)
    covered = (cells.covered & cells.valid)[near]
    reference = reference_lab(np.nan_to_num(cells.rgb[:, near[0], near[1]]))
    guide_lab = np.where(covered[..., None], reference, median)
    return sar, median, guide_lab, covered, disagreement(guide_lab, median, scale, covered)


def lab_rgb(lab: np.ndarray) -> np.ndarray:
    """h x w x 3 CIELAB -> 3 x h x w RGB in [0, 1]."""
    lab = lab.copy()
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    return np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32).transpose(2, 0, 1)


def guided_colours(block: Block, fit: GuideFit, share: float = SAR_SHARE) -> Composed:
    """The guided colours of the block's inner window: the reference's where it covers, the fitted colour elsewhere.

    On cells: g = (1 - the SAR's share) x proximity to the coverage's inside, and the prior's probability of
    change to water and its colour. At full resolution: RGB = fitted + g (reference - fitted), then moved towards
    the water colour by the probability; g is 0 wherever the reference has no data. `share`: the SAR's share
    where reference and SAR agree (the product uses `SAR_SHARE`; evaluation varies it). Cell terms are computed
    only where the inner window needs them (`SCORE_CELLS` around it).
    """
    cells = block.cells
    rows, cols = block.inner_cells
    height, width = cells.db.shape
    near = (slice(max(0, rows.start - SCORE_CELLS), min(height, rows.stop + SCORE_CELLS)),
            slice(max(0, cols.start - SCORE_CELLS), min(width, cols.stop + SCORE_CELLS)))  # fmt: skip
    sar, median, guide_lab, covered, score = guide_terms(cells, fit, near)
    proximity = edge_proximity(covered)
    guide_share = (1.0 - sar_weight(score, share)) * proximity
    change, water = np.zeros_like(guide_share), median
    if fit.prior is not None and fit.expected is not None and covered.any():
        probability, water = fit.prior.predict(change_features(sar, guide_lab, median, score, fit.expected))
        change = change_weight(probability) * proximity
        known = disagreeing(score)[..., None]  # where the fit already tells this SAR from the guide, the scene's
        water = water + known * (median - water)  # own colour for it (its lake) beats OMBRIA's water
    changed = bool(change.any())  # planes that are 0 on every cell are 0 at every pixel: not upsampled
    planes = [lab_rgb(median), guide_share[None]] + ([lab_rgb(water), change[None]] if changed else [])
    first = (cells.first[0] + near[0].start, cells.first[1] + near[1].start)
    origin = (block.first[0] + block.inner[0].start, block.first[1] + block.inner[1].start)
    shape = (block.inner[0].stop - block.inner[0].start, block.inner[1].stop - block.inner[1].start)
    fitted, g, water_rgb, c = np.split(upsample(np.concatenate(planes), first, origin, shape), [3, 4, 7])
    rows, cols = block.inner_guide
    g = g[0] * (block.covered[rows, cols] & block.sar_valid[block.inner])
    rgb = block.rgb[:, rows, cols] - fitted  # fitted + g (reference - fitted), in place: this runs on every pixel
    rgb *= g
    rgb += fitted
    if not changed:
        return Composed(np.clip(rgb, 0.0, 1.0, out=rgb), g, np.zeros_like(g))
    rgb += c * (water_rgb - rgb)
    return Composed(np.clip(rgb, 0.0, 1.0, out=rgb), g * (1.0 - c[0]), c[0])


def guide_tags(guide: Guide, fit: GuideFit) -> dict[str, str]:
    """GeoTIFF metadata of a guided result: by which optical image, read how, covering how much."""
    return {
        GUIDE_TAG: guide.label,
        GUIDE_DETAIL_TAG: f"{guide.band_names} read as red/green/blue; covers {fit.coverage:.0%} of the scene; there "
        f"{1 - SAR_SHARE:.0%} the reference's colour and {SAR_SHARE:.0%} the colour this SAR has in it, all the "
        "SAR's where it shows a change (new water: the learned change prior); beyond it the colour fitted to this "
        "scene's SAR where the guide covers it; per pixel: the .confidence.tif sidecar",
    }


def guide_notes(guide: Guide, fit: GuideFit) -> list[str]:
    """What the analyst should know about the guide: how it was placed, how much of the scene it covers."""
    notes = list(guide.warnings)
    if fit.coverage < 0.99:
        notes.append(
            f"{guide.name} covers about {fit.coverage:.0%} of the scene: the rest is coloured by the mapping from SAR "
            "to colour fitted where the guide covers it (the .confidence.tif sidecar shows which pixels)."
        )
    return notes


def paint_threads() -> int:
    """Threads that compose a written window's column chunks side by side: one per core, at most `PAINT_THREADS`
    (the model is not run in a guided run, so composing is the run's work)."""
    return max(1, min(PAINT_THREADS, os.cpu_count() or 1))


@dataclass
class _Handles:
    """One composing thread's own GDAL handles: the SAR scene's (file, georeferenced view) and the reference."""

    sar: tuple
    guide: Guide

    def close(self) -> None:
        source, view = self.sar
        if view is not source:
            view.close()
        source.close()
        self.guide.close()


class GuidedColour:
    """A colour source (`core.colour.sources`): the guide's colours where it covers, the colour fitted to this
    scene's SAR elsewhere, the learned change colour where the SAR overrides the guide; each pixel's confidence
    written to the sidecar (`core.colour.confidence`) when one is given.

    `paint` runs in the pipeline's writer thread while the reader thread reads the scene. It composes a window's
    column chunks on `paint_threads()` threads, each reading the SAR and the reference through handles of its own
    (GDAL handles are not thread-safe); `close` them.
    """

    def __init__(self, predictor: Predictor, scene: SarScene, guide: Guide, fit: GuideFit, sidecar=None) -> None:
        self.predictor = predictor
        self.uses_model_colours = False  # every valid pixel is painted here: the model is not run
        self.scene = scene
        self.guide = guide
        self.fit = fit
        self.sidecar = sidecar
        self.guide_label = guide.label
        threads = paint_threads()
        self.handles: queue.SimpleQueue[_Handles] = queue.SimpleQueue()
        self.opened: list[_Handles] = []
        for _ in range(threads):
            self.opened.append(_Handles(second_view(scene), guide.reopened()))
            self.handles.put(self.opened[-1])
        self.pool = ThreadPoolExecutor(threads, "sarcolor-guided")

    def tags(self) -> dict[str, str]:
        return guide_tags(self.guide, self.fit)

    def notes(self) -> list[str]:
        return guide_notes(self.guide, self.fit)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for handles in self.opened:
            handles.close()

    def paint(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The guided colours of a written window's valid pixels (composed in column chunks); the sidecar written."""
        height, width = valid.shape
        bands = np.zeros((len(CONFIDENCE_BANDS), height, width), np.uint16)  # no data where nothing is valid
        if valid.any():
            rgb01 = rgb01.copy()
            used = np.flatnonzero(valid.any(axis=0))
            starts = range(int(used[0]), int(used[-1]) + 1, COLUMN_CHUNK)
            parts = [Window(window.col_off + c, window.row_off, min(COLUMN_CHUNK, width - c), height) for c in starts]
            validity = [valid[:, c : c + COLUMN_CHUNK] for c in starts]
            for col0, (rgb, confidence) in zip(starts, self.pool.map(self._composed, parts, validity), strict=True):
                columns = slice(col0, col0 + rgb.shape[2])
                rgb01[:, :, columns] = rgb
                bands[:, :, columns] = confidence
        if self.sidecar is not None:
            self.sidecar.write(bands, window=window)
        return rgb01

    def _composed(self, part: Window, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The guided colours of one column chunk and their confidence bands, through a free thread's own handles."""
        handles = self.handles.get()
        try:
            composed = guided_colours(read_block(self.scene, handles.guide, part, handles.sar[1]), self.fit)
        finally:
            self.handles.put(handles)
        return composed.rgb, confidence_bands(composed.guide_share, composed.change, self.fit.distance_in(part), valid)
