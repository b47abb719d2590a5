"""Colour measurement, input space and target footing, on real SAR and real optical data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scenes import small_manifest

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.normalise import (
    ANCHOR_MEDIAN_DB,
    CROSS_POL_OFFSET_DB,
    NARROW_SPAN_DB,
    TYPICAL_SPAN_DB,
    Encoding,
    InputSpace,
    InputTransform,
    fit_stretch,
    level_offset_db,
    to_db,
)
from core.records.artefacts import EvalFolder
from core.samples import Sample
from core.scoring.metrics import bootstrap_interval, chroma_spread, mean_colour_delta_e
from training.data import (
    PairDataset,
    TargetFooting,
    footing_samples,
    load_optical,
    measure_footing,
    path_radiance,
    read_manifest,
)
from training.evaluate import FLAT, ORACLE, SAR_GREY, evaluate

LUMA = np.array([0.299, 0.587, 0.114])


def test_colour_metrics_expose_a_wash() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((32, 32, 3))
    wash = np.broadcast_to(truth.reshape(-1, 3).mean(0), truth.shape)
    assert mean_colour_delta_e(truth, truth) == pytest.approx(0.0, abs=1e-9)
    assert mean_colour_delta_e(wash, truth) == pytest.approx(0.0, abs=1e-6)  # same mean colour...
    assert chroma_spread(wash) == pytest.approx(0.0, abs=1e-9)  # ...but no colour variation at all
    assert chroma_spread(truth) > 0.2
    green = np.broadcast_to(np.array([0.2, 0.5, 0.2]), truth.shape)
    assert mean_colour_delta_e(green, wash) > 20.0
    grey = np.repeat(truth[..., :1], 3, axis=2)
    assert chroma_spread(grey) == pytest.approx(0.0, abs=1e-9)


def test_bootstrap_interval_brackets_the_mean() -> None:
    values = np.random.default_rng(1).normal(13.0, 3.0, 84)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high
    assert 0.4 < (high - low) < 2.0  # about 2 x 1.96 x 3 / sqrt(84)


def test_vh_becomes_vv_equivalent_on_real_bigearthnet(samples: list[Sample]) -> None:
    """After the cross-pol offset, VH medians sit near VV medians on every real patch."""
    for sample in samples:
        with rasterio.open(sample.sar) as src:
            vv, vh = src.read(1), src.read(2)
        shifted = vh + level_offset_db(Encoding.DB, "VH", float(np.median(vh)))[0]
        assert abs(np.median(shifted) - np.median(vv)) < 2.0, sample.name
        assert abs(np.median(vh) - np.median(vv)) > CROSS_POL_OFFSET_DB - 2.0


def test_input_spaces_keep_or_drop_the_absolute_level(samples: list[Sample]) -> None:
    with rasterio.open(samples[0].sar) as src:
        db = src.read(1)
    for offset in (0.0, -6.0):
        shifted = db + offset
        transform = InputTransform(InputSpace.FIXED_STRETCH, Encoding.DB, "VV", fit_stretch(shifted))
        fixed, stretched = transform(shifted)
        if offset == 0.0:
            base_fixed, base_stretched = fixed, stretched
    np.testing.assert_allclose(stretched, base_stretched, atol=1e-5)  # the stretch forgets a calibration offset
    assert float(base_fixed.mean() - fixed.mean()) == pytest.approx(6.0 * 2 / 35, abs=0.01)  # the fixed one keeps it



def test_scenes_without_a_trusted_level_are_anchored() -> None:
    offset, anchored = level_offset_db(Encoding.LINEAR_U8, "VH", -3.6)  # volkov: relative linear, VH
    assert anchored and -3.6 + offset == pytest.approx(ANCHOR_MEDIAN_DB)
    assert level_offset_db(Encoding.DB_U8, "VV", -12.7) == (0.0, False)  # a typical SEN1-2 rendering is trusted
    offset, anchored = level_offset_db(Encoding.DB_U8, "VV", -3.7)  # sen12-accioy: implausibly bright
    assert anchored and -3.7 + offset == pytest.approx(ANCHOR_MEDIAN_DB)
    assert level_offset_db(Encoding.DB, "VV", -25.0) == (0.0, False)  # calibrated floats are always trusted


def test_an_8bit_rendering_on_an_unknown_range_gets_its_contrast_back(shared_data: Path) -> None:
    """A real SEN1-2 image re-rendered on [-50, 0] dB (half its contrast) and read as [-25, 0] dB spans less than
    speckle allows: its level is anchored and the fixed input stretches it back to SEN1-2's typical span. Genuine
    SEN1-2 renderings keep their contrast and level."""
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"]
    from PIL import Image

    genuine = [to_db(np.asarray(Image.open(r.sar).convert("L")), Encoding.DB_U8) for r in grey[::25]]
    plausible = [InputTransform(InputSpace.FIXED, Encoding.DB_U8, "VV", fit_stretch(db)) for db in genuine]
    assert all(t.contrast_gain == 1.0 for t in plausible)
    assert not any(t.anchored for t in plausible if -20.0 < t.stretch.median_db < -6.0)
    db = next(d for d in genuine if 13.0 < np.subtract(*np.percentile(d, [98, 2])) < 15.5)
    halved = np.round((db + 50.0) / 50.0 * 255.0).astype(np.uint8)  # the same scene on [-50, 0] dB
    read = to_db(halved, Encoding.DB_U8)
    transform = InputTransform(InputSpace.FIXED, Encoding.DB_U8, "VV", fit_stretch(read))
    assert transform.anchored and transform.stretch.high_db - transform.stretch.low_db < NARROW_SPAN_DB
    restored = transform(read)[0] * 17.5  # [-1, 1] back to dB (the fixed range spans 35 dB)
    span = float(np.subtract(*np.percentile(restored, [98, 2])))
    assert span == pytest.approx(TYPICAL_SPAN_DB, rel=0.03)
    untouched = InputTransform(InputSpace.FIXED, Encoding.DB, "VV", fit_stretch(read))  # a calibrated float: as is
    assert untouched.contrast_gain == 1.0


def test_cli_says_when_it_restores_an_8bit_renderings_contrast(shared_data: Path, tmp_path: Path) -> None:
    from checks import run_cli

    record = next(r for r in read_manifest(shared_data, ("val",)) if r.source == "sen12-accioy")
    run = run_cli("colorize", record.sar, tmp_path / "accioy.tif", "--encoding", "db_u8", "--quiet")
    assert run.returncode == 0, run.stderr
    assert "contrast is unusually low for dB, so it was stretched" in run.stdout + run.stderr


def test_sen12_db_u8_rule_matches_calibrated_bigearthnet(shared_data: Path, samples: list[Sample]) -> None:
    """SEN1-2 8-bit dB read as [-25, 0] dB lands near calibrated float32 VV (measured: medians 2.7 dB apart).

    A [-30, 0] reading would put it 5 dB off; the rest is land cover (the six patches hold no open water).
    """
    grey = [r for r in read_manifest(shared_data, ("train",)) if r.source == "sen12-gray"][::40]
    from PIL import Image

    sen12 = np.concatenate([to_db(np.asarray(Image.open(r.sar).convert("L")), r.encoding).ravel() for r in grey])
    calibrated = []
    for sample in samples:
        with rasterio.open(sample.sar) as src:
            calibrated.append(src.read(1).ravel())
    assert abs(np.median(sen12) - np.median(np.concatenate(calibrated))) < 3.0


def test_path_radiance_only_for_blue_tinted_dark_objects() -> None:
    np.testing.assert_allclose(path_radiance(np.array([0.15, 0.27, 0.36]), 0.03), [0.12, 0.24, 0.33], atol=1e-6)
    np.testing.assert_allclose(path_radiance(np.array([0.01, 0.05, 0.12]), 0.03), [0.0, 0.02, 0.09], atol=1e-6)
    assert not path_radiance(np.array([0.40, 0.37, 0.40]), 0.03).any()  # bright arid ground: not haze
    footing = TargetFooting((0.0, 0.1, 0.2), 0.5)
    np.testing.assert_allclose(footing.apply(np.array([0.5, 0.5, 0.5])), [0.25, 0.2, 0.15], atol=1e-6)


def test_footing_puts_volkov_on_sen12_luminance(shared_data: Path) -> None:
    records = read_manifest(shared_data, ("train",))
    picked = [r for r in records if r.source == "volkov"][:6] + [r for r in records if r.source == "sen12-gray"][:60]
    samples = footing_samples(picked)
    footing = measure_footing(samples)
    assert footing["sen12-gray"] == TargetFooting()
    volkov = footing["volkov"]
    assert volkov.haze[2] > volkov.haze[0] + 0.05  # L1C path radiance is blue
    reference = np.concatenate(samples["sen12-gray"]).mean(0) @ LUMA
    adjusted = volkov.apply(np.concatenate(samples["volkov"])).mean(0) @ LUMA
    assert adjusted == pytest.approx(reference, rel=0.05)  # clipping at 1 costs a little


def test_two_channel_dataset_items(shared_data: Path) -> None:
    records = [r for r in read_manifest(shared_data, ("val",)) if r.source == "volkov"][:1]
    sar, target, _, _ = PairDataset(records, {}, crop=64, space=InputSpace.FIXED_STRETCH)[0]
    assert sar.shape == (2, 64, 64) and target.shape == (3, 64, 64)
    assert float(sar.min()) >= -1 and float(sar.max()) <= 1


def test_evaluate_scores_models_and_all_baselines(shared_data: Path, tmp_path: Path) -> None:
    picks = {"sen12-gray": 4, "sebastianelli-zone9": 2, "sen12-accioy": 3}
    data = small_manifest(shared_data, tmp_path / "data", picks)
    model = untrained_model(GeneratorConfig(ngf=4, depth=5, input_space="fixed+stretch", output_space="lab"))
    checkpoint = save_checkpoint(tmp_path / "tiny.pt", model.generator)
    folder = EvalFolder(tmp_path / "eval")
    summary = evaluate([checkpoint], ("val",), data, folder.path)
    assert set(summary["models"]) == {"tiny", "tiny+sar-detail", SAR_GREY, FLAT, ORACLE}
    for name in summary["models"]:
        assert set(summary["models"][name]) == {"val/sen12-accioy", "val/bigearthnet"}
    ben = summary["models"]["tiny"]["val/bigearthnet"]
    assert ben["n"] == 12  # six real patches, VV and VH
    assert ben["psnr_ci95"][0] <= ben["psnr_mean"] <= ben["psnr_ci95"][1]
    assert summary["models"][FLAT]["val/sen12-accioy"]["chroma_ratio"] == pytest.approx(0.0, abs=1e-6)
    with open(folder.per_image, newline="") as handle:
        rows = list(csv.DictReader(handle))
    by_image: dict[str, dict[str, float]] = {}
    for row in rows:
        by_image.setdefault(row["pair_id"], {})[row["model"]] = float(row["psnr"])
    for scores in by_image.values():  # no single colour beats the image's own mean
        assert scores[ORACLE] >= scores[FLAT] - 1e-3
    assert folder.grid("tiny", "val").is_file()
    assert json.loads(folder.summary.read_text())["lpips"].startswith("unavailable")
    again = evaluate([checkpoint], ("val",), data, folder.path, keep_earlier=True, sources=("sen12-accioy",))
    assert again["models"]["tiny"]["val/bigearthnet"] == ben  # re-scoring one source keeps the others


def test_optical_reader_handles_rgb_geotiffs(samples: list[Sample]) -> None:
    from training.evaluate import bigearthnet_records

    record = bigearthnet_records()[0]
    optical = load_optical(record)
    assert optical.shape == (120, 120, 3) and optical.min() >= 0.0 and optical.max() <= 1.0


def test_pixel_reference_fits_on_real_pairs_and_is_scored(shared_data: Path, tmp_path: Path) -> None:
    from training.studies.pixel_reference import fit_reference, load_reference, save_reference

    picks = {"sen12-gray": 6, "sebastianelli-zone9": 3, "sen12-accioy": 2}
    data = small_manifest(shared_data, tmp_path / "data", picks)
    reference = fit_reference(data, InputSpace.FIXED, pixels=6000, drop_sources=("tharun-scenes",))
    loaded = load_reference(save_reference(reference, tmp_path / "gbm.pkl"))
    summary = evaluate([], ("val",), data, tmp_path / "eval", {"gbm": loaded.predictor()})
    scores = summary["models"]["gbm"]["val/sen12-accioy"]
    assert scores["n"] == 2 and 0 < scores["psnr_mean"] < 40 and scores["chroma_ratio"] >= 0
