"""Models page: a summary table of every checkpoint (the default marked), then each model card folded away."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import SarColorError
from core.model.checkpoints import LoadedModel
from core.records.artefacts import FLAT_COLOUR, ModelsFolder
from core.records.reports import display_name, headline_scores, read_summary, scoreboard
from core.settings import default_checkpoint, models_dir
from dashboard import ui
from dashboard.messages import reported

FLAT_BASELINE = "baseline_flat_colour"  # the evaluation's name for the flat training colour


def loaded_or_none(path: Path) -> LoadedModel | None:
    """The checkpoint, or None if it cannot be read (its card says why)."""
    try:
        return ui.load_model(path)
    except SarColorError:
        return None


def parameter_count(model: LoadedModel) -> str:
    """Parameters in millions, e.g. '3.4 M'."""
    return f"{sum(p.numel() for p in model.generator.parameters()) / 1e6:.1f} M"


INPUT_SPACES = {
    "stretch": "each scene's dB stretched to its own range",
    "fixed": "σ0 in dB on one fixed range for every scene (VV-equivalent)",
    "fixed+stretch": "σ0 in dB on a fixed range, and stretched to the scene's own range",
}
QUALITY_COLUMNS = {  # scoreboard field: column shown on a card
    "psnr": "PSNR (dB)", "gain_vs_flat": "vs flat colour (dB)", "pixel_delta_e": "Per-pixel ΔE00",
    "green_recall": "Green recall", "false_green": "False green",
}  # fmt: skip


def set_column(key: str) -> str:
    """A set's column header: 'val/volkov' -> 'volkov' (val is what the table is for), 'test/x' -> 'x (test)'."""
    split, _, name = key.rpartition("/")
    return name if split in ("", "val") else f"{name} ({split})"


def summary_row(name: str, is_default: bool, model: LoadedModel | None, summary: dict) -> dict:
    """One model in the summary table: name (the default marked), variant, parameters, mean PSNR per set ('–' where
    a set was not scored)."""
    scores = headline_scores(summary, name)
    sets = sorted({row["set"] for row in scoreboard(summary)})
    return {
        "Model": f"{name} (default)" if is_default and name != "default" else name,
        "Variant": model.metadata.get("variant", "–") if model else "unreadable",
        "Parameters": parameter_count(model) if model else "–",
    } | {set_column(key): f"{scores[key]:.2f}" if key in scores else "–" for key in sets}


def facts(path: Path, model: LoadedModel) -> dict[str, str]:
    """What an analyst can read about a checkpoint: network, input, output, training, size and date."""
    cfg, meta, stat = model.config, model.metadata, path.stat()
    output = "CIELAB colour (lightness and a*, b*)" if cfg.output_space == "lab" else "RGB colour"
    lines = {
        "Network": f"U-Net, {cfg.ngf} base channels, {cfg.depth} levels"
        + (", scene context" if cfg.context else "") + f"; {parameter_count(model)} parameters",
        "Input": INPUT_SPACES.get(cfg.input_space, cfg.input_space),
        "Output": output + (f", {cfg.ab_bins} × {cfg.ab_bins} colour bins" if cfg.ab_bins else ""),
    }
    if "step" in meta:
        lines["Training"] = f"checkpoint of step {meta['step']}"
    if FLAT_COLOUR in meta:
        lines["Flat training colour (RGB)"] = " ".join(f"{value:.2f}" for value in meta[FLAT_COLOUR])
    lines |= {"File": f"{path.name}, {ui.fmt_bytes(stat.st_size)}", "Modified": ui.fmt_time(stat.st_mtime)}
    return lines


def quality_table(summary: dict, name: str) -> pd.DataFrame:
    """The model's measured quality per evaluation set, beside the flat colour, with readable names."""
    rows = [row for row in scoreboard(summary) if row["model"] in (name, FLAT_BASELINE)]
    table = pd.DataFrame(rows, columns=["set", "model", *QUALITY_COLUMNS])
    table["model"] = table["model"].map(display_name)
    table = table.assign(flat=table["model"] == display_name(FLAT_BASELINE)).sort_values(["set", "flat"])
    table = table.drop(columns="flat")
    return table.rename(columns={"set": "Set", "model": "Painted by", **QUALITY_COLUMNS})


def card_intro(folder: ModelsFolder, name: str) -> str:
    """The card's own words before its technical list, if it has any (the card file itself is for developers)."""
    card = folder.card(name)
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    body = text.partition("\n")[2] if text.lstrip().startswith("# ") else text
    intro = body.strip().split("\n- ", 1)[0].split("\n#", 1)[0].strip()
    return "" if intro.startswith("- ") else intro


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
st.table(pd.DataFrame(table), hide_index=True, border="horizontal")  # cells wrap: no model or set name hidden
st.caption("Mean PSNR (dB) on each validation set, and on the test set where marked; – where a model was not scored "
           "on it. Intervals, baselines and colour scores: the Evaluation page.")  # fmt: skip

for resolved, path in ordered:
    with st.expander(f"{resolved.stem}{' · default' if resolved == default else ''}"):
        intro = card_intro(folder, resolved.stem)
        if intro:
            st.markdown(intro)
        with reported():
            model = ui.load_model(path)
            st.markdown("\n".join(f"- **{label}**: {value}" for label, value in facts(path, model).items()))
        quality = quality_table(summary, resolved.stem)
        if not quality.empty:
            numbers = {column: st.column_config.NumberColumn(format="%.2f") for column in QUALITY_COLUMNS.values()}
            st.dataframe(quality, hide_index=True, key=f"quality-{resolved.stem}", column_config=numbers)
        card = folder.card(resolved.stem)
        if card.is_file():
            st.download_button("Full model card (Markdown, for developers)", card.read_bytes, file_name=card.name,
                               mime="text/markdown", icon=":material/description:", key=f"card-{resolved.stem}",
                               on_click="ignore")
