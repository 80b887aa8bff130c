"""Plotly figures built from plain arrays (no Streamlit), one module per page."""
