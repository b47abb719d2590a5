"""The green ceiling and the dark-SAR measurement on real patches.

Studies: training.studies.green_ceiling, training.studies.dark_sar.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.settings import default_checkpoint
from training.data import bigearthnet_records
from training.studies.dark_sar import dark_and_lightness, dark_sar_table
from training.studies.green_ceiling import (
    ImagePixels,
    cross_pol_auc,
    cross_pol_within,
    false_green_at_recall,
    image_pixels,
    leave_one_out,
    level_auc,
    network_ceiling,
    polarisation_levels,
)


@pytest.fixture(scope="module")
def images() -> list[ImagePixels]:
    return [image_pixels(r) for r in bigearthnet_records() if r.polarisation == "VV"]


def test_false_green_at_recall_counts_the_others_above_the_threshold() -> None:
    green = np.array([True] * 4 + [False] * 4)
    assert false_green_at_recall(np.arange(8.0)[::-1], green) == 0.0  # green ranked first
    assert false_green_at_recall(np.arange(8.0), green) == 1.0  # green ranked last
    assert false_green_at_recall(np.array([1.0, 1, 0, 0, 1, 0, 0, 0]), green) == 0.25


def test_real_patches_give_features_labels_and_level(images: list[ImagePixels]) -> None:
    assert len(images) == 6
    for image in images:
        n = image.truth_shape[0] * image.truth_shape[1]
        assert image.sar.shape[0] == image.lightness.shape[0] == image.green.size == image.level.size == n
        assert np.isfinite(image.sar).all()
    assert 0.2 < np.mean(np.concatenate([i.green for i in images])) < 0.8  # European land cover: half green


def test_leave_one_out_learns_a_label_the_sar_carries(images: list[ImagePixels]) -> None:
    """With 'green' redefined as the brighter half of each image's smoothed SAR, the ceiling must find it."""
    learnable = [replace(i, green=i.level > np.median(i.level)) for i in images]
    ceiling = leave_one_out(learnable, with_lightness=False, per_image=1500, seed=0)
    assert ceiling.auc > 0.85 and ceiling.false_green_at_recall < 0.15  # real green: about 0.45 and 0.6
    assert level_auc(learnable[0]) > 0.99
    real = leave_one_out(images, with_lightness=False, per_image=1500, seed=0)
    share = np.mean(np.concatenate([i.green for i in images]))
    assert 0.0 <= real.auc <= 1.0 and real.green_share == pytest.approx(share)


def test_network_ceiling_finds_a_label_the_sar_carries(images: list[ImagePixels]) -> None:
    """The default's U-Net, fine-tuned on held-in images, ranks the brighter half of held-out ones."""
    records = [r for r in bigearthnet_records() if r.polarisation == "VV"]
    learnable = [replace(i, green=i.level > np.median(i.level)) for i in images]
    ceiling = network_ceiling(default_checkpoint(), records, learnable, folds=2, steps=40)
    assert ceiling.auc > 0.8


def test_dark_sar_is_the_lake_in_bigearthnet() -> None:
    """Only the lake patch is darker than the water threshold, and its truth there is near black."""
    per_patch = {r.group: dark_and_lightness(r) for r in bigearthnet_records() if r.polarisation == "VV"}
    lake_dark, lake_lightness = per_patch["35VPK_69_24"]
    assert lake_dark.mean() > 0.05 and lake_lightness[lake_dark].mean() < 10.0
    assert all(dark.mean() < 0.01 for group, (dark, _) in per_patch.items() if group != "35VPK_69_24")
    table = dark_sar_table([r for r in bigearthnet_records() if r.polarisation == "VV"])
    assert table["images_with_dark"] == 1 and table["lightness_dark"] < table["lightness_other"]


def test_cross_polarisation_ratio_tells_green_patches_not_green_pixels(images: list[ImagePixels]) -> None:
    """VH - VV beats VV pooled, but each patch's mean ratio alone does as well: the signal is between patches."""
    levels = polarisation_levels([r for r in bigearthnet_records() if r.polarisation == "VV"], images)
    aucs = cross_pol_auc(levels, images)
    assert set(aucs) == {"VV", "VH", "VH-VV"}
    assert aucs["VH-VV"] > 0.7 > aucs["VV"]  # measured 0.79 against 0.32
    within = cross_pol_within(levels["VH-VV"], images)
    assert within["patch_mean_auc"] >= aucs["VH-VV"] - 0.05  # measured 0.81
    mixed = [auc for auc in within["per_patch"].values() if auc is not None]
    assert len(mixed) == 6 and min(mixed) < 0.5  # measured 0.38-0.84: the ratio flips inside some patches
