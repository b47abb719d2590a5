"""History page: the analyst's jobs (an admin's: everyone's) in the SQLite store; re-download, delete."""

from __future__ import annotations

import streamlit as st

from core.service.jobs import JobStatus
from dashboard import ui
from dashboard.auth import current_user
from dashboard.labels import text_width
from dashboard.results import (
    HISTORY_SCORES,
    SCORE_HEADERS,
    colour_note,
    download_buttons,
    score_columns,
    score_table,
    show_result,
)

st.title("History")
user = current_user()
store = ui.store()
jobs = store.list(user)
ui.storage_caption(user)
if not jobs:
    st.info("No job yet. Colorize a scene on the **Colorize** page; every run is recorded here.")
    st.stop()

show_owner = user.is_admin and {job.owner for job in jobs} != {user.id}  # an admin looking at others' jobs
# Columns as wide as their longest text, so nothing in a cell is hidden: a long file name is shortened here, and an
# error is said in the job's details below, with the whole name and all six scores (four here, units in headers).
table = [
    {
        "Started": ui.fmt_short_time(job.created_at),
        **({"Analyst": job.owner} if show_owner else {}),
        "File": ui.shortened(job.file_name, ui.FILE_CHARS),
        "Status": ui.status_label(job),
        "Model": job.model or "–",
        "Time": ui.fmt_seconds(job.wall_seconds),
        **score_columns(job),
        "Error": job.error or "",
        "Outcome": ui.status_label(job) + colour_note(job),
        "Job": job.id,
    }
    for job in jobs
]
column = st.column_config.TextColumn
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    column_order=[c for c in ("Started", "Analyst", "File", "Outcome", "Time", *HISTORY_SCORES)
                  if c != "Analyst" or show_owner],
    column_config={
        "Started": column(help="Day and time the job was queued."),
        "Analyst": column(width=text_width(row.get("Analyst", "") for row in table)),
        "File": column(width=text_width(row["File"] for row in table)),
        "Outcome": column(width=text_width(row["Outcome"] for row in table),
                          help="Done, failed or cancelled: the job's details below say why."),
        "Time": column(help="Wall time: from queueing the job to its result."),
    }
    | {label: column(short) for label, short in SCORE_HEADERS.items()},
    key="history_table",
)
st.caption(
    f"{len(jobs)} job(s). Scores against the reference; ✓ where the model beats both single colours (flat training "
    "colour, reference's own mean colour), or for green recall chance (its own false green). A job's details below "
    "show the single colours' scores, the whole file name and any error. A guided job's scores measure its agreement "
    "with its own guide, not an independent check."
)

st.subheader("Job details")
job = st.selectbox(
    "Job",
    jobs,
    format_func=lambda j: f"{ui.fmt_time(j.created_at)} · {j.file_name} · {ui.status_label(j)}",
    key=f"job-after-{jobs[0].id}",  # a new job resets the choice to it
)
left, right = st.columns([3, 2])
with left:
    if job.status == JobStatus.FAILED:
        st.error(job.error or "Failed.")
    elif job.status == JobStatus.CANCELLED:
        st.warning(job.error or "Cancelled.")
    st.markdown(f"**Input** {job.file_name} ({ui.fmt_bytes(job.size_bytes)}, {job.crs or 'no CRS'})  \n"
                f"**Reference** {ui.reference_label(job)}")
    st.markdown(f"**Model** {ui.plain(job.model or '–')} · **Wall time** {ui.fmt_seconds(job.wall_seconds)}  \n"
                f"**Settings** {ui.settings_text(job.settings) or '–'} · job `{job.id}`")
with right:
    if job.status == JobStatus.DONE:
        download_buttons(job, key="-history", stacked=True)
    reopen = job.status == JobStatus.DONE and st.toggle("Show this job's map and comparison", key=f"reopen-{job.id}")
    if st.button("Delete this job and its files", icon=":material/delete:", key=f"delete-{job.id}"):
        if job.is_finished:
            store.delete(job.id, user)
            st.toast(f"Deleted job {job.id} ({job.file_name}).")
            st.rerun()
        else:
            st.warning("This job is still running: cancel it on the Colorize page first.")
if job.reference_scores:
    score_table(job.reference_scores)
if reopen:
    show_result(job, downloads=False)
