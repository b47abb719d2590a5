"""How a page says that something went wrong: one context manager instead of a try/except in every page.

Light on purpose (Streamlit and `core.errors` only), so that `app.py` can use it before torch loads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st

from core.errors import SarColorError


@contextlib.contextmanager
def reported(prefix: str = "", icon: str | None = None, stop: bool = False) -> Iterator[None]:
    """Run a block; a `SarColorError` ends it and is shown as an error message (`stop`: and ends the page)."""
    try:
        yield
    except SarColorError as exc:
        st.error(f"{prefix}{exc}", icon=icon)
        if stop:
            st.stop()
