"""Evaluation page: every model against the flat-colour baselines, per set, with intervals and pictures."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.records.artefacts import ModelsFolder
from core.records.reports import (
    FLOOD_L_ERROR_BAR,
    GREEN_AUC_BAR,
    PIXEL_COLOUR,
    ceiling_points,
    display_name,
    flood_set_rows,
    read_per_image,
    read_summary,
    scoreboard,
)
from core.settings import models_dir
from dashboard.labels import spread_labels, text_width

METRICS = {
    "psnr": ("PSNR (dB)", "%.2f"),
    "ssim": ("SSIM", "%.3f"),
    "delta_e": ("Mean-colour ΔE00", "%.1f"),
    "pixel_delta_e": ("Per-pixel ΔE00", "%.1f"),
    "green_recall": ("Green recall", "%.2f"),
    "false_green": ("False green", "%.2f"),
}
SHORT = {"delta_e": "ΔE00 mean", "pixel_delta_e": "ΔE00 px"}  # headers of narrow table columns
KIND = {True: "Baseline", False: "Model"}  # the chart legend: what a point is
LABEL_GAP, LABEL_NEAR = 0.045, 0.3  # recall chart: a label's height and width, in recall / false-green units
WHOLE_NAMES = alt.Axis(labelLimit=0)  # model names are never cut short


def readable(rows: pd.DataFrame) -> pd.DataFrame:
    """Scoreboard rows with baselines named for what they paint and a Model / Baseline kind."""
    return rows.assign(model=rows["model"].map(display_name), kind=rows["baseline"].map(KIND))


def test_first(sets: list[str]) -> list[str]:
    """The sets in order, the test set (the final report, scored once) first: the page opens on it."""
    return sorted(sets, key=lambda name: (not name.startswith("test"), name))


def with_interval(value: float, low: float, high: float, form: str) -> str:
    """'+2.45 [+1.81, +3.19]': a score and its 95 % interval in one cell ('–' where undefined), never broken across
    lines (no-break spaces)."""
    return "–" if pd.isna(value) else f"{form % value}\u00a0[{form % low},\u00a0{form % high}]"


def flood_charts(rows: pd.DataFrame) -> None:
    """Flooded pixels' L* error and green ranking AUC, one dot per model, baseline or study reference, each against
    its bar (a dashed rule), one chart under the other so that long names leave the dots room."""
    for metric, bar, title in (
        ("flood_l_error", FLOOD_L_ERROR_BAR, "flooded pixels: mean |L* error| (lower is better)"),
        ("green_auc", GREEN_AUC_BAR, "green ranking AUC of -a* (0.5 = chance; higher is better)"),
    ):
        shown = rows.dropna(subset=[metric])
        dots = alt.Chart(shown).mark_point(filled=True, size=80).encode(
            alt.X(f"{metric}:Q", title=title, scale=alt.Scale(zero=False)),
            alt.Y("name:N", sort=alt.EncodingSortField(metric), title=None, axis=WHOLE_NAMES),
            alt.Color("kind:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=["name", alt.Tooltip(f"{metric}:Q", format=".2f")],
        )
        rule = alt.Chart(pd.DataFrame({metric: [bar]})).mark_rule(color="black", strokeDash=[4, 3]).encode(
            alt.X(f"{metric}:Q")
        )
        st.altair_chart((dots + rule).properties(height=40 + 22 * len(shown)), width="stretch")


def board_table(rows: pd.DataFrame) -> None:
    """The scoreboard's numbers as a plain table, whose cells wrap rather than hide a long name at 1280 px: the gain
    over the flat colour with its interval in one cell; the other intervals are the charts' error bars."""
    rows = rows.assign(gain_ci=[with_interval(*r, "%+.2f") for r in rows[["gain_vs_flat", "gain_low", "gain_high"]]
                                .itertuples(index=False)])  # fmt: skip
    shown = rows[["model", "n", "psnr", "gain_ci", "ssim", "delta_e", "chroma_ratio", *PIXEL_COLOUR]]
    headers = {"model": "Model", "psnr": "PSNR (dB)", "gain_ci": "vs flat (dB), 95 % CI", "ssim": "SSIM",
               "delta_e": "ΔE00", "chroma_ratio": "chroma", "pixel_delta_e": "ΔE00 px", "green_recall": "Green recall",
               "false_green": "False green"}  # fmt: skip
    forms = {"psnr": "{:.2f}", "ssim": "{:.3f}", "delta_e": "{:.1f}", "chroma_ratio": "{:.2f}",
             "pixel_delta_e": "{:.1f}", "green_recall": "{:.2f}", "false_green": "{:.2f}"}  # fmt: skip
    named = shown.rename(columns=headers)
    styled = named.style.format({headers[column]: form for column, form in forms.items()}, na_rep="–")
    st.table(styled, hide_index=True, border="horizontal")


