"""sarcolor dashboard: `streamlit run dashboard/app.py`. Navigation only; each page is a file in pages/."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without `pip install -e`

from core.settings import Limits
from dashboard.assets import ensure_assets
from dashboard.auth import account_menu, current_user
from dashboard.messages import reported

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="sarcolor", page_icon=":material/satellite_alt:", layout="wide")
ensure_assets()  # Leaflet served by the app (offline maps); normally copied by `make setup`
with reported("The app is misconfigured: ", icon=":material/settings:", stop=True):
    Limits.from_env()  # SARCOLOR_MAX_PIXELS etc.: a bad value is said once, clearly, not as a traceback
st.logo(str(Path(__file__).resolve().parent / "logo.svg"), size="large")
with reported("Sign-in is misconfigured: ", icon=":material/lock:", stop=True):
    user = current_user()  # a signed-out visitor sees only the sign-in page; nothing below runs for them
account_menu(user)
navigation = st.navigation(
    {
        "Run": [
            st.Page(PAGES / "colorize.py", title="Colorize", icon=":material/palette:", default=True),
            st.Page(PAGES / "history.py", title="History", icon=":material/history:"),
        ],
        "Models": [
            st.Page(PAGES / "training.py", title="Training", icon=":material/monitoring:"),
            st.Page(PAGES / "evaluation.py", title="Evaluation", icon=":material/analytics:"),
            st.Page(PAGES / "models.py", title="Models", icon=":material/deployed_code:"),
        ],
    }
)
navigation.run()
