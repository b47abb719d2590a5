"""The output COG: georeference, size, bands, COG layout, pixel values; volkov; no-georeference inputs."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from checks import assert_matches_reference, assert_valid_cog, read_rgba, reference_rgb
from rasterio.crs import CRS
from rasterio.windows import Window
from scenes import mosaic_scene, volkov_scene

from core.colorize import ColorizeOptions, colorize
from core.model.checkpoints import load_checkpoint
from core.rasters.cog import BLOCK as COG_BLOCK
from core.rasters.overviews import overview_factors
from core.rasters.tiling import TileGrid
from core.settings import default_checkpoint

FP32 = ColorizeOptions(precision="fp32")


def test_sample_cog_keeps_georeference(samples, default_unet, tmp_path: Path) -> None:
    """Real BigEarthNet VV+VH dB through the default-size U-Net: same CRS, transform, size; valid COG."""
    out = tmp_path / "sample.tif"
    result = colorize(samples[0].sar, out, default_unet)
    profile = assert_valid_cog(out)
    with rasterio.open(samples[0].sar) as src:
        assert profile["crs"] == src.crs
        assert profile["transform"] == src.transform
        assert (profile["width"], profile["height"]) == (src.width, src.height)
    rgba = read_rgba(out)
    assert (rgba[3] == 255).all()  # no nodata in the sample
    assert rgba[:3].std() > 0  # a real picture, not a constant
    assert result.summary.band == "VV" and result.summary.encoding == "db" and result.summary.encoding_detected
    assert result.summary.warnings == () and not result.summary.warped_from_gcps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample.tif"]  # no temporary left


@pytest.mark.parametrize("index", range(6))
def test_every_sample_matches_untiled_reference(samples, pixel_model, tmp_path: Path, index: int) -> None:
    """Each real sample, stand-in model: pixels equal the model applied to the whole normalised scene."""
    out = tmp_path / "out.tif"
    colorize(samples[index].sar, out, pixel_model, FP32)
    assert_matches_reference(read_rgba(out), *reference_rgb(samples[index].sar, pixel_model))


def test_odd_size_scene_is_cog_with_overviews(odd_scene, pixel_model, tmp_path: Path) -> None:
    out = tmp_path / "odd.tif"
    colorize(odd_scene, out, pixel_model, ColorizeOptions(tile=128, overlap=32, precision="fp32"))
    profile = assert_valid_cog(out)
    with rasterio.open(odd_scene) as src, rasterio.open(out) as dst:
        assert (profile["crs"], profile["transform"]) == (src.crs, src.transform)
        assert (profile["width"], profile["height"]) == (1000, 777)
        assert dst.overviews(1) == overview_factors(1000, 777, COG_BLOCK) == [2]
    assert_matches_reference(read_rgba(out), *reference_rgb(odd_scene, pixel_model))


@pytest.mark.parametrize("width, height", [(1000, 777), (300, 1500), (512, 512), (513, 40), (2100, 2100)])
def test_prebuilt_overviews_are_the_levels_the_cog_driver_would_choose(width: int, height: int, tmp_path) -> None:
    """`core.rasters.cog` builds overviews in the scratch itself; they must be the COG driver's own AUTO levels."""
    raw = tmp_path / "raw.tif"
    profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "uint8"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(raw, "w", **profile) as dst:
            dst.write(np.zeros((1, height, width), np.uint8))
        rasterio.shutil.copy(raw, tmp_path / "cog.tif", driver="COG", BLOCKSIZE=str(COG_BLOCK), OVERVIEWS="AUTO")
        with rasterio.open(tmp_path / "cog.tif") as cog:
            assert overview_factors(width, height, COG_BLOCK) == cog.overviews(1)


@pytest.mark.shared_data
def test_volkov_scene_epsg3395(volkov_tif, pixel_model, tmp_path: Path) -> None:
    """A real 1024^2 linear_u8 VH fragment placed by its metadata.json corners."""
    out = tmp_path / "volkov.tif"
    result = colorize(volkov_tif, out, pixel_model, ColorizeOptions(band="VH", encoding="linear_u8", precision="fp32"))
    profile = assert_valid_cog(out)
    assert profile["crs"] == CRS.from_epsg(3395)
    with rasterio.open(volkov_tif) as src:
        assert profile["transform"] == src.transform
        assert abs(src.transform.a - 10.0) < 0.01  # 10 m pixels, as documented
    assert (profile["width"], profile["height"]) == (1024, 1024)
    facts = result.summary
    assert facts.band == "VH" and facts.encoding == "linear_u8" and not facts.encoding_detected
    rgba = read_rgba(out)
    assert_matches_reference(rgba, *reference_rgb(volkov_tif, pixel_model, band="VH", encoding="linear_u8"))


