"""Guides that cannot guide are refused with one line that names the problem (issue 27); dates, band names, progress.

Real data: the BigEarthNet samples (always present): their SAR stacked as the guide (dB and linear), their
optical placed at the far side of the Earth, written with tags and odd band names.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from checks import fresh_app
from rasterio.crs import CRS
from rasterio.transform import from_origin

from core.cli import main as cli_main
from core.colorize import FIT_STAGE, ColorizeOptions, colorize
from core.colour.guide import check_guide_bands, guide_date, open_guide
from core.colour.guide_checks import GuideError
from core.errors import NotARasterError
from core.model.checkpoints import untrained_model
from core.model.networks import GeneratorConfig
from core.rasters.scene import opened_scene


def _sar(sample) -> tuple[np.ndarray, dict]:
    with rasterio.open(sample.sar) as src:
        return src.read(), src.profile


def _optical(sample) -> tuple[np.ndarray, dict]:
    with rasterio.open(sample.optical) as src:
        return src.read(), src.profile


def _write(path: Path, data: np.ndarray, profile: dict, **tags: str) -> Path:
    profile = {**profile, "count": data.shape[0], "dtype": data.dtype.name}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.update_tags(**tags)
    return path


@pytest.fixture
def bad_guides(samples, tmp_path) -> dict[str, tuple[Path, str]]:
    """Each bad guide and the words its refusal must say."""
    sar, profile = _sar(samples[0])
    optical, optical_profile = _optical(samples[0])
    vv, vh = sar[0], sar[1]
    text = tmp_path / "notes.tif"
    text.write_text("these are not pixels\n")
    return {
        "sar_db_stack": (_write(tmp_path / "s1_db.tif", np.stack([vv, vh, vv - vh]), profile), "SAR backscatter in dB"),
        "sar_linear_stack": (_write(tmp_path / "s1_lin.tif", 10 ** (np.stack([vv, vh, vv]) / 10), profile),
                             "SAR intensity (linear power)"),
        "one_band": (_write(tmp_path / "one.tif", optical[:1], optical_profile), "has 1 band(s)"),
        "two_bands": (_write(tmp_path / "two.tif", optical[:2], optical_profile), "has 2 band(s)"),
        "grey": (_write(tmp_path / "grey.tif", np.repeat(optical[:1], 3, 0), optical_profile), "one grey image"),
        "not_a_raster": (text, "is not a readable raster image"),
    }


def test_bad_guides_are_refused_before_any_output_with_the_problem_named(samples, bad_guides, tmp_path):
    for kind, (guide, words) in bad_guides.items():
        with pytest.raises((GuideError, NotARasterError), match=re.escape(words)):
            check_guide_bands(guide)
        with pytest.raises((GuideError, NotARasterError), match=re.escape(words)):
            colorize(samples[0].sar, tmp_path / "out.tif", untrained_model(GeneratorConfig(ngf=4)),
                     ColorizeOptions(guide=str(guide)))  # fmt: skip
        assert not list(tmp_path.glob("*out*")), kind
    with pytest.raises(NotARasterError, match="of an optical image"):
        check_guide_bands(bad_guides["not_a_raster"][0])


def test_cli_refuses_a_sar_stack_as_the_guide_with_exit_code_2_and_one_line(samples, bad_guides, tmp_path, capsys):
    for kind in ("sar_db_stack", "sar_linear_stack", "not_a_raster", "one_band"):
        guide, words = bad_guides[kind]
        code = cli_main(["colorize", str(samples[0].sar), str(tmp_path / "o.tif"), "--guide", str(guide), "--quiet"])
        error = capsys.readouterr().err
        assert code == 2, kind
        assert error.startswith("error: ") and words in error and error.count("\n") == 1, error
        assert "SAR scene" not in error


def far_side_pair(samples, folder: Path) -> tuple[Path, Path]:
    """The scene on a local orthographic grid, its optical placed at the antipode (not expressible in that grid)."""
    sar, profile = _sar(samples[0])
    scene = _write(folder / "ortho.tif", sar, {**profile, "transform": from_origin(-600, 600, 10, 10),
                   "crs": CRS.from_proj4("+proj=ortho +lat_0=62 +lon_0=30 +units=m")})  # fmt: skip
    optical, optical_profile = _optical(samples[0])
    guide = _write(folder / "antipode.tif", optical, {**optical_profile, "crs": CRS.from_epsg(4326),
                   "transform": from_origin(-150.0, -61.9, 0.0002, 0.0001)})  # fmt: skip
    return scene, guide


def test_a_guide_of_another_place_gets_one_clear_line_not_a_crash(samples, tmp_path, capsys):
    """Was `ValueError: cannot convert float NaN to integer` in core/guide.py `_footprint`."""
    scene, guide = far_side_pair(samples, tmp_path)
    with opened_scene(scene) as opened, pytest.raises(GuideError, match=r"does not overlap .* another place"):
        open_guide(guide, opened.georef)
    assert cli_main(["colorize", str(scene), str(tmp_path / "o.tif"), "--guide", str(guide), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "does not overlap" in error and error.count("\n") == 1, error


def test_batch_mode_names_each_refusal(samples, bad_guides, tmp_path, capsys):
    """A bad guide stops a batch before any scene, with the same one line and code 2."""
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "a.tif").write_bytes(samples[0].sar.read_bytes())
    guide, words = bad_guides["sar_db_stack"]
    assert cli_main(["colorize", str(scenes), str(tmp_path / "out"), "--guide", str(guide), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    ("tags", "name", "date"),
    [
        ({"datetime": "2021-06-30T10:11:12Z"}, "ref.tif", "2021-06-30"),
        ({"ACQUISITION_DATE": "2020-11-04"}, "ref.tif", "2020-11-04"),
        ({"DATE_ACQUIRED": "2019-03-02"}, "ref.tif", "2019-03-02"),
        ({"PRODUCT_START_TIME": "2022-08-15T10:20:31.024Z"}, "ref.tif", "2022-08-15"),
        ({}, "S2B_MSIL2A_20230517T101559_N0509_R065_T32TQM_20230517T134255.tif", "2023-05-17"),
        ({}, "ref.tif", None),
    ],
)
def test_the_acquisition_date_is_read_from_tags_and_names(samples, tmp_path, tags, name, date):
    optical, profile = _optical(samples[0])
    path = _write(tmp_path / name, optical, profile, **tags)
    with rasterio.open(path) as src:
        assert guide_date(src, name) == date
    with opened_scene(samples[0].sar) as scene:
        guide = open_guide(path, scene.georef)
        assert guide.label == f"colour guided by {name} ({date or 'date unknown'})"
        guide.close()


def test_band_names_are_the_files_own_or_plain_numbers(samples, tmp_path):
    optical, profile = _optical(samples[0])
    repeated = _write(tmp_path / "bands.tif", optical, profile)
    with rasterio.open(repeated, "r+") as dst:
        dst.descriptions = ("BANDS", "BANDS", "BANDS")
    named = _write(tmp_path / "named.tif", optical, profile)
    with rasterio.open(named, "r+") as dst:
        dst.descriptions = ("Red", "Green", "Blue")
    assert check_guide_bands(repeated) == "bands 1/2/3 of 3 (RGB)"
    assert check_guide_bands(named) == "Red/Green/Blue of 3"


def test_the_fit_reports_its_progress_before_the_tiles(samples, tmp_path):
    calls: list[tuple] = []
    colorize(samples[0].sar, tmp_path / "o.tif", untrained_model(GeneratorConfig(ngf=4)),
             ColorizeOptions(guide=str(samples[0].optical)), progress=lambda *call: calls.append(call))  # fmt: skip
    fit = [c for c in calls if len(c) == 3]
    assert fit and all(c[2] == FIT_STAGE and c[1] > 0 for c in fit)
    assert fit[-1][0] == fit[-1][1]  # the fit ends at its total
    assert calls.index(fit[-1]) < calls.index(next(c for c in calls if len(c) == 2))  # then the tiles, counted


def test_dashboard_says_why_a_sar_stack_cannot_guide(samples, bad_guides, tmp_path, monkeypatch):
    at = fresh_app(tmp_path, monkeypatch)
    guide, words = bad_guides["sar_db_stack"]
    at.radio(key="source").set_value("Upload").run()
    at.file_uploader(key="sar_upload").set_value((samples[0].sar.name, samples[0].sar.read_bytes(), "image/tiff")).run()
    slot = next(u for u in at.file_uploader if (u.key or "").startswith("ref_upload"))
    slot.set_value((guide.name, guide.read_bytes(), "image/tiff")).run()
    at.toggle(key="guided").set_value(True).run()
    at.button(key="run").click().run()
    messages = [e.value for e in at.error]
    assert any(words in m for m in messages), messages
    assert not at.exception
