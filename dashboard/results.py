"""The result of one finished job: map, previews, scores, scene facts and downloads."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pandas as pd
import streamlit as st
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from streamlit_folium import st_folium

from core.colour.confidence import sidecar_path
from core.colour.sar_detail import rendering_beside
from core.errors import SarColorError
from core.result import RunSummary
from core.scoring.scores import HIGHER_IS_BETTER, ReferenceScores
from core.service.display import (
    Overlay,
    Raster,
    confidence_raster,
    dual_pol_raster,
    mercator_overlay,
    preview_png,
    product_facts,
    quicklook_png,
    reference_scores,
    rgb_raster,
    sar_raster,
)
from core.service.jobs import Job
from dashboard import ui
from dashboard.auth import signs_in
from dashboard.downloads import BROWSER_COOKIE, is_browser_key, owned_by, png_data_url, serve_downloads_privately
from dashboard.map import build_map
from dashboard.messages import reported
from dashboard.ui import fmt_bytes, fmt_seconds

SAR, COLORIZED, REFERENCE = "SAR", "Colorized (synthetic)", "Reference optical"
CONFIDENCE = "Where the colour came from (guided)"
CONFIDENCE_LEGEND = (
    "**Where the colour came from** (map layer *{layer}*, file `{file}`): green, the guide's own colour; "
    "blue, the colour fitted to this scene's SAR where the guide covers it, paler the farther from the guide "
    "(beyond it, in its holes, or where SAR and guide disagree); magenta, the SAR overrode the guide as a change "
    "(new water, learned from flood sites)."
)
SAR_DETAIL_LAYER = "Colorized + SAR detail (GIHS)"  # core.colour.sar_detail: the model's colour, the SAR's detail
DUAL_POL = "Dual-pol (VV, VH, VV/VH)"  # core.rasters.dualpol: the analysts' false colour, when VH came with VV
NO_PRIVATE_DOWNLOADS = (
    "Downloads are off on this server: it was started without the part that keeps each analyst's files to "
    "their own browser. Ask its administrator to start it with `make run` (`streamlit run dashboard/serve.py`)."
)
UNGUIDED_COLOUR = (  # what the facts table says of a run without an optical guide (measured: models/README.md)
    "the model alone: a plausible guess from one SAR band, which cannot tell green fields from bare ones; "
    "give an optical image of the place for its true colours"
)


@st.cache_data(show_spinner="Preparing display copies…", max_entries=8)
def _renderings(
    job_id: str, sar: str, band: str, encoding: str, output: str, reference: str | None, bands: tuple | None
) -> tuple[dict[str, Raster], str | None]:
    """Display rasters of a job (small, cached per job), and why the reference could not be read (or None).

    Beside the colorized result, its SAR-detail rendering (made from the result and the SAR on first view), the
    dual-pol false colour when the input brought VH with VV and, for a guided job, where each pixel's colour came from.
    """
    rasters = {
        SAR: sar_raster(sar, band=band, encoding=encoding),
        COLORIZED: rgb_raster(Path(output)),
        SAR_DETAIL_LAYER: rgb_raster(rendering_beside(output, sar, band, encoding)),
    }
    with contextlib.suppress(SarColorError):  # e.g. the sibling file is gone: the other layers still show
        if (dual := dual_pol_raster(sar, band=band, encoding=encoding)) is not None:
            rasters[DUAL_POL] = dual
    if sidecar_path(output).is_file():
        rasters[CONFIDENCE] = confidence_raster(sidecar_path(output))
    if not reference:
        return rasters, None
    try:
        rasters[REFERENCE] = rgb_raster(Path(reference), bands=bands)
    except SarColorError as exc:
        return rasters, str(exc)
    return rasters, None


@st.cache_data(show_spinner=False, max_entries=8)
def _overlays(job_id: str, _rasters: dict[str, Raster]) -> tuple[dict[str, Overlay], dict[str, str]]:
    """Map overlays of the georeferenced renderings, and why a rendering cannot be mapped (by name)."""
    overlays: dict[str, Overlay] = {}
    unmappable: dict[str, str] = {}
    for name, raster in _rasters.items():
        if raster.crs is None:
            continue
        try:
            overlays[name] = mercator_overlay(raster)
        except SarColorError as exc:  # e.g. beyond 85° latitude: no Web Mercator map
            unmappable[name] = str(exc)
    return overlays, unmappable


@st.cache_data(show_spinner="Scoring against the reference…", max_entries=16)
def _scores(output: str, reference: str, bands: tuple | None) -> tuple[ReferenceScores | None, str | None]:
    """Scores against the reference, or None and why they cannot be computed."""
    try:
        return reference_scores(Path(output), Path(reference), bands=bands), None
    except SarColorError as exc:
        return None, str(exc)


def job_scores(job: Job, output: Path) -> tuple[ReferenceScores | None, str | None]:
    """The job's stored scores; a job from before scores were stored is scored now and its row updated."""
    if job.reference_scores:
        return job.reference_scores, None
    scores, error = _scores(str(output), job.reference_path, _bands(job))
    if scores:
        ui.store().update(job.id, scores=scores.as_dict())
    return scores, error


