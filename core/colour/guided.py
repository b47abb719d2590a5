"""Colour guided by an optical reference of another date: its colours where the SAR agrees, the SAR's where not.

Per scene, before the model runs (`fit_guide`): pixels sampled from up to `MAX_FIT_WINDOWS`
windows where the scene and the reference overlap teach a `ColourFit` what colour this SAR has
in this place, and how sure that colour is. A second fit leaves out the sampled pixels where the
reference disagrees with the first fit over an area (`DROP_ABOVE`): a change must not teach the
fit that water looks like the field it replaced.

Per window, while the pipeline writes (`GuidedColour.paint`, in the writer thread): the disagreement
score is |reference - fitted colour| / fitted spread (CIELAB, mean of the three channels),
averaged over `CHANGE_SMOOTHING` px so that a coherent patch counts and single pixels do not.
Each pixel's colour is reference + w (fitted - reference) with w = `SAR_SHARE` where they agree,
rising to 1 (the SAR's colour alone) between scores `CHANGE_START` and `CHANGE_FULL`: a change.
Outside the reference's coverage the model's colour is kept, feathered over a few pixels.
Memory stays flat: fitting holds a sample of pixels, prediction goes window by window.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rasterio.errors import WindowError
from rasterio.windows import Window
from scipy.ndimage import gaussian_filter
from skimage.color import lab2rgb, rgb2lab

from core.colour.colour_fit import FEATURE_HALO, FEATURES, TRUNCATE, ColourFit, sar_features
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
SAMPLE_PIXELS = 200_000  # pixels the fit learns from, whatever the scene size
FIT_WINDOW = 256  # px side of a sampled window
MAX_FIT_WINDOWS = 24
MIN_OVERLAP_PIXELS = 2_000  # fewer valid pixels shared with the reference: refused
COVERAGE_SIDE = 512  # px: the coarse grid on which the reference's share of the scene is measured
COLUMN_CHUNK = 1024  # px: a written window is composed this many columns at a time (bounded memory)
SCORE_HALO = int(TRUNCATE * CHANGE_SMOOTHING + 0.5)  # px around a window whose score its pixels average
HALO = FEATURE_HALO + SCORE_HALO  # context read around every window
SEED = 0
CancelCheck = Callable[[], bool]


@dataclass
class Block:
    """A window of the scene with `HALO` px of context (clipped at the scene's edges), SAR and reference."""

    db: np.ndarray  # h x w dB, NaN where the SAR has no data
    sar_valid: np.ndarray  # h x w bool
    rgb: np.ndarray  # 3 x h x w reference RGB in [0, 1]
    covered: np.ndarray  # h x w bool: the reference has data here
    inner: tuple[slice, slice]  # the window's own rows and columns inside the block


def read_block(scene: SarScene, guide: Guide, window: Window, dataset=None) -> Block:
    """SAR dB and the reference's RGB over `window` plus its context (`dataset`: the scene's raster, default its own
    handle; another thread must pass its own, `core.rasters.scene.second_view`)."""
    height, width = scene.georef.height, scene.georef.width
    row0, col0 = max(0, int(window.row_off) - HALO), max(0, int(window.col_off) - HALO)
    row1 = min(height, int(window.row_off + window.height) + HALO)
    col1 = min(width, int(window.col_off + window.width) + HALO)
    block = Window(col0, row0, col1 - col0, row1 - row0)
    db, valid = read_band_db(dataset or scene.dataset, scene.band, scene.encoding, block, scene.path.name)
    rgb, covered = guide.read(block)
    top, left = int(window.row_off) - row0, int(window.col_off) - col0
    inner = (slice(top, top + int(window.height)), slice(left, left + int(window.width)))
    return Block(db, valid, rgb, covered, inner)


def reference_lab(rgb: np.ndarray) -> np.ndarray:
    """3 x h x w RGB in [0, 1] -> h x w x 3 CIELAB float32."""
    return rgb2lab(np.clip(rgb.transpose(1, 2, 0), 0.0, 1.0)).astype(np.float32)


def disagreement(guide_lab: np.ndarray, median: np.ndarray, scale: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Mean |reference - fitted| / spread over the channels, averaged over `CHANGE_SMOOTHING` px of coverage."""
    score = (np.abs(guide_lab - median) / scale).mean(axis=-1)
    weight = covered.astype(np.float32)
    total = gaussian_filter(score * weight, CHANGE_SMOOTHING, truncate=TRUNCATE)
    share = gaussian_filter(weight, CHANGE_SMOOTHING, truncate=TRUNCATE)
    return np.where(share > 1e-3, total / np.maximum(share, 1e-3), 0.0).astype(np.float32)


def sar_weight(score: np.ndarray, share: float = SAR_SHARE) -> np.ndarray:
    """The SAR's share of each pixel's colour: `share` where reference and SAR agree, 1 where they disagree."""
    change = np.clip((score - CHANGE_START) / (CHANGE_FULL - CHANGE_START), 0.0, 1.0)
    return 1.0 - (1.0 - share) * (1.0 - change)


@dataclass
class GuideFit:
    """A scene's fitted colour, and what the fit saw: left-out share of its sample, reference coverage."""

    colour: ColourFit
    left_out: float  # share of sampled pixels the second fit left out (coherent disagreement)
    coverage: float  # share of the scene's valid pixels the reference covers (`coverage`)


@dataclass
class _Sample:
    window: Window
    picks: np.ndarray  # flat indices into the window
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


def coverage(scene: SarScene, guide: Guide) -> float:
    """The share of the scene's valid pixels that the reference has data for (on a coarse grid)."""
    _, valid, grid = decimated_read(scene.dataset, [scene.band], COVERAGE_SIDE)
    covered = guide.covered_on(valid.shape, grid, scene.georef.crs)
    return float((covered & valid).sum() / max(int(valid.sum()), 1))


def _samples(scene: SarScene, guide: Guide, cancelled: CancelCheck | None) -> list[_Sample]:
    """Features and reference colours of pixels drawn from each fit window."""
    area = _overlap(scene, guide)
    windows = fit_windows(area)
    rng = np.random.default_rng(SEED)
    samples, shared = [], 0
    for window in windows:
        stop_if_cancelled(cancelled)
        block = read_block(scene, guide, window)
        usable = (block.sar_valid & block.covered)[block.inner].ravel()
        shared += int(usable.sum())
        picks = np.flatnonzero(usable)
        picks = rng.choice(picks, min(len(picks), SAMPLE_PIXELS // len(windows)), replace=False)
        features = sar_features(block.db)[block.inner].reshape(-1, FEATURES)[picks]
        lab = reference_lab(block.rgb)[block.inner].reshape(-1, 3)[picks]
        samples.append(_Sample(window, picks, features, lab))
    if shared < MIN_OVERLAP_PIXELS:
        raise GuideError(
            f"{guide.name} covers too little of {scene.path.name}: {shared:,} pixels with data in both where "
            f"at least {MIN_OVERLAP_PIXELS:,} are needed (does it show the same place? has it no-data there?)."
        )
    return samples


def _agreeing(scene: SarScene, guide: Guide, sample: _Sample, colour: ColourFit) -> np.ndarray:
    """Which of a window's sampled pixels the reference and the fitted colour agree on (score <= `DROP_ABOVE`)."""
    block = read_block(scene, guide, sample.window)
    median, scale = colour.predict(sar_features(block.db))
    score = disagreement(reference_lab(block.rgb), median, scale, block.covered & block.sar_valid)
    return score[block.inner].ravel()[sample.picks] <= DROP_ABOVE


def fit_guide(scene: SarScene, guide: Guide, cancelled: CancelCheck | None = None) -> GuideFit:
    """Learn this scene's SAR -> colour from the reference, leaving out where they disagree over an area."""
    samples = _samples(scene, guide, cancelled)
    features = np.concatenate([s.features for s in samples])
    lab = np.concatenate([s.lab for s in samples])
    first = ColourFit.fit(features, lab)
    keep = []
    for sample in samples:
        stop_if_cancelled(cancelled)
        keep.append(_agreeing(scene, guide, sample, first))
    agree = np.concatenate(keep)
    colour = ColourFit.fit(features[agree], lab[agree]) if agree.sum() >= MIN_OVERLAP_PIXELS else first
    return GuideFit(colour, float(1.0 - agree.mean()), coverage(scene, guide))


def guided_colours(block: Block, colour: ColourFit, share: float = SAR_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """The guided RGB (3 x h x w) of the block's inner window, and how much of it to use there (h x w, 0-1).

    `share`: the SAR's share where reference and SAR agree (the product uses `SAR_SHARE`; evaluation varies it).
    Colours are predicted only where the inner window's scores need them (`SCORE_HALO` around it).
    """
    rows, cols = block.inner
    height, width = block.db.shape
    r0, r1 = max(0, rows.start - SCORE_HALO), min(height, rows.stop + SCORE_HALO)
    c0, c1 = max(0, cols.start - SCORE_HALO), min(width, cols.stop + SCORE_HALO)
    near = (slice(r0, r1), slice(c0, c1))
    inner = (slice(rows.start - r0, rows.stop - r0), slice(cols.start - c0, cols.stop - c0))
    median, scale = colour.predict(sar_features(block.db)[near])
    covered = (block.covered & block.sar_valid)[near]
    guide_lab = np.where(covered[..., None], reference_lab(block.rgb[:, r0:r1, c0:c1]), median)  # holes: the SAR's
    weight = sar_weight(disagreement(guide_lab, median, scale, covered), share)[inner]
    lab = guide_lab[inner] + weight[..., None] * (median[inner] - guide_lab[inner])
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    rgb = np.clip(lab2rgb(lab), 0.0, 1.0).astype(np.float32).transpose(2, 0, 1)
    edge = gaussian_filter(block.covered[near].astype(np.float32), EDGE_FEATHER, truncate=TRUNCATE)
    return rgb, np.clip(2.0 * edge - 1.0, 0.0, 1.0)[inner]


def guide_tags(guide: Guide, fit: GuideFit) -> dict[str, str]:
    """GeoTIFF metadata of a guided result: by which optical image, read how, covering how much."""
    return {
        GUIDE_TAG: guide.label,
        GUIDE_DETAIL_TAG: f"{guide.band_names} read as red/green/blue; covers {fit.coverage:.0%} of the scene; there "
        f"{1 - SAR_SHARE:.0%} the reference's colour and {SAR_SHARE:.0%} the colour this SAR has in it, all the "
        "SAR's where it shows a change; elsewhere the model's colour",
    }


def guide_notes(guide: Guide, fit: GuideFit) -> list[str]:
    """What the analyst should know about the guide: how it was placed, how much of the scene it covers."""
    notes = list(guide.warnings)
    if fit.coverage < 0.99:
        notes.append(f"{guide.name} covers about {fit.coverage:.0%} of the scene: the rest is coloured by the model.")
    return notes


class GuidedColour:
    """A colour source (`core.colour.sources`): the guide's fitted colours where it covers, the model's elsewhere.

    `paint` runs in the pipeline's writer thread while the reader thread reads the scene, so it reads the
    SAR through its own handle (`close` it); the guide is read by this thread alone once the fit is done.
    """

    def __init__(self, predictor: Predictor, scene: SarScene, guide: Guide, fit: GuideFit) -> None:
        self.predictor = predictor
        self.scene = scene
        self.guide = guide
        self.fit = fit
        self.guide_label = guide.label
        self.source, self.view = second_view(scene)

    def tags(self) -> dict[str, str]:
        return guide_tags(self.guide, self.fit)

    def notes(self) -> list[str]:
        return guide_notes(self.guide, self.fit)

    def close(self) -> None:
        if self.view is not self.source:
            self.view.close()
        self.source.close()

    def paint(self, window: Window, rgb01: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """The model's colours of a written window with the guided ones composed over them where the guide covers."""
        try:
            covered = window.intersection(self.guide.footprint) if valid.any() else None
        except WindowError:  # the window lies outside the reference
            covered = None
        if covered is not None:
            rgb01 = rgb01.copy()
            col_end = int(covered.col_off + covered.width)
            for col0 in range(int(covered.col_off), col_end, COLUMN_CHUNK):
                part = Window(col0, covered.row_off, min(COLUMN_CHUNK, col_end - col0), covered.height)
                self._compose(part, window, rgb01)
        return rgb01

    def _compose(self, part: Window, window: Window, rgb01: np.ndarray) -> None:
        """Blend the guided colours of `part` (inside `window`) into `rgb01` in place."""
        guided, inside = guided_colours(read_block(self.scene, self.guide, part, self.view), self.fit.colour)
        y, x = int(part.row_off - window.row_off), int(part.col_off - window.col_off)
        target = rgb01[:, y : y + int(part.height), x : x + int(part.width)]
        target += inside * (guided - target)
