"""AppTest of every dashboard page, on the real BigEarthNet sample and a small untrained checkpoint.

Training/evaluation files here are small synthetic stand-ins written to a temporary models
folder (UI test data only; nothing is written to models/).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import rasterio
from PIL import Image
from rasterio.warp import transform_bounds
from scenes import S2_L2A_ORDER, sentinel2_stack
from streamlit.testing.v1 import AppTest

from core.colour.sar_detail import RENDERING_TAG
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.records.artefacts import JsonLinesLog, ModelsFolder, RunFolder, config_record, epoch_record, step_record
from core.records.reports import CEILINGS, FLOOD_L_ERROR_BAR, FLOOD_SET_REFERENCES, display_name
from core.samples import build_samples, default_sample
from core.service.jobs import JobStore
from core.service.users import LOCAL
from dashboard.assets import VENDOR_DIR
from dashboard.results import DUAL_POL, SAR_DETAIL_LAYER
from training.evaluate import FLAT, ORACLE, summarise

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
OVERLAY = re.compile(r'L\.imageOverlay\(\s*"data:image/png;base64,[A-Za-z0-9+/=]+",\s*(\[\[[^\]]*\],\s*\[[^\]]*\]\])')


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict[str, Path]:
    """A models dir holding a tiny untrained checkpoint and card, and an empty var dir."""
    models, var = tmp_path / "models", tmp_path / "var"
    save_checkpoint(models / "default.pt", untrained_model(GeneratorConfig(ngf=8)).generator)
    (models / "default.md").write_text("# default\n\nTiny untrained generator for UI tests.\n")
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(models))
    monkeypatch.setenv("SARCOLOR_VAR_DIR", str(var))
    monkeypatch.setenv("SARCOLOR_RUNS_DIR", str(tmp_path / "runs"))
    return {"models": models, "var": var, "runs": tmp_path / "runs"}


def _app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at: AppTest, sar: tuple[str, bytes], reference: tuple[str, bytes] | None = None) -> None:
    at.radio(key="source").set_value("Upload").run()
    at.file_uploader(key="sar_upload").set_value((*sar, "image/tiff")).run()
    if reference:
        slot = next(u for u in at.file_uploader if (u.key or "").startswith("ref_upload"))  # one slot per scene
        slot.set_value((*reference, "image/tiff")).run()


def _run(at: AppTest) -> None:
    at.button(key="run").click().run()
    assert not at.exception, [e.value for e in at.exception]


def _map_args(at: AppTest) -> dict:
    components = at.get("component_instance")
    assert len(components) == 1, "expected one st_folium map"
    return json.loads(components[0].proto.json_args)


def test_sample_run_shows_result_downloads_and_history(env):
    at = _app()
    _run(at)
    assert not at.error, [e.value for e in at.error]
    assert {m.label for m in at.metric} >= {"Scene", "Wall time", "Tiles", "PSNR vs reference", "Mean-colour ΔE00"}
    assert any("synthetic" in c.value for c in at.caption)
    assert at.metric[0].value == "120 × 120 px"
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Download colorized COG") for label in labels)
    assert "Download PNG quicklook" in labels
    facts = next(t.value for t in at.table if "Value" in t.value.columns)  # the scene facts, beside the scores
    assert "EPSG:32633" in facts.to_string() and "db (detected)" in facts.to_string()

    at.switch_page("views/history.py").run()
    assert not at.exception
    history = at.dataframe[0].value
    assert list(history["File"]) == [default_sample().sar.name]
    assert "done" in history["Status"].iloc[0]


def test_uploaded_scene_map_has_layers_with_epsg4326_bounds(env):
    sample = default_sample()
    at = _app()
    _upload(at, (sample.sar.name, sample.sar.read_bytes()), (sample.optical.name, sample.optical.read_bytes()))
    _run(at)
    assert not at.error, [e.value for e in at.error]
    args = _map_args(at)
    assert args["js_links"] == ["/app/static/vendor/leaflet.js"]  # served by the app, no CDN
    assert args["css_links"] == ["/app/static/vendor/leaflet.css"]
    assert (VENDOR_DIR / "leaflet.js").stat().st_size > 100_000
    assert args["returned_objects"] == []
    for name in ("SAR", "Colorized (synthetic)", SAR_DETAIL_LAYER, DUAL_POL, "Reference optical"):
        assert f'"{name}"' in args["script"]
    overlays = [json.loads(b) for b in OVERLAY.findall(args["script"])]
    assert len(overlays) == 5  # the sample brings VV and VH: the dual-pol false colour too
    with rasterio.open(sample.sar) as src:
        west, south, east, north = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    for (s, w), (n, e) in overlays:
        assert (s, w, n, e) == pytest.approx((south, west, north, east), abs=2e-4)  # within ~1 pixel (10 m)
    script = args["script"]
    assert '"collapsed": true' in script and "sarcolor-coordinates" in script  # layer list tucked away, readout
    assert "fitBounds" in script and "invalidateSize" in script  # opens on the scene once the frame has a size
    assert not any("Drag the slider" in c.value for c in at.caption)  # no swipe hint while swipe is off
    job = JobStore(env["var"]).list(LOCAL)[0]
    assert job.status == "done" and job.file_name == sample.sar.name and job.crs == "EPSG:32633"
    assert Path(job.stored_path).parent.parent == env["var"] / "uploads"  # in its upload's own folder
    with rasterio.open(job.output_path) as cog:
        assert cog.crs.to_epsg() == 32633 and cog.count == 4


def test_result_offers_the_sar_detail_rendering_as_a_layer_and_a_download(env):
    """One run gives both layers: the plain colours and the SAR-detail rendering (GIHS) of the same job."""
    at = _app()
    _run(at)
    assert not at.error, [e.value for e in at.error]
    script = _map_args(at)["script"]
    assert f'"{SAR_DETAIL_LAYER}"' in script and '"Colorized (synthetic)"' in script
    assert any(b.proto.label == "Download SAR-detail COG (GIHS)" for b in at.get("download_button"))
    job = JobStore(env["var"]).list(LOCAL)[0]
    beside = sorted(Path(job.output_path).parent.glob("*_sar_detail.tif"))
    assert len(beside) == 1
    with rasterio.open(beside[0]) as rendered, rasterio.open(job.output_path) as plain:
        assert rendered.tags()[RENDERING_TAG].startswith("sar-detail")
        assert (rendered.read(4) == plain.read(4)).all()  # same pixels valid
        assert np.abs(rendered.read([1, 2, 3]).astype(int) - plain.read([1, 2, 3])).mean() > 2  # the SAR's detail


def test_swipe_adds_divider_control(env):
    at = _app()
    _run(at)
    at.selectbox(key=f"swipe-left-{JobStore(env['var']).list(LOCAL)[0].id}").set_value("SAR").run()
    script = _map_args(at)["script"]
    assert "sarcolor-swipe" in script and "clipPath" in script
    assert any("Drag the slider" in c.value for c in at.caption)


def test_bad_upload_shows_error_and_history_says_failed(env):
    at = _app()
    _upload(at, ("../../etc/scene.tif", b"this is not a GeoTIFF"))
    _run(at)
    assert len(at.error) == 1
    message = at.error[0].value
    assert "could not be colorized" in message and "not a readable raster" in message
    assert "Traceback" not in message
    assert not at.get("component_instance")
    job = JobStore(env["var"]).list(LOCAL)[0]
    assert job.status == "failed" and "not a readable raster" in job.error
    assert job.file_name == "../../etc/scene.tif"  # shown as given, stored under a safe name
    assert Path(job.stored_path).parent.parent == env["var"] / "uploads"  # in its upload's own folder
    assert not list((env["var"] / "outputs").rglob("*.tif"))

    at.switch_page("views/history.py").run()
    assert "failed" in at.dataframe[0].value["Status"].iloc[0]
    assert any("not a readable raster" in e.value for e in at.error)


def test_no_checkpoint_says_so(env, tmp_path, monkeypatch):
    monkeypatch.setenv("SARCOLOR_MODELS_DIR", str(tmp_path / "empty"))
    at = _app()
    warning = next(w.value for w in at.warning if "No trained model found" in w.value)
    assert str(tmp_path) not in warning  # no server folder shown to the analyst
    assert at.button(key="run").disabled


def test_history_delete_removes_job_and_files(env):
    at = _app()
    _run(at)
    job = JobStore(env["var"]).list(LOCAL)[0]
    assert Path(job.output_path).is_file()
    at.switch_page("views/history.py").run()
    at.button(key=f"delete-{job.id}").click().run()
    assert JobStore(env["var"]).list(LOCAL) == []
    assert not Path(job.output_path).exists()
    assert default_sample().sar.is_file()  # built-in inputs are never deleted


def _write_training_log(path: Path) -> None:
    """A small log written as the training loop writes it, ending in a line still being written."""
    log = JsonLinesLog(path)
    log.write(config_record({"steps": 29, "batch": 4}, {}, world_size=1, bf16=False))
    for s in range(1, 30):
        losses = {"g_adv": 0.7, "g_l1": 1 / s, "d_real": 0.5, "d_fake": 0.4}
        log.write(step_record(s, s / 10, s * 1.0, losses, lr_g=2e-4, lr_d=None, images_per_s=5.0))
    log.write(epoch_record(2, 29, 29.0, {"sen12": {"psnr": 12.0, "ssim": 0.2}, "volkov": {"psnr": 13.0, "ssim": 0.22}}))
    with open(path, "a") as handle:
        handle.write("{truncated line")


def test_training_page(env):
    at = _app()
    at.switch_page("views/training.py").run()
    assert any("No training log yet" in i.value for i in at.info)
    _write_training_log(ModelsFolder(env["models"]).training_log("default"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label: m.value for m in at.metric}["Best val PSNR"] == "12.50 dB"
    charts = at.get("vega_lite_chart")
    assert len(charts) >= 5
    assert any('"tickMinStep":1' in c.proto.spec.replace(" ", "") for c in charts)  # whole-number epochs
    run_log = RunFolder(env["runs"] / "lab_trial").train_log
    run_log.parent.mkdir(parents=True)
    _write_training_log(run_log)  # a run still writing its log
    at.run()
    label = "run: lab_trial (in progress)"
    assert label in at.selectbox(key="train_model").options
    at.selectbox(key="train_model").set_value(label).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("refresh every 10 s" in c.value for c in at.caption)


def _write_evaluation(models: Path, splits: tuple[str, ...] = ("val",), source: str = "sen12") -> None:
    """Per-image rows and a summary in the shapes training.evaluate writes (made by its own summarise()); an
    "ombria" source gets flood-site scores too."""
    folder = ModelsFolder(models).eval
    folder.path.mkdir()
    rows = []
    for split in splits:
        for model, offset in (("default", 1.5), (FLAT, 0.0), (ORACLE, 2.0)):
            for i in range(20):
                rows.append(
                    {"model": model, "split": split, "source": source, "group": "urban" if i % 2 else "forest",
                     "pair_id": f"p{i}", "psnr": 12 + offset + i / 10, "ssim": 0.2, "delta_e": 10 - offset,
                     "chroma_pred": 0.02 * offset, "chroma_true": 0.05, "pixel_delta_e": 20 - offset,
                     "green_recall": 0.5 + offset / 10, "false_green": 0.1, "green_px": 100,
                     "green_hit_px": 50 + 10 * offset, "other_px": 100, "other_green_px": 10}
                    | ({"green_auc": 0.5 + offset / 10, "flood_px": 50, "flood_l_error": 20 - 2 * offset,
                        "flood_l_bias": 3.0, "flood_contrast_pred": 5.0, "flood_contrast_true": 9.0}
                       if source == "ombria" else {})
                )
    summary = {"models": summarise(rows), "lpips": "unavailable: no backbone weights on disk"}
    folder.summary.write_text(json.dumps(summary))
    with open(folder.per_image, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _chart_rows(chart) -> pd.DataFrame:
    """The rows an Altair chart plots (its named dataset, Arrow IPC)."""
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()


def test_evaluation_page(env):
    at = _app()
    at.switch_page("views/evaluation.py").run()
    assert any("No evaluation results yet" in i.value for i in at.info)
    _write_evaluation(env["models"])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.table[0].value  # a plain table: long names wrap
    assert list(board["Model"]) == [display_name(ORACLE), "default", display_name(FLAT)]  # best first
    assert board.set_index("Model").loc["default", "vs flat (dB), 95 % CI"].startswith("+1.50\u00a0[")
    pixel_colour = board.set_index("Model").loc["default", ["ΔE00 px", "Green recall", "False green"]]
    assert list(pixel_colour) == pytest.approx([18.5, 0.65, 0.1])  # beside the baselines, pooled over pixels
    charts = [chart.proto.spec for chart in at.get("vega_lite_chart")]
    assert any("green_recall" in spec and "false_green" in spec for spec in charts)
    table = at.dataframe[0].value  # the per-image table: one model on one set at a time
    assert len(table) == 20 and set(table["image"]) == {f"p{i}" for i in range(20)}
    assert not any("Grey diamonds" in c.value for c in at.caption)  # no ceiling measured yet
    ceiling = {"green_share": 0.6, "auc": 0.46, "false_green_at_recall": 0.52}
    measured = {"sar": ceiling, "network_in_scene": None, "sar_and_truth_lightness": ceiling | {"auc": 0.75}}
    ModelsFolder(env["models"]).eval.green_ceiling.write_text(json.dumps({"sen12": measured, "other": {}}))
    at.run()
    chart = next(c for c in at.get("vega_lite_chart") if "diamond" in c.proto.spec)
    plotted = pd.concat(pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets)
    assert {CEILINGS["sar"], CEILINGS["sar_and_truth_lightness"]} <= set(plotted["model"])
    assert any("Grey diamonds" in c.value for c in at.caption)
    assert any("no backbone weights" in c.value for c in at.caption)
    assert any("oracle flat" in c.value for c in at.caption)


def test_evaluation_shows_flood_sites_against_their_bars_and_what_vv_can_tell(env):
    _write_evaluation(env["models"], source="ombria")
    at = _app()
    at.switch_page("views/evaluation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    flood_charts = [c for c in at.get("vega_lite_chart") if "flood_l_error" in c.proto.spec]
    assert len(flood_charts) == 1 and any(s.value == "Flood sites" for s in at.subheader)
    plotted = pd.concat(pa.ipc.open_stream(d.data.data).read_pandas() for d in flood_charts[0].proto.datasets)
    assert plotted.set_index("name").loc["default", "flood_l_error"] == pytest.approx(17.0)
    assert FLOOD_L_ERROR_BAR in set(plotted["flood_l_error"])  # the bar's rule
    study = {"green_auc": {"sar": 0.64, "sar_and_truth_lightness": 0.70},
             "flood": {"sar": {"l_error": 18.3}, "site_median_oracle": {"l_error": 7.8}}}  # fmt: skip
    ModelsFolder(env["models"]).eval.ombria_ceiling.write_text(json.dumps(study))
    at.run()
    chart = next(c for c in at.get("vega_lite_chart") if '"field":"green_auc"' in c.proto.spec.replace(" ", ""))
    plotted = pd.concat(pa.ipc.open_stream(d.data.data).read_pandas() for d in chart.proto.datasets)
    references = {FLOOD_SET_REFERENCES["sar"], FLOOD_SET_REFERENCES["sar_and_truth_lightness"]}
    assert references | {"default"} <= set(plotted["name"])
    assert any("What VV can tell" in c.value for c in at.caption)


def test_evaluation_opens_on_the_test_set_with_whole_readable_names(env):
    """No flattering default set; no cut axis labels ('baseline_flat_col…'); a Model / Baseline legend."""
    _write_evaluation(env["models"], ("val", "test"))
    at = _app()
    at.switch_page("views/evaluation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="eval_set").value == "test/sen12"
    board = at.get("vega_lite_chart")[0]
    layers = json.loads(board.proto.spec)["layer"]
    assert all(layer["encoding"]["y"]["axis"]["labelLimit"] == 0 for layer in layers)  # names never cut
    assert [layer["encoding"]["color"] for layer in layers if "color" in layer["encoding"]] == [
        {"field": "kind", "title": None, "type": "nominal"}
    ]
    plotted = _chart_rows(board)
    assert set(plotted["kind"]) == {"Model", "Baseline"}
    assert set(plotted["model"]) == {"default", "flat training colour", "oracle flat colour (peeks at truth)"}
    assert set(plotted["set"]) == {"test/sen12"}


def test_models_page(env):
    at = _app()
    at.switch_page("views/models.py").run()
    assert not at.exception
    assert any("Tiny untrained generator" in m.value for m in at.markdown)
    (env["models"] / "broken.pt").write_bytes(b"not a checkpoint")
    at.run()
    assert any("broken.pt" in e.value for e in at.error)
    models = env["models"]
    (models / "default.pt").rename(models / "tiny.pt")
    (models / "default.md").rename(models / "tiny.md")
    (models / "default.pt").symlink_to("tiny.pt")  # the default is an alias: one card, marked
    at.run()
    labels = [e.label for e in at.expander]
    assert labels.count("tiny · default") == 1 and not any(label.startswith("default") for label in labels)
    assert not any(m.value.startswith("# ") for m in at.markdown)  # card headings demoted


def test_models_page_is_a_summary_table_first_with_details_folded(env):
    """One row per model with its headline scores; cards in closed expanders; no raw metadata dump."""
    _write_evaluation(env["models"], ("val", "test"))
    save_checkpoint(env["models"] / "other.pt", untrained_model(GeneratorConfig(ngf=4, depth=5)).generator)
    at = _app()
    at.switch_page("views/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    first = next(e for e in at.main.children.values() if e.type not in ("title", "markdown"))
    assert first.type == "table"
    table = at.table[0].value.set_index("Model")
    assert list(table.index) == ["default", "other"]  # an alias default would read "x (default)"
    assert {"Variant", "Parameters"} <= set(table.columns)
    assert table.loc["default", "sen12 (test)"] == "14.45" and table.loc["default", "sen12"] == "14.45"
    assert table.loc["other", "sen12 (test)"] == "–"  # not scored: never a literal None
    assert [(e.label, e.proto.expanded) for e in at.expander] == [("default · default", False), ("other", False)]
    assert not at.json and not any("{'" in m.value or '{"' in m.value for m in at.markdown)


def test_png_without_georeference_gives_previews_but_no_map(env):
    with rasterio.open(default_sample().sar) as src:
        db = src.read(1)
    grey = np.clip((db + 25) / 25 * 255, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    at = _app()
    _upload(at, ("scene.png", buffer.getvalue()))
    _run(at)
    assert not at.error, [e.value for e in at.error]
    assert any("no georeference" in w.value for w in at.warning)
    assert not at.get("component_instance")
    assert any("no georeference, so there is no map" in i.value for i in at.info)
    assert len(at.get("image")) == 3  # SAR | colorized | SAR-detail rendering previews
    assert any(b.proto.label.startswith("Download colorized COG") for b in at.get("download_button"))


def test_too_large_scene_is_refused_with_the_limit(env, monkeypatch):
    monkeypatch.setenv("SARCOLOR_MAX_PIXELS", "1000")
    at = _app()
    _run(at)
    assert len(at.error) == 1 and "SARCOLOR_MAX_PIXELS" in at.error[0].value
    assert JobStore(env["var"]).list(LOCAL)[0].status == "failed"


def test_multiband_reference_and_a_new_scene_clears_it(env, tmp_path):
    sample = default_sample()
    sar = (sample.sar.name, sample.sar.read_bytes())
    stack = sentinel2_stack(tmp_path / "s2_l2a_12band.tif", S2_L2A_ORDER, described=False)
    at = _app()
    _upload(at, sar, ("s2_l2a_12band.tif", stack.read_bytes()))
    assert not at.warning, [w.value for w in at.warning]  # B4/B3/B2 found by the Sentinel-2 stack order
    _run(at)
    assert "PSNR vs reference" in {m.label for m in at.metric}
    five = sentinel2_stack(tmp_path / "five.tif", S2_L2A_ORDER[:5], described=False)
    at = _app()
    _upload(at, sar, ("five.tif", five.read_bytes()))
    assert any("choose which" in w.value and "five.tif" in w.value for w in at.warning)
    assert [n.value for n in at.number_input] == [4, 3, 2]
    _run(at)
    assert "PSNR vs reference" in {m.label for m in at.metric}
    other = ("other.tif", build_samples()[1].sar.read_bytes())
    at.file_uploader(key="sar_upload").set_value((*other, "image/tiff")).run()
    slot = next(u for u in at.file_uploader if (u.key or "").startswith("ref_upload"))
    assert not slot.value  # the reference of the last scene is not attached to this one
