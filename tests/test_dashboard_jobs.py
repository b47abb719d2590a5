"""The job store and runner behind the dashboard: history, queue, cancel, interrupted jobs, display copies."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from scenes import S2_L2A_ORDER, sentinel2_stack

from core.colorize import ColorizeOptions, colorize
from core.model.checkpoints import untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.cog import PARTIAL_MARKER
from core.rasters.optical import reference_band_names, rgb_bands
from core.records.artefacts import run_facts
from core.samples import default_sample
from core.scoring.scores import ReferenceScores, score_with_baselines
from core.service.display import (
    mercator_overlay,
    quicklook_png,
    reference_scores,
    rgb_raster,
    sar_raster,
)
from core.service.jobs import JobStore, safe_name
from core.service.runner import JobRunner
from core.service.users import LOCAL
from core.settings import Limits


@pytest.fixture(scope="module")
def model():
    return untrained_model(GeneratorConfig(ngf=8))


@pytest.mark.parametrize(
    ("given", "stored"),
    [("../../etc/passwd", "passwd"), ("/abs/scène été.tif", "scene_ete.tif"), ("a b.TIF", "a_b.TIF"), ("..", "upload")],
)
def test_safe_name(given, stored):
    assert safe_name(given) == stored


def test_store_roundtrip_and_upload_copy(tmp_path):
    store = JobStore(tmp_path)
    path = store.store_upload("../x y.tif", io.BytesIO(b"abc"))
    assert path.parent == tmp_path / "uploads" and path.read_bytes() == b"abc" and path.name.endswith("x_y.tif")
    job = store.create(LOCAL, "../x y.tif", path, size_bytes=3, model="m", settings={"tile": 256})
    store.update(job.id, status="failed", error="bad")
    again = JobStore(tmp_path).get(job.id, LOCAL)  # survives a restart
    assert (again.file_name, again.status, again.error) == ("../x y.tif", "failed", "bad")
    assert again.settings == {"tile": 256}
    store.delete(job.id, LOCAL)
    assert store.get(job.id, LOCAL) is None and not path.exists()


def test_recover_marks_interrupted_and_cleans_partials(tmp_path):
    store = JobStore(tmp_path)
    running = store.create(LOCAL, "a.tif", "/nowhere/a.tif")
    store.update(running.id, status="running")
    done = store.create(LOCAL, "b.tif", "/nowhere/b.tif")
    store.update(done.id, status="done")
    folder = store.output_dir(running.id)
    folder.mkdir(parents=True)
    stale = folder / f".a_colorized.tif{PARTIAL_MARKER}0123456789ab.tif"
    stale.write_bytes(b"half")
    count, removed = JobStore(tmp_path).recover()
    assert count == 1 and removed == [stale] and not stale.exists()
    job = store.get(running.id, LOCAL)
    assert job.status == "failed" and job.status_label == "failed (interrupted)"
    assert store.get(done.id, LOCAL).status == "done"


def test_runner_runs_job_and_records_result(tmp_path, model):
    sample = default_sample()
    store = JobStore(tmp_path)
    runner = JobRunner(store, Limits(max_concurrent_jobs=1))
    job = store.create(LOCAL, sample.sar.name, sample.sar)
    runner.submit(job, model, ColorizeOptions())
    assert runner.wait(job.id, timeout=120)
    job = store.get(job.id, LOCAL)
    assert job.status == "done", job.error
    assert job.summary.crs == "EPSG:32633" and job.summary.width == 120 and job.seconds > 0
    assert runner.handle(job.id).fraction == 1.0
    with rasterio.open(job.output_path) as cog:
        assert cog.crs.to_epsg() == 32633


def test_queue_position_and_cancel(tmp_path, model, monkeypatch):
    sample = default_sample()
    store = JobStore(tmp_path)
    runner = JobRunner(store, Limits(max_concurrent_jobs=1))
    gate = threading.Event()
    import core.service.runner

    real = core.service.runner.colorize

    def slow(*args, **kwargs):
        gate.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.service.runner, "colorize", slow)
    first, second = (store.create(LOCAL, sample.sar.name, sample.sar) for _ in range(2))
    runner.submit(first, model, ColorizeOptions())
    runner.submit(second, model, ColorizeOptions())
    for _ in range(100):
        if store.get(first.id, LOCAL).status == "running":
            break
        threading.Event().wait(0.05)
    assert runner.queue_position(first.id) is None and runner.queue_position(second.id) == 1
    runner.cancel(second.id)
    gate.set()
    assert runner.wait(first.id, 120) and runner.wait(second.id, 120)
    assert store.get(first.id, LOCAL).status == "done"
    cancelled = store.get(second.id, LOCAL)
    assert cancelled.status == "cancelled" and "cancelled" in cancelled.error
    assert not list(store.output_dir(second.id).glob("*"))


def test_failed_job_keeps_reason(tmp_path, model):
    bad = tmp_path / "bad.tif"
    bad.write_text("not an image")
    store = JobStore(tmp_path / "var")
    runner = JobRunner(store)
    job = store.create(LOCAL, "bad.tif", bad)
    runner.submit(job, model, ColorizeOptions())
    runner.wait(job.id, 60)
    job = store.get(job.id, LOCAL)
    assert job.status == "failed" and "not a readable raster" in job.error


def test_display_copies_and_reference_scores(tmp_path, model):
    sample = default_sample()
    store = JobStore(tmp_path)
    runner = JobRunner(store)
    job = store.create(LOCAL, sample.sar.name, sample.sar)
    runner.submit(job, model, ColorizeOptions())
    runner.wait(job.id, 120)
    output = store.get(job.id, LOCAL).output_path
    sar = sar_raster(sample.sar)
    assert sar.values.shape == (1, 120, 120) and sar.valid.all()
    overlay = mercator_overlay(sar, max_side=64)
    assert max(overlay.width, overlay.height) <= 64 and overlay.png.startswith(b"\x89PNG")
    (south, west), (north, east) = overlay.bounds
    assert 48.2 < south < north < 48.24 and 13.7 < west < east < 13.74
    quicklook = quicklook_png(output)
    assert quicklook.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(quicklook)).text["Description"].startswith("synthetic")
    scores = reference_scores(output, sample.optical)
    assert scores.overlap == pytest.approx(1.0) and 0 < scores.model.psnr < 40 and -1 <= scores.model.ssim <= 1
    assert scores.reference_bands == "bands 1/2/3 of 3 (RGB)"
    same = reference_scores(output, output)  # a result against itself is perfect
    assert same.model.ssim == pytest.approx(1.0) and same.model.delta_e == pytest.approx(0.0, abs=1e-6)
    assert scores.flat is None  # this model records no flat-colour baseline
    assert rgb_raster(sample.optical).values.shape == (3, 120, 120)


def test_recover_removes_old_orphan_uploads_only(tmp_path):
    import os
    import time

    store = JobStore(tmp_path)
    used = store.store_upload("used.tif", io.BytesIO(b"1"))
    store.create(LOCAL, "used.tif", used)
    orphan = store.store_upload("orphan.tif", io.BytesIO(b"2"))
    fresh = store.store_upload("fresh.tif", io.BytesIO(b"3"))
    old = time.time() - 3 * 24 * 3600
    for path in (used, orphan):
        os.utime(path, (old, old))
    _, removed = store.recover()
    assert removed == [orphan] and used.exists() and fresh.exists()


def test_scores_come_with_the_models_flat_colour_baseline(tmp_path, model):
    from dataclasses import replace

    sample = default_sample()
    flat = replace(model, metadata=run_facts({}, [0.30, 0.35, 0.28]))
    output = tmp_path / "scored.tif"
    colorize(sample.sar, output, flat, ColorizeOptions())
    scores = reference_scores(output, sample.optical)
    assert 0 < scores.flat.psnr < 40 and scores.flat.delta_e >= 0
    assert scores.reference_mean.delta_e == pytest.approx(0.0, abs=0.01)  # the reference's own mean colour
    assert scores.reference_mean.psnr > scores.flat.psnr  # the best a single colour can do
    assert ReferenceScores.from_dict(json.loads(json.dumps(scores.as_dict()))) == scores


def test_a_score_is_earned_only_by_beating_both_single_colours(tmp_path) -> None:
    """A dark rendering of the real reference beats a bright flat colour but not the reference's own mean colour."""
    with rasterio.open(default_sample().optical) as src:
        target = np.moveaxis(src.read(), 0, -1).astype(np.float32) / 255.0
    mask = np.ones(target.shape[:2], bool)
    dark = target * 0.25  # the field's structure, far too dark
    scores = score_with_baselines(dark, target, mask, np.array([0.9, 0.9, 0.9], np.float32), 1.0, "bands 1/2/3 of 3")
    assert scores.model.psnr > scores.flat.psnr  # the old badge: green
    assert scores.model.psnr < scores.reference_mean.psnr and not scores.earned("psnr")
    assert scores.model.ssim > max(scores.flat.ssim, scores.reference_mean.ssim) and scores.earned("ssim")
    perfect = score_with_baselines(target, target, mask, None, 1.0, "bands 1/2/3 of 3")
    assert perfect.earned("psnr") and perfect.earned("pixel_delta_e")
    assert not scores.earned("delta_e")  # no result beats the reference's own mean colour on mean colour


