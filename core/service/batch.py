"""Colorize many scenes: in this process, in a process pool, or on a Dask distributed cluster.

Each scene is one independent `core.colorize.colorize` call writing `<stem>_colorized.tif`
into the output folder; with `ColorizeOptions.guide`, every scene takes its colour from that one
optical image where it overlaps it (a scene it does not overlap fails, saying so). Outputs appear
atomically (`core.rasters.cog`), so an existing output is complete and is skipped: an interrupted batch
resumes where it stopped. A scene that fails is reported and the others go on. Workers receive
file paths, so on a cluster the inputs, the output folder, the checkpoint and the guide must be
on storage every worker can read.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from core.colorize import ColorizeOptions, colorize
from core.errors import InvalidSettingsError, SarColorError
from core.model.checkpoints import LoadedModel, load_checkpoint
from core.rasters.s1 import rtc

RASTER_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".zip")  # .zip: a .SAFE or RTC product
OUTPUT_SUFFIX = "_colorized.tif"
SUMMARY_NAME = "sarcolor_summary.json"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
WORKER_MEMORY_BYTES = 1.5 * 2**30  # measured peak RSS of one scene at 100 Mpx is about 1.15 GB (bench/)


@dataclass(frozen=True)
class SceneTask:
    """One scene to colorize and where its result goes."""

    source: Path
    output: Path


class SceneStatus(StrEnum):
    """What happened to one scene."""

    DONE = "done"
    SKIPPED = "skipped"  # its output was already there
    FAILED = "failed"  # the message says why


@dataclass(frozen=True)
class SceneOutcome:
    """What happened to one scene, and why when it failed."""

    source: Path
    output: Path
    status: SceneStatus
    message: str = ""
    seconds: float = 0.0
    megapixels: float = 0.0
    guide: str = ""  # 'colour guided by <optical file> (<date>)' when `ColorizeOptions.guide` was set

    def as_dict(self) -> dict:
        return asdict(self) | {"source": str(self.source), "output": str(self.output)}


CO_POLARISED = {"VH": "VV", "HV": "HH"}  # a cross-polarised file's co-polarised sibling


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """Files, folders (their rasters, not recursive) and glob patterns -> sorted unique raster paths."""
    found: list[Path] = []
    for item in map(str, inputs):
        if glob.has_magic(item):
            matches = [Path(p) for p in sorted(glob.glob(item)) if Path(p).is_file()]
        elif Path(item).is_dir() and Path(item).suffix.upper() == ".SAFE":  # a product folder is one input
            matches = [Path(item)]
        elif Path(item).is_dir():
            matches = _folder_rasters(Path(item))
        elif Path(item).is_file():
            matches = [Path(item)]
        else:
            raise InvalidSettingsError(f"No such file or folder: {item}")
        if not matches:
            raise InvalidSettingsError(f"No SAR rasters ({', '.join(RASTER_SUFFIXES)}) found in {item}")
        found += [p for p in matches if p not in found]
    return found


def _is_raster_name(path: Path) -> bool:
    """A SAR raster or product by its name: not a hidden file, not an RTC product's ancillary layer (mask, maps,
    DEM)."""
    return path.suffix.lower() in RASTER_SUFFIXES and not path.name.startswith(".") and not rtc.is_ancillary(path.name)


def _folder_rasters(folder: Path) -> list[Path]:
    """A folder's SAR rasters and products, an RTC pair once (its co-polarised file): each file is identified once
    (a renamed RTC file by its tags), and a cross-polarised file is left out when its product's co-polarised file
    is among them."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and _is_raster_name(p))
    products = {p: rtc.identify(str(p)) for p in files}
    present = {(f.stem, f.polarisation) for f in products.values() if f is not None}
    return [p for p, f in products.items() if f is None or (f.stem, CO_POLARISED.get(f.polarisation)) not in present]


def plan_tasks(sources: list[Path], output_dir: Path) -> list[SceneTask]:
    """One task per source, each with its own output name; two sources may not share one."""
    tasks = [SceneTask(source, output_dir / f"{source.stem}{OUTPUT_SUFFIX}") for source in sources]
    seen: dict[Path, Path] = {}
    for task in tasks:
        if task.output in seen:
            raise InvalidSettingsError(
                f"{seen[task.output]} and {task.source} would both be written to {task.output.name}; "
                "rename one or colorize them into different folders."
            )
        seen[task.output] = task.source
    return tasks


@lru_cache(maxsize=2)
def cached_model(checkpoint: str) -> LoadedModel:
    """One loaded model per process and checkpoint (the CLI's check and a serial batch share it)."""
    return load_checkpoint(checkpoint)


