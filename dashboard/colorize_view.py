"""The Colorize page's body: pick a sample or upload a SAR scene, run the model with live progress, see the result.

Imported by `views/colorize.py` behind a spinner, so the page's title paints before torch and friends load.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import streamlit as st

from core.colorize import ColorizeOptions
from core.errors import InvalidSettingsError, ReferenceBandsUnknown, StorageLimitError
from core.rasters.normalise import Encoding
from core.rasters.optical import rgb_bands
from core.rasters.scene import open_raster
from core.service.jobs import Job, JobStatus
from core.service.uploads import check_zip_size, input_name, large_product_advice, upload_label
from core.service.users import User
from dashboard import ui
from dashboard.auth import current_user
from dashboard.messages import reported
from dashboard.results import CLICKED_AT, show_result

JOB_SCENE = "job_scene"  # session state: `_scene_key` of the input the shown job was started on
LEFT_RESULT = "left_result"  # session state: the file name of a result taken off the page by a new input

SAR_TYPES = ["tif", "tiff", "png", "jpg", "jpeg", "zip"]
ENCODINGS = {
    "auto": "Detect automatically",
    Encoding.DB: "σ0 in dB (float)",
    Encoding.LINEAR: "Linear power (float)",
    Encoding.AMPLITUDE: "Amplitude DN (integer, raw GRD)",
    Encoding.DB_U8: "8-bit rendering of dB",
    Encoding.LINEAR_U8: "8-bit linear intensity",
    Encoding.DB_MINMAX_U8: "8-bit dB stretched per image (min to max)",
}


def _stored_upload(uploaded, slot: str) -> Path:
    """Copy an upload to the var dir once (uploads are held in RAM), keyed by its upload id."""
    copies = st.session_state.setdefault("upload_copies", {})
    key = f"{slot}:{uploaded.file_id}"
    if key not in copies or not Path(copies[key]).exists():
        uploaded.seek(0)
        copies[key] = str(ui.store().store_upload(uploaded.name, uploaded))
    return Path(copies[key])


def _stored_scene(files: list) -> tuple[str, Path] | None:
    """The uploaded SAR files stored together in their own folder (once per upload), and the name and path the
    pipeline reads: the one file, or the VV file of an RTC pair (known by name, or by tags once stored). None, with
    a message, for files that do not go together (their folder removed) or a zip over the app's limit."""
    names = [f.name for f in files]
    try:
        for f in files:
            check_zip_size(f.name, f.size, ui.runner().limits, st.get_option("server.maxUploadSize"))
    except InvalidSettingsError as exc:
        st.error(str(exc), icon=":material/block:")
        return None
    copies = st.session_state.setdefault("upload_copies", {})
    key = "sar:" + ":".join(f.file_id for f in files)
    if key not in copies or not Path(copies[key]).exists():
        for f in files:
            f.seek(0)
        copies[key] = str(ui.store().store_uploads([(f.name, f) for f in files]))
    folder = Path(copies[key])
    try:
        chosen = input_name(names, folder)
    except InvalidSettingsError as exc:
        ui.store().discard_upload(folder)
        copies.pop(key)
        st.error(str(exc), icon=":material/block:")
        return None
    return upload_label(names, chosen, folder), folder / chosen


