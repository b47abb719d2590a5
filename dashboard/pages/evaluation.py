"""Evaluation page: PSNR/SSIM distributions, per-image table, group breakdown, variants, example grids."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.reports import eval_dir, read_per_image, read_summary, sample_grids, summary_rows
from core.settings import models_dir

st.title("Evaluation")
folder = models_dir()
summary = read_summary(folder)
per_image = pd.DataFrame(read_per_image(folder))
grids = sample_grids(folder)
if summary is None and per_image.empty and not grids:
    st.info(f"No evaluation results yet: expected `summary.json`, `per_image.csv` and sample grids in "
            f"`{eval_dir(folder)}` (written by the evaluation run).")
    st.stop()

tab_dist, tab_table, tab_groups, tab_variants, tab_examples = st.tabs(
    ["Distributions", "Per image", "By group", "Variants", "Examples"]
)
if not per_image.empty:
    models = sorted(per_image["model"].dropna().unique()) if "model" in per_image else []
    chosen = st.sidebar.multiselect("Models", models, default=models, key="eval_models") if models else []
    splits = sorted(per_image["split"].dropna().unique()) if "split" in per_image else []
    default_split = splits.index("test") + 1 if "test" in splits else 0
    split = st.sidebar.selectbox("Split", ["all", *splits], index=default_split, key="eval_split")
    data = per_image[per_image["model"].isin(chosen)] if chosen else per_image
    data = data if split == "all" else data[data["split"] == split]
else:
    data = per_image

with tab_dist:
    if data.empty:
        st.info("No per-image results (`per_image.csv`).")
    else:
        for col, metric, unit in zip(st.columns(2), ("psnr", "ssim"), ("dB", ""), strict=True):
            chart = (
                alt.Chart(data.dropna(subset=[metric]))
                .mark_bar(opacity=0.6)
                .encode(
                    alt.X(f"{metric}:Q", bin=alt.Bin(maxbins=40), title=f"{metric.upper()} {unit}".strip()),
                    alt.Y("count():Q", stack=None, title="images"),
                    alt.Color("model:N"),
                )
                .properties(height=280)
            )
            col.altair_chart(chart, use_container_width=True)
with tab_table:
    if data.empty:
        st.info("No per-image results (`per_image.csv`).")
    else:
        st.dataframe(data.sort_values("psnr"), hide_index=True, width="stretch",
                     column_config={"psnr": st.column_config.NumberColumn("PSNR (dB)", format="%.2f"),
                                    "ssim": st.column_config.NumberColumn("SSIM", format="%.3f")})
with tab_groups:
    keys = [k for k in ("model", "source", "group") if k in data]
    if data.empty or not keys:
        st.info("No per-image results to group.")
    else:
        grouped = data.groupby(keys)[["psnr", "ssim"]].agg(["mean", "median", "count"]).round(3)
        grouped.columns = [" ".join(c) for c in grouped.columns]
        st.dataframe(grouped.reset_index(), hide_index=True, width="stretch")
with tab_variants:
    rows = summary_rows(summary.get("models", summary)) if summary else []
    for key, note in (summary or {}).items():
        if isinstance(note, str):
            st.caption(f"**{key}**: {note}")
    if not rows:
        st.info("No summary (`summary.json`).")
    else:
        table = pd.DataFrame(rows)
        st.dataframe(table, hide_index=True, width="stretch")
        metric = next((c for c in table.columns if "psnr" in c.lower() and "mean" in c.lower()), None)
        metric = metric or next((c for c in table.columns if "psnr" in c.lower()), None)
        if metric:
            chart = alt.Chart(table.dropna(subset=[metric])).mark_bar().encode(
                alt.X(f"{metric}:Q"), alt.Y("path:N", sort="-x", title=None)
            )
            st.altair_chart(chart, use_container_width=True)
with tab_examples:
    if not grids:
        st.info("No sample grids (PNG) yet.")
    for grid in grids:
        st.image(str(grid), caption=f"{grid.relative_to(eval_dir(folder))} — SAR | prediction | truth")