def _band(job: Job) -> str:
    """The SAR band the job colorized, as the analyst asked for it (the run's band name for older jobs)."""
    return str(job.settings.get("band") or (job.summary.band if job.summary else "VV"))


def _bands(job: Job) -> tuple[int, int, int] | None:
    """The reference's red, green, blue bands as the analyst chose them (None: identified automatically)."""
    bands = job.settings.get("reference_bands")
    return tuple(bands) if bands else None


def _pixel_size(r: RunSummary) -> str:
    """Pixel size in metres ('≈' where converted from degrees), or in pixels' own units without a CRS."""
    metres = r.pixel_size_m
    if metres is None:
        return f"{r.pixel_size[0]:g} × {r.pixel_size[1]:g} (no georeference)"
    approx = "≈ " if CRS.from_user_input(r.crs).is_geographic else ""
    return f"{approx}{metres[0]:.2f} × {metres[1]:.2f} m"


def _facts(job: Job, r: RunSummary) -> list[tuple[str, str]]:
    rows = [
        ("File", job.file_name),
        ("Size", f"{r.width:,} × {r.height:,} px ({fmt_bytes(job.size_bytes)})"),
        ("CRS", r.crs or "none (not georeferenced)"),
        ("Pixel size", _pixel_size(r)),
        ("Bounds", ", ".join(f"{v:,.5f}" for v in r.bounds) + " (left, bottom, right, top, CRS units)"),
    ]
    if r.crs:
        west, south, east, north = transform_bounds(CRS.from_user_input(r.crs), "EPSG:4326", *r.bounds)
        rows.append(("Bounds (lon/lat)", f"{west:.5f}, {south:.5f}, {east:.5f}, {north:.5f}"))
    rows += [
        ("Band", r.band),
        ("Encoding", f"{r.encoding} ({'detected' if r.encoding_detected else 'set by you'})"),
        ("Stretch (dB)", f"{r.stretch_db[0]:.1f} … {r.stretch_db[1]:.1f}"),
        ("Model", job.model or "–"),
        ("Colour", r.guide or UNGUIDED_COLOUR),
        ("Tiles", f"{r.tiles} (tile {job.settings.get('tile')} px, overlap {job.settings.get('overlap')} px)"),
        ("Wall time", f"{fmt_seconds(wall_seconds(job))} (from your click to the result)"),
        ("Colorizing time", f"{fmt_seconds(r.seconds)} ({r.megapixels_per_second:.2f} Mpx/s): {TIMED}"),
        ("Device", r.device),
    ]
    if r.warped_from_gcps:
        rows.append(("Georeference", "warped from ground control points"))
    return rows


TIMED = "reading, normalising, tiling, the model and writing; not loading the model or waiting for a slot"
CLICKED_AT = "clicked_at"  # session state: job id -> when the analyst clicked Colorize (Unix seconds)


def wall_seconds(job: Job) -> float | None:
    """What the analyst waited: from their click (this session's jobs) or the job's queueing, to its end."""
    clicked = st.session_state.get(CLICKED_AT, {}).get(job.id)
    return job.wall_seconds if clicked is None or job.finished_at is None else job.finished_at - clicked


def _timed(r: RunSummary) -> str:
    """The wall time's help: what it covers, and the colorizing time within it."""
    return (f"From the click to the result, loading the model and any wait included. Colorizing itself ({TIMED}) "
            f"took {fmt_seconds(r.seconds)}.")  # fmt: skip


