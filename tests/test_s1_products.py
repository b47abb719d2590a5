"""Sentinel-1 products as analysts receive them (issue 29): GRD .SAFE zips calibrated to sigma0 with thermal noise
removed, OPERA RTC pairs, and the refusals. Real XML and RTC crops from ../shared/data/s1-products."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import rasterio

from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.normalise import Encoding, level_offset_db
from core.rasters.products import prepare_input
from core.rasters.s1.annotation import LineVectors, ThermalNoise, sigma_nought, thermal_noise
from core.rasters.s1.calibrate import SIGMA0_FLOOR, Polarisation, sigma0
from core.rasters.s1.rtc import recognise
from core.rasters.s1.safe import locate, manifest_files
from tests.checks import run_cli
from tests.s1_products import GRD_ZIPS, OPERA, renamed_opera, whole_product

pytestmark = pytest.mark.skipif(not GRD_ZIPS["2021"].is_file(), reason="team data (../shared/data/s1-products) absent")
OPERA_DATE = OPERA / "2021-11-19"
TEST_PATCH = (7000, 9000, 11000, 14000)  # valid DN only here (lines, pixels): the whole product, a short run
OPERA_VV = OPERA_DATE / "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z_20250830T120333Z_S1A_30_v1.0_VV.tif"


def _xml(which: str, kind: str, pol: str = "VV") -> ElementTree.Element:
    files = locate(GRD_ZIPS[which])
    return files.xml(manifest_files(files)[kind][pol])


def _numbers(element: ElementTree.Element, tag: str) -> np.ndarray:
    return np.array(element.findtext(tag).split(), float)


def _no_noise() -> ThermalNoise:
    return ThermalNoise(LineVectors(np.array([0]), (np.array([0.0, 1.0]),), (np.zeros(2),)), ())


@pytest.mark.parametrize("which", ["2015", "2021"])
def test_sigma0_at_the_lut_nodes_is_dn_squared_over_a_squared(which: str) -> None:
    root = _xml(which, "calibration")
    pol = Polarisation("VV", "", sigma_nought(root), _no_noise())
    for vector in list(root.iter("calibrationVector"))[::7]:
        line, pixels, gains = int(vector.findtext("line")), _numbers(vector, "pixel"), _numbers(vector, "sigmaNought")
        dn = np.full((1, len(pixels)), 150, np.uint16)
        got = sigma0(dn, np.array([float(line)]), pixels, pol)[0]
        np.testing.assert_allclose(got, np.maximum(150.0**2 / gains**2, SIGMA0_FLOOR), rtol=1e-5)


def test_sigma0_between_lut_lines_is_interpolated_linearly() -> None:
    calibration = sigma_nought(_xml("2021", "calibration"))
    line = (calibration.lines[3] + calibration.lines[4]) / 2
    pixel = calibration.pixels[3][10]
    expected = (calibration.values[3][10] + calibration.values[4][10]) / 2
    np.testing.assert_allclose(calibration.at(np.array([line]), np.array([pixel]))[0, 0], expected, rtol=1e-6)


def test_thermal_noise_is_range_times_azimuth_in_each_swath_block() -> None:
    root = _xml("2021", "noise")
    noise = thermal_noise(root)
    assert noise.generation == "noiseRange + noiseAzimuth" and len(noise.azimuth_blocks) == 3
    vector = list(root.iter("noiseRangeVector"))[5]
    line, pixels, lut = int(vector.findtext("line")), _numbers(vector, "pixel"), _numbers(vector, "noiseRangeLut")
    got = noise.at(np.array([float(line)]), pixels)[0]
    for block in root.iter("noiseAzimuthVector"):
        first, last = int(block.findtext("firstRangeSample")), int(block.findtext("lastRangeSample"))
        factor = np.interp(line, _numbers(block, "line"), _numbers(block, "noiseAzimuthLut"))
        inside = (pixels >= first) & (pixels <= last)
        assert inside.any()
        np.testing.assert_allclose(got[inside], lut[inside] * factor, rtol=1e-5)
    assert noise.azimuth_blocks[0].values[0] != noise.azimuth_blocks[1].values[0]  # blocks really differ


def test_old_noise_vectors_are_read_and_removed() -> None:
    root = _xml("2015", "noise")
    assert thermal_noise(root).generation == "noiseVectorList"
    for lut in root.iter("noiseLut"):  # the 2015 product annotates zero noise: give it a known ramp instead
        lut.text = " ".join(str(100.0 + i) for i in range(int(lut.get("count"))))
    noise = thermal_noise(root)
    vector = list(root.iter("noiseVector"))[2]
    line, pixels = float(vector.findtext("line")), _numbers(vector, "pixel")
    np.testing.assert_allclose(noise.at(np.array([line]), pixels)[0], 100.0 + np.arange(len(pixels)), rtol=1e-6)
    calibration = sigma_nought(_xml("2015", "calibration"))
    pol = Polarisation("VV", "", calibration, noise)
    dn = np.full((1, len(pixels)), 300, np.uint16)
    expected = (300.0**2 - noise.at(np.array([line]), pixels)) / calibration.at(np.array([line]), pixels) ** 2
    np.testing.assert_allclose(sigma0(dn, np.array([line]), pixels, pol), expected, rtol=1e-5)


def test_noise_above_the_signal_is_floored_and_dn_zero_is_nodata() -> None:
    noise = thermal_noise(_xml("2021", "noise"))
    pol = Polarisation("VH", "", sigma_nought(_xml("2021", "calibration", "VH")), noise)
    dn = np.array([[0, 1, 400]], np.uint16)
    got = sigma0(dn, np.array([1000.0]), np.array([5000.0, 5001.0, 5002.0]), pol)[0]
    assert np.isnan(got[0]) and got[1] == pytest.approx(SIGMA0_FLOOR) and got[2] > SIGMA0_FLOOR


def test_calibration_agrees_with_xarray_sentinel(tmp_path: Path) -> None:
    """The field's reference implementation of sigma0 = DN^2 / A^2 on the LUT grid (no noise removal there)."""
    pytest.importorskip("xarray_sentinel", reason="xarray-sentinel is not installed (an optional test oracle)")
    import xarray as xr
    from xarray_sentinel import sentinel1

    files = locate(GRD_ZIPS["2021"])
    relative = manifest_files(files)["calibration"]["VV"]
    path = tmp_path / "calibration.xml"
    path.write_bytes(files.read_bytes(relative))
    lut = sentinel1.open_calibration_dataset(path)["sigmaNought"]
    lines, pixels = np.array([0.0, 337.0, 5000.0, 16000.0]), np.array([0.0, 20.0, 8742.0, 20000.0])
    dn = xr.DataArray(np.full((4, 4), 200.0), coords={"line": lines, "pixel": pixels}, dims=("line", "pixel"))
    expected = sentinel1.calibrate_intensity(dn, lut, min_db=None).values
    pol = Polarisation("VV", "", sigma_nought(files.xml(relative)), _no_noise())
    np.testing.assert_allclose(sigma0(np.full((4, 4), 200, np.uint16), lines, pixels, pol), expected, rtol=1e-5)


