"""The SAR decides what changed (issue 27): new water that the guide cannot explain follows the SAR.

Real data (../shared/data, skipped without it): OMBRIA val flood sites (SAR after the flood, the optical
before it as the guide, the optical after it as the truth, the flood mask; never used to train the change
prior in models/priors/change_prior.pt), and the arid sebastianelli-zone9 patches, dry on both dates.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.colour.change import default_prior
from training.change_prior import sites
from training.evaluate_change import flood_site, in_process_colour, lightness_summary, sand_patch

FLOOD_SITES = 12  # the first twelve val sites with a flood on at least 5 % of their pixels


@pytest.fixture(scope="module")
def prior():
    found = default_prior()
    assert found is not None, "models/priors/change_prior.pt is part of the product: python -m training.change_prior"
    return found


def test_flooded_pixels_follow_the_sar_not_the_stale_guide(shared_data, prior, tmp_path):
    rows = []
    for site in sites(shared_data, "val"):
        row = flood_site(shared_data, site, in_process_colour, tmp_path)
        if row["flooded_share"] >= 0.05:
            rows.append(row)
        if len(rows) == FLOOD_SITES:
            break
    gains = np.array([r["flooded"]["stale_guide"] - r["flooded"]["output"] for r in rows])
    assert gains.mean() >= 3.0, gains
    assert (gains > 0).mean() >= 0.7, gains
    dry = np.array([r["dry"]["change_share"] for r in rows])
    wet = np.array([r["flooded"]["change_share"] for r in rows])
    assert wet.mean() > 2 * dry.mean(), (wet, dry)  # the change is painted where the flood is, not everywhere
    lightness = lightness_summary(rows)  # issue 26's flood bar on the guided output: darker water than the stale guide
    assert lightness["output_flood_l_error"]["mean"] < lightness["stale_guide_flood_l_error"]["mean"], lightness
    assert lightness["output_flood_contrast_pred"]["mean"] > lightness["stale_guide_flood_contrast_pred"]["mean"] + 2


def test_dry_sand_is_not_painted_as_water(shared_data, prior, tmp_path):
    """A -20 dB water mask paints 38 % of this arid zone black; the learned prior (with the guide's a*, b*: 50 %)
    must paint far less."""
    shares = [sand_patch(shared_data, p, g, t, in_process_colour, tmp_path)["change_share"]
              for p in (5, 6, 7, 10, 12) for g, t in (("a_Jan", "b_Jul"), ("b_Jul", "a_Jan"))]  # fmt: skip
    assert np.mean(shares) < 0.1 and max(shares) < 0.25, shares  # measured: 0.056 mean, 0.20 at most (patch 12)