def show_map(job: Job, overlays: dict[str, Overlay]) -> None:
    """The map with its controls (opacity, swipe). Pan and zoom do not rerun the script."""
    names = list(overlays)
    c1, c2, c3 = st.columns([2, 2, 2])
    opacity = c1.slider("Overlay opacity", 0.0, 1.0, 1.0, 0.05, key=f"opacity-{job.id}")
    left = c2.selectbox("Swipe: left", ["Off", *names], index=0, key=f"swipe-left-{job.id}")
    right_options = [n for n in names if n != left]
    right = c3.selectbox("Swipe: right", right_options, index=0, key=f"swipe-right-{job.id}", disabled=left == "Off")
    swipe = (left, right) if left != "Off" and right else None
    fmap = build_map(overlays, opacity=opacity, swipe=swipe, visible={SAR, COLORIZED} if swipe is None else set())
    st_folium(fmap, height=520, use_container_width=True, returned_objects=[], key=f"map-{job.id}")
    hint = " Drag the slider at the bottom of the map to swipe." if swipe else ""
    dual = (f"'{DUAL_POL}' is the SAR itself in the analysts' false colour: red VV, green VH, blue their ratio "
            "(measured, not synthetic). ") if DUAL_POL in overlays else ""  # fmt: skip
    st.caption(
        f"The colorized layers are synthetic (generated from SAR); '{SAR_DETAIL_LAYER}' is the field's convention: "
        f"the model's colours with the speckle-filtered SAR's detail in their lightness (GIHS fusion). {dual}"
        "Layers: the icon at the top right. "
        "Basemap tiles need internet; overlays and controls work offline." + hint
    )


def show_result(job: Job, downloads: bool = True) -> None:
    """Everything about a finished job: the file it is of, headline numbers, then a tab each for the map, the
    comparison and facts."""
    r, output = job.summary, Path(job.output_path or "")
    if r is None or not output.is_file():
        st.error(f"The result file of this job ({job.file_name}) is gone: colorize the scene again.")
        return
    st.markdown(f"#### Result: {ui.plain(job.file_name)}")
    cols = st.columns(4)
    cols[0].metric("Scene", f"{r.width:,} × {r.height:,} px")
    cols[1].metric("Wall time", fmt_seconds(wall_seconds(job)), help=_timed(r))
    cols[2].metric("Tiles", r.tiles)
    cols[3].metric("Device", r.device.split(" (")[0])
    if r.guide:
        st.info(f"{r.guide[0].upper()}{r.guide[1:]}: its colours where the SAR agrees with it, the SAR's where the "
                "SAR shows a change; beyond it, the colour this scene's SAR has where the guide covers it. Still "
                "synthetic: generated from SAR, not observed.", icon=":material/palette:")  # fmt: skip
        if sidecar_path(output).is_file():
            st.caption(CONFIDENCE_LEGEND.format(layer=CONFIDENCE, file=sidecar_path(output).name))
    for warning in r.warnings:
        st.warning(warning)
    with reported():
        rasters, reference_error = _renderings(
            job.id, job.stored_path, _band(job), r.encoding, str(output), job.reference_path, _bands(job)
        )
        if reference_error:
            st.warning(f"Reference optical not used: {reference_error}")
        tab_map, tab_compare, tab_facts = st.tabs(["Map", "Compare", "Scene facts"])
        with tab_map:
            _map_tab(job, rasters)
        with tab_compare:
            _compare_tab(job, rasters, output)
        with tab_facts:
            facts = _facts(job, r) + product_facts(output)
            st.table({"": [k for k, _ in facts], "Value": [v for _, v in facts]})
        if downloads:
            download_buttons(job)


def _map_tab(job: Job, rasters: dict[str, Raster]) -> None:
    """The map of the georeferenced renderings, or why there is none."""
    overlays, unmappable = _overlays(job.id, rasters)
    if COLORIZED in overlays:
        for note in dict.fromkeys(o.note for o in overlays.values() if o.note):
            st.warning(note, icon=":material/public:")
        show_map(job, overlays)
    elif COLORIZED in unmappable:
        st.warning(unmappable[COLORIZED], icon=":material/public_off:")
    else:
        st.info("This image has no georeference, so there is no map: see the previews and downloads.")


