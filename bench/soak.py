"""Soak test of the server's job path: many jobs in a row, then several analysts at once, resources sampled.

    .venv/bin/python bench/soak.py [--jobs 100] [--users 8] [--small] [--out bench/soak]

Scenes are real BigEarthNet Sentinel-1 VV mosaics (`core.samples`, float32 dB, UTM 10 m) of a few sizes,
cycled. Each job goes the dashboard's way: the scene is copied into the store as an upload
(`JobStore.store_upload`) and run by `core.runner.JobRunner` as its user's job. Phase 1: `--jobs` jobs one after
another (one analyst). Phase 2: `--users` analysts submit one job each at the same moment (threads, like the
app's sessions). After every phase-1 job: RSS, open file descriptors, threads, the var folder's bytes and any
partial file; a sampler thread records the same every 0.25 s for the curves. Every output is compared byte for
byte with `core.colorize.colorize` on the same scene (what `sarcolor colorize` runs), and every analyst's history
must hold exactly their own jobs. Writes `<out>.json` and `<out>.png`; `--small` uses a small untrained U-Net
instead of models/default.pt (when the CPU is shared with a training run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.checkpoints import LoadedModel, load_checkpoint, untrained_model  # noqa: E402
from core.cog import PARTIAL_MARKER  # noqa: E402
from core.colorize import ColorizeOptions, colorize  # noqa: E402
from core.jobs import JobStore  # noqa: E402
from core.networks import GeneratorConfig  # noqa: E402
from core.runner import JobRunner  # noqa: E402
from core.samples import build_samples  # noqa: E402
from core.settings import Limits, default_checkpoint  # noqa: E402
from core.users import User  # noqa: E402

SCENE_SIZES = ((480, 360), (600, 600), (360, 720), (720, 480))  # width x height, px


@dataclass
class Reading:
    """One reading of the process's resources."""

    seconds: float
    phase: str
    jobs_done: int
    rss_mb: float
    fds: int
    threads: int
    var_mb: float
    partials: int


@dataclass
class SoakReport:
    """What a soak measured: per-job readings (phase 1), the timeline, and the checks' outcomes."""

    model: str
    jobs: int
    users: int
    after_job: list[Reading] = field(default_factory=list)
    timeline: list[Reading] = field(default_factory=list)
    seconds_sequential: float = 0.0
    seconds_concurrent: float = 0.0
    outputs_checked: int = 0
    outputs_identical: int = 0
    failed_jobs: list[str] = field(default_factory=list)
    histories_own_only: bool = True


