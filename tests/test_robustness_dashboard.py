"""The robustness corpus in the dashboard (AppTest): refused uploads, awkward ones, odd names, configured limits."""

from __future__ import annotations

import json
import threading
import time
import tomllib
from pathlib import Path

import pytest
import streamlit
from corpus import Entry, build_corpus
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import OVERLAY, _app, _map_args, _run, _upload

from core.colorize import ColorizeOptions
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.samples import Sample
from core.service.jobs import Job, JobStore
from core.service.users import LOCAL
from dashboard.ui import FILE_CHARS, shortened

ROOT = Path(__file__).resolve().parent.parent
REFUSED = {  # corpus entry -> words the message must hold
    "text_named.tif": "not a readable raster",
    "truncated_half.tif": "not a readable raster",
    "zero_bytes.tif": "not a readable raster",
    "complex64_slc.tif": "complex SLC",
    "all_nan.tif": "no valid pixel",
    "five_bands.tif": "expected 1 band (VV or VH)",
    "huge_header_100k.tif": "SARCOLOR_MAX_PIXELS",
    "bool_mask_1bit.tif": "1-bit",
}
WORKING = {  # corpus entry -> the name the analyst's browser sends
    "one_pixel_1x1.tif": "one_pixel_1x1.tif",
    "gcp_only_uint16.tif": "gcp_only_uint16.tif",
    "sub dir/../dot dot.tif": "../../sub dir/../dot dot.tif",
    "name with spaces.tif": "/home/analyst/My Scenes/name with spaces.tif",
    "nón-ÁSCII_名前_σ0.tif": "nón-ÁSCII_名前_σ0.tif",
}


@pytest.fixture(scope="module")
def corpus(samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Entry]:
    return {e.name: e for e in build_corpus(tmp_path_factory.mktemp("corpus"), samples[0].sar)}


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, Path]:
    """A small untrained checkpoint and an empty var dir."""
    models, var = tmp_path / "models", tmp_path / "var"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8, depth=6)).generator)
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(models))
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(var))
    return {"models": models, "var": var}


def _latest(var: Path) -> Job:
    return JobStore(var).list(LOCAL)[0]


