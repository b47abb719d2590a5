"""The Colorize page takes Sentinel-1 as analysts receive it (issue 29, item 4): an RTC product's VV and VH files
uploaded together, or a zip; files that are not a pair get one clear line; a whole GRD zip is sent to the CLI.

On the real OPERA RTC-S1 crops in the shared data (read in place, never copied into the repo) and a tiny untrained
checkpoint.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
import rasterio
import streamlit
from checks import fresh_app
from streamlit.testing.v1 import AppTest

from core.service.jobs import JobStore
from core.service.users import LOCAL
from dashboard.results import DUAL_POL
from tests.s1_products import OPERA, renamed_opera

OPERA_DATE = OPERA / "2021-11-19"
OPERA_VV = OPERA_DATE / "OPERA_L2_RTC-S1_T137-292318-IW1_20211119T015854Z_20250830T120333Z_S1A_30_v1.0_VV.tif"

pytestmark = pytest.mark.skipif(not OPERA_VV.is_file(), reason="team data (../shared/data/s1-products) absent")


def _pair() -> list[tuple[str, bytes, str]]:
    vh = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    return [(p.name, p.read_bytes(), "image/tiff") for p in (OPERA_VV, vh)]


def _upload(at: AppTest, files: list[tuple[str, bytes, str]]) -> None:
    at.radio(key="source").set_value("Upload").run()
    at.file_uploader(key="sar_upload").set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]


def _colorize(at: AppTest) -> None:
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _map_script(at: AppTest) -> str:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)["script"]


def test_a_vv_vh_pair_is_stored_together_privately_and_coloured_with_its_dual_pol_layer(tmp_path, monkeypatch):
    at = fresh_app(tmp_path, monkeypatch)
    files = _pair()
    _upload(at, files)
    _colorize(at)
    job = JobStore(tmp_path / "var").list(LOCAL)[0]
    assert job.status == "done", job.error
    stored = Path(job.stored_path)
    assert stored.name == OPERA_VV.name and job.file_name == f"{OPERA_VV.name} (+ VH)"  # VV read, VH beside it
    assert stored.parent.parent == tmp_path / "var" / "uploads"  # the upload's own folder
    assert sorted(p.name for p in stored.parent.iterdir()) == sorted(name for name, _, _ in files)
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in stored.parent.iterdir()} == {0o600}
    assert job.size_bytes == sum(len(data) for _, data, _ in files)
    assert f'"{DUAL_POL}"' in _map_script(at)
    with rasterio.open(job.output_path) as cog:
        tags = cog.tags()
    assert "γ0" in tags["SARCOLOR_BACKSCATTER"] and tags["SARCOLOR_POLARISATIONS"] == "VV VH"
    facts = at.table[0].value.to_string()
    assert "γ0" in facts and "VV VH" in facts  # the scene facts say what was read
    assert "linear (detected)" in facts  # known from the product's name, not set by the analyst
    JobStore(tmp_path / "var").delete(job.id, LOCAL)
    assert not stored.parent.exists()  # the pair goes with its job


def test_a_zip_of_the_pair_is_taken_as_one_upload(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, _ in _pair():
            archive.writestr(name, data)
    at = fresh_app(tmp_path, monkeypatch)
    _upload(at, [("opera_pair.zip", buffer.getvalue(), "application/zip")])
    _colorize(at)
    job = JobStore(tmp_path / "var").list(LOCAL)[0]
    assert job.status == "done", job.error
    assert Path(job.stored_path).name == "opera_pair.zip"
    assert f'"{DUAL_POL}"' in _map_script(at)


def test_two_files_that_are_not_a_pair_get_one_clear_line_and_nothing_is_stored(tmp_path, monkeypatch):
    other = sorted(OPERA_DATE.glob("*_VH.tif"))[-1]  # another burst's VH: not OPERA_VV's sibling
    at = fresh_app(tmp_path, monkeypatch)
    _upload(at, [_pair()[0], (other.name, other.read_bytes(), "image/tiff")])
    assert len(at.error) == 1
    message = at.error[0].value
    assert "are not the polarisations of one product" in message and "Traceback" not in message
    assert at.button(key="run").disabled
    assert not [p for p in (tmp_path / "var" / "uploads").rglob("*")]


def test_a_renamed_pair_is_known_by_its_opera_tags_once_stored(tmp_path, monkeypatch):
    """Files renamed by the analyst (no _VV/_VH in their names) pair by the product tags OPERA writes in them."""
    vh = OPERA_VV.with_name(OPERA_VV.name.replace("_VV.", "_VH."))
    renamed = [renamed_opera(OPERA_VV, tmp_path / "before.tif"), renamed_opera(vh, tmp_path / "before_x.tif")]
    at = fresh_app(tmp_path, monkeypatch)
    _upload(at, [(p.name, p.read_bytes(), "image/tiff") for p in reversed(renamed)])
    _colorize(at)
    job = JobStore(tmp_path / "var").list(LOCAL)[0]
    assert job.status == "done", job.error
    assert Path(job.stored_path).name == "before.tif" and job.file_name == "before.tif (+ VH)"
    with rasterio.open(job.output_path) as cog:
        assert "OPERA RTC-S1" in cog.tags()["SARCOLOR_BACKSCATTER"]


def test_the_uploader_says_what_to_do_with_a_whole_grd_zip(tmp_path, monkeypatch):
    at = fresh_app(tmp_path, monkeypatch)
    at.radio(key="source").set_value("Upload").run()
    limit = streamlit.config.get_option("server.maxUploadSize")
    advice = [c.value for c in at.caption if "sarcolor colorize PRODUCT.zip OUT.tif" in c.value]
    assert len(advice) == 1
    assert f"Up to {limit:,} MB" in advice[0] and "server.maxUploadSize" in advice[0] and "batch" in advice[0]


def test_a_zip_over_the_apps_own_limit_is_refused_with_that_advice(tmp_path, monkeypatch):
    monkeypatch.setenv("SARCOLOR_MAX_UPLOAD_ZIP_MB", "1")
    at = fresh_app(tmp_path, monkeypatch)
    _upload(at, [("S1A_IW_GRDH_1SDV_x.zip", b"\0" * 1_500_000, "application/zip")])
    assert len(at.error) == 1
    message = at.error[0].value
    assert "larger than the 1 MB" in message and "sarcolor colorize PRODUCT.zip OUT.tif" in message
    assert at.button(key="run").disabled
    assert not [p for p in (tmp_path / "var" / "uploads").rglob("*")]


def test_input_name_reads_the_co_polarised_file_of_a_pair_and_refuses_the_rest() -> None:
    from core.errors import InvalidSettingsError
    from core.service.uploads import input_name, upload_label

    vv, vh = OPERA_VV.name, OPERA_VV.name.replace("_VV.", "_VH.")
    assert input_name([vh, vv]) == vv and input_name(["my scene.tif"]) == "my_scene.tif"
    assert upload_label([vh, vv], vv) == f"{vv} (+ VH)"
    assert upload_label(["my scene.tif"], "my_scene.tif") == "my scene.tif"
    hyp3 = "S1A_IW_20210119T031653_DVP_RTC30_G_gpuned_1A2B"
    assert input_name([f"{hyp3}_VH.tif", f"{hyp3}_VV.tif"]) == f"{hyp3}_VV.tif"
    for names in ([vv, vv], [vv, "other.tif"], [vv, vh, f"{hyp3}_VV.tif"], [vv, "pair.zip"]):
        with pytest.raises(InvalidSettingsError, match="not the polarisations of one product"):
            input_name(names)


def test_an_upload_folder_counts_and_goes_as_one(tmp_path) -> None:
    store = JobStore(tmp_path / "var")
    folder = store.store_uploads([("a_VV.tif", io.BytesIO(b"x" * 10)), ("a_VH.tif", io.BytesIO(b"y" * 5))])
    job = store.create(LOCAL, "a_VV.tif", folder / "a_VV.tif")
    assert store.upload_bytes(folder / "a_VV.tif") == 15 and store.job_bytes(job) == 15
    orphan = store.store_uploads([("b.tif", io.BytesIO(b"z"))])
    for path in (folder, orphan):  # a day and more ago: an unused upload goes with its folder; a job's stays
        os.utime(path, (0.0, 0.0))
    _, removed = store.recover()
    assert removed == [orphan] and not orphan.exists() and folder.is_dir()
    store.delete(job.id, LOCAL)
    assert not folder.exists()
