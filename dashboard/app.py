"""sarcolor dashboard: `streamlit run dashboard/app.py`. Navigation only; each page is a file in views/.

Not pages/: Streamlit treats a folder of that name as the old page list, and a page's URL opened directly on a fresh
server would run that file alone, without this script's layout and sign-in.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without `pip install -e`

from core.settings import Limits
from dashboard.assets import ensure_assets
from dashboard.auth import account_menu, current_user
from dashboard.messages import reported

VIEWS = Path(__file__).resolve().parent / "views"

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
            st.Page(VIEWS / "colorize.py", title="Colorize", icon=":material/palette:", default=True),
            st.Page(VIEWS / "history.py", title="History", icon=":material/history:"),
        ],
        "Models": [
            st.Page(VIEWS / "training.py", title="Training", icon=":material/monitoring:"),
            st.Page(VIEWS / "evaluation.py", title="Evaluation", icon=":material/analytics:"),
            st.Page(VIEWS / "models.py", title="Models", icon=":material/deployed_code:"),
        ],
    }
)
navigation.run()
