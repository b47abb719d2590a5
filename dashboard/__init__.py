"""The analyst dashboard (Streamlit): thin pages over `core/`."""
