"""A model against the flat colours, paired by image: training.against_baselines."""

from __future__ import annotations

import math

import pytest

from core.records.artefacts import ModelsFolder
from core.records.reports import read_per_image
from core.settings import models_dir
from training.against_baselines import against_baselines, paired, table
from training.evaluate import FLAT, ORACLE


def _rows(model: str, psnrs: list[float], set_source: str = "s") -> list[dict]:
    return [
        {"model": model, "split": "val", "source": set_source, "pair_id": f"p{i}", "psnr": value, "pixel_delta_e": 20.0,
         "delta_e": 10.0, "green_auc": math.nan, "flood_l_error": math.nan}
        for i, value in enumerate(psnrs)
    ]  # fmt: skip


def test_paired_difference_is_outside_the_noise_only_when_its_interval_leaves_out_zero() -> None:
    better = paired({"a": 15.0, "b": 16.0, "c": 17.0}, {"a": 14.0, "b": 15.0, "c": 16.5}, better=1)
    assert better["difference"] == pytest.approx(5 / 6) and better["outside_noise"] and better["model_better"]
    worse = paired({"a": 15.0, "b": 16.0}, {"a": 16.0, "b": 17.0}, better=1)
    assert worse["outside_noise"] and not worse["model_better"]
    mixed = paired({"a": 15.0, "b": 16.0}, {"a": 16.0, "b": 15.0}, better=1)
    assert not mixed["outside_noise"]
    assert paired({"a": 1.0}, {"b": 1.0}, better=1) is None  # no image scored by both
    assert paired({"a": math.nan}, {"a": 1.0}, better=1) is None


def test_each_set_and_metric_against_both_flat_colours() -> None:
    rows = _rows("m", [15, 16, 17, 18]) + _rows(FLAT, [14, 15, 16, 17]) + _rows(ORACLE, [16, 17, 18, 19])
    result = against_baselines(rows, "m")
    psnr = result["val/s"]["psnr"]
    assert psnr["model_mean"] == 16.5 and psnr["images"] == 4
    assert psnr["baselines"][FLAT]["difference"] == pytest.approx(1.0) and psnr["baselines"][FLAT]["model_better"]
    assert psnr["baselines"][ORACLE]["difference"] == pytest.approx(-1.0)
    assert "green_auc" not in result["val/s"]  # nothing scored: no row
    assert "+1.00 [+1.00, +1.00]*" in table(result)


def test_the_published_default_is_read_from_the_committed_scores() -> None:
    """The committed per-image table holds the default and both flat colours on every val set."""
    result = against_baselines(read_per_image(ModelsFolder(models_dir()).eval), "lab_ombria_blend")
    assert {"val/bigearthnet", "val/ombria", "val/sen12-accioy", "val/volkov"} <= result.keys()
    assert result["val/ombria"]["flood_l_error"]["images"] == 70
    assert all(stats["baselines"][FLAT] is not None for metrics in result.values() for stats in metrics.values())
