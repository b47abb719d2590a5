"""The one pipeline: SAR raster in, georeferenced colour COG out, streamed strip by strip.

read (`core.rasters.scene`) -> normalise (`core.rasters.normalise`) -> tile (`core.rasters.tiling`)
-> colour (`core.colour.sources`: the model, or a guide's fitted colour over it; either may be rendered
with the SAR's detail, `core.colour.sar_detail`) -> write
(`core.rasters.cog`). Per tile row: read the strip, cut tiles, predict in batches, blend, paint,
write the finished rows; the COG is renamed into place when whole. Reading, prediction and writing
overlap in threads. Memory is bounded by a few strips (tile x width).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np
import rasterio
import torch
from rasterio.windows import Window

from core.colour.sar_detail import check_rendering
from core.colour.sources import ColourSource, GuideRequest, colour_source
from core.errors import InvalidSettingsError, stop_if_cancelled
from core.heap import trim_heap
from core.model.checkpoints import LoadedModel
from core.model.inference import Predictor, prediction_pool
from core.options import ColorizeOptions
from core.rasters.cog import FLAT_COLOUR_TAG, SYNTHETIC_NOTE, RgbaWriter, cog_writer
from core.rasters.normalise import ANCHOR_MEDIAN_DB, Encoding, InputSpace
from core.rasters.scene import SarScene, open_scene
from core.rasters.tiling import StripBlender, TileGrid, mirror
from core.rasters.tone import seam_matcher
from core.records.artefacts import FLAT_COLOUR
from core.result import ColorizeResult, RunSummary
from core.settings import Limits

NODATA_ROWS = 256  # transparent rows written at a time above and below the valid region
ProgressCallback = Callable[..., None]  # progress(done, total) for tiles; progress(done, total, stage) before them
FIT_STAGE = "fitting the guide's colours"  # the stage named while a guided run learns from its guide (windows)
CancelCheck = Callable[[], bool]


def _read_strip(
    scene: SarScene, space: InputSpace, grid: TileGrid, y0: int, padded_width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Model input (C x T x padded_width) for the tile row at framed row y0, and its validity (T x region width).

    Rows and columns count from the scene's valid region (`SarScene.region`), mirrored beyond its edges.
    """
    region = scene.region
    framed = np.arange(y0, y0 + grid.tile) - grid.top  # region row of each strip row (may lie outside)
    rows = mirror(framed, region.height)
    first = int(rows.min())
    window = Window(region.col_off, region.row_off + first, region.width, int(rows.max()) + 1 - first)
    values, valid = scene.read_window(window, space)
    columns = mirror(np.arange(padded_width) - grid.left, region.width)
    inside = (framed >= 0) & (framed < region.height)
    strip = values.take(rows - first, axis=1).take(columns, axis=2)  # two 1-D takes: 3x faster than one 2-D index
    return strip, valid[rows - first] & inside[:, None]


def _write_rows(
    writer: RgbaWriter,
    window: Window,
    rgb: np.ndarray,
    valid: np.ndarray,
    scene: SarScene,
    grid: TileGrid,
    colour: ColourSource,
) -> None:
    """Paint and write the released framed rows that belong to the region, without the frame, at full scene width."""
    region = scene.region
    first = max(window.row_off, grid.top)  # framed rows kept: those of the region
    stop = min(window.row_off + window.height, grid.top + region.height)
    if stop > first:
        rows = slice(first - window.row_off, stop - window.row_off)
        target = Window(0, region.row_off + first - grid.top, scene.georef.width, stop - first)
        colours, validity = rgb[:, rows, grid.left : grid.left + region.width], valid[rows]
        if region.width < scene.georef.width:
            colours, validity = _widened(colours, validity, region.col_off, scene.georef.width)
        writer.write(target, colour.paint(target, colours, validity), validity)
    trim_heap()  # this row's arrays and the activations behind it back to the system: flat memory on wide scenes