@pytest.mark.parametrize("fixture", ["png_path", "plain_tiff"])
def test_no_georeference_is_colorized_with_warning(request, fixture: str, pixel_model, tmp_path: Path) -> None:
    """A plain PNG upload and a GeoTIFF without georeference: colorized, no CRS, warning in the result."""
    source = request.getfixturevalue(fixture)
    out = tmp_path / "out.tif"
    result = colorize(source, out, pixel_model, FP32)
    assert len(result.summary.warnings) == 1 and "no georeference" in result.summary.warnings[0]
    assert_valid_cog(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(out) as dst:
            assert dst.crs is None
            assert not dst.gcps[0]
    rgba = read_rgba(out)
    assert rgba.shape == (4, 200, 200)
    assert_matches_reference(rgba, *reference_rgb(source, pixel_model))
    assert np.unique(rgba[0]).size > 10


def _edge_step(luma: np.ndarray) -> float:
    """Mean of the first line minus the mean of lines 2-6: a bright or dark border line shows here."""
    return float(luma[0].mean() - luma[2:7].mean())


def test_no_border_line_or_dark_fringe_with_the_trained_default(samples, scene_dir, tmp_path: Path) -> None:
    """Real SAR through the committed default: the raster's border lines and the pixels around a
    nodata hole look like their neighbours (before the mirrored frame the top and left lines were
    26-29 grey levels brighter), and there is no checkerboard."""
    model = load_checkpoint(default_checkpoint())
    source = mosaic_scene(scene_dir / "edges_600x520.tif", samples, 600, 520)
    with rasterio.open(source) as src:
        profile, data = src.profile, src.read(1)
    data[200:260, 300:380] = np.nan  # a nodata hole inside
    holed = tmp_path / "holed.tif"
    with rasterio.open(holed, "w", **profile) as dst:
        dst.write(data, 1)
    out = tmp_path / "out.tif"
    colorize(holed, out, model, ColorizeOptions())
    rgba = read_rgba(out).astype(np.float64)
    luma = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    for side in (luma, luma[::-1], luma.T, luma.T[::-1]):
        assert abs(_edge_step(side)) < 3.0, [round(_edge_step(s), 1) for s in (luma, luma[::-1], luma.T, luma.T[::-1])]
    ring = luma[196:200, 300:380].mean()  # the 4 rows just above the hole against the 4 rows 10 px further up
    assert abs(ring - luma[186:190, 300:380].mean()) < 6.0
    # No 2-px checkerboard: the spectrum at the Nyquist frequency stays at the level of its neighbours
    # (transposed-convolution decoders measured 4.6x the median there; resize + conv 1.1x).
    patch = luma[32:288, 32:288] - luma[32:288, 32:288].mean()
    spectrum = np.abs(np.fft.fft2(patch))
    assert max(spectrum[128, :].mean(), spectrum[:, 128].mean()) < 2.0 * np.median(spectrum)


def output_grid(path: Path, options: ColorizeOptions) -> TileGrid:
    """The tile grid the pipeline laid over a fully valid output (anchored to its georeferenced grid)."""
    with rasterio.open(path) as dst:
        return TileGrid.anchored(Window(0, 0, dst.width, dst.height), dst.transform, options.tile, options.overlap)


def _transition_gradient_ratio(luma: np.ndarray, options: ColorizeOptions, grid: TileGrid) -> float:
    """Mean |gradient| across the tiles' blend zones over the mean elsewhere, worst of both axes (1 = no seam)."""
    ratios = []
    for gradient, starts, lead in (
        (np.abs(np.diff(luma, axis=1)).mean(0), grid.columns[1:], grid.left),
        (np.abs(np.diff(luma, axis=0)).mean(1), grid.rows[1:], grid.top),
    ):
        zone = np.zeros(len(gradient), bool)
        for start in (s - lead for s in starts):
            zone[max(start - 1, 0) : max(start + max(options.overlap, 1), 0)] = True
        ratios.append(gradient[zone].mean() / gradient[~zone].mean())
    return max(ratios)


def test_no_seam_between_tiles_with_the_trained_default(samples, scene_dir) -> None:
    """Real SAR through the committed default at the default tiling: the blend zones between tiles
    are no sharper than the rest of the picture; without overlap the same measure sees the seams."""
    model = load_checkpoint(default_checkpoint())
    source = mosaic_scene(scene_dir / "seams_700.tif", samples, 700, 700)
    for options, limit in ((ColorizeOptions(), 1.15), (ColorizeOptions(overlap=0), None)):
        out = scene_dir / f"seams_overlap_{options.overlap}.tif"
        colorize(source, out, model, options)
        rgba = read_rgba(out).astype(np.float64)
        luma = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
        ratio = _transition_gradient_ratio(luma, options, output_grid(out, options))
        assert ratio < limit if limit else ratio > 2.0, (options.overlap, ratio)


def _tone_step(luminance: np.ndarray, grid: TileGrid, lines: list[int], row_starts: list[int]) -> float:
    """Mean luminance step across vertical lines at `lines` (scene x): bands 8-24 px either side, per tile row."""
    steps = []
    for x in lines:
        for y0 in row_starts:
            rows = slice(max(0, y0 + 32), min(luminance.shape[0], max(0, y0 + grid.tile - 32)))
            if rows.stop - rows.start < 32:  # a tile row that barely reaches into the scene
                continue
            left, right = luminance[rows, x - 24 : x - 8].mean(), luminance[rows, x + 8 : x + 24].mean()
            steps.append(abs(left - right))
    return float(np.mean(steps))


def tile_grid_visibility(rgba: np.ndarray, grid: TileGrid) -> float:
    """Tone steps across the middle of the tiles' overlap zones over those across tile centres (both axes).

    About 1 when tiles agree; a grid of squares in different tones gives several times that.
    """
    luminance = 0.299 * rgba[0] + 0.587 * rgba[1] + 0.114 * rgba[2]
    steps = []
    for image, starts, lead, other_starts, other_lead in (
        (luminance, grid.columns, grid.left, grid.rows, grid.top),
        (luminance.T, grid.rows, grid.top, grid.columns, grid.left),
    ):
        width = image.shape[1]
        seams = [x0 + grid.tile - grid.overlap // 2 - lead for x0 in starts[:-1]]
        seams = [x for x in seams if 24 <= x <= width - 24]
        centres = [x for x in (x0 + grid.tile // 2 - lead for x0 in starts) if 24 <= x <= width - 24]
        rows = [y0 - other_lead for y0 in other_starts]
        steps += [_tone_step(image, grid, seams, rows), _tone_step(image, grid, centres, rows)]
    return (steps[0] + steps[2]) / (steps[1] + steps[3])


@pytest.mark.shared_data
@pytest.mark.parametrize("fragment", ["003.png", "050.png"])
def test_tile_grid_does_not_show_on_real_scenes(shared_data, scene_dir, fragment: str) -> None:
    """Real volkov fragments through the trained default: neighbouring tiles that decide different tones
    are matched where they overlap. Before `core.rasters.tone` these fragments measured 5.8 and 4.6
    (visible squares)."""
    source = volkov_scene(scene_dir / f"grid_{fragment}.tif", shared_data, fragment)
    out = scene_dir / f"grid_{fragment}_out.tif"
    colorize(source, out, load_checkpoint(default_checkpoint()), ColorizeOptions())
    visibility = tile_grid_visibility(read_rgba(out).astype(np.float64), output_grid(out, ColorizeOptions()))
    assert visibility < 2.5, visibility


def test_output_says_it_is_synthetic_and_what_made_it(samples, pixel_model, tmp_path: Path) -> None:
    out = tmp_path / "tagged.tif"
    colorize(samples[0].sar, out, pixel_model, ColorizeOptions(precision="fp32"))
    with rasterio.open(out) as dst:
        tags = dst.tags()
    assert tags["SYNTHETIC"].startswith("synthetic: generated from SAR")
    assert tags["SARCOLOR_MODEL"] == "untrained" and "band VV" in tags["SARCOLOR_SOURCE"]