def folder_bytes(root: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def read_resources(phase: str, jobs_done: int, started: float, var: Path) -> Reading:
    """RSS, open fds, threads, var size and partial files now."""
    process = psutil.Process()
    return Reading(
        seconds=round(time.monotonic() - started, 2),
        phase=phase,
        jobs_done=jobs_done,
        rss_mb=round(process.memory_info().rss / 1e6, 1),
        fds=process.num_fds(),
        threads=threading.active_count(),
        var_mb=round(folder_bytes(var) / 1e6, 2),
        partials=sum(1 for _ in var.rglob(f"*{PARTIAL_MARKER}*")),
    )


def build_scenes(folder: Path, sizes: tuple[tuple[int, int], ...] = SCENE_SIZES) -> list[Path]:
    """Real BigEarthNet VV mosaics, one GeoTIFF per size."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from scenes import mosaic_scene  # the test suite's builder of real-pixel mosaics

    samples = build_samples(folder / "samples")
    return [mosaic_scene(folder / f"bigearthnet_vv_{w}x{h}.tif", samples, w, h) for w, h in sizes]


def reference_outputs(scenes: list[Path], model: LoadedModel, options: ColorizeOptions, folder: Path) -> list[bytes]:
    """Each scene colorized directly, as the CLI does: the bytes every job's output must equal."""
    folder.mkdir(parents=True, exist_ok=True)
    return [colorize(s, folder / f"{s.stem}_colorized.tif", model, options).output.read_bytes() for s in scenes]


class Sampler(threading.Thread):
    """Reads the resources every `interval` seconds until stopped."""

    def __init__(self, report: SoakReport, var: Path, started: float, interval: float = 0.25) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.report, self.var, self.started, self.interval = report, var, started, interval
        self.phase, self.jobs_done, self.stop = "sequential", 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.report.timeline.append(read_resources(self.phase, self.jobs_done, self.started, self.var))


def run_job(runner: JobRunner, user: User, scene: Path, model: LoadedModel, options: ColorizeOptions) -> str:
    """Upload a scene as `user` and queue it, as the Colorize page does; returns the job id."""
    with scene.open("rb") as stream:
        stored = runner.store.store_upload(scene.name, stream)
    return runner.start(user, scene.name, stored, model, options, size_bytes=stored.stat().st_size).id


def check_output(report: SoakReport, store: JobStore, job_id: str, user: User, expected: bytes) -> None:
    """Count the job's output as identical to the CLI's, or record why not."""
    job = store.get(job_id, user)
    report.outputs_checked += 1
    if job is None or job.status != "done":
        report.failed_jobs.append(f"{job_id}: {job.status if job else 'missing'} {job.error if job else ''}")
    elif Path(job.output_path).read_bytes() == expected:
        report.outputs_identical += 1


def soak(work: Path, jobs: int, users: int, model: LoadedModel, options: ColorizeOptions,
         sizes: tuple[tuple[int, int], ...] = SCENE_SIZES) -> SoakReport:
    """Phase 1: `jobs` jobs in a row; phase 2: `users` analysts at once. Everything under `work`."""
    scenes = build_scenes(work / "scenes", sizes)
    expected = reference_outputs(scenes, model, options, work / "cli")
    var = work / "var"
    store = JobStore(var)
    runner = JobRunner(store, Limits.from_env())
    report = SoakReport(model=model.name, jobs=jobs, users=users)
    started = time.monotonic()
    sampler = Sampler(report, var, started)
    sampler.start()
    analyst = User("analyst0", "Analyst 0")
    for index in range(jobs):
        job_id = run_job(runner, analyst, scenes[index % len(scenes)], model, options)
        runner.wait(job_id)
        check_output(report, store, job_id, analyst, expected[index % len(scenes)])
        sampler.jobs_done = index + 1
        report.after_job.append(read_resources("sequential", index + 1, started, var))
    report.seconds_sequential = time.monotonic() - started
    sampler.phase = "concurrent"
    team = [User(f"analyst{i + 1}", f"Analyst {i + 1}") for i in range(users)]
    concurrent_start = time.monotonic()
    submitted = [(user, run_job(runner, user, scenes[i % len(scenes)], model, options), i % len(scenes))
                 for i, user in enumerate(team)]
    for user, job_id, scene_index in submitted:
        runner.wait(job_id)
        check_output(report, store, job_id, user, expected[scene_index])
    report.seconds_concurrent = time.monotonic() - concurrent_start
    report.histories_own_only = all([j.id for j in store.list(user)] == [job_id] for user, job_id, _ in submitted)
    report.after_job.append(read_resources("concurrent", jobs + users, started, var))
    sampler.stop.set()
    sampler.join()
    return report


def plot(report: SoakReport, path: Path) -> None:
    """RSS, fds and threads, and the var folder over time; the concurrent phase shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s.seconds for s in report.timeline]
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    axes[0].plot(t, [s.rss_mb for s in report.timeline], color="#1f6f8b")
    axes[0].set_ylabel("RSS (MB)")
    axes[1].plot(t, [s.fds for s in report.timeline], label="open file descriptors")
    axes[1].plot(t, [s.threads for s in report.timeline], label="threads")
    axes[1].legend(loc="upper left")
    axes[1].set_ylabel("count")
    axes[2].plot(t, [s.var_mb for s in report.timeline], color="#8b5a1f")
    axes[2].set_ylabel("var folder (MB)")
    axes[2].set_xlabel("seconds since the first job")
    concurrent = [s.seconds for s in report.timeline if s.phase == "concurrent"]
    for ax in axes:
        ax.grid(alpha=0.3)
        if concurrent:
            ax.axvspan(min(concurrent), max(concurrent), color="0.9", zorder=0)
    axes[0].set_title(f"{report.jobs} jobs in a row, then {report.users} analysts at once (shaded); "
                      f"model {report.model}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--small", action="store_true", help="a small untrained U-Net instead of the default model")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "soak")
    args = parser.parse_args()
    model = untrained_model(GeneratorConfig(ngf=8), seed=0) if args.small else load_checkpoint(default_checkpoint())
    with tempfile.TemporaryDirectory(prefix="sarcolor-soak-") as work:
        report = soak(Path(work), args.jobs, args.users, model, ColorizeOptions())
    args.out.with_suffix(".json").write_text(json.dumps(asdict(report), indent=1))
    plot(report, args.out.with_suffix(".png"))
    first, last = report.after_job[min(9, args.jobs - 1)], report.after_job[args.jobs - 1]
    print(f"model {report.model}, {os.cpu_count()} CPUs; {report.jobs} sequential jobs in "
          f"{report.seconds_sequential:.0f} s, {report.users} concurrent in {report.seconds_concurrent:.0f} s")
    print(f"after job 10 / {args.jobs}: RSS {first.rss_mb} / {last.rss_mb} MB ({last.rss_mb / first.rss_mb - 1:+.1%}), "
          f"fds {first.fds} / {last.fds}, threads {first.threads} / {last.threads}, partial files {last.partials}")
    print(f"after the concurrent phase: RSS {report.after_job[-1].rss_mb} MB, fds {report.after_job[-1].fds}, "
          f"threads {report.after_job[-1].threads}, var {report.after_job[-1].var_mb} MB")
    print(f"outputs byte-identical to the CLI's: {report.outputs_identical} of {report.outputs_checked}; "
          f"failed: {report.failed_jobs or 'none'}; each history holds only its own jobs: {report.histories_own_only}")


if __name__ == "__main__":
    main()
