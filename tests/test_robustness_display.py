"""Map overlays of awkward georeferences: across the antimeridian, near and at the pole."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from corpus import Entry, build_corpus
from PIL import Image
from rasterio.crs import CRS
from rasterio.transform import from_bounds, from_origin
from rasterio.warp import transform_bounds

from core.samples import Sample
from core.service.display import (
    MAX_LATITUDE,
    OffMapError,
    Overlay,
    Raster,
    align_longitudes,
    mercator_overlay,
    sar_raster,
)


@pytest.fixture(scope="module")
def corpus(samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    return {e.name: e for e in build_corpus(tmp_path_factory.mktemp("corpus"), samples[0].sar)}


def _coverage(overlay: Overlay) -> float:
    """Fraction of the overlay PNG that is opaque."""
    return float((np.asarray(Image.open(io.BytesIO(overlay.png)))[..., 3] > 0).mean())


def _grey(crs: CRS, transform, height: int = 60, width: int = 80) -> Raster:
    values = np.full((1, height, width), 128, dtype=np.uint8)
    return Raster(values, np.ones((height, width), dtype=bool), transform, crs)


def test_epsg4326_across_the_antimeridian_keeps_longitudes_continuous(corpus) -> None:
    overlay = mercator_overlay(sar_raster(corpus["antimeridian_4326.tif"].path))
    (south, west), (north, east) = overlay.bounds
    assert west == pytest.approx(179.9, abs=2e-3) and east == pytest.approx(180.1, abs=2e-3)
    assert south == pytest.approx(-16.1, abs=1e-3) and north == pytest.approx(-16.0, abs=1e-3)
    assert overlay.width > 100 and overlay.height > 100 and overlay.note is None
    assert _coverage(overlay) > 0.97  # the whole scene, not a sliver at the seam


def test_utm_scene_across_the_antimeridian(samples) -> None:
    crs, transform = CRS.from_epsg(32760), from_origin(815000, 8230000, 100, 100)  # zone 60 S, lat -16
    west0, _, east0, _ = transform_bounds(crs, "EPSG:4326", 815000, 8224000, 823000, 8230000)
    assert west0 > east0  # really across 180
    overlay = mercator_overlay(_grey(crs, transform))
    (_, west), (_, east) = overlay.bounds
    assert west < 180 < east
    assert west == pytest.approx(west0, abs=2e-3) and east == pytest.approx(east0 + 360, abs=2e-3)
    assert _coverage(overlay) > 0.9


def test_corpus_utm60_scene_is_placed_where_it_is(corpus) -> None:
    path = corpus["antimeridian_utm60.tif"].path
    raster = sar_raster(path)
    west0, south0, east0, north0 = transform_bounds(raster.crs, "EPSG:4326", 833000, 8228800, 834200, 8230000)
    (south, west), (north, east) = mercator_overlay(raster).bounds
    assert (south, west, north, east) == pytest.approx((south0, west0, north0, east0), abs=2e-3)


@pytest.mark.parametrize("name", ["near_polar_3413.tif", "near_polar_4326_lat89.tif"])
def test_scene_beyond_85_degrees_is_refused_with_a_clear_reason(corpus, name) -> None:
    with pytest.raises(OffMapError, match=r"beyond 85\.05° north.*Web Mercator"):
        mercator_overlay(sar_raster(corpus[name].path))


def test_scene_partly_beyond_85_degrees_is_clipped_with_a_note() -> None:
    overlay = mercator_overlay(_grey(CRS.from_epsg(4326), from_bounds(10.0, 84.0, 12.0, 86.0, 80, 60)))
    (south, west), (north, east) = overlay.bounds
    assert south == pytest.approx(84.0, abs=0.05) and north == pytest.approx(MAX_LATITUDE, abs=0.05)
    assert west == pytest.approx(10.0, abs=0.01) and 12.0 <= east < 12.2  # within one (coarse) output pixel
    assert overlay.note and "85.05" in overlay.note
    assert _coverage(overlay) > 0.85


def test_ordinary_scene_matches_epsg3857_placement(samples) -> None:
    raster = sar_raster(samples[0].sar)
    west0, south0, east0, north0 = transform_bounds(raster.crs, "EPSG:4326", *_bounds(samples[0].sar))
    (south, west), (north, east) = mercator_overlay(raster).bounds
    assert (south, west, north, east) == pytest.approx((south0, west0, north0, east0), abs=2e-4)


def _bounds(path: Path) -> tuple[float, float, float, float]:
    import rasterio

    with rasterio.open(path) as src:
        return tuple(src.bounds)


def test_align_longitudes_puts_layers_in_one_world_copy() -> None:
    first = Overlay(b"", ((-16.1, 179.9), (-16.0, 180.1)), 1, 1)
    wrapped = Overlay(b"", ((-16.1, -180.1), (-16.0, -179.9)), 1, 1)
    aligned = align_longitudes({"SAR": first, "Colorized": wrapped})
    assert aligned["SAR"].bounds == first.bounds
    (south, west), (north, east) = aligned["Colorized"].bounds
    assert (south, west, north, east) == pytest.approx((-16.1, 179.9, -16.0, 180.1))
