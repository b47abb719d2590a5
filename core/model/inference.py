"""Run a generator on batches of tiles: device choice, bf16 autocast, channels_last, parallel streams."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import torch

from core.errors import InvalidSettingsError
from core.model.checkpoints import LoadedModel


def pick_device(requested: str = "auto") -> torch.device:
    """'auto' -> CUDA when present, else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise InvalidSettingsError("CUDA was requested but no GPU is available on this machine.")
    if requested not in ("cpu", "cuda"):
        raise InvalidSettingsError(f"Unknown device {requested!r}: use auto, cpu or cuda.")
    return torch.device(requested)


_PREPARE_LOCK = threading.Lock()
_THREADS_LOCK = threading.Lock()
_single_threaded = {"users": 0, "threads_before": 0}
MAX_CPU_STREAMS = 4  # one single-threaded stream per core up to here (measured on 2 cores); above, torch's own pool


def prepare_generator(model: LoadedModel, device: torch.device) -> torch.nn.Module:
    """Move the generator to `device` in eval mode and channels_last, once per model.

    Converting a module while another thread runs it corrupts that thread's output,
    so a model shared by concurrent jobs is converted under a lock and only once.
    """
    with _PREPARE_LOCK:
        if model.prepared_for != device:
            model.generator.to(device).eval().to(memory_format=torch.channels_last)
            model.prepared_for = device
    return model.generator


def bf16_is_fast(device: torch.device) -> bool:
    """bf16 autocast pays off on GPUs with bf16 and CPUs with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def use_bf16(precision: str, device: torch.device) -> bool:
    """The precision rule of training and inference: bf16 when asked, or on 'auto' where it is fast."""
    if precision not in ("auto", "bf16", "fp32"):
        raise InvalidSettingsError(f"Unknown precision {precision!r}: use auto, bf16 or fp32.")
    return precision == "bf16" or (precision == "auto" and bf16_is_fast(device))


class Predictor:
    """Wraps a loaded generator for inference on one device."""

    def __init__(self, model: LoadedModel, device: str = "auto", precision: str = "auto") -> None:
        self.model = model
        self.device = pick_device(device)
        self.use_bf16 = use_bf16(precision, self.device)
        self.generator = prepare_generator(model, self.device)
        cores = _torch_threads()
        self.streams = cores if self.device.type == "cpu" and cores <= MAX_CPU_STREAMS else 1

    @property
    def tile_wide(self) -> bool:
        """Whether the model decides colour over a whole tile (its `context`), so neighbouring tiles can disagree."""
        return self.model.config.context

    @property
    def description(self) -> str:
        name = torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "CPU"
        return f"{name} ({'bf16' if self.use_bf16 else 'fp32'})"

    @torch.inference_mode()
    def predict(self, tiles: torch.Tensor) -> torch.Tensor:
        """N x C x T x T SAR in [-1, 1] -> N x 3 x T x T RGB in [0, 1] (float32, CPU)."""
        x = tiles.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_bf16):
            y = self.generator(x)
        return ((y.float().clamp(-1, 1) + 1.0) * 0.5).cpu()


def _torch_threads() -> int:
    """torch's intra-op thread count, as it was before any `single_threaded_torch` block."""
    with _THREADS_LOCK:
        return _single_threaded["threads_before"] if _single_threaded["users"] else torch.get_num_threads()


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """torch ops run on one thread while any caller is inside; the last one out restores the thread count."""
    with _THREADS_LOCK:
        if _single_threaded["users"] == 0:
            _single_threaded["threads_before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _single_threaded["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _single_threaded["users"] -= 1
            if _single_threaded["users"] == 0:
                torch.set_num_threads(_single_threaded["threads_before"])


@contextlib.contextmanager
def prediction_pool(predictor: Predictor) -> Iterator[ThreadPoolExecutor]:
    """Threads that run `predictor.predict` side by side.

    On a CPU with a few cores, one single-threaded stream per core beats one stream on all
    cores (71 against 82 ms per batch of 8 on 2 cores, bench/RESULTS.md): no OpenMP barriers,
    and a reader or writer thread that takes a core stalls one stream instead of both.
    """
    parallel = single_threaded_torch() if predictor.streams > 1 else contextlib.nullcontext()
    with parallel, ThreadPoolExecutor(predictor.streams, "sarcolor-predict") as pool:
        yield pool
