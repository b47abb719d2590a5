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
        card = model_card_path(folder, path.stem)
        text = card.read_text(encoding="utf-8") if card.is_file() else ""
        if not text.lstrip().startswith("# "):
            st.subheader(path.stem)
        stat = path.stat()
        left, right = st.columns([3, 2])
        with left:
            if text:
                st.markdown(text)
            else:
                st.info(f"No model card yet (`{card.name}`).")
        with right:
            try:
                model = ui.load_model(path)
            except SarColorError as exc:
                st.error(str(exc))
                continue
            params = sum(p.numel() for p in model.generator.parameters())
            facts = {"File": f"`{path.name}`", "Size": ui.fmt_bytes(stat.st_size),
                     "Modified": ui.fmt_time(stat.st_mtime), "Parameters": f"{params / 1e6:.1f} M",
                     **{k.replace("_", " ").capitalize(): f"`{v}`" for k, v in model.config.as_dict().items()}}
            st.markdown("\n".join(f"- **{k}** {v}" for k, v in facts.items()))
            if model.metadata:
                with st.expander("Training metadata"):
                    st.json(model.metadata)
