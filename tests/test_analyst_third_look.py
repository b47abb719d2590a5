"""Issue 30, the analyst's third look: a stale result leaves the page, badges that do not flatter, the wall time,
and a History settings line without noise. AppTest on the real BigEarthNet sample with a small untrained model."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from PIL import Image
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest
from test_dashboard_pages import _app, _run, _upload, env  # noqa: F401 (the fixture)

from core.samples import default_sample
from core.scoring.scores import ImageScores, ReferenceScores
from dashboard import ui


def _scores(recall: float, false_green: float) -> ReferenceScores:
    """Scores of a result with this green recall and false green; the single colours as a real run gives them."""
    model = ImageScores(12.0, 0.30, 9.0, 21.0, recall, false_green)
    flat = ImageScores(13.0, 0.28, 12.0, 19.0, 0.0, 0.0)  # blue-grey: green nowhere
    return ReferenceScores(model, ImageScores(14.0, 0.31, 0.0, 15.0, 1.0, 1.0), flat, 1.0, "bands 1/2/3 of 3 (RGB)")


def test_green_recall_is_judged_against_chance_not_a_single_colour():
    flattering = _scores(recall=0.01, false_green=0.02)  # issue 30: was a green "+1 % vs best single colour"
    assert flattering.comparison("green_recall") == 0.02 and not flattering.earned("green_recall")
    assert math.isnan(flattering.comparison("false_green")) and not flattering.earned("false_green")
    informative = _scores(recall=0.60, false_green=0.10)
    assert informative.earned("green_recall")
    assert informative.comparison("psnr") == 14.0 and not informative.earned("psnr")  # the others unchanged


def _badges(scores: ReferenceScores) -> dict[str, Metric]:
    def page(scores) -> None:
        from dashboard.results import show_scores

        show_scores(scores)

    at = AppTest.from_function(page, kwargs={"scores": scores}, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return {m.label: m.proto for m in at.metric}


@pytest.mark.parametrize(("recall", "false_green", "colour"), [(0.01, 0.02, "red"), (0.6, 0.1, "green")])
def test_badges_say_what_the_score_is_compared_with_and_are_green_only_when_earned(recall, false_green, colour):
    badges = _badges(_scores(recall, false_green))
    assert len(badges) == 6
    recall_badge = badges["Green recall"]
    assert recall_badge.delta.endswith("vs chance (its false green)") and "−89" not in recall_badge.delta
    assert recall_badge.color == getattr(Metric.MetricColor, colour.upper())
    assert not badges["False green"].delta  # no yardstick: no badge at all
    assert badges["PSNR vs reference"].color == Metric.MetricColor.RED  # 12 dB against the 14 dB of a colour
    assert badges["PSNR vs reference"].delta == "-2.00 dB vs best single colour"


def test_badges_three_to_a_row_so_none_is_cut():
    def page() -> None:
        from test_analyst_third_look import _scores

        from dashboard.results import show_scores

        show_scores(_scores(0.3, 0.1))

    at = AppTest.from_function(page, default_timeout=60).run()
    rows = [block for block in at.main.children.values() if getattr(block, "type", "") == "flex_container"]
    assert [len(row.children) for row in rows] == [3, 3]


def test_a_new_input_clears_the_last_result_and_its_error(env):  # noqa: F811
    at = _app()
    _run(at)
    assert at.metric and at.get("component_instance")
    assert f"Result: {ui.plain(default_sample().sar.name)}" in [m.value.lstrip("# ") for m in at.markdown]
    wall = next(m for m in at.metric if m.label == "Wall time")
    assert "Colorizing itself" in wall.proto.help
    with open(default_sample().optical, "rb") as optical:  # a new file: an optical image, refused
        _upload(at, ("new scene.tif", optical.read()))
    assert not at.metric and not at.get("component_instance") and not at.get("download_button")
    assert any("previous scene" in c.value and "History" in c.value for c in at.caption)
    _run(at)
    (refusal,) = [e.value for e in at.error]
    assert "new scene.tif" in refusal and "optical" in refusal
    with open(default_sample().sar, "rb") as sar:
        at.file_uploader(key="sar_upload").set_value(("another.tif", sar.read(), "image/tiff")).run()
    assert not at.error and not at.metric  # the refusal of the last file left with it


def test_settings_line_without_automatic_noise():
    settings = {"band": "VV", "polarisation": "auto", "encoding": "auto", "tile": 256, "overlap": 32, "batch": 4,
                "device": "auto", "precision": "auto", "guide": None, "reference_bands": [4, 3, 2]}  # fmt: skip
    text = ui.settings_text(settings)
    assert text == "polarisation **VV** · tile **256 px** · overlap **32 px** · batch **4** · " \
        "reference bands (red/green/blue) **4/3/2**"
    assert "auto" not in text and "band VV" not in text


def test_spread_labels_keep_close_points_apart():
    from dashboard.labels import spread_labels

    xs, ys = [0.01, 0.02, 0.03, 0.6, 0.04], [0.0, 0.01, 0.0, 0.0, 0.5]
    placed = spread_labels(xs, ys, x_near=0.3, gap=0.05)
    near = sorted(placed[i] for i in (0, 1, 2))
    assert all(b - a >= 0.05 - 1e-9 for a, b in itertools.pairwise(near))  # stacked, not on one another
    assert placed[3] == 0.0 and placed[4] == 0.5  # far from the others: left where they are


def test_evaluation_examples_one_picture_captioned_by_its_columns_and_charts_within_the_column(env):  # noqa: F811
    from test_dashboard_pages import _write_evaluation

    from core.records.artefacts import ModelsFolder

    _write_evaluation(env["models"])
    folder = ModelsFolder(env["models"]).eval
    picture = np.zeros((640, 800, 3), np.uint8)
    for name in ("guided.png", "default_val.png", "lab_ab_val.png"):
        Image.fromarray(picture).save(folder.path / name)
    at = _app()
    at.switch_page("views/evaluation.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("image")) == 1  # one picture at a time (all at once was 45,000 px)
    at.selectbox(key="eval_grid").set_value(folder.path / "guided.png").run()
    (caption,) = [i.proto.imgs[0].caption for i in at.get("image")]
    assert caption == "guided.png: SAR | reference of another date | guided | default | truth"
    at.selectbox(key="eval_grid").set_value(folder.path / "lab_ab_val.png").run()
    assert at.get("image")[0].proto.imgs[0].caption == "lab_ab_val.png: SAR | prediction | truth"
    per_image = next(c for c in at.get("vega_lite_chart") if '"boxplot"' in c.proto.spec)
    spec = json.loads(per_image.proto.spec)
    assert "row" in spec["facet"] and spec["spec"]["width"] <= 600  # sets stacked: within a 810 px column


def test_recall_chart_labels_do_not_overlap(env):  # noqa: F811
    from test_dashboard_pages import _chart_rows, _write_evaluation

    _write_evaluation(env["models"])
    at = _app()
    at.switch_page("views/evaluation.py").run()
    chart = next(c for c in at.get("vega_lite_chart") if "label_y" in c.proto.spec and "false_green" in c.proto.spec)
    rows = _chart_rows(chart)
    for (_, a), (_, b) in itertools.combinations(rows.iterrows(), 2):
        assert abs(a["false_green"] - b["false_green"]) >= 0.3 or abs(a["label_y"] - b["label_y"]) >= 0.045 - 1e-9


def test_models_page_speaks_to_an_analyst_and_lists_the_default_once(env):  # noqa: F811
    """No raw dicts, module names, paths or literal None on a card; the default alias is one model, named."""
    from test_dashboard_pages import _write_evaluation

    models = env["models"]
    (models / "default.pt").rename(models / "tiny.pt")
    (models / "default.pt").symlink_to("tiny.pt")
    (models / "tiny.md").write_text(
        "# Model card: `tiny`\n\nA tiny generator for UI tests.\n\n- **Data**: `../shared/data/manifest.csv` train"
        "\n- **Target footing** (`training.data.TargetFooting`): {'volkov': {'haze': [0.1, 0.2, 0.3]}}\n"
    )
    _write_evaluation(models)
    at = _app()
    assert at.selectbox(key="model").options == ["tiny (default)"]  # not "default" and "tiny", as if two models
    at.switch_page("views/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join([m.value for m in at.markdown] + [t.value.to_string() for t in at.table])
    for raw in ("{'", "manifest.csv", "training.", "core.", "baseline_", "None", "`"):
        assert raw not in shown, raw
    assert "A tiny generator for UI tests." in shown and "U-Net" in shown
    assert [e.label for e in at.expander] == ["tiny · default"]
    assert list(at.table[0].value["Model"]) == ["tiny (default)"]


def test_training_legends_read_as_names_even_for_one_line_and_the_validation_tables_fit(env):  # noqa: F811
    from core.records.artefacts import JsonLinesLog, ModelsFolder, epoch_record, step_record
    from core.records.reports import series_name

    log = JsonLinesLog(ModelsFolder(env["models"]).training_log("default"))
    for step in range(1, 41):  # one loss, as the default's lab_l1 log has: st.line_chart drew it without a legend
        log.write(step_record(step, step // 20, step * 1.0, {"g_lab_l1": 1 / step}, 2e-4, 0.0, 5.0))
        if step % 20 == 0:
            val = {"bigearthnet": {"psnr": 12.0, "ssim": 0.2}, "sen12-accioy": {"psnr": 11.0, "ssim": 0.25}}
            log.write(epoch_record(step // 20, step, step * 1.0, val))
    at = _app()
    at.switch_page("views/training.py").run()
    assert not at.exception, [e.value for e in at.exception]
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    legends = [s["encoding"]["color"] for s in specs if "color" in s.get("encoding", {})]
    assert legends and all(c["legend"]["orient"] == "bottom" for c in legends)
    plotted = " ".join(c.proto.spec + str(_plotted(c)) for c in at.get("vega_lite_chart"))
    assert "L1 (CIELAB)" in plotted and "val_psnr" not in plotted and "g_lab_l1" not in plotted
    tables = [d.value for d in at.dataframe]
    assert [list(t.columns) for t in tables] == [["mean of all sets", "bigearthnet", "sen12-accioy"]] * 2
    assert series_name("val_psnr_sen12-accioy") == "sen12-accioy" and series_name("d_fake") == "on generated images"


def _plotted(chart) -> list:
    from test_dashboard_pages import _chart_rows

    return sorted(set(_chart_rows(chart).get("series", [])))