def _history(at: AppTest):
    at.switch_page("views/history.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    at.switch_page("views/colorize.py").run()
    return table


def test_refused_uploads_show_the_reason_and_leave_nothing(env, corpus) -> None:
    at = _app()
    for name, words in REFUSED.items():
        _upload(at, (name, corpus[name].path.read_bytes()))
        _run(at)
        job = _latest(env["var"])
        assert job.file_name == name and job.status == "failed", (name, job.status)
        assert words in job.error and f"{name} " in job.error, (name, job.error)  # names the file as given
        messages = [e.value for e in at.error]
        assert len(messages) == 1 and "could not be colorized" in messages[0] and words in messages[0], messages
        assert "Traceback" not in messages[0]
        assert not at.get("component_instance") and not at.get("download_button")
        outputs = env["var"] / "outputs" / job.id
        assert not outputs.exists() or not list(outputs.iterdir()), (name, list(outputs.iterdir()))
    table = _history(at)
    assert sorted(table["File"]) == sorted(REFUSED)
    assert set(table["Status"]) == {"failed"}
    for name, words in REFUSED.items():
        assert words in table.loc[table["File"] == name, "Error"].iloc[0]


def test_pixel_limit_from_configuration_refuses_a_small_scene(env, corpus, monkeypatch) -> None:
    monkeypatch.setenv("SARCOLOR_MAX_PIXELS", "8")
    at = _app()
    _upload(at, ("three_by_three.tif", corpus["three_by_three.tif"].path.read_bytes()))
    _run(at)
    assert "SARCOLOR_MAX_PIXELS" in at.error[0].value and "Traceback" not in at.error[0].value
    assert _latest(env["var"]).status == "failed"


def test_awkward_uploads_work_and_odd_names_are_stored_safely(env, corpus) -> None:
    at = _app()
    for entry_name, given in WORKING.items():
        _upload(at, (given, corpus[entry_name].path.read_bytes()))
        _run(at)
        job = _latest(env["var"])
        assert job.status == "done", (given, job.error)
        assert not at.error, [e.value for e in at.error]
        assert job.file_name == given  # shown as given
        stored = Path(job.stored_path)
        assert stored.parent.parent == env["var"] / "uploads" and stored.name.isascii() and " " not in stored.name
        assert Path(job.output_path).parent == env["var"] / "outputs" / job.id
        facts = at.table[0].value.to_string()
        assert given in facts
        assert any(b.proto.label.startswith("Download colorized COG") for b in at.get("download_button"))
    assert not list(env["var"].rglob("*.partial-*"))
    assert not [p for p in (env["var"] / "uploads").rglob("*") if not p.name.isascii()]
    table = _history(at)
    assert sorted(table["File"]) == sorted(shortened(name, FILE_CHARS) for name in WORKING.values())  # whole below
    assert set(table["Status"]) == {"done"}


def test_antimeridian_scene_map_keeps_longitudes_continuous(env, corpus) -> None:
    at = _app()
    _upload(at, ("antimeridian_4326.tif", corpus["antimeridian_4326.tif"].path.read_bytes()))
    _run(at)
    assert not at.error, [e.value for e in at.error]
    overlays = [json.loads(b) for b in OVERLAY.findall(_map_args(at)["script"])]
    assert len(overlays) == 3  # SAR, colorized, its SAR-detail rendering
    for (south, west), (north, east) in overlays:
        assert west == pytest.approx(179.9, abs=2e-3) and east == pytest.approx(180.1, abs=2e-3)
        assert south == pytest.approx(-16.1, abs=1e-3) and north == pytest.approx(-16.0, abs=1e-3)


def test_near_polar_scene_says_why_there_is_no_map(env, corpus) -> None:
    at = _app()
    _upload(at, ("near_polar_4326_lat89.tif", corpus["near_polar_4326_lat89.tif"].path.read_bytes()))
    _run(at)
    assert not at.error and not at.exception
    assert _latest(env["var"]).status == "done"
    assert any("beyond 85.05° north" in w.value for w in at.warning)
    assert not at.get("component_instance")
    assert len(at.get("image")) == 3  # the previews (SAR, colorized, SAR detail) still show the result


def test_max_upload_size_is_read_from_the_config_file(env) -> None:
    configured = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    at = _app()
    at.radio(key="source").set_value("Upload").run()
    assert at.file_uploader(key="sar_upload").proto.max_upload_size_mb == configured
    previous = streamlit.config.get_option("server.maxUploadSize")
    streamlit.config.set_option("server.maxUploadSize", 7)
    try:
        at.run()
        assert at.file_uploader(key="sar_upload").proto.max_upload_size_mb == 7
    finally:
        streamlit.config.set_option("server.maxUploadSize", previous)


def test_extra_jobs_queue_with_their_position_shown(env, corpus, monkeypatch) -> None:
    monkeypatch.setenv("SARCOLOR_MAX_CONCURRENT_JOBS", "1")
    import core.service.runner
    from dashboard import ui

    gate, real = threading.Event(), core.service.runner.colorize

    def gated(*args, **kwargs):
        gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.service.runner, "colorize", gated)
    at = _app()  # the app's own store and runner (SARCOLOR_VAR_DIR of this test)
    runner, store = ui.runner(), ui.store()
    assert runner.limits.max_concurrent_jobs == 1
    model = ui.load_model(env["models"] / "default.pt")
    jobs = [store.create(LOCAL, f"scene{i}.tif", corpus["three_by_three.tif"].path) for i in range(3)]
    try:
        for job in jobs:
            runner.submit(job, model, ColorizeOptions(tile=64, overlap=0))
        deadline = time.monotonic() + 30
        while store.get(jobs[0].id, LOCAL).status != "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        at.switch_page("views/history.py").run()
        status = dict(zip(at.dataframe[0].value["File"], at.dataframe[0].value["Status"], strict=True))
        assert status == {"scene0.tif": "running", "scene1.tif": "queued (position 1)",
                          "scene2.tif": "queued (position 2)"}
    finally:
        gate.set()
    assert all(runner.wait(job.id, 60) for job in jobs)
    assert {store.get(job.id, LOCAL).status for job in jobs} == {"done"}


def test_bad_limit_setting_is_a_clear_message(env, monkeypatch) -> None:
    monkeypatch.setenv("SARCOLOR_MAX_CONCURRENT_JOBS", "many")
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "SARCOLOR_MAX_CONCURRENT_JOBS must be a positive whole number" in at.error[0].value
