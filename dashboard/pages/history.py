"""History page: the analyst's jobs (an admin's: everyone's) in the SQLite store; re-download, delete."""

from __future__ import annotations

import streamlit as st

from core.service.jobs import JobStatus
from dashboard import ui
from dashboard.auth import current_user
from dashboard.results import download_buttons, score_columns, show_result

st.title("History")
user = current_user()
store = ui.store()
jobs = store.list(user)
ui.storage_caption(user)
if not jobs:
    st.info("No job yet. Colorize a scene on the **Colorize** page; every run is recorded here.")
    st.stop()

show_owner = user.is_admin and {job.owner for job in jobs} != {user.id}  # an admin looking at others' jobs
st.dataframe(
    [
        {
            "Started": ui.fmt_time(job.created_at),
            **({"Analyst": job.owner} if show_owner else {}),
            "File": job.file_name,
            "Status": ui.status_label(job),
            "Size": ui.fmt_bytes(job.size_bytes),
            "CRS": job.crs or "–",
            "Model": job.model or "–",
            "Time": ui.fmt_seconds(job.seconds),
            **score_columns(job),
            "Error": job.error or "",
            "Job": job.id,
        }
        for job in jobs
    ],
    hide_index=True,
    width="stretch",
    column_config={"Error": st.column_config.TextColumn(width="large")},
    key="history_table",
)
st.caption(
    f"{len(jobs)} job(s). Scores against the reference: the model's, with the better of the two single colours "
    "(flat training colour, reference's own mean colour) in brackets; ✓ where the model beats both."
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
    st.markdown(f"**Input** {job.file_name}  \n**Reference** {ui.reference_label(job)}")
    st.markdown(f"**Settings** {ui.settings_text(job.settings) or '–'}")
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
if reopen:
    show_result(job, downloads=False)