st.title("Evaluation")
folder = ModelsFolder(models_dir()).eval
summary = read_summary(folder)
per_image = pd.DataFrame(read_per_image(folder))
grids, sheets = folder.grids(), folder.contact_sheets()
if summary is None and per_image.empty and not grids:
    st.info(
        f"No evaluation results yet: expected `{folder.summary.name}`, `{folder.per_image.name}` and sample grids "
        f"in `{folder.path.parent.name}/{folder.path.name}` (written by `python -m training.evaluate`)."
    )
    st.stop()

st.caption(
    "Each image goes through the product pipeline and is scored against its optical truth. "
    "**Flat colour** paints every pixel the mean training colour; **oracle flat** paints each image its own "
    "true mean colour (the best any single colour can do). A model that does not beat the flat colour is a wash. "
    "ΔE00: distance between predicted and true mean colour (lower is better; > 10 is a clearly different colour). "
    "Chroma ratio: colour variation inside the image, prediction over truth (a wash is near 0, 1 is right). "
    "Per-pixel ΔE00: the same distance pixel by pixel, averaged. Green recall: share of the truth's green pixels "
    "the model paints green; false green: share of the other pixels it paints green (both pooled over the set's "
    "pixels; – where a set was scored before these existed)."
)
board = pd.DataFrame(scoreboard(summary or {}))
tab_board, tab_dist, tab_table, tab_examples = st.tabs(["Scoreboard", "Per image", "Table", "Examples"])

