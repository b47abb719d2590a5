"""Colorize page: the title paints at once; the engine (torch, rasterio, the map) loads behind a spinner."""

import streamlit as st

st.title("Colorize a Sentinel-1 scene")
with st.spinner("Loading the colorization engine… (only the first visit after the app starts takes a while)"):
    from dashboard.colorize_view import main
main()