def _compare_tab(job: Job, rasters: dict[str, Raster], output: Path) -> None:
    """SAR, result and reference side by side, and the scores against the reference when there is one."""
    shown = [n for n in (SAR, COLORIZED, SAR_DETAIL_LAYER, DUAL_POL, REFERENCE) if n in rasters]
    for col, name in zip(st.columns(len(shown)), shown, strict=True):
        col.image(png_data_url(preview_png(rasters[name])), caption=name, width="stretch")  # no /media/ URL
    if not (job.reference_path and REFERENCE in rasters):
        st.caption("Add a reference optical GeoTIFF of the same place to score PSNR and SSIM.")
        return
    scores, error = job_scores(job, output)
    if error:
        st.warning(error)
    else:
        if job.summary and job.summary.guide and job.settings.get("guide"):
            st.caption("The colour was guided by this same reference: these scores measure agreement with it, "
                       "not an independent check of the colour.")  # fmt: skip
        show_scores(scores)


METRICS = (  # field, label, value format, margin format
    ("psnr", "PSNR vs reference", "{:.2f} dB", "{:+.2f} dB"),
    ("ssim", "SSIM", "{:.3f}", "{:+.3f}"),
    ("delta_e", "Mean-colour ΔE00", "{:.1f}", "{:+.1f}"),
    ("pixel_delta_e", "Per-pixel ΔE00", "{:.1f}", "{:+.1f}"),
    ("green_recall", "Green recall", "{:.0%}", "{:+.0%}"),
    ("false_green", "False green", "{:.0%}", "{:+.0%}"),
)
METRIC_HELP = {
    "green_recall": "Share of the reference's green pixels (CIELAB a* < −5) that are green in the result. Compared "
    "with chance: painting the same share of pixels green at random finds that share of the green ones, which is "
    "the result's false green. A single colour is no yardstick here (all green or none).",
    "false_green": "Share of the reference's non-green pixels that are green in the result: lower is better; "
    "no badge (it is the chance level of green recall).",
}
HISTORY_SCORES = ("PSNR vs reference", "Per-pixel ΔE00", "Green recall", "False green")  # the rest: job details
SCORE_HEADERS = {  # History's column headers and the score tables' headers
    "PSNR vs reference": "PSNR (dB)", "SSIM": "SSIM", "Mean-colour ΔE00": "ΔE00 mean",
    "Per-pixel ΔE00": "ΔE00 pixel", "Green recall": "Green recall", "False green": "False green",
}  # fmt: skip
BASELINE_ROWS = ("This model", "Flat training colour", "Reference's own mean colour (peeks at the reference)")


def _formatted(value: float, form: str) -> str:
    """A score as shown; '–' where it is not defined (no green in the reference)."""
    return "–" if math.isnan(value) else form.format(value)


def _margin(scores: ReferenceScores, metric: str, form: str) -> str | None:
    """The badge under a score: its margin over what it is compared with (None: compared with nothing)."""
    margin = getattr(scores.model, metric) - scores.comparison(metric)
    if not math.isfinite(margin):
        return None
    against = "chance (its false green)" if metric == "green_recall" else "best single colour"
    return f"{form.format(margin)} vs {against}"


def _badge_colour(scores: ReferenceScores, metric: str) -> str:
    """Green exactly where the model earns the score, red where it does worse than its comparison, else grey."""
    if scores.earned(metric):
        return "green"
    model, comparison = getattr(scores.model, metric), scores.comparison(metric)
    worse = model < comparison if HIGHER_IS_BETTER[metric] else model > comparison
    return "red" if worse else "gray"


