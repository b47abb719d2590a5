"""Soak test of the server's job path: many jobs in a row, several analysts at once, a few through the browser.

    .venv/bin/python bench/soak.py [--jobs 100] [--users 8] [--browser-jobs 12] [--threads 1] [--small]
                                   [--out bench/soak]

Scenes are real BigEarthNet Sentinel-1 VV mosaics (`core.samples`, float32 dB, UTM 10 m) of a few sizes,
cycled. Each job goes the dashboard's way: the scene is copied into the store as an upload
(`JobStore.store_upload`) and run by `core.service.runner.JobRunner` as its user's job. Phase 1: `--jobs` jobs one after
another (one analyst). Phase 2: `--users` analysts submit one job each at the same moment (threads, like the
app's sessions). Phase 3: `streamlit run dashboard/serve.py` with two accounts; two analysts in two Chromium
contexts upload scenes, colorize and download the COG by its button, `--browser-jobs` in all (needs Debian's
chromium and playwright; skipped with a note without them); a browser without cookies then asks for each
download URL and must get 404. After every job: RSS, open file descriptors, OS threads, the var folder's bytes
and any partial file, of this process (phases 1-2) or of the app server (phase 3); a sampler thread records the
same every 0.25 s for the curves. Every output (and every downloaded file) is compared byte for byte with the
CLI's output for the same scene (`sarcolor colorize`, run once per scene as a subprocess; `reference="library"`
calls `core.colorize.colorize`, what the CLI runs, in this process instead), and every analyst's history must hold
exactly their own jobs. Torch runs on `--threads` threads everywhere (this process, the CLI, the app server).
Writes `<out>.json` and `<out>.png`; `--small` uses a small untrained U-Net instead of models/default.pt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from core.colorize import ColorizeOptions, colorize  # noqa: E402
from core.model.checkpoints import LoadedModel, load_checkpoint, save_checkpoint, untrained_model  # noqa: E402
from core.model.networks import GeneratorConfig  # noqa: E402
from core.rasters.cog import PARTIAL_MARKER  # noqa: E402
from core.samples import build_samples  # noqa: E402
from core.service.jobs import JobStore  # noqa: E402
from core.service.runner import JobRunner  # noqa: E402
from core.service.users import Role, User, add_account  # noqa: E402
from core.settings import Limits, default_checkpoint  # noqa: E402

SCENE_SIZES = ((1024, 768), (2048, 1536), (1536, 2048), (2560, 1920), (1280, 1280))  # width x height: 0.8-4.9 Mpx
BROWSER_PASSWORD = "soak test password"


@dataclass
class Reading:
    """One reading of the process's resources."""

    seconds: float
    phase: str
    jobs_done: int
    rss_mb: float
    fds: int
    threads: int  # OS threads of the process
    var_mb: float
    partials: int
    python_threads: int | None = None  # this process's Python threads (None for another process)


@dataclass
class SoakReport:
    """What a soak measured: per-job readings (phase 1), the timeline, and the checks' outcomes."""

    model: str
    jobs: int
    users: int
    threads: int = 1
    reference: str = "cli"
    browser_jobs: int = 0
    after_job: list[Reading] = field(default_factory=list)
    timeline: list[Reading] = field(default_factory=list)
    seconds_sequential: float = 0.0
    seconds_concurrent: float = 0.0
    seconds_browser: float = 0.0
    outputs_checked: int = 0
    outputs_identical: int = 0
    failed_jobs: list[str] = field(default_factory=list)
    histories_own_only: bool = True
    browser_downloads_identical: int = 0
    browser_urls_not_found_for_others: int = 0
    browser_skipped: str = ""