def _sidebar() -> tuple[Path | None, ColorizeOptions]:
    with st.sidebar:
        st.subheader("Model")
        models = ui.model_choices()
        model = st.selectbox("Checkpoint", models, format_func=ui.model_label, key="model") if models else None
        st.subheader("SAR input")
        band = st.selectbox("Polarisation", ["VV", "VH"], key="band", help="Band to colorize when the file has both.")
        encoding = st.selectbox("Encoding", list(ENCODINGS), format_func=ENCODINGS.get, key="encoding",
                                help="How the pixel values are stored; detected from metadata and values by default.")
        with st.expander("Tiling"):
            default = ColorizeOptions()
            tile = st.select_slider("Tile size (px)", [128, 256, 512], value=default.tile, key="tile")
            overlap = st.slider("Overlap (px)", 0, tile // 2, min(default.overlap, tile // 2), step=16, key="overlap")
            batch = st.slider("Batch size", 1, 32, default.batch, key="batch")
    return model, ColorizeOptions(band=band, encoding=str(encoding), tile=tile, overlap=overlap, batch=batch)


def _reference_bands(path: Path, name: str) -> tuple[int, int, int] | None:
    """None when the reference's red, green and blue bands are known; else the analyst's choice."""
    try:
        with open_raster(path) as src:
            rgb_bands(src)
            return None
    except ReferenceBandsUnknown as exc:
        st.warning(str(exc).replace(path.name, name), icon=":material/palette:")
        with open_raster(path) as src:
            count = src.count
        columns = st.columns(3)
        picks = [
            col.number_input(f"{colour} band", 1, count, min(default, count), key=f"ref_band_{colour}")
            for col, colour, default in zip(columns, ("Red", "Green", "Blue"), (4, 3, 2), strict=True)
        ]
        return int(picks[0]), int(picks[1]), int(picks[2])


def _inputs() -> tuple[str, Path, str | None, Path | None, tuple[int, int, int] | None] | None:
    """(name, path, reference name, reference path, reference bands) of the chosen scene, or None."""
    source = st.radio("Input", ["Built-in sample", "Upload"], horizontal=True, key="source")
    if source == "Upload":
        a, b = st.columns(2)
        files = a.file_uploader(
            "SAR scene (GeoTIFF, PNG/JPEG without map, or a zip; an RTC product's VV and VH files together)",
            type=SAR_TYPES, accept_multiple_files=True, key="sar_upload",
        )  # fmt: skip
        a.caption(large_product_advice(st.get_option("server.maxUploadSize")))
        stored = _stored_scene(files) if files else None
        if stored is None:
            if not files:
                st.info("Upload a Sentinel-1 GeoTIFF (σ0 dB, linear or amplitude; VV and/or VH), the VV and VH files "
                        "of an OPERA or HyP3 RTC product, or a product's zip.")  # fmt: skip
            return None
        # A new scene gets a fresh reference slot: a reference left from the last scene is never attached to it.
        ref = b.file_uploader(
            "Reference optical GeoTIFF (optional: RGB, or Sentinel-2 bands)",
            type=["tif", "tiff"],
            key="ref_upload_" + "_".join(f.file_id for f in files),
        )
        ref_path = _stored_upload(ref, "ref") if ref is not None else None
        bands = _reference_bands(ref_path, ref.name) if ref_path else None
        return stored[0], stored[1], (ref.name if ref else None), ref_path, bands
    samples = ui.samples()
    sample = st.selectbox("Sample", samples, format_func=lambda s: s.label, key="sample")
    st.caption("Real BigEarthNet Sentinel-1 patch (VV+VH, σ0 dB, 10 m, UTM) with its Sentinel-2 true-colour patch.")
    return sample.sar.name, sample.sar, sample.optical.name, sample.optical, None


def _guide_choice(scene: tuple | None) -> bool:
    """Whether to colour from the scene's optical reference (asked only when it has one)."""
    if scene is None or scene[3] is None:
        return False
    return st.toggle(
        "Colour from the reference optical (guided)",
        key="guided",
        help="The result takes this place's colours from the reference (another date is fine): its colours where "
        "the SAR agrees with it, the SAR's where the SAR shows a change (new water, a cleared field). Outside the "
        "reference, the model colours. Scores against that same reference then measure agreement with it, not an "
        "independent check.",
    )


def _start(user: User, model_path: Path, scene: tuple, options: ColorizeOptions, guided: bool = False) -> None:
    """Load the model and queue the scene as the user's; the job is followed from `st.session_state["job_id"]`.

    `guided`: the reference also guides the colour (the job's settings name it as the analyst gave it).
    """
    name, path, ref_name, ref_path, ref_bands = scene
    clicked = time.time()
    if guided:
        options = replace(options, guide=str(ref_path), guide_bands=ref_bands, guide_name=ref_name)
    shown = {"reference_bands": ref_bands, "guide": ref_name if guided else None, "guide_bands": None,
             "guide_name": None}  # fmt: skip
    with reported(icon=":material/block:"):
        try:
            job = ui.runner().start(
                user, name, path, ui.load_model(model_path), options, size_bytes=ui.store().upload_bytes(path),
                settings=shown, reference_name=ref_name, reference_path=str(ref_path) if ref_path else None,
            )
        except StorageLimitError:
            st.session_state["offer_cleanup"] = True
            raise
        st.session_state["job_id"] = job.id
        st.session_state[JOB_SCENE] = _scene_key(scene)
        st.session_state.pop(LEFT_RESULT, None)
        st.session_state.setdefault(CLICKED_AT, {})[job.id] = clicked


def _cleanup_offer(user: User) -> None:
    """The user's oldest results whose deletion frees enough room, deleted only when the user says so."""
    limit, store = ui.runner().limits.user_stored_mb, ui.store()
    jobs = store.oldest_to_free(user, limit * 1_000_000) if limit else []
    if not jobs:
        st.session_state.pop("offer_cleanup", None)
        return
    with st.container(border=True):
        st.markdown(f"Deleting your **{len(jobs)} oldest** job(s) and their files brings you under your limit:")
        st.dataframe([{"Started": ui.fmt_time(job.created_at), "File": job.file_name, "Status": job.status_label,
                       "Stored": ui.fmt_bytes(store.job_bytes(job))} for job in jobs], hide_index=True,
                     key="cleanup_table")
        if st.button(f"Delete these {len(jobs)} job(s)", icon=":material/delete:", key="cleanup"):
            for job in jobs:
                store.delete(job.id, user)
            st.session_state.pop("offer_cleanup", None)
            st.toast(f"Deleted {len(jobs)} old job(s).")
            st.rerun()


def progress_text(done: int, total: int, stage: str) -> str:
    """'120 / 480 tiles', 'Fitting the guide's colours: 3 / 48', 'Starting…' before anything is counted."""
    if stage:
        return f"{stage[0].upper()}{stage[1:]}: {done} / {total}"
    return f"{done} / {total} tiles" if total else "Starting…"


def _follow(job: Job) -> Job:
    """Live progress of a running or queued job, with a cancel button; returns the finished job."""
    runner = ui.runner()
    handle = runner.handle(job.id)
    if handle is None:  # started by another process that is gone; the store will say
        return job
    with st.status(f"Colorizing {job.file_name}…", expanded=True) as status:
        cancel_slot = st.empty()
        if cancel_slot.button("Cancel", key=f"cancel-{job.id}", icon=":material/cancel:"):
            runner.cancel(job.id)
        bar = st.progress(0.0, text="Starting…")
        while not handle.finished.wait(0.3):
            position = runner.queue_position(job.id)
            text = (f"Waiting for a free slot (queue position {position})" if position
                    else progress_text(handle.done_tiles, handle.total_tiles, handle.stage))
            bar.progress(handle.fraction, text=text)
        cancel_slot.empty()
        job = ui.store().get(job.id, current_user()) or job
        state = {JobStatus.DONE: "complete", JobStatus.CANCELLED: "error", JobStatus.FAILED: "error"}.get(
            job.status, "running"
        )
        bar.progress(1.0 if job.status == JobStatus.DONE else handle.fraction, text=job.status_label)
        status.update(label=f"{job.file_name}: {job.status_label}", state=state, expanded=job.status != JobStatus.DONE)
    return job


def _scene_key(scene: tuple | None) -> str | None:
    """What identifies the chosen input: its stored SAR file and reference (None: nothing chosen)."""
    return None if scene is None else f"{scene[1]}|{scene[3]}"


def _current_job(user: User, scene: tuple | None) -> Job | None:
    """The job this page shows: the last one started here, unless another input has been chosen since, in which
    case its result, scores and error leave the page (they stay in History)."""
    job_id = st.session_state.get("job_id")
    job = ui.store().get(job_id, user) if job_id else None
    if job is not None and st.session_state.get(JOB_SCENE, _scene_key(scene)) != _scene_key(scene):
        st.session_state.pop("job_id", None)
        st.session_state.pop(JOB_SCENE, None)
        st.session_state[LEFT_RESULT] = job.file_name
        job = None
    if job is None and LEFT_RESULT in st.session_state:
        st.caption(f"The result of your previous scene, {ui.plain(st.session_state[LEFT_RESULT])}, is in History.")
    return job


def main() -> None:
    """The page below its title."""
    user = current_user()
    model_path, options = _sidebar()
    if model_path is None:
        ui.no_model_message()
    scene = _inputs()
    guided = _guide_choice(scene)
    if st.button("Colorize", type="primary", icon=":material/palette:", disabled=scene is None or model_path is None,
                 key="run"):
        _start(user, model_path, scene, options, guided)
    if st.session_state.get("offer_cleanup"):
        _cleanup_offer(user)

    job = _current_job(user, scene)
    if job is not None:
        if not job.is_finished:
            job = _follow(job)
        if job.status == JobStatus.DONE:
            try:
                show_result(job)
            except Exception as exc:  # never a traceback in the page; the result file itself is fine
                st.error(f"The result was written but cannot be displayed: {exc}")
        elif job.status == JobStatus.FAILED:
            st.error(f"**{job.file_name}** could not be colorized. {job.error}", icon=":material/error:")
        elif job.status == JobStatus.CANCELLED:
            st.warning(job.error or "The job was cancelled.", icon=":material/cancel:")
