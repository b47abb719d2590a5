"""Training page: loss curves, learning rates, throughput and validation scores from a model's log."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.reports import model_names, read_training_log, training_log_path
from core.settings import models_dir

G_PREFIX, D_PREFIX = "g_", "d_"

st.title("Training")
folder = models_dir()
names = model_names(folder)
if not names:
    st.info(f"No model or training log in `{folder}` yet.")
    st.stop()
name = st.selectbox("Model", names, key="train_model")
log_path = training_log_path(folder, name)
records = read_training_log(log_path)
if not records:
    st.info(f"No training log yet for **{name}** (expected `{log_path.name}` next to the checkpoint).")
    st.stop()

frame = pd.DataFrame(records)
steps = frame[frame["kind"] == "step"] if "kind" in frame else frame
epochs = frame[frame["kind"] == "epoch"] if "kind" in frame else frame.iloc[0:0]
x_axis = "step" if "step" in frame else None

with st.sidebar:
    smoothing = st.slider("Smoothing (EMA)", 0.0, 0.99, 0.9, 0.01, key="smoothing",
                          help="Exponential moving average weight for step curves; 0 shows the raw values.")
    show_raw = st.toggle("Show raw values too", value=False, key="show_raw")

last = frame.iloc[-1]
cols = st.columns(4)
cols[0].metric("Epoch", int(last["epoch"]) if "epoch" in frame and pd.notna(last.get("epoch")) else "–")
cols[1].metric("Step", f"{int(last['step']):,}" if "step" in frame and pd.notna(last.get("step")) else "–")
cols[2].metric("Elapsed", f"{last['time_s'] / 3600:.2f} h" if pd.notna(last.get("time_s", None)) else "–")
best = epochs["val_psnr"].max() if "val_psnr" in epochs and not epochs.empty else None
cols[3].metric("Best val PSNR", f"{best:.2f} dB" if best is not None and pd.notna(best) else "–")


def curves(data: pd.DataFrame, columns: list[str], title: str) -> None:
    """Smoothed (and optionally raw) step curves of some columns."""
    columns = [c for c in columns if c in data and data[c].notna().any()]
    if not columns or data.empty:
        st.caption(f"{title}: not in this log.")
        return
    indexed = data.set_index(x_axis)[columns] if x_axis else data[columns]
    smooth = indexed.ewm(alpha=1 - smoothing).mean() if smoothing > 0 else indexed
    shown = smooth.add_suffix(" (smoothed)") if smoothing > 0 else smooth
    if show_raw and smoothing > 0:
        shown = pd.concat([shown, indexed.add_suffix(" (raw)")], axis=1)
    st.markdown(f"**{title}**")
    st.line_chart(shown, height=260)


losses = [c for c in frame.columns if c.startswith(G_PREFIX)]
disc = [c for c in frame.columns if c.startswith(D_PREFIX)]
tab_loss, tab_val, tab_opt = st.tabs(["Losses", "Validation", "Optimiser & speed"])
with tab_loss:
    left, right = st.columns(2)
    with left:
        curves(steps, losses, "Generator losses per step")
    with right:
        curves(steps, disc, "Discriminator losses per step")
    if "epoch" in steps and steps["epoch"].astype(float).floordiv(1).nunique() > 1 and losses + disc:
        st.markdown("**Mean losses per epoch**")
        st.line_chart(steps.groupby(steps["epoch"].astype(float).floordiv(1))[losses + disc].mean(), height=260)
with tab_val:
    val_cols = [c for c in epochs.columns if c.startswith("val_")]
    if epochs.empty or not val_cols:
        st.info("No validation scores yet (they are written on epoch lines).")
    else:
        per_epoch = epochs.set_index("epoch")
        left, right = st.columns(2)
        left.markdown("**Validation PSNR (dB)**")
        left.line_chart(per_epoch[[c for c in val_cols if "psnr" in c]], height=260)
        right.markdown("**Validation SSIM**")
        right.line_chart(per_epoch[[c for c in val_cols if "ssim" in c]], height=260)
        st.dataframe(per_epoch[val_cols], width="stretch")
with tab_opt:
    left, right = st.columns(2)
    with left:
        curves(steps, ["lr_g", "lr_d"], "Learning rate")
    with right:
        curves(steps, ["images_per_s"], "Throughput (images/s)")
st.caption(f"Log: `{log_path}` · {len(steps)} step lines, {len(epochs)} epoch lines.")