def test_multiband_sentinel2_reference_uses_b4_b3_b2(tmp_path):
    from core.errors import ReferenceBandsUnknown
    from core.service.display import rgb_raster

    stacked = sentinel2_stack(tmp_path / "s2_12band.tif", S2_L2A_ORDER, described=False)
    shuffled = tuple(reversed(S2_L2A_ORDER))
    named = sentinel2_stack(tmp_path / "s2_named.tif", shuffled, described=True)
    with rasterio.open(stacked) as src:
        assert rgb_bands(src) == (4, 3, 2)  # the L2A stack convention, not bands 1-3
    with rasterio.open(named) as src:
        assert rgb_bands(src) == tuple(shuffled.index(b) + 1 for b in ("B04", "B03", "B02"))
    odd = sentinel2_stack(tmp_path / "five.tif", S2_L2A_ORDER[:5], described=False)
    with rasterio.open(odd) as src, pytest.raises(ReferenceBandsUnknown, match="choose which"):
        rgb_bands(src)
    with rasterio.open(odd) as src:
        assert rgb_bands(src, (4, 3, 2)) == (4, 3, 2)
    # The true-colour sample reference was made from the same B04/B03/B02: the renderings agree.
    truth = rgb_raster(default_sample().optical).values.astype(int)
    for path in (stacked, named):
        assert np.abs(rgb_raster(path).values.astype(int) - truth).max() <= 1
    assert np.abs(rgb_raster(odd, bands=(4, 3, 2)).values.astype(int) - truth).max() <= 1


