"""Issue 18 in the dashboard (AppTest): scores that cannot flatter, no server internals, facts an analyst reads."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import rasterio
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import _app, _run, _upload, env  # noqa: F401 (env is a fixture)

from core.samples import default_sample
from core.scoring.scores import ImageScores, ReferenceScores
from core.service.jobs import Job, JobStore
from core.service.users import LOCAL
from dashboard.results import UNGUIDED_COLOUR
from dashboard.ui import FILE_CHARS, shortened

GIVEN = "/home/analyst/My Scenes/Ems estuary σ0.tif"  # what the analyst's browser sends
LABELS = {"psnr": "PSNR vs reference", "ssim": "SSIM", "delta_e": "Mean-colour ΔE00",
          "pixel_delta_e": "Per-pixel ΔE00", "green_recall": "Green recall", "false_green": "False green"}  # fmt: skip


def _colorized_upload(at: AppTest) -> None:
    sample = default_sample()
    _upload(at, (GIVEN, sample.sar.read_bytes()), ("reference S2.tif", sample.optical.read_bytes()))
    _run(at)
    assert not at.error, [e.value for e in at.error]


def _latest(var: Path) -> Job:
    return JobStore(var).list(LOCAL)[0]


def _page_text(at: AppTest) -> str:
    """Everything a page shows as text: markdown, captions, messages, metrics, tables, tables' cells, widgets."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error", "success") for e in at.get(kind)]
    parts += [f"{m.label} {m.value} {m.proto.delta}" for m in at.metric]
    parts += [d.value.to_string() for d in at.dataframe] + [t.value.to_string() for t in at.table]
    parts += [str(w.label) for kind in ("selectbox", "toggle", "button", "download_button") for w in at.get(kind)]
    return "\n".join(parts)


def test_scores_are_stored_with_the_job_badged_against_both_colours_and_shown_in_history(env) -> None:  # noqa: F811
    at = _app()
    _colorized_upload(at)
    scores = _latest(env["var"]).reference_scores
    assert scores is not None and scores.reference_bands == "bands 1/2/3 of 3 (RGB)"
    metrics = {m.label: m for m in at.metric}
    for field, label in LABELS.items():
        assert (metrics[label].proto.color == Metric.MetricColor.GREEN) == scores.earned(field), label
    table = at.table[0].value  # a plain table: a long row name wraps
    assert list(table.index) == ["This model", "Reference's own mean colour (peeks at the reference)"]
    assert any("Reference read as bands 1/2/3 of 3 (RGB)" in c.value for c in at.caption)

    at.switch_page("views/history.py").run()
    history = at.dataframe[0].value
    psnr = history["PSNR vs reference"].iloc[0]
    assert psnr == f"{scores.model.psnr:.2f}" + (" ✓" if scores.earned("psnr") else "")  # unit in the header
    details = at.table[0].value  # the job's scores and single colours
    assert details["PSNR (dB)"].iloc[-1] == f"{scores.reference_mean.psnr:.2f} dB"
    assert any("(read as bands 1/2/3 of 3 (RGB))" in m.value for m in at.markdown)


def test_a_badge_is_green_only_when_the_model_beats_both_single_colours() -> None:
    def page(psnr: float) -> None:
        from core.scoring.scores import ImageScores, ReferenceScores
        from dashboard.results import show_scores

        def row(value: float) -> ImageScores:
            return ImageScores(value, 0.3, 10.0, 20.0, 0.5, 0.2)

        show_scores(ReferenceScores(row(psnr), row(17.0), row(12.0), 1.0, "B4/B3/B2 of 13"))

    colours = {}
    for psnr in (15.0, 18.0):  # beats the flat colour only (the old green "+3 dB vs flat colour"); beats both
        at = AppTest.from_function(page, args=(psnr,)).run()
        metric = next(m for m in at.metric if m.label == LABELS["psnr"])
        colours[psnr] = metric.proto.color
        assert "vs best single colour" in metric.proto.delta
    assert colours == {15.0: Metric.MetricColor.RED, 18.0: Metric.MetricColor.GREEN}


def test_no_server_internals_on_any_page_or_in_the_cog_tag(env) -> None:  # noqa: F811
    at = _app()
    _colorized_upload(at)
    job = _latest(env["var"])
    stored = Path(job.stored_path).name
    texts = {"colorize": _page_text(at)}
    at.switch_page("views/history.py").run()
    at.toggle(key=f"reopen-{job.id}").set_value(True).run()
    assert not at.exception
    texts["history"] = _page_text(at)
    for page in ("training", "models", "evaluation"):
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, page
        texts[page] = _page_text(at)
    for page, text in texts.items():
        for secret in (str(env["var"]), str(env["models"]), "jobs.sqlite", "uploads/", stored, "bands None"):
            assert secret not in text, (page, secret)
        given = text.replace(GIVEN, "").replace(shortened(GIVEN, FILE_CHARS), "")  # the analyst's own name for it
        assert not re.search(r"(?<![\w.])/(home|tmp|work|var|srv)/\w", given), page
    with rasterio.open(job.output_path) as cog:
        assert cog.tags()["SARCOLOR_SOURCE"].startswith("Ems estuary σ0.tif band VV")


def test_history_reopens_a_past_jobs_map(env) -> None:  # noqa: F811
    at = _app()
    _colorized_upload(at)
    job = _latest(env["var"])
    at.switch_page("views/history.py").run()
    assert not at.get("component_instance")
    at.toggle(key=f"reopen-{job.id}").set_value(True).run()
    maps = at.get("component_instance")
    assert len(maps) == 1 and "Colorized (synthetic)" in maps[0].proto.json_args


def test_scene_facts_give_bounds_to_5_decimals_and_pixels_in_metres(env) -> None:  # noqa: F811
    at = _app()
    _run(at)
    facts = next(t.value for t in at.table if "Value" in t.value.columns)
    facts = dict(zip(facts[""], facts["Value"], strict=True))
    assert facts["Pixel size"] == "10.00 × 10.00 m"
    assert re.fullmatch(r"([\d,]+\.\d{5}, ){3}[\d,]+\.\d{5} \(left, bottom, right, top, CRS units\)", facts["Bounds"])
    assert re.fullmatch(r"(-?\d+\.\d{5}, ){3}-?\d+\.\d{5}", facts["Bounds (lon/lat)"])
    assert facts["Colour"] == UNGUIDED_COLOUR  # unguided: says colour is a guess and how to get the real one


def test_a_history_from_before_scores_opens_and_gains_the_column(tmp_path) -> None:
    old = ", ".join(
        f"{name} TEXT" for name in ("id", "file_name", "stored_path", "status", "settings", "result", "created_at")
    )
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        db.execute(f"CREATE TABLE jobs ({old})")
        db.execute("INSERT INTO jobs (id, file_name, stored_path, status, settings, result, created_at) "
                   "VALUES ('a1', 'old.tif', '/x/old.tif', 'done', '{}', '{}', 1.0)")  # fmt: skip
    store = JobStore(tmp_path)
    assert store.get("a1", LOCAL).scores == {} and store.get("a1", LOCAL).reference_scores is None
    row = ImageScores(12.0, 0.2, 8.0, 15.0, 0.1, 0.05)
    store.update("a1", scores=ReferenceScores(row, row, None, 1.0, "bands 1/2/3 of 3").as_dict())
    assert store.get("a1", LOCAL).reference_scores.model == row
    JobStore(tmp_path)  # opening a migrated history again changes nothing