def _widened(rgb: np.ndarray, valid: np.ndarray, left: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Region-wide rows placed at column `left` of scene-wide rows that are nodata elsewhere."""
    wide_rgb = np.zeros((rgb.shape[0], rgb.shape[1], width), np.float32)
    wide_valid = np.zeros((valid.shape[0], width), bool)
    wide_rgb[:, :, left : left + rgb.shape[2]] = rgb
    wide_valid[:, left : left + valid.shape[1]] = valid
    return wide_rgb, wide_valid


def _write_nodata_rows(writer, first: int, stop: int, width: int) -> None:
    """Scene rows [first, stop) outside the valid region: transparent, a block of rows at a time."""
    for top in range(first, stop, NODATA_ROWS):
        height = min(NODATA_ROWS, stop - top)
        nothing = np.zeros((height, width), bool)
        writer.write(Window(0, top, width, height), np.zeros((3, height, width), np.float32), nothing)


Strip = tuple[np.ndarray, np.ndarray]  # model input (C x T x W) and validity (T x W) of one tile row


def _read_ahead(read: Callable[[int], Strip], count: int) -> Iterator[Strip]:
    """read(0), read(1), ... with the next strip read in a thread while the caller works on this one."""
    with ThreadPoolExecutor(1, "sarcolor-read") as reader:
        upcoming = reader.submit(read, 0)
        for index in range(count):
            strip = upcoming.result()
            if index + 1 < count:
                upcoming = reader.submit(read, index + 1)
            yield strip


def _submit_row(pool: Executor, predictor: Predictor, strip: np.ndarray, grid: TileGrid, batch: int) -> list[Future]:
    """Queue the tiles of one tile row in batches; each future gives N x 3 x T x T RGB in [0, 1] as half floats.

    Each batch is cut from the strip when its turn comes and its colours are kept as half floats (steps of at most
    1/2048, far below 8-bit output's 1/255): the rows in flight hold half the memory, which wide scenes need."""
    starts = [grid.columns[i : i + batch] for i in range(0, len(grid.columns), batch)]
    return [pool.submit(_predict_half, predictor, strip, columns, grid.tile) for columns in starts]


def _predict_half(predictor: Predictor, strip: np.ndarray, columns: list[int], tile: int) -> torch.Tensor:
    tiles = torch.from_numpy(np.stack([strip[:, :, x0 : x0 + tile] for x0 in columns]))
    return predictor.predict(tiles).to(torch.float16)


def predicted_rows(
    strips: Iterable[Strip], predictor: Predictor, grid: TileGrid, batch: int
) -> Iterator[tuple[list[np.ndarray], np.ndarray]]:
    """Per tile row, in order: the tiles' predictions (3 x T x T each) and the row's validity.

    Row r + 1 is queued before row r is awaited, so every prediction stream stays busy across row ends.
    """
    pending: deque[tuple[list[Future], np.ndarray]] = deque()
    with prediction_pool(predictor) as pool:
        for strip, valid in strips:
            pending.append((_submit_row(pool, predictor, strip, grid, batch), valid))
            if len(pending) == 2:
                yield _gathered(*pending.popleft())
        while pending:
            yield _gathered(*pending.popleft())


def _colour_rows(
    strips: Iterable[Strip], colour: ColourSource, grid: TileGrid, batch: int
) -> Iterator[tuple[list[np.ndarray], np.ndarray]]:
    """Per tile row: the model's tile colours and the row's validity; no tiles for a colour source that paints
    every pixel itself (the model is not run)."""
    if colour.uses_model_colours:
        yield from predicted_rows(strips, colour.predictor, grid, batch)
        return
    for _, valid in strips:
        yield [], valid


def _gathered(batches: list[Future], valid: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    return [tile.numpy() for done in batches for tile in done.result()], valid


def _stream_rows(
    scene: SarScene,
    space: InputSpace,
    grid: TileGrid,
    colour: ColourSource,
    batch: int,
    writer: RgbaWriter,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
) -> None:
    """Read, predict, blend, paint and write tile row by tile row, the stages overlapped.

    A reader thread prepares the next strip, the prediction streams (`prediction_pool`) work on
    this row's and the next row's batches, and a writer thread blends and writes the previous
    row (GDAL, numpy and torch release the GIL). A bounded number of strips is in flight, so
    memory does not grow with the scene.
    """
    padded_width = grid.columns[-1] + grid.tile
    blender, seams = StripBlender(grid), seam_matcher(grid, colour.uses_model_colours and colour.predictor.tile_wide)

    def read(row_index: int) -> Strip:
        return _read_strip(scene, space, grid, grid.rows[row_index], padded_width)

    def write(row_index: int, predictions: list[np.ndarray], valid: np.ndarray) -> None:
        for col_index, prediction in enumerate(predictions):
            seams.apply(row_index, col_index, prediction)
            blender.add(prediction, row_index, col_index)
        _write_rows(writer, *blender.finish_row(row_index), valid, scene, grid, colour)

    region, width = scene.region, scene.georef.width
    _write_nodata_rows(writer, 0, region.row_off, width)
    strips = _read_ahead(read, len(grid.rows))
    rows = _colour_rows(strips, colour, grid, batch)
    with ThreadPoolExecutor(1, "sarcolor-write") as writing, contextlib.closing(strips), contextlib.closing(rows):
        written, waiting = None, None  # a row is written once its seams with the row below are known
        for row_index, (predictions, valid) in enumerate(rows):
            stop_if_cancelled(cancelled)
            seams.record_row(row_index, predictions)
            if waiting:
                seams.record_pair(waiting[0], waiting[1], predictions)
                if written is not None:
                    written.result()  # a write error surfaces here, before more work is queued
                written = writing.submit(write, *waiting)
            waiting = (row_index, predictions, valid)
            if progress:
                progress((row_index + 1) * len(grid.columns), grid.tile_count)
        if written is not None:
            written.result()
        write(*waiting)
    _write_nodata_rows(writer, region.row_off + region.height, scene.georef.height, width)


def provenance_tags(model: LoadedModel, scene: SarScene, source_name: str) -> dict[str, str]:
    """GeoTIFF metadata saying what made the image (from the file `source_name`), that it is synthetic, and the
    model's flat-colour baseline."""
    tags = {
        "SYNTHETIC": SYNTHETIC_NOTE,
        "SARCOLOR_MODEL": model.name,
        "SARCOLOR_VERSION": version("sarcolor"),
        "SARCOLOR_SOURCE": f"{source_name} band {scene.band_name}, encoding {scene.encoding.value}",
    } | scene.product_tags  # a product's id, backscatter (sigma0 or gamma0, thermal noise) and polarisations
    if FLAT_COLOUR in model.metadata:  # the mean training colour: what a wash would paint
        tags[FLAT_COLOUR_TAG] = " ".join(f"{v:.4f}" for v in model.metadata[FLAT_COLOUR])
    return tags


def _level_warning(scene: SarScene, space: InputSpace) -> list[str]:
    """What the analyst should know when a fixed-level model gets a scene without a trusted level."""
    transform = scene.input_transform(space)
    if space == InputSpace.STRETCH or not transform.anchored:
        return []
    restored = (
        f" Its contrast is unusually low for dB, so it was stretched {transform.contrast_gain:.1f}x around the median."
        if transform.contrast_gain != 1.0
        else ""
    )
    return [
        f"{scene.path.name} has no trustworthy absolute backscatter level (relative or re-scaled 8-bit values), "
        f"so its median was placed at {ANCHOR_MEDIAN_DB:.0f} dB: colours follow relative brightness only.{restored} "
        "Use the calibrated float product (sigma0 in dB or linear) where you have it."
    ]


def check_options(options: ColorizeOptions, model: LoadedModel) -> None:
    """Raise `InvalidSettingsError` for settings this model cannot run with, before any work."""
    multiple = model.config.multiple
    if options.tile % multiple:
        raise InvalidSettingsError(f"Tile size must be a multiple of {multiple} for this model (got {options.tile}).")
    if options.batch < 1:
        raise InvalidSettingsError("Batch size must be at least 1.")
    check_rendering(options.rendering)


def colorize(
    source: str | Path,
    output: str | Path,
    model: LoadedModel,
    options: ColorizeOptions | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    limits: Limits | None = None,
    source_name: str | None = None,
) -> ColorizeResult:
    """Colorize `source` into a COG at `output`. Raises `core.errors` types on bad input.

    `source_name`: the file's name as the analyst gave it, for the COG's provenance (default: its own name).
    """
    options = options or ColorizeOptions()
    limits = limits or Limits.from_env()
    name = source_name or Path(source).name
    cache_mb = limits.guided_gdal_cache_mb if options.guide else limits.gdal_cache_mb
    with rasterio.Env(GDAL_CACHEMAX=cache_mb * 2**20):  # bounded memory whatever the scene size
        return _colorize(Path(source), Path(output), model, options, progress, cancelled, limits, name)


def _colorize(
    source: Path,
    output: Path,
    model: LoadedModel,
    options: ColorizeOptions,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
    limits: Limits,
    source_name: str,
) -> ColorizeResult:
    """`colorize` inside its GDAL environment."""
    started = time.perf_counter()
    check_options(options, model)
    scene = open_scene(  # read
        source, band=options.band, encoding=options.encoding, limits=limits, polarisation=options.polarisation
    )
    try:
        space = InputSpace(model.config.input_space)  # normalise: what the model sees of the scene's dB
        notes = scene.warnings + _level_warning(scene, space)
        grid = TileGrid.anchored(scene.region, scene.georef.transform, options.tile, options.overlap)  # tile
        predictor = Predictor(model, options.device, options.precision)  # colour: the model's ...
        guide = GuideRequest(options.guide, options.guide_bands, options.guide_name)
        fit_progress = _staged(progress, FIT_STAGE)  # ... or a guide's, fitted here (its confidence beside output)
        with colour_source(  # either rendered with the SAR's detail or not
            predictor, scene, guide, source_name, cancelled, fit_progress, output, options.rendering
        ) as colour:
            tags = provenance_tags(model, scene, source_name) | colour.tags()
            with cog_writer(output, scene.georef, tags) as cog:  # write
                _stream_rows(scene, space, grid, colour, options.batch, cog, progress, cancelled)
            notes += colour.notes()
            facts = _summary(scene, grid, notes, colour.guide_label, predictor, time.perf_counter() - started)
        return ColorizeResult(Path(output), scene.georef, facts)
    finally:
        scene.close()


def _staged(progress: ProgressCallback | None, stage: str) -> Callable[[int, int], None] | None:
    """`progress` for a stage before the tiles: called as progress(done, total, stage)."""
    return None if progress is None else lambda done, total: progress(done, total, stage)


def _summary(
    scene: SarScene, grid: TileGrid, notes: list[str], guide: str, predictor: Predictor, seconds: float
) -> RunSummary:
    """What the run did, as the job history stores it."""
    return RunSummary.of(
        scene.georef,
        band=scene.band_name,
        encoding=scene.encoding.value,
        encoding_detected=scene.encoding_detected,
        stretch_db=(scene.stretch.low_db, scene.stretch.high_db),
        tiles=grid.tile_count,
        seconds=seconds,
        device=predictor.description,
        warped_from_gcps=scene.warped_from_gcps,
        warnings=tuple(notes),
        guide=guide,
    )


__all__ = ["ColorizeOptions", "ColorizeResult", "Encoding", "colorize"]