def test_messages_name_the_upload_and_hide_server_folders(tmp_path):
    from core.service.runner import message_as_given

    store = JobStore(tmp_path)
    stored = store.store_upload("my scene σ0.tif", io.BytesIO(b"x"))
    job = store.create(LOCAL, "my scene σ0.tif", stored)
    message = f"{stored.name} is damaged. Cannot write the result to {tmp_path}/outputs/{job.id}/x.tif: disk full"
    shown = message_as_given(message, job)
    assert shown.startswith("my scene σ0.tif is damaged") and str(tmp_path) not in shown and "/" not in shown


def test_runner_start_records_and_runs_a_job(tmp_path, model):
    store = JobStore(tmp_path)
    runner = JobRunner(store)
    sample = default_sample()
    job = runner.start(LOCAL, sample.sar.name, sample.sar, model, ColorizeOptions(overlap=32), settings={"note": 1})
    assert runner.wait(job.id, 120)
    done = store.get(job.id, LOCAL)
    assert done.status == "done" and done.settings["overlap"] == 32 and done.settings["note"] == 1
    assert done.model == model.name and Path(done.output_path).is_file()


@pytest.mark.parametrize("described", [True, False])
def test_reference_bands_are_named_as_read(tmp_path, described: bool) -> None:
    stack = sentinel2_stack(tmp_path / "s2.tif", S2_L2A_ORDER, described=described)
    with rasterio.open(stack) as src:
        assert reference_band_names(src, rgb_bands(src)) == "B4/B3/B2 of 12"
        assert reference_band_names(src, (8, 3, 2)) == "B8/B3/B2 of 12"