def folder_bytes(root: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def read_resources(phase: str, jobs_done: int, started: float, var: Path, process: psutil.Process | None = None
                   ) -> Reading:
    """RSS, open fds, OS threads, var size and partial files now (of this process unless another is given)."""
    process = process or psutil.Process()
    return Reading(
        seconds=round(time.monotonic() - started, 2),
        phase=phase,
        jobs_done=jobs_done,
        rss_mb=round(process.memory_info().rss / 1e6, 1),
        fds=process.num_fds(),
        threads=process.num_threads(),
        var_mb=round(folder_bytes(var) / 1e6, 2),
        partials=sum(1 for _ in var.rglob(f"*{PARTIAL_MARKER}*")),
        python_threads=threading.active_count() if process.pid == os.getpid() else None,
    )


def build_scenes(folder: Path, sizes: tuple[tuple[int, int], ...] = SCENE_SIZES) -> list[Path]:
    """Real BigEarthNet VV mosaics, one GeoTIFF per size."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from scenes import mosaic_scene  # the test suite's builder of real-pixel mosaics

    samples = build_samples(folder / "samples")
    return [mosaic_scene(folder / f"bigearthnet_vv_{w}x{h}.tif", samples, w, h) for w, h in sizes]


def cli_outputs(scenes: list[Path], checkpoint: Path, threads: int, folder: Path) -> list[bytes]:
    """Each scene through `sarcolor colorize` (a subprocess, default options): the bytes every job must equal."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    outputs = []
    for scene in scenes:
        out = folder / f"{scene.stem}_colorized.tif"
        subprocess.run([sys.executable, "-m", "core.cli", "colorize", str(scene), str(out), "--model", str(checkpoint)],
                       cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
        outputs.append(out.read_bytes())
    return outputs


def library_outputs(scenes: list[Path], model: LoadedModel, options: ColorizeOptions, folder: Path) -> list[bytes]:
    """Each scene through `core.colorize.colorize` in this process (what the CLI runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [colorize(s, folder / f"{s.stem}_colorized.tif", model, options).output.read_bytes() for s in scenes]


class Sampler(threading.Thread):
    """Reads the resources every `interval` seconds until stopped."""

    def __init__(self, report: SoakReport, var: Path, started: float, interval: float = 0.25) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.report, self.var, self.started, self.interval = report, var, started, interval
        self.phase, self.jobs_done, self.stop = "sequential", 0, threading.Event()
        self.process: psutil.Process | None = None  # None: this process

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                reading = read_resources(self.phase, self.jobs_done, self.started, self.var, self.process)
            except (psutil.Error, FileNotFoundError):  # the app server is stopping; a file vanished mid-walk
                continue
            self.report.timeline.append(reading)


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


def soak(work: Path, jobs: int, users: int, checkpoint: Path, options: ColorizeOptions,
         sizes: tuple[tuple[int, int], ...] = SCENE_SIZES, reference: str = "cli", browser_jobs: int = 0,
         threads: int = 1) -> SoakReport:
    """Phase 1: `jobs` jobs in a row; phase 2: `users` analysts at once; phase 3: `browser_jobs` through the app.

    Everything under `work`. `threads`: torch threads of the CLI and app server subprocesses (set this
    process's own before calling).
    """
    model = load_checkpoint(checkpoint)
    scenes = build_scenes(work / "scenes", sizes)
    if reference == "cli":
        expected = cli_outputs(scenes, checkpoint, threads, work / "cli")
    else:
        expected = library_outputs(scenes, model, options, work / "cli")
    var = work / "var"
    store = JobStore(var)
    runner = JobRunner(store, Limits.from_env())
    report = SoakReport(model=model.name, jobs=jobs, users=users, threads=threads, reference=reference,
                        browser_jobs=browser_jobs)
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
    if browser_jobs:
        browser_start = time.monotonic()
        browser_phase(work, checkpoint, scenes, expected, browser_jobs, threads, report, sampler)
        report.seconds_browser = time.monotonic() - browser_start
    sampler.stop.set()
    sampler.join()
    return report


def browser_phase(work: Path, checkpoint: Path, scenes: list[Path], expected: list[bytes], jobs: int,
                  threads: int, report: SoakReport, sampler: Sampler) -> None:
    """Two analysts in two Chromium contexts colorize uploads through the app and download each COG."""
    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    try:
        from playwright.sync_api import sync_playwright
        from test_dashboard_browser import CHROMIUM_ARGS, streamlit_server
    except ImportError as exc:
        report.browser_skipped = f"playwright missing: {exc}"
        return
    if shutil.which("chromium") is None:
        report.browser_skipped = "Debian's chromium is not installed"
        return
    var, models = work / "var_web", work / "models_web"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint.resolve(), models / checkpoint.resolve().name)  # the same model name in the COG
    analysts = [User(f"web{i + 1}", f"Web analyst {i + 1}") for i in range(2)]
    for user in analysts:
        add_account(var / "accounts.json", user.id, BROWSER_PASSWORD, Role.ANALYST, user.name)
    env = {"SARCOLOR_VAR_DIR": str(var), "SARCOLOR_MODELS_DIR": str(models), "OMP_NUM_THREADS": str(threads)}
    store = JobStore(var)
    with ExitStack() as stack:
        url = stack.enter_context(streamlit_server(work, env))
        server = next(p for p in psutil.Process().children() if "streamlit" in " ".join(p.cmdline()))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        sampler.phase, sampler.var, sampler.process = "browser", var, server
        pages = {user.id: _browser_sign_in(browser, url, user.id) for user in analysts}
        stranger = browser.new_context().request
        for index in range(jobs):
            user, scene_index = analysts[index % len(analysts)], index % len(scenes)
            download_url, downloaded = _browser_job(pages[user.id], store, user, scenes[scene_index])
            job = store.list(user)[0]
            report.outputs_checked += 1
            if job.status == "done" and Path(job.output_path).read_bytes() == expected[scene_index]:
                report.outputs_identical += 1
            else:
                report.failed_jobs.append(f"browser {job.id}: {job.status} {job.error or 'output differs'}")
            report.browser_downloads_identical += downloaded == expected[scene_index]
            report.browser_urls_not_found_for_others += stranger.get(download_url).status == 404
            sampler.jobs_done = report.jobs + report.users + index + 1
            report.after_job.append(read_resources("browser", sampler.jobs_done, sampler.started, var, server))
        own = [sorted(j.id for j in store.list(user)) for user in analysts]
        report.histories_own_only &= sum(len(ids) for ids in own) == jobs and not set(own[0]) & set(own[1])
        sampler.stop.set()  # before the server stops
        sampler.join()


def _browser_sign_in(browser, url: str, user_id: str):
    """A fresh browser context signed in as `user_id`, on the Colorize page with the upload input chosen."""
    page = browser.new_context(viewport={"width": 1400, "height": 1200}, accept_downloads=True).new_page()
    page.goto(url)
    _browser_settled(page)
    page.get_by_label("Account name").fill(user_id)
    page.get_by_role("textbox", name="Password").fill(BROWSER_PASSWORD)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.get_by_role("heading", name="Colorize a Sentinel-1 scene").wait_for(timeout=120_000)
    _browser_settled(page)
    page.get_by_text("Upload", exact=True).click()
    _browser_settled(page)
    return page


def _browser_settled(page) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=300_000)


def _browser_job(page, store: JobStore, user: User, scene: Path) -> tuple[str, bytes]:
    """Upload a scene, colorize it, download the COG by its button: (the download's URL, the bytes saved)."""
    before = {job.id for job in store.list(user)}
    run = page.get_by_role("button", name=re.compile("^.*Colorize$"))
    if page.get_by_test_id("stFileChip").count():  # the last scene: removed first, so the next click is for this one
        page.get_by_test_id("stFileChipDeleteBtn").first.click()
        page.wait_for_function("b => b.disabled", arg=run.element_handle(), timeout=60_000)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(scene))
    page.get_by_test_id("stFileChip").first.wait_for()
    page.wait_for_function("b => !b.disabled", arg=run.element_handle(), timeout=60_000)
    _browser_settled(page)
    run.click()
    deadline = time.monotonic() + 600
    while not (new := [j for j in store.list(user) if j.id not in before and j.is_finished]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no finished job for {user.id} after 600 s")
        time.sleep(0.2)
    button = page.locator(f".st-key-dl-cog-{new[0].id}").get_by_role("button")
    button.wait_for(timeout=120_000)
    _browser_settled(page)
    with page.expect_download() as info:
        button.click()
    return info.value.url, Path(info.value.path()).read_bytes()


def plot(report: SoakReport, path: Path) -> None:
    """RSS, fds and threads, and the var folder over time; the concurrent and browser phases shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    runs = (("this process (job runner)", [r for r in report.timeline if r.phase != "browser"], "-"),
            ("app server (browser jobs)", [r for r in report.timeline if r.phase == "browser"], "--"))
    for label, readings, style in runs:
        if not readings:
            continue
        t = [r.seconds for r in readings]
        axes[0].plot(t, [r.rss_mb for r in readings], style, color="#1f6f8b", label=label)
        axes[1].plot(t, [r.fds for r in readings], style, color="#c0504d", label=f"open fds, {label}")
        axes[1].plot(t, [r.threads for r in readings], style, color="#4f7f3f", label=f"OS threads, {label}")
        axes[2].plot(t, [r.var_mb for r in readings], style, color="#8b5a1f", label=label)
    axes[0].set_ylabel("RSS (MB)")
    axes[1].set_ylabel("count")
    axes[2].set_ylabel("var folder (MB)")
    axes[2].set_xlabel("seconds since the first job")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
        for phase, shade in (("concurrent", "0.88"), ("browser", "0.94")):
            seconds = [r.seconds for r in report.timeline if r.phase == phase]
            if seconds:
                ax.axvspan(min(seconds), max(seconds), color=shade, zorder=0)
    browser = f", then {report.browser_jobs} through the browser (light)" if report.browser_jobs else ""
    axes[0].set_title(f"{report.jobs} jobs in a row, then {report.users} analysts at once (shaded){browser}\n"
                      f"model {report.model}, {report.threads} torch thread(s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--browser-jobs", type=int, default=12, help="jobs through the app in Chromium (0: none)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (this process, CLI, app server)")
    parser.add_argument("--small", action="store_true", help="a small untrained U-Net instead of the default model")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "soak")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="sarcolor-soak-") as work:
        checkpoint = default_checkpoint()
        if args.small:
            checkpoint = save_checkpoint(Path(work) / "models" / "default.pt",
                                         untrained_model(GeneratorConfig(ngf=8), seed=0).generator)
        report = soak(Path(work), args.jobs, args.users, checkpoint, ColorizeOptions(),
                      browser_jobs=args.browser_jobs, threads=args.threads)
    args.out.with_suffix(".json").write_text(json.dumps(asdict(report), indent=1))
    plot(report, args.out.with_suffix(".png"))
    summarise(report)


def summarise(report: SoakReport) -> None:
    """The figures bench/RESULTS.md quotes."""
    first, last = report.after_job[min(9, report.jobs - 1)], report.after_job[report.jobs - 1]
    concurrent = report.after_job[report.jobs]
    print(f"model {report.model}, {report.threads} torch thread(s), {os.cpu_count()} CPUs; {report.jobs} sequential "
          f"jobs in {report.seconds_sequential:.0f} s, {report.users} concurrent in {report.seconds_concurrent:.1f} s, "
          f"{report.browser_jobs} through the browser in {report.seconds_browser:.0f} s")
    print(f"after job 10 / {report.jobs}: RSS {first.rss_mb} / {last.rss_mb} MB "
          f"({last.rss_mb / first.rss_mb - 1:+.1%}), fds {first.fds} / {last.fds}, threads {first.threads} / "
          f"{last.threads}, var {first.var_mb} / {last.var_mb} MB, partial files {last.partials}")
    print(f"after the concurrent phase: RSS {concurrent.rss_mb} MB, fds {concurrent.fds}, threads "
          f"{concurrent.threads}, var {concurrent.var_mb} MB, partial files {concurrent.partials}")
    peak = max(r.rss_mb for r in report.timeline if r.phase != "browser")
    print(f"peak RSS of this process (sampled every 0.25 s): {peak} MB")
    browser = [r for r in report.after_job if r.phase == "browser"]
    if browser:
        print(f"app server after browser job 1 / {len(browser)}: RSS {browser[0].rss_mb} / {browser[-1].rss_mb} MB, "
              f"fds {browser[0].fds} / {browser[-1].fds}, threads {browser[0].threads} / {browser[-1].threads}, "
              f"partial files {browser[-1].partials}; downloads identical to the CLI's "
              f"{report.browser_downloads_identical} of {len(browser)}, download URLs 404 for a cookie-less browser "
              f"{report.browser_urls_not_found_for_others} of {len(browser)}")
    elif report.browser_skipped:
        print(f"browser phase skipped: {report.browser_skipped}")
    print(f"outputs byte-identical to the CLI's: {report.outputs_identical} of {report.outputs_checked}; "
          f"failed: {report.failed_jobs or 'none'}; each history holds only its own jobs: {report.histories_own_only}")


if __name__ == "__main__":
    main()