@pytest.fixture(scope="module")
def fixed_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained model on the fixed (absolute dB) input space: the one that would anchor relative input."""
    model = untrained_model(GeneratorConfig(ngf=4, depth=5, input_space="fixed"), seed=1)
    return save_checkpoint(tmp_path_factory.mktemp("models") / "fixed.pt", model.generator)


def _footprint(which: str) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the manifest's footprint."""
    text = locate(GRD_ZIPS[which]).read_bytes("manifest.safe").decode()
    coordinates = text.split("<gml:coordinates>")[1].split("</gml:coordinates>")[0]
    lat, lon = np.array([pair.split(",") for pair in coordinates.split()], float).T
    return lon.min(), lat.min(), lon.max(), lat.max()


@pytest.mark.slow
@pytest.mark.parametrize("which", ["2021", "2015"])
def test_cli_colours_a_whole_grd_zip_as_sigma0(which: str, fixed_model: Path, tmp_path: Path) -> None:
    product = whole_product(which, tmp_path, patch=TEST_PATCH)
    out = tmp_path / "out.tif"
    run = run_cli("colorize", product, out, "--model", fixed_model, "--quiet", timeout=1800)
    assert run.returncode == 0, run.stderr
    assert "anchor" not in (run.stdout + run.stderr).lower()
    with rasterio.open(out) as dst:
        tags, bounds, crs = dst.tags(), dst.bounds, dst.crs
    assert crs.to_epsg() == 4326
    np.testing.assert_allclose(bounds, _footprint(which), atol=0.03)  # over the product's footprint
    assert tags["SARCOLOR_PRODUCT"] == product.stem and tags["SARCOLOR_POLARISATIONS"] == "VV VH"
    assert "σ0" in tags["SARCOLOR_BACKSCATTER"] and "thermal noise" in tags["SARCOLOR_BACKSCATTER"]
    assert "anchor" not in " ".join(tags.values()).lower()
    removed = "thermal noise removed" in tags["SARCOLOR_BACKSCATTER"]
    assert removed == (which == "2021")  # the 2015 product annotates zero noise, and the tags say so
    assert float(tags["SARCOLOR_VH_MEDIAN_DB"]) < float(tags["SARCOLOR_VV_MEDIAN_DB"]) - 3  # VH read, calibrated
    assert not list(Path(tmp_path).glob("sarcolor-sigma0-*"))


