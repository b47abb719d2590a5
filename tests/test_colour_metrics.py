"""Colour measured as colour: per-pixel ΔE00 and green masks, per image, per set and where they are shown."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.color import lab2rgb, rgb2lab

from core.records.artefacts import EvalFolder
from core.records.reports import PER_IMAGE_NUMERIC, read_per_image, scoreboard
from core.samples import Sample
from core.scoring.metrics import (
    GREEN_A_STAR,
    bootstrap_ratio_interval,
    dark_share,
    false_green,
    flood_lightness,
    green_counts,
    green_ranking_auc,
    green_recall,
    pixel_colour,
    pixel_delta_e,
    pooled_ratio,
    ranking_auc,
)
from training.data import bigearthnet_records, flood_mask, load_optical, read_manifest
from training.evaluate import FLAT, flat_predictor, pixel_colour_stats, score_all, summarise
from training.publish import comparison_table, metrics_table

GREEN, GREY = np.array([0.25, 0.5, 0.2]), np.array([0.4, 0.4, 0.4])


def _filled(colour: np.ndarray, shape: tuple[int, int] = (8, 8)) -> np.ndarray:
    return np.broadcast_to(colour, (*shape, 3)).copy()


def _lab_colour(a_star: float) -> np.ndarray:
    return lab2rgb(np.array([[[50.0, a_star, 0.0]]]))[0, 0]


def test_identical_images_agree_perfectly() -> None:
    truth = np.concatenate([_filled(GREEN), _filled(GREY)], axis=1)
    assert pixel_delta_e(truth, truth) == pytest.approx(0.0, abs=1e-9)
    assert green_recall(truth, truth) == 1.0 and false_green(truth, truth) == 0.0
    assert green_counts(truth, truth).green_px == 64 and green_counts(truth, truth).other_px == 64


def test_green_truth_painted_grey_and_grey_truth_painted_green() -> None:
    green, grey = _filled(GREEN), _filled(GREY)
    assert green_recall(grey, green) == 0.0 and math.isnan(false_green(grey, green))  # truth has no other pixel
    assert false_green(green, grey) == 1.0 and math.isnan(green_recall(green, grey))  # truth has no green pixel
    assert pixel_delta_e(grey, green) > 20.0  # a clearly different colour at every pixel


def test_green_threshold_is_a_star_below_the_constant() -> None:
    greener, duller = _lab_colour(GREEN_A_STAR - 1), _lab_colour(GREEN_A_STAR + 1)
    assert rgb2lab(greener)[1] < GREEN_A_STAR < rgb2lab(duller)[1]
    assert green_counts(_filled(greener), _filled(duller)).other_green_px == 64
    assert green_counts(_filled(duller), _filled(greener)).green_hit_px == 0


def test_mask_limits_every_pixel_metric_to_valid_pixels() -> None:
    truth, prediction = _filled(GREEN), _filled(GREEN)
    prediction[:, :4] = 0.9  # outside the valid part only
    valid = np.zeros((8, 8), bool)
    valid[:, 4:] = True
    assert pixel_delta_e(prediction, truth, valid) == pytest.approx(0.0, abs=1e-9)
    assert green_counts(prediction, truth, valid).green_px == 32
    assert green_recall(prediction, truth, valid) == 1.0 and green_recall(prediction, truth) == 0.5
    together = pixel_colour(prediction, truth, valid)  # what evaluation calls: one CIELAB conversion
    assert together == (pixel_delta_e(prediction, truth, valid), green_counts(prediction, truth, valid))


def test_pooled_ratio_weighs_pixels_and_its_interval_resamples_images() -> None:
    hits, totals = np.array([100, 0, 30, 5]), np.array([100, 1, 60, 10])
    assert pooled_ratio(hits, totals) == pytest.approx(135 / 171)
    low, high = bootstrap_ratio_interval(hits, totals)
    assert low <= pooled_ratio(hits, totals) <= high and low >= 0.0 and high <= 1.0
    assert bootstrap_ratio_interval(hits[:1], totals[:1]) == (1.0, 1.0)
    assert math.isnan(pooled_ratio(np.zeros(3), np.zeros(3)))


def test_set_figures_are_pooled_over_pixels_and_old_rows_give_none() -> None:
    counts = {"other_px": 0, "other_green_px": 0, "false_green": math.nan}
    big = {"pixel_delta_e": 2.0, "green_recall": 1.0, "green_px": 100, "green_hit_px": 100, **counts}
    small = {"pixel_delta_e": 4.0, "green_recall": 0.0, "green_px": 1, "green_hit_px": 0, **counts}
    stats = pixel_colour_stats([big, small])
    assert stats["green_recall_pooled"] == pytest.approx(100 / 101)  # not the mean of per-image shares (0.5)
    assert stats["pixel_delta_e_mean"] == pytest.approx(3.0) and stats["false_green_pooled"] is None
    old = dict.fromkeys(big, math.nan)  # a row scored before these metrics, as read_per_image gives it
    assert pixel_colour_stats([old, old]) == dict.fromkeys(stats)


def test_real_optical_image_against_itself_and_its_grey(shared_data: Path) -> None:
    record = next(r for r in read_manifest(shared_data, ("test",)) if r.source == "sen12-test" and r.has_colour)
    truth = load_optical(record)
    grey = np.repeat(truth.mean(2, keepdims=True), 3, axis=2)
    counts = green_counts(truth, truth)
    assert counts.green_px > 0, f"{record.pair_id} has no green pixel to test with"
    assert pixel_delta_e(truth, truth) == pytest.approx(0.0, abs=1e-9) and counts.recall == 1.0
    assert green_recall(grey, truth) == 0.0 and false_green(grey, truth) == 0.0  # grey is never green
    assert pixel_delta_e(grey, truth) > 1.0


def test_evaluation_rows_sheets_and_tables_carry_the_pixel_colour(samples: list[Sample], tmp_path: Path) -> None:
    records = bigearthnet_records()[:3]
    folder = EvalFolder(tmp_path / "eval")
    predictors = {FLAT: flat_predictor(GREEN)}
    rows = score_all(predictors, records, {}, ("val",), folder)
    assert set(PER_IMAGE_NUMERIC) <= set(rows[0]), "score() and core.records.reports must name the same columns"
    sheet = folder.contact_sheet(FLAT, "val", "bigearthnet")
    assert folder.contact_sheets() == [sheet] and sheet not in folder.grids()
    with Image.open(sheet) as image:
        assert image.size == (3 * 128, 3 * 128 + 30)
    stats = summarise(rows)[FLAT]["val/bigearthnet"]
    assert stats["pixel_delta_e_ci95"][0] <= stats["pixel_delta_e_mean"] <= stats["pixel_delta_e_ci95"][1]
    [row] = scoreboard({"models": {FLAT: {"val/bigearthnet": stats}}})
    assert row["green_recall"] == row["false_green"] == 1.0  # green everywhere: every pixel painted green
    assert all(not math.isnan(row[k]) for k in ("pixel_delta_e", "green_recall_low", "false_green_high"))
    card = "\n".join(metrics_table({"models": {FLAT: {"val/bigearthnet": stats}}}, [FLAT]))
    assert "per-pixel ΔE00" in card and f"{stats['pixel_delta_e_mean']:.1f} [" in card


def test_summaries_written_before_the_pixel_colour_show_a_dash(tmp_path: Path) -> None:
    old = {"n": 3, "psnr_mean": 12.0, "psnr_ci95": [11.0, 13.0], "psnr_gain_vs_flat": 0.5}
    old |= {"psnr_gain_vs_flat_ci95": [0.1, 0.9], "ssim_mean": 0.2, "delta_e_mean": 9.0, "chroma_ratio": 0.4}
    summary = {"models": {"older": {"val/volkov": old}}}
    [row] = metrics_table(summary, ["older"])[2:]
    assert row.endswith("| – | – | – |")
    assert "px ΔE – · green – · false green –" in comparison_table(summary, ["older"])[2]
    folder = EvalFolder(tmp_path)
    header = "model,split,source,group,pair_id,psnr,ssim,delta_e,chroma_pred,chroma_true\n"  # before pixel colour
    folder.per_image.write_text(header + "older,val,volkov,g,v/1,12.5,0.2,20.0,0.01,0.05\n")
    assert math.isnan(read_per_image(folder)[0]["green_px"])
    json.dumps(summarise(read_per_image(folder) * 2), allow_nan=False)  # None, never NaN, in summary.json


def test_ranking_auc_matches_the_mann_whitney_count_and_needs_both_classes() -> None:
    rng = np.random.default_rng(0)
    positive = rng.random(400) < 0.3
    scores = positive + rng.normal(0.0, 1.0, 400)
    pairs = scores[positive][:, None] - scores[~positive][None, :]
    expected = ((pairs > 0).sum() + 0.5 * (pairs == 0).sum()) / pairs.size
    assert ranking_auc(scores, positive) == pytest.approx(expected)
    assert ranking_auc(-positive.astype(float), positive) == 0.0
    assert math.isnan(ranking_auc(scores, np.zeros(400, bool)))


def test_green_ranking_rewards_green_where_the_truth_is_green_at_any_level() -> None:
    truth = np.concatenate([_filled(_lab_colour(-20.0), (4, 8)), _filled(_lab_colour(10.0), (4, 8))])
    faint = np.concatenate([_filled(_lab_colour(-2.0), (4, 8)), _filled(_lab_colour(3.0), (4, 8))])
    assert green_recall(faint, truth) == 0.0  # painted no green at all...
    assert green_ranking_auc(faint, truth) == 1.0  # ...but greener exactly where the truth is green
    assert green_ranking_auc(faint[::-1], truth) == 0.0


def test_flood_lightness_on_a_real_ombria_after_flood_pair(shared_data: Path) -> None:
    """The real mask and truth of an OMBRIA val site: the truth scores no error and its own contrast; water painted
    as light as the land it floods reads as a contrast of about zero and a large L* error."""
    record = next(r for r in read_manifest(shared_data, ("val",)) if r.source == "ombria" and flood_mask(r) is not None)
    before = next(
        r for r in read_manifest(shared_data, ("val",)) if r.pair_id == record.pair_id.replace("after", "before")
    )
    assert flood_mask(before) is None
    truth, flooded = load_optical(record), flood_mask(record)
    assert flooded.shape == truth.shape[:2] and 0 < flooded.mean() < 1
    valid = np.ones(flooded.shape, bool)
    exact = flood_lightness(truth, truth, valid, flooded)
    assert exact["flood_l_error"] == 0.0 and exact["flood_contrast_pred"] == exact["flood_contrast_true"]
    washed = truth.copy()
    washed[flooded] = truth[~flooded].mean(0)
    wash = flood_lightness(washed, truth, valid, flooded)
    assert abs(wash["flood_contrast_pred"]) < 3.0 < abs(exact["flood_contrast_true"])
    assert wash["flood_l_error"] > 0.0
    assert exact["flood_l_bias"] == 0.0 and wash["flood_l_bias"] == pytest.approx(exact["flood_contrast_true"], abs=3.0)
    assert math.isnan(flood_lightness(truth, truth, valid, None)["flood_l_error"])


def test_dark_share_counts_pixels_below_the_water_lightness() -> None:
    image = np.concatenate([_filled(np.zeros(3), (2, 8)), _filled(GREY, (6, 8))])
    assert dark_share(image) == 0.25
    assert dark_share(image, np.arange(8)[:, None].repeat(8, 1) >= 2) == 0.0