with tab_board:
    if board.empty:
        st.info(f"No summary (`{folder.summary.name}`).")
    else:
        chosen_set = st.radio(
            "Set", test_first(list(board["set"].unique())), key="eval_set", horizontal=True,
            help="test: the final report, never used to pick a model; val: the sets models were picked on.",
        )
        rows = readable(board[board["set"] == chosen_set].sort_values("psnr", ascending=False))
        best_first = alt.EncodingSortField("psnr", order="descending")
        bars = alt.Chart(rows).encode(alt.Y("model:N", sort=best_first, title=None, axis=WHOLE_NAMES))
        chart = bars.mark_rule(strokeWidth=2).encode(
            alt.X("psnr_low:Q", title="mean PSNR (dB), 95 % bootstrap interval", scale=alt.Scale(zero=False)),
            alt.X2("psnr_high:Q"),
        ) + bars.mark_point(filled=True, size=80).encode(
            alt.X("psnr:Q"), alt.Color("kind:N", title=None), tooltip=["model", "psnr", "n"]
        )
        st.altair_chart(chart.properties(height=40 + 28 * len(rows)), width="stretch")
        board_table(rows)
        greens = rows.dropna(subset=["green_recall", "false_green"]).reset_index(drop=True)
        if not greens.empty:  # sets scored before the pixel colour metrics have none
            greens["label_y"] = spread_labels(greens["false_green"], greens["green_recall"], LABEL_NEAR, LABEL_GAP)
            x_title, y_title = "false green (share of other pixels painted green)", "green recall, 95 % intervals"
            points = alt.Chart(greens).encode(
                alt.X("false_green:Q", title=x_title, scale=alt.Scale(domain=[0, 1])),
                alt.Y("green_recall:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
                alt.Color("kind:N", title=None),
            )
            chart = (
                points.mark_rule().encode(alt.X("false_green_low:Q", title=x_title), alt.X2("false_green_high:Q"))
                + points.mark_rule().encode(alt.Y("green_recall_low:Q", title=y_title), alt.Y2("green_recall_high:Q"))
                + points.mark_point(filled=True, size=80).encode(tooltip=["model", "green_recall", "false_green"])
                + points.mark_rule(color="lightgrey", strokeDash=[2, 2]).encode(  # a moved label's leader line
                    alt.Y("green_recall:Q", title=y_title), alt.Y2("label_y:Q")
                )
                + points.mark_text(align="left", dx=8, fontSize=11).encode(alt.Y("label_y:Q"), text="model:N")
            )
            ceilings = pd.DataFrame(ceiling_points(folder, chosen_set))
            if not ceilings.empty:  # labels stacked above their diamonds: the ceilings often lie close together
                ceilings["label_y"] = ceilings["green_recall"] + LABEL_GAP * (1 + ceilings.index)
                marks = alt.Chart(ceilings).encode(alt.X("false_green:Q"))
                chart += marks.mark_point(shape="diamond", size=90, color="grey", filled=True).encode(
                    alt.Y("green_recall:Q"), tooltip=["model", "false_green"]
                ) + marks.mark_text(align="left", color="grey").encode(alt.Y("label_y:Q"), text="model:N")
            st.altair_chart(chart.properties(height=480), width="stretch")
            if not ceilings.empty:
                st.caption(
                    "Grey diamonds: what the SAR itself can tell on this set (`training.studies.green_ceiling`). "
                    "At green recall 0.5, classifiers trained on labels from the same scene paint this share of the "
                    "other pixels green; with the true lightness added (which needs an optical image, see guided "
                    "colour) far less. A model cannot place green better than its input allows."
                )
        flood = pd.DataFrame(flood_set_rows(summary or {}, folder, chosen_set))
        if not flood.empty:
            st.subheader("Flood sites")
            flood_charts(flood)
            st.caption(
                "After-flood images, scored on the site's flood mask; dashed rules: the bars asked for on flood sets "
                f"(L* error ≤ {FLOOD_L_ERROR_BAR:g}, AUC ≥ {GREEN_AUC_BAR:.2f}). On OMBRIA val, 'What VV can tell' "
                "(`training.studies.ombria_ceiling`): gradient boosting on local VV features learnt from OMBRIA "
                "train's own labels, and what the scene's optical brightness or the true lightness add to it."
            )
    for key, note in (summary or {}).items():
        if isinstance(note, str):
            st.caption(f"**{key}**: {note}")

with tab_dist:
    if per_image.empty:
        st.info(f"No per-image results (`{folder.per_image.name}`).")
    else:
        metric = st.radio("Metric", list(METRICS), format_func=lambda m: METRICS[m][0], horizontal=True)
        data = per_image.dropna(subset=[metric]).assign(model=lambda rows: rows["model"].map(display_name))
        chart = (
            alt.Chart(data)
            .mark_boxplot(extent="min-max")
            .encode(alt.X(f"{metric}:Q", title=METRICS[metric][0]), alt.Y("model:N", title=None, axis=WHOLE_NAMES))
            .properties(height=22 * data["model"].nunique() + 20, width=520)
            .facet(row=alt.Row("source:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))
        )  # one set under another: the chart stays within the column at 1280 px
        st.altair_chart(chart)

with tab_table:
    if per_image.empty:
        st.info(f"No per-image results (`{folder.per_image.name}`).")
    else:  # one model on one set: the image names and every score fit whole at 1280 px
        left, right = st.columns(2)
        source = left.selectbox("Set", sorted(per_image["source"].unique()), key="eval_table_set")
        in_set = per_image[per_image["source"] == source]
        models = sorted(in_set["model"].unique())
        model = right.selectbox("Model", models, format_func=display_name, key="eval_table_model")
        rows = in_set[in_set["model"] == model].sort_values("pair_id")
        rows = rows.assign(image=rows["pair_id"].str.removeprefix(f"{source}/"))
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_order=["image", *METRICS],  # the pixel counts behind the green scores stay in the CSV
            column_config={
                k: st.column_config.NumberColumn(SHORT.get(k, label), format=fmt) for k, (label, fmt) in METRICS.items()
            }
            | {"image": st.column_config.TextColumn(width=text_width(rows["image"]))},
            key=f"per-image-{source}-{model}",
        )

with tab_examples:  # one picture at a time: all of them at once made a page 45,000 px tall
    if not grids and not sheets:
        st.info("No sample grids (PNG) yet.")
    left, right = st.columns(2)
    if grids:
        grid = left.selectbox("Sample grid", grids, format_func=lambda p: p.stem, key="eval_grid")
        left.image(str(grid), width="stretch", caption=f"{grid.name}: {folder.grid_columns(grid)}")
    if sheets:
        sheet = right.selectbox("Every image of a val set", sheets, format_func=lambda p: p.stem, key="eval_sheet")
        right.image(str(sheet), caption=f"{sheet.name}: {folder.grid_columns(sheet)}, in pair id order")
