"""MNIST Playground: the classic Keras MNIST example, every step live.

Run with ``streamlit run app.py``. This file only sets up the page, the
navigation and the sidebar; each step of the lesson is a file in ``pages/``.
"""

import streamlit as st

from ui.data import dataset_picker

st.set_page_config(page_title="MNIST Playground", page_icon="✏️", layout="wide")

# The lesson, in the book chapter's order. Each entry is (file, title, icon).
LESSON = [
    ("pages/home.py", "Home", ":material/home:"),
    ("pages/dataset.py", "1 · Data", ":material/grid_on:"),
]

pages = [
    st.Page(path, title=title, icon=icon, default=(i == 0)) for i, (path, title, icon) in enumerate(LESSON)
]
page = st.navigation(pages)

with st.sidebar:
    st.title("✏️ MNIST Playground")
dataset_picker()

page.run()
