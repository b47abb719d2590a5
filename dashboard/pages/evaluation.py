"""Evaluation page: every model against the flat-colour baselines, per set, with intervals and pictures."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.records.artefacts import ModelsFolder
from core.records.reports import PIXEL_COLOUR, ceiling_points, display_name, read_per_image, read_summary, scoreboard
from core.settings import models_dir

METRICS = {
    "psnr": ("PSNR (dB)", "%.2f"),
    "ssim": ("SSIM", "%.3f"),
    "delta_e": ("Mean-colour ΔE00", "%.1f"),
    "pixel_delta_e": ("Per-pixel ΔE00", "%.1f"),
    "green_recall": ("Green recall", "%.2f"),
    "false_green": ("False green", "%.2f"),
}
KIND = {True: "Baseline", False: "Model"}  # the chart legend: what a point is
WHOLE_NAMES = alt.Axis(labelLimit=0)  # model names are never cut short


def readable(rows: pd.DataFrame) -> pd.DataFrame:
    """Scoreboard rows with baselines named for what they paint and a Model / Baseline kind."""
    return rows.assign(model=rows["model"].map(display_name), kind=rows["baseline"].map(KIND))


def test_first(sets: list[str]) -> list[str]:
    """The sets in order, the test set (the final report, scored once) first: the page opens on it."""
    return sorted(sets, key=lambda name: (not name.startswith("test"), name))


def interval_columns(column: str) -> dict:
    """Scoreboard column configs of a metric and its 95 % interval (`_low`, `_high`)."""
    label, fmt = METRICS[column]
    return {
        column: st.column_config.NumberColumn(label, format=fmt),
        f"{column}_low": st.column_config.NumberColumn("low", format=fmt),
        f"{column}_high": st.column_config.NumberColumn("high", format=fmt),
    }


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
        st.dataframe(
            rows.drop(columns=["set", "baseline", "kind"]),
            hide_index=True,
            width="stretch",
            column_config={
                "psnr": st.column_config.NumberColumn("PSNR (dB)", format="%.2f"),
                "psnr_low": st.column_config.NumberColumn("low", format="%.2f"),
                "psnr_high": st.column_config.NumberColumn("high", format="%.2f"),
                "gain_vs_flat": st.column_config.NumberColumn("vs flat (dB)", format="%+.2f"),
                "gain_low": st.column_config.NumberColumn("low", format="%+.2f"),
                "gain_high": st.column_config.NumberColumn("high", format="%+.2f"),
                "ssim": st.column_config.NumberColumn("SSIM", format="%.3f"),
                "delta_e": st.column_config.NumberColumn("ΔE00", format="%.1f"),
                "chroma_ratio": st.column_config.NumberColumn("chroma ratio", format="%.2f"),
            }
            | {name: config for column in PIXEL_COLOUR for name, config in interval_columns(column).items()},
        )
        greens = rows.dropna(subset=["green_recall", "false_green"])
        if not greens.empty:  # sets scored before the pixel colour metrics have none
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
                + points.mark_text(align="left", dx=6).encode(text="model:N")
            )
            ceilings = pd.DataFrame(ceiling_points(folder, chosen_set))
            if not ceilings.empty:  # labels stacked above their diamonds: the ceilings often lie close together
                ceilings["label_y"] = ceilings["green_recall"] + 0.07 * (1 + ceilings.index)
                marks = alt.Chart(ceilings).encode(alt.X("false_green:Q"))
                chart += marks.mark_point(shape="diamond", size=90, color="grey", filled=True).encode(
                    alt.Y("green_recall:Q"), tooltip=["model", "false_green"]
                ) + marks.mark_text(align="left", color="grey").encode(alt.Y("label_y:Q"), text="model:N")
            st.altair_chart(chart, width="stretch")
            if not ceilings.empty:
                st.caption(
                    "Grey diamonds: what the SAR itself can tell on this set (`training.studies.green_ceiling`). "
                    "At green recall 0.5, classifiers trained on labels from the same scene paint this share of the "
                    "other pixels green; with the true lightness added (which needs an optical image, see guided "
                    "colour) far less. A model cannot place green better than its input allows."
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
            .properties(height=24 * data["model"].nunique() + 20, width=260)
            .facet(column=alt.Column("source:N", title=None))
        )
        st.altair_chart(chart)

with tab_table:
    if per_image.empty:
        st.info(f"No per-image results (`{folder.per_image.name}`).")
    else:
        st.dataframe(
            per_image.sort_values(["source", "pair_id", "model"]).assign(model=per_image["model"].map(display_name)),
            hide_index=True,
            width="stretch",
            column_config={k: st.column_config.NumberColumn(label, format=fmt) for k, (label, fmt) in METRICS.items()},
        )

with tab_examples:
    if not grids:
        st.info("No sample grids (PNG) yet.")
    if sheets:
        sheet = st.selectbox("Every image of a val set", sheets, format_func=lambda p: p.stem, key="eval_sheet")
        st.image(str(sheet), caption=f"{sheet.relative_to(folder.path)}: SAR | prediction | truth, pair id order")
    for grid in grids:
        st.image(str(grid), caption=f"{grid.relative_to(folder.path)}: SAR | prediction | truth")
