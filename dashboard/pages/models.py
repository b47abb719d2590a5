"""Models page: a summary table of every checkpoint (the default marked), then each model card folded away."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import SarColorError
from core.model.checkpoints import LoadedModel
from core.records.artefacts import FLAT_COLOUR, ModelsFolder
from core.records.reports import headline_scores, read_summary
from core.settings import default_checkpoint, models_dir
from dashboard import ui
from dashboard.messages import reported

FACT_KEYS = {"variant": "Variant", "step": "Training steps", "trained": "Trained"}  # metadata worth a line


def loaded_or_none(path: Path) -> LoadedModel | None:
    """The checkpoint, or None if it cannot be read (its card says why)."""
    try:
        return ui.load_model(path)
    except SarColorError:
        return None


def parameter_count(model: LoadedModel) -> str:
    """Parameters in millions, e.g. '3.4 M'."""
    return f"{sum(p.numel() for p in model.generator.parameters()) / 1e6:.1f} M"


def summary_row(name: str, is_default: bool, model: LoadedModel | None, summary: dict) -> dict:
    """One model in the summary table: name, default mark, variant, parameters, mean PSNR per evaluation set."""
    return {
        "Model": name,
        "Default": "✓" if is_default else "",
        "Variant": model.metadata.get("variant", "–") if model else "unreadable",
        "Parameters": parameter_count(model) if model else "–",
    } | {f"PSNR {key} (dB)": round(psnr, 2) for key, psnr in sorted(headline_scores(summary, name).items())}


def facts(path: Path, model: LoadedModel) -> dict[str, str]:
    """File, size, date, parameters, architecture and the training metadata worth a line, as label: text."""
    stat = path.stat()
    lines = {
        "File": f"`{path.name}`",
        "Size": ui.fmt_bytes(stat.st_size),
        "Modified": ui.fmt_time(stat.st_mtime),
        "Parameters": parameter_count(model),
    }
    lines |= {key.replace("_", " ").capitalize(): f"`{value}`" for key, value in model.config.as_dict().items()}
    lines |= {label: f"`{model.metadata[key]}`" for key, label in FACT_KEYS.items() if key in model.metadata}
    if FLAT_COLOUR in model.metadata:
        lines["Flat colour (RGB)"] = " ".join(f"{value:.3f}" for value in model.metadata[FLAT_COLOUR])
    return lines


def card_markdown(folder: ModelsFolder, name: str) -> str:
    """The model card without its title, its sections as small headings; '' if there is none."""
    card = folder.card(name)
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    body = text.partition("\n")[2] if text.lstrip().startswith("# ") else text
    return re.sub(r"^#+ ", "#### ", body.strip(), flags=re.MULTILINE)


st.title("Models")
folder = ModelsFolder(models_dir())
checkpoints = ui.checkpoints()
if not checkpoints:
    ui.no_model_message()
    st.stop()

default = default_checkpoint().resolve() if default_checkpoint().exists() else None
unique = {path.resolve(): path for path in reversed(checkpoints)}  # an alias (default.pt -> x.pt) shows once
ordered = sorted(unique.items(), key=lambda item: (item[0] != default, item[1].stem))
summary = read_summary(folder.eval) or {}
models = {resolved: loaded_or_none(path) for resolved, path in ordered}
table = [summary_row(resolved.stem, resolved == default, models[resolved], summary) for resolved, _ in ordered]
st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")
st.caption("PSNR: mean over each evaluation set (intervals, baselines and colour scores on the Evaluation page).")

for resolved, path in ordered:
    with st.expander(f"{resolved.stem}{' · default' if resolved == default else ''}"):
        left, right = st.columns([3, 2])
        with left:
            text = card_markdown(folder, resolved.stem)
            if text:
                st.markdown(text)
            else:
                st.info(f"No model card yet (`{folder.card(resolved.stem).name}`).")
        with right, reported():
            model = ui.load_model(path)
            st.markdown("\n".join(f"- **{label}** {value}" for label, value in facts(path, model).items()))
