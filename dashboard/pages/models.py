"""Models page: one card per checkpoint in the models folder (the default marked), with its model card."""

from __future__ import annotations

import re

import streamlit as st

from core.run_artefacts import ModelsFolder
from core.settings import default_checkpoint, models_dir
from dashboard import ui
from dashboard.messages import reported

st.title("Models")
folder = ModelsFolder(models_dir())
checkpoints = ui.checkpoints()
if not checkpoints:
    ui.no_model_message()
    st.stop()

default = default_checkpoint().resolve() if default_checkpoint().exists() else None
unique = {path.resolve(): path for path in reversed(checkpoints)}  # an alias (default.pt -> x.pt) shows once
for resolved, path in sorted(unique.items(), key=lambda item: (item[0] != default, item[1].stem)):
    with st.container(border=True):
        card = folder.card(resolved.stem)
        text = card.read_text(encoding="utf-8") if card.is_file() else ""
        body = text.partition("\n")[2] if text.lstrip().startswith("# ") else text  # the title is the subheader
        st.subheader(f"{resolved.stem}{' · default' if resolved == default else ''}")
        text = re.sub(r"^#+ ", "#### ", body.strip(), flags=re.MULTILINE)  # card sections as small headings
        stat = path.stat()
        left, right = st.columns([3, 2])
        with left:
            if text:
                st.markdown(text)
            else:
                st.info(f"No model card yet (`{card.name}`).")
        with right, reported():
            model = ui.load_model(path)
            params = sum(p.numel() for p in model.generator.parameters())
            facts = {"File": f"`{path.name}`", "Size": ui.fmt_bytes(stat.st_size),
                     "Modified": ui.fmt_time(stat.st_mtime), "Parameters": f"{params / 1e6:.1f} M",
                     **{k.replace("_", " ").capitalize(): f"`{v}`" for k, v in model.config.as_dict().items()}}
            st.markdown("\n".join(f"- **{k}** {v}" for k, v in facts.items()))
            if model.metadata:
                with st.expander("Training metadata"):
                    st.json(model.metadata)
