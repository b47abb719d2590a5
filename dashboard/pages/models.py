"""Models page: the checkpoints in the models folder with their model cards."""

from __future__ import annotations

import streamlit as st

from core.errors import SarColorError
from core.reports import model_card_path
from core.settings import models_dir
from dashboard import ui

st.title("Models")
folder = models_dir()
checkpoints = ui.checkpoints()
if not checkpoints:
    ui.no_model_message()
    st.stop()

for path in checkpoints:
    with st.container(border=True):
        st.subheader(path.stem)
        stat = path.stat()
        st.caption(f"`{path.name}` · {ui.fmt_bytes(stat.st_size)} · modified {ui.fmt_time(stat.st_mtime)}")
        card = model_card_path(folder, path.stem)
        left, right = st.columns([3, 2])
        with left:
            if card.is_file():
                st.markdown(card.read_text(encoding="utf-8"))
            else:
                st.info(f"No model card yet (`{card.name}`).")
        with right:
            try:
                model = ui.load_model(path)
            except SarColorError as exc:
                st.error(str(exc))
                continue
            params = sum(p.numel() for p in model.generator.parameters())
            st.markdown(f"**Parameters** {params / 1e6:.1f} M")
            st.json({"architecture": model.config.as_dict(), "metadata": model.metadata}, expanded=False)
