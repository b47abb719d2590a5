"""The dashboard as a web server: `streamlit run dashboard/serve.py` serves `dashboard/app.py` behind the guard
(`dashboard.guard.DownloadGuard`) that keeps each download to the browser that clicked it."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without `pip install -e`

from dashboard.guard import DownloadGuard

app = st.App("app.py", middleware=[Middleware(DownloadGuard)])
