"""Training page: loss curves, applied learning rates, throughput and validation scores of a model or a live run."""

from __future__ import annotations

import time
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.records.artefacts import (
    DISCRIMINATOR_LOSS_PREFIX,
    GENERATOR_LOSS_PREFIX,
    KIND,
    VAL_PREFIX,
    ModelsFolder,
    RecordKind,
    read_records,
    val_metric,
)
from core.records.reports import run_logs, series_name
from core.settings import models_dir, runs_dir

LIVE_SECONDS = 300  # a run whose log changed this recently is shown as in progress


def log_choices() -> dict[str, Path]:
    """Label -> log path: published models, then runs under runs/ (live ones marked)."""
    models = ModelsFolder(models_dir())
    choices = {name: models.training_log(name) for name in models.names()}
    for run, log in run_logs(runs_dir()).items():
        live = time.time() - log.stat().st_mtime < LIVE_SECONDS
        choices[f"run: {run}{' (in progress)' if live else ''}"] = log
    return choices


LEGEND = alt.Legend(orient="bottom", title=None, labelLimit=0, columns=3)  # always shown; names whole, wrapped


def step_chart(data: pd.DataFrame, columns: list[str], title: str, smoothing: float) -> None:
    """Smoothed step curves of some columns against the step, each named in a legend."""
    columns = [c for c in columns if c in data and data[c].notna().any()]
    if not columns or data.empty or "step" not in data:
        st.caption(f"{title}: not in this log.")
        return
    indexed = data.set_index("step")[columns]
    smooth = (indexed.ewm(alpha=1 - smoothing).mean() if smoothing > 0 else indexed).rename(columns=series_name)
    long = smooth.reset_index().melt("step", var_name="series", value_name="value").dropna()
    chart = (
        alt.Chart(long)
        .mark_line()
        .encode(alt.X("step:Q"), alt.Y("value:Q", title=None), alt.Color("series:N", legend=LEGEND))
        .properties(title=title, height=320)
    )
    st.altair_chart(chart, width="stretch")


def epoch_chart(data: pd.DataFrame, columns: list[str], title: str) -> None:
    """Per-epoch lines with whole-number epoch ticks, named by set."""
    named = data[["epoch", *columns]].rename(columns=series_name)
    long = named.melt("epoch", var_name="series", value_name="value").dropna()
    chart = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1, format="d"), title="epoch"),
            alt.Y("value:Q", scale=alt.Scale(zero=False), title=None),
            alt.Color("series:N", legend=LEGEND),
        )
        .properties(title=title, height=320)
    )
    st.altair_chart(chart, width="stretch")


def validation_table(epochs: pd.DataFrame, columns: list[str], metric: str, form: str) -> None:
    """One metric per epoch, a column per set: narrow enough to be read whole."""
    table = epochs.set_index("epoch")[columns].rename(columns=series_name)
    config = {name: st.column_config.NumberColumn(name, format=form) for name in table.columns}
    st.markdown(f"**{metric}** per epoch")
    st.dataframe(table, width="stretch", column_config=config)


def show_log(log_path: Path, smoothing: float) -> None:
    """Everything the page shows for one log."""
    records = read_records(log_path)
    if not records:
        st.info(f"No training log yet (expected `{log_path.name}`).")
        return
    frame = pd.DataFrame(records)
    steps = frame[frame[KIND] == RecordKind.STEP] if KIND in frame else frame
    epochs = frame[frame[KIND] == RecordKind.EPOCH] if KIND in frame else frame.iloc[0:0]
    last = steps.iloc[-1] if not steps.empty else frame.iloc[-1]
    cols = st.columns(4)
    cols[0].metric("Step", f"{int(last['step']):,}" if pd.notna(last.get("step")) else "–")
    cols[1].metric("Elapsed", f"{last['time_s'] / 60:.0f} min" if pd.notna(last.get("time_s")) else "–")
    mean_psnr = val_metric("psnr")
    best = epochs[mean_psnr].max() if mean_psnr in epochs and not epochs.empty else None
    cols[2].metric("Best val PSNR", f"{best:.2f} dB" if best is not None and pd.notna(best) else "–")
    speed = steps["images_per_s"].tail(50).mean() if "images_per_s" in steps else None
    cols[3].metric("Throughput", f"{speed:.1f} crops/s" if speed is not None and pd.notna(speed) else "–")

    losses = [c for c in frame.columns if c.startswith(GENERATOR_LOSS_PREFIX)]
    disc = [c for c in frame.columns if c.startswith(DISCRIMINATOR_LOSS_PREFIX)]
    tab_loss, tab_val, tab_opt = st.tabs(["Losses", "Validation", "Optimiser & speed"])
    with tab_loss:
        left, right = st.columns(2)
        with left:
            step_chart(steps, losses, "Generator losses per step", smoothing)
        with right:
            step_chart(steps, disc, "Discriminator losses per step", smoothing)
    with tab_val:
        val_cols = [c for c in epochs.columns if c.startswith(VAL_PREFIX)]
        if epochs.empty or not val_cols:
            st.info("No validation scores yet (they are written at the end of each epoch).")
        else:
            psnr = [c for c in val_cols if c.startswith(val_metric("psnr"))]
            ssim = [c for c in val_cols if c.startswith(val_metric("ssim"))]
            left, right = st.columns(2)
            with left:
                epoch_chart(epochs, psnr, "Validation PSNR (dB), centre crops")
            with right:
                epoch_chart(epochs, ssim, "Validation SSIM")
            validation_table(epochs, psnr, "PSNR (dB)", "%.2f")  # full width: a column per set, all read whole
            validation_table(epochs, ssim, "SSIM", "%.3f")
    with tab_opt:
        left, right = st.columns(2)
        with left:
            step_chart(steps, ["lr_g", "lr_d"], "Learning rate applied", 0.0)
        with right:
            step_chart(steps, ["images_per_s"], "Throughput (crops/s)", smoothing)
    st.caption(f"Log: `{log_path.parent.name}/{log_path.name}` · {len(steps)} step lines, {len(epochs)} epoch lines.")


st.title("Training")
choices = log_choices()
if not choices:
    st.info(f"No model or training log in `{models_dir().name}/` or `{runs_dir().name}/` yet.")
    st.stop()
label = st.selectbox("Model or run", list(choices), key="train_model")
with st.sidebar:
    smoothing = st.slider(
        "Smoothing (EMA)", 0.0, 0.99, 0.9, 0.01, key="smoothing", help="0 shows the raw per-step values."
    )
live = label.endswith("(in progress)")
st.fragment(run_every=10 if live else None)(show_log)(choices[label], smoothing)
if live:
    st.caption("This run is still writing its log: the charts refresh every 10 s.")
