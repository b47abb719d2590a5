"""What VV can tell on OMBRIA: the ceiling study's pieces on real flood sites.

Study: training.studies.ombria_ceiling.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.settings import default_checkpoint
from training.data import flood_mask, read_manifest
from training.studies.ombria_ceiling import (
    Site,
    best_constant,
    flood_ceiling,
    flood_error,
    green_ceiling,
    model_scores,
    read_site,
    subsample,
)


@pytest.fixture(scope="module")
def sites(shared_data: Path) -> list[Site]:
    """Ten real after-flood sites, their truth as read (no footing)."""
    after = [r for r in read_manifest(shared_data) if r.source == "ombria" and flood_mask(r) is not None]
    return [read_site(r, {}) for r in after[::60][:10]]


def test_a_real_after_flood_site_has_features_truth_and_darker_water(sites: list[Site]) -> None:
    site = max(sites, key=lambda s: s.water_l.size)
    assert site.features.shape[0] == site.lab.shape[0] == site.flooded.size
    assert np.isfinite(site.features).all()
    assert site.has_water
    contrast = [s.brightness - s.water_l.mean() for s in sites if s.has_water and not s.flooded.all()]
    assert np.mean(contrast) > 0  # the truth: water darker than dry land on average (muddy water can be lighter)
    assert site.with_brightness().shape[1] == site.features.shape[1] + 1


def test_subsample_keeps_flooded_pixels_of_a_site() -> None:
    flooded = np.zeros(1000, bool)
    flooded[:20] = True
    site = Site("x", np.zeros((1000, 3), np.float32), np.zeros((1000, 3), np.float32), flooded)
    kept = subsample(site, 50, np.random.default_rng(0))
    assert len(kept.lab) == 70 and kept.flooded.sum() >= 20


def test_flood_error_and_best_constant() -> None:
    lab = np.zeros((4, 3), np.float32)
    lab[:, 0] = [10.0, 10.0, 30.0, 80.0]
    site = Site("x", np.zeros((4, 1), np.float32), lab, np.array([True, True, True, False]))
    exact = {"sites": 1, "l_error": 0.0, "l_bias": 0.0, "l_error_without_site_bias": 0.0}
    assert flood_error([lab[:, 0]], [site]) == exact
    shifted = flood_error([lab[:, 0] + 5.0], [site])
    assert (shifted["l_error"], shifted["l_bias"], shifted["l_error_without_site_bias"]) == (5.0, 5.0, 0.0)
    assert flood_error([np.full(4, 20.0)], [site])["l_bias"] == pytest.approx(20.0 - 50.0 / 3)
    assert best_constant([site]) == 10.0  # the median of the flooded pixels, not their mean or the dry land


def _lightness_from_level(site: Site) -> Site:
    """The site with its truth's L* made a function of its smoothed SAR level: something the SAR carries."""
    lab = site.lab.copy()
    level = site.features[:, -1]
    lab[:, 0] = 50.0 + 40.0 * level
    lab[:, 1] = np.where(level > np.median(level), -20.0, 10.0)
    return replace(site, lab=lab)


def test_the_default_is_scored_through_the_product(shared_data: Path, sites: list[Site]) -> None:
    records = {r.pair_id: r for r in read_manifest(shared_data) if r.source == "ombria"}
    scored = model_scores(default_checkpoint(), [records[s.pair_id] for s in sites[:3]], sites[:3])
    assert 0.0 <= scored["green_auc"] <= 1.0 and scored["flood"]["sites"] == 3
    assert 0.0 < scored["flood"]["l_error_without_site_bias"] <= scored["flood"]["l_error"] < 60.0


def test_ceilings_find_what_the_sar_carries(sites: list[Site]) -> None:
    learnable = [_lightness_from_level(s) for s in sites]
    rng = np.random.default_rng(0)
    train, val = [subsample(s, 800, rng) for s in learnable[:6]], learnable[6:]
    flood = flood_ceiling(train, val, seed=0)
    assert flood["sar"]["l_error"] < 0.3 * flood["best_constant"]["l_error"]
    assert green_ceiling(train, val, seed=0)["sar"] > 0.9


def test_the_scene_brightness_is_what_a_brightness_ceiling_adds(sites: list[Site]) -> None:
    """Water as light as its scene's dry land minus 10: only the brightness feature can tell it."""
    rng = np.random.default_rng(1)
    shifted = []
    for index, site in enumerate(sites):
        lab = site.lab.copy()
        dry = ~site.flooded
        lab[dry, 0] = 20.0 + 6.0 * index + rng.normal(0, 1, dry.sum())
        lab[site.flooded, 0] = 10.0 + 6.0 * index
        shifted.append(replace(site, lab=lab))
    train = [subsample(s, 800, rng) for s in shifted[::2]]
    flood = flood_ceiling(train, shifted[1::2], seed=0)
    assert flood["sar_and_scene_brightness"]["l_error"] < 0.5 * flood["sar"]["l_error"]
    assert flood["site_median_oracle"]["l_error"] == pytest.approx(0.0, abs=1e-6)