def test_cli_colours_an_opera_rtc_file_keeping_its_crs_and_naming_gamma0_and_vh(
    fixed_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.tif"
    run = run_cli("colorize", OPERA_VV, out, "--model", fixed_model, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "anchor" not in (run.stdout + run.stderr).lower()
    with rasterio.open(OPERA_VV) as src, rasterio.open(out) as dst:
        assert dst.crs == src.crs and dst.transform == src.transform
        tags = dst.tags()
    assert "γ0" in tags["SARCOLOR_BACKSCATTER"] and "OPERA RTC-S1" in tags["SARCOLOR_BACKSCATTER"]
    assert tags["SARCOLOR_POLARISATIONS"] == "VV VH" and tags["SARCOLOR_VH_SOURCE"].endswith("_VH.tif")


def test_rtc_names_pairs_and_ancillary_layers(tmp_path: Path) -> None:
    opera = recognise(str(OPERA_VV))
    assert (opera.kind, opera.quantity, opera.encoding, opera.polarisation) == (
        "OPERA RTC-S1",
        "gamma0",
        "linear",
        "VV",
    )
    hyp3 = recognise("S1A_IW_20210119T031653_DVP_RTC30_G_spuned_1A2B_VH.tif")
    assert (hyp3.kind, hyp3.quantity, hyp3.encoding, hyp3.polarisation) == ("HyP3 GAMMA RTC", "sigma0", "linear", "VH")
    assert recognise("S1A_IW_20210119T031653_DVP_RTC30_G_gduned_1A2B_VV.tif").encoding == "db"
    amplitude = recognise("S1A_IW_20210119T031653_DVP_RTC30_G_gauned_1A2B_VV.tif").encoding
    assert amplitude == "amplitude_calibrated" and not level_offset_db(Encoding(amplitude), "VV", -30.0)[1]
    assert level_offset_db(Encoding.AMPLITUDE, "VV", -30.0)[1]  # raw DN stays anchored
    for ancillary in ("S1A_IW_20210119T031653_DVP_RTC30_G_gpuned_1A2B_ls_map.tif", "x_VV_mask.tif", "a.h5",
                      "OPERA_L2_RTC-S1_T1_v1.0_rtc_anf_gamma0_to_beta0.tif"):  # fmt: skip
        assert recognise(ancillary) is None
    vh = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    assert prepare_input(vh).companions == {"VV": str(OPERA_VV)}  # given VH, its VV sibling is found
    archive = tmp_path / "pair.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(OPERA_VV, OPERA_VV.name)
        z.write(vh, vh.name)
        z.writestr("OPERA_L2_RTC-S1_x_v1.0_mask.tif", b"")
    prepared = prepare_input(archive)
    assert prepared.raster.name == OPERA_VV.name and set(prepared.companions) == {"VH"}
    with rasterio.open(prepared.raster) as src, rasterio.open(prepared.companions["VH"]) as cross:
        assert src.shape == cross.shape == (100, 100)  # both read from inside the zip, by absolute path


def _edited_zip(which: str, folder: Path, edit=None, drop: str = "") -> Path:
    """A copy of a shared GRD zip, its members' text changed by edit(name, text) and those containing `drop` left
    out (its measurement folder stays empty: refusals come before any pixel)."""
    target = folder / GRD_ZIPS[which].name
    with zipfile.ZipFile(GRD_ZIPS[which]) as source, zipfile.ZipFile(target, "w") as copy:
        for info in source.infolist():
            if drop and drop in info.filename:
                continue
            data = source.read(info)
            if edit and info.filename.endswith((".safe", ".xml")):
                data = edit(info.filename, data.decode()).encode()
            copy.writestr(info, data)
    return target


def _refusal_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(GRD_ZIPS["2021"].read_bytes()[:900_000])
    no_safe = tmp_path / "photos.zip"
    with zipfile.ZipFile(no_safe, "w") as z:
        z.writestr("readme.txt", "nothing")
    grids = tmp_path / "grids"
    grids.mkdir()
    shutil.copy(OPERA_VV, grids / OPERA_VV.name)
    other = next(OPERA_DATE.glob("OPERA_L2_RTC-S1_T137-292320-IW2_*_VH.tif"))
    shutil.copy(other, grids / OPERA_VV.name.replace("_VV.", "_VH."))
    slc, ew = tmp_path / "slc", tmp_path / "ew"
    slc.mkdir(), ew.mkdir()
    return {
        "missing measurement": (_edited_zip("2021", tmp_path), "incomplete"),
        "zip without .SAFE": (no_safe, "no Sentinel-1 .SAFE"),
        "SLC": (_edited_zip("2021", slc, lambda n, t: t.replace(">GRD<", ">SLC<")), "This product is SLC"),
        "EW": (_edited_zip("2021", ew, lambda n, t: t.replace(">IW<", ">EW<")), "This product is EW"),
        "pair on different grids": (grids / OPERA_VV.name, "different grids"),
        "truncated zip": (truncated, "damaged"),
    }


def test_bad_products_are_refused_in_one_line_and_nothing_is_written(fixed_model: Path, tmp_path: Path) -> None:
    for case, (source, words) in _refusal_cases(tmp_path).items():
        out = tmp_path / f"{case}.tif"
        run = run_cli("colorize", source, out, "--model", fixed_model, "--quiet")
        lines = run.stderr.strip().splitlines()
        assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), (case, run.stderr)
        assert words in lines[0], (case, lines[0])
        assert not out.exists() and not list(tmp_path.glob(f"*{case}*partial*")), case


def test_dual_pol_false_colour_of_an_opera_pair_is_vv_vh_and_their_ratio() -> None:
    from core.rasters.dualpol import dual_pol_window, has_dual_pol
    from core.rasters.scene import opened_scene

    vh = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    with opened_scene(OPERA_VV) as scene, rasterio.open(OPERA_VV) as a, rasterio.open(vh) as b:
        assert has_dual_pol(scene)
        window = rasterio.windows.Window(10, 20, 50, 40)
        rgb, valid = dual_pol_window(scene, window)
        vv_db, vh_db = (10 * np.log10(src.read(1, window=window).astype(float)) for src in (a, b))
    assert valid.mean() > 0.9
    np.testing.assert_allclose(rgb[0][valid], np.clip((vv_db[valid] + 25) / 25, 0, 1), atol=1e-5)
    np.testing.assert_allclose(rgb[1][valid], np.clip((vh_db[valid] + 32) / 25, 0, 1), atol=1e-5)
    np.testing.assert_allclose(rgb[2][valid], np.clip((vv_db - vh_db)[valid] / 15, 0, 1), atol=1e-5)


def test_a_batch_colours_each_rtc_pair_once_and_takes_product_zips(tmp_path: Path) -> None:
    from core.service.batch import expand_inputs

    found = expand_inputs([OPERA_DATE])
    assert len(found) == 15 and all(p.name.endswith("_VV.tif") for p in found)  # 15 bursts, VV with VH beside
    product = tmp_path / "S1A_IW_GRDH_x.zip"
    product.write_bytes(b"")
    (tmp_path / "S1A_IW_GRDH_y.SAFE").mkdir()
    assert expand_inputs([tmp_path]) == [product]
    assert expand_inputs([tmp_path / "S1A_IW_GRDH_y.SAFE"]) == [tmp_path / "S1A_IW_GRDH_y.SAFE"]


def test_asking_for_vh_colours_the_vh_file_of_an_rtc_pair_whichever_file_or_zip_is_given(tmp_path: Path) -> None:
    """The sidebar's or --band's polarisation picks the pair's file; VV stays beside it for the dual-pol layer."""
    from core.rasters.scene import open_scene

    vh = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    archive = tmp_path / "pair.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(OPERA_VV, OPERA_VV.name)
        z.write(vh, vh.name)
    for given in (OPERA_VV, archive):
        prepared = prepare_input(given, "VH")
        assert Path(prepared.raster).name == vh.name and set(prepared.companions) == {"VV"}, given
    assert Path(prepare_input(OPERA_VV, "VV").raster).name == OPERA_VV.name
    scene = open_scene(OPERA_VV, band="VH")
    try:
        assert scene.band_name == "VH" and Path(scene.path).name == vh.name
    finally:
        scene.close()


def test_renamed_opera_files_are_known_by_their_tags_and_find_their_pair(tmp_path: Path) -> None:
    """Issue 29: an OPERA file renamed by the analyst is still an OPERA RTC-S1 product: gamma0 or sigma0 as its
    normalisation tag says, its polarisation from its layer name, its sibling by the same original product."""
    from core.rasters.s1.rtc import identify
    from core.service.batch import expand_inputs

    vh_source = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    vv = renamed_opera(OPERA_VV, tmp_path / "flood_before.tif")
    vh = renamed_opera(vh_source, tmp_path / "flood_before_cross.tif")
    renamed_opera(next(OPERA_DATE.glob("*T137-292320-IW2_*_VV.tif")), tmp_path / "other_burst.tif")
    known = identify(str(vv))
    assert (known.kind, known.quantity, known.polarisation) == ("OPERA RTC-S1", "gamma0", "VV")
    assert known.encoding == "linear" and recognise(str(vv)) is None  # the name alone says nothing
    prepared = prepare_input(vh)
    assert prepared.raster == vh and prepared.companions == {"VV": str(vv)}  # the file given, VV beside it
    assert prepared.tags["SARCOLOR_PRODUCT"] == OPERA_VV.stem.rsplit("_", 1)[0]
    assert sorted(p.name for p in expand_inputs([tmp_path])) == ["flood_before.tif", "other_burst.tif"]
    archive = tmp_path / "renamed.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(vv, vv.name)
        z.write(vh, vh.name)
    zipped = prepare_input(archive)
    assert zipped.raster.name == vv.name and set(zipped.companions) == {"VH"}  # a zip of the pair, read inside it

    older = renamed_opera(OPERA_VV, tmp_path / "older.tif", PRODUCT_TYPE="RTC_S1", FILENAME="",
                           PROCESSING_INFORMATION_OUTPUT_BACKSCATTER_NORMALIZATION_CONVENTION="SIGMA0")  # fmt: skip
    older_known = identify(str(older))
    assert (older_known.quantity, older_known.polarisation) == ("sigma0", "VV")  # pre-v1.0: upper-cased values
    static = renamed_opera(OPERA_VV, tmp_path / "static.tif", PRODUCT_TYPE="RTC-S1-STATIC")
    assert identify(str(static)) is None  # the static layers are not backscatter
    assert identify(str(renamed_opera(OPERA_VV, tmp_path / "nasa.tif", PROJECT="NISAR"))) is None


def test_a_renamed_hyp3_file_is_known_by_its_arcgis_sidecar(tmp_path: Path) -> None:
    """HyP3 writes no product tags into its GeoTIFFs; the `.tif.xml` it ships beside each one says what it holds."""
    from core.rasters.s1.rtc import identify

    raster = tmp_path / "site_VH.tif"
    shutil.copy(OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH.")), raster)
    assert identify(str(raster)) is None
    Path(f"{raster}.xml").write_text(
        "<metadata><dataIdInfo><idPurp>This file is a Radiometric Terrain Corrected (RTC) granule of SLC SAR data "
        "processed by ASF DAAC HyP3. Cell values indicate VH sigma-0 decibel, and pixel spacing is 30 m.</idPurp>"
        "</dataIdInfo></metadata>"
    )
    known = identify(str(raster))
    assert (known.kind, known.quantity, known.encoding, known.polarisation) == ("HyP3 GAMMA RTC", "sigma0", "db", "VH")
    assert known.stem == "site"


def test_cli_colours_a_renamed_opera_file_as_gamma0_with_its_pair(fixed_model: Path, tmp_path: Path) -> None:
    vv = renamed_opera(OPERA_VV, tmp_path / "a.tif")
    renamed_opera(OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH.")), tmp_path / "b.tif")
    out = tmp_path / "out" / "a_colour.tif"
    out.parent.mkdir()
    run = run_cli("colorize", vv, out, "--model", fixed_model, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "anchor" not in (run.stdout + run.stderr).lower()
    with rasterio.open(out) as dst:
        tags = dst.tags()
    assert "γ0" in tags["SARCOLOR_BACKSCATTER"] and "OPERA RTC-S1" in tags["SARCOLOR_BACKSCATTER"]
    assert tags["SARCOLOR_POLARISATIONS"] == "VV VH" and tags["SARCOLOR_VH_SOURCE"] == "b.tif"