def colorize_task(
    task: SceneTask, checkpoint: str | Path, options: ColorizeOptions, overwrite: bool = False
) -> SceneOutcome:
    """Colorize one scene; an analyst-facing problem becomes a failed outcome, never an exception."""
    if task.output.exists() and not overwrite:
        return SceneOutcome(task.source, task.output, SceneStatus.SKIPPED, "output already exists")
    started = time.perf_counter()
    try:
        result = colorize(task.source, task.output, cached_model(str(checkpoint)), options)
    except SarColorError as exc:
        return SceneOutcome(task.source, task.output, SceneStatus.FAILED, str(exc), time.perf_counter() - started)
    except Exception as exc:  # a bug or a library failure: reported for this scene, the batch goes on
        return _unexpected(task, exc, time.perf_counter() - started)
    facts = result.summary
    megapixels = facts.width * facts.height / 1e6
    warnings = "; ".join(facts.warnings)
    return SceneOutcome(task.source, task.output, SceneStatus.DONE, warnings, facts.seconds, megapixels, facts.guide)


def _unexpected(task: SceneTask, exc: BaseException, seconds: float = 0.0) -> SceneOutcome:
    message = f"unexpected error ({type(exc).__name__}: {exc})"
    return SceneOutcome(task.source, task.output, SceneStatus.FAILED, message, seconds)


def _outcome(future, task: SceneTask) -> SceneOutcome:
    """A finished future's outcome; a worker that died (e.g. out of memory) fails its scene only."""
    try:
        return future.result()
    except Exception as exc:
        return _unexpected(task, exc)


def default_workers(tasks: int) -> int:
    """As many processes as cores, memory (about 1.5 GB each) and scenes allow."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(tasks, os.cpu_count() or 1, int(memory // WORKER_MEMORY_BYTES)))


def _prepare_worker(threads: int) -> None:
    """Torch threads for this worker process, and glibc's own allocator thresholds where a launcher changed them.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also turns off glibc's adaptive
    mmap threshold: every large tensor is then mapped and unmapped anew and the model ran 2x slower
    (0.29 against 0.12 s per batch of 8 tiles, measured). The thresholds are put back at glibc's adaptive
    maxima (mmap 32 MiB, trim 64 MiB).
    """
    import torch

    torch.set_num_threads(threads)
    if "MALLOC_TRIM_THRESHOLD_" in os.environ:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6")
            libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
            libc.mallopt(M_TRIM_THRESHOLD, 64 << 20)


def run_serial(
    tasks: list[SceneTask], checkpoint: Path, options: ColorizeOptions, overwrite: bool = False
) -> Iterator[SceneOutcome]:
    """Yield each task's outcome, one scene after another in this process."""
    for task in tasks:
        yield colorize_task(task, checkpoint, options, overwrite)


def run_pool(
    tasks: list[SceneTask], checkpoint: Path, options: ColorizeOptions, overwrite: bool = False, workers: int = 0
) -> Iterator[SceneOutcome]:
    """Yield outcomes as scenes finish in a pool of processes, the cores shared out as torch threads."""
    workers = workers or default_workers(len(tasks))
    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a child forked from a process whose torch/GDAL threads hold locks can hang forever
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, spawn, initializer=_prepare_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(colorize_task, task, checkpoint, options, overwrite): task for task in tasks}
        try:
            for future in as_completed(futures):
                yield _outcome(future, futures[future])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def run_dask(
    tasks: list[SceneTask], checkpoint: Path, options: ColorizeOptions, overwrite: bool = False, scheduler: str = ""
) -> Iterator[SceneOutcome]:
    """Yield outcomes as scenes finish on the Dask distributed cluster at `scheduler` (host:port).

    The workers connected when the batch starts are prepared (torch threads, allocator); later ones run as they are.
    """
    from distributed import Client
    from distributed import as_completed as dask_completed

    with Client(scheduler, timeout="30s") as client:
        for address, worker in client.scheduler_info()["workers"].items():  # torch threads = the worker's threads
            client.run(_prepare_worker, worker["nthreads"], workers=[address])
        submit = client.submit
        futures = {submit(colorize_task, task, checkpoint, options, overwrite, pure=False): task for task in tasks}
        for future in dask_completed(futures):
            yield _outcome(future, futures[future])


def write_summary(outcomes: list[SceneOutcome], output_dir: Path) -> Path:
    """Each input's outcome as JSON in the output folder (replaced atomically); returns its path."""
    path = output_dir / SUMMARY_NAME
    partial = path.with_name(f".{path.name}.partial")
    rows = [o.as_dict() for o in sorted(outcomes, key=lambda o: str(o.source))]
    partial.write_text(json.dumps({"scenes": rows}, indent=2))
    os.replace(partial, path)
    return path