def show_scores(scores: ReferenceScores) -> None:
    """Every score against the reference beside both single colours; a badge is green only if the model beats both
    (green recall: only if it beats chance). Three to a row, so no badge is cut."""
    columns = [column for _ in range(2) for column in st.columns(3)]
    for column, (metric, label, form, margin_form) in zip(columns, METRICS, strict=True):
        column.metric(
            label,
            _formatted(getattr(scores.model, metric), form),
            delta=_margin(scores, metric, margin_form),
            delta_color=_badge_colour(scores, metric),
            help=METRIC_HELP.get(metric),
        )
    score_table(scores)
    flat_note = "" if scores.flat else "This model does not record its flat training colour. "
    st.caption(
        f"Reference read as {scores.reference_bands}; {scores.overlap:.0%} of the scene scored. A score is green "
        "only where the model beats both single colours painted on the same pixels: its flat training colour "
        "(what a wash would paint) and the reference's own mean colour, which peeks at the reference and is the "
        "best any single colour could do (its mean-colour ΔE00 is 0 by construction). Green recall is green only "
        "above chance (its own false green). "
        + flat_note
        + "ΔE00: below 2 indistinguishable, above 10 clearly different. Green: CIELAB a* < −5. The colorized "
        "image is synthetic: generated from SAR, not observed."
    )


def colour_note(job: Job) -> str:
    """History's mark of a guided job, beside its status: its scores measure agreement with its own guide."""
    return ", guided" if job.summary is not None and job.summary.guide else ""  # the caption: what that means


def score_columns(job: Job) -> dict[str, str]:
    """History columns: each score of the job, ✓ where the model beats its comparison (the job's details show both).
    No units: the column headers (`SCORE_HEADERS`) carry them, so six scores fit beside the rest."""
    scores = job.reference_scores
    if scores is None:
        return {label: "–" for _, label, _, _ in METRICS}
    return {
        label: _formatted(getattr(scores.model, metric), form).removesuffix(" dB")
        + (" ✓" if scores.earned(metric) else "")
        for metric, label, form, _ in METRICS
    }


def score_table(scores: ReferenceScores) -> None:
    """The model's scores beside both single colours (and chance for green recall), one row each: a plain table,
    whose cells wrap rather than hide a long row name at narrow widths."""
    rows = [scores.model, scores.flat, scores.reference_mean]
    shown = [(name, row) for name, row in zip(BASELINE_ROWS, rows, strict=True) if row is not None]
    headers = [(metric, SCORE_HEADERS[label], form) for metric, label, form, _ in METRICS]
    table = pd.DataFrame(
        [
            {"": name} | {header: _formatted(getattr(row, metric), form) for metric, header, form in headers}
            for name, row in shown
        ]
    )
    st.table(table.set_index(""), border="horizontal")


def download_buttons(job: Job, key: str = "", stacked: bool = False) -> None:
    """Download the full-resolution COG, its SAR-detail rendering and a PNG quicklook: bytes built on the owner's
    click, at a one-off URL that answers only this browser (`dashboard.downloads`)."""
    output = Path(job.output_path or "")
    if not output.is_file():
        return
    browser_key = st.context.cookies.get(BROWSER_COOKIE)
    browser_key = browser_key if is_browser_key(browser_key) else None  # none without dashboard.guard
    if browser_key is None and signs_in():
        st.warning(NO_PRIVATE_DOWNLOADS, icon=":material/lock:")
        return
    serve_downloads_privately()
    stem = Path(job.file_name).stem or "scene"
    slots = (st.container(), st.container(), st.container()) if stacked else st.columns(3)
    encoding = job.summary.encoding if job.summary else "auto"

    def rendering() -> bytes:
        return rendering_beside(output, job.stored_path, _band(job), encoding).read_bytes()

    size = fmt_bytes(output.stat().st_size)
    buttons = (
        ("cog", f"Download colorized COG ({size})", owned_by(browser_key, output.read_bytes),
         f"{stem}_colorized.tif", "image/tiff", ":material/download:", "primary"),
        ("sar-detail", "Download SAR-detail COG (GIHS)", owned_by(browser_key, rendering),
         f"{stem}_colorized_sar_detail.tif", "image/tiff", ":material/texture:", "secondary"),
        ("png", "Download PNG quicklook", owned_by(browser_key, lambda: quicklook_png(output)),
         f"{stem}_quicklook.png", "image/png", ":material/image:", "secondary"),
    )
    for slot, (kind, label, data, file_name, mime, icon, emphasis) in zip(slots, buttons, strict=True):
        slot.download_button(
            label,
            data=data,
            file_name=file_name,
            mime=mime,
            key=f"dl-{kind}-{job.id}{key}",
            icon=icon,
            type=emphasis,
            on_click="ignore",
            width="stretch",
        )
