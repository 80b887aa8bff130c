"""MNIST Playground: the classic Keras MNIST example, every step live.

Run with ``streamlit run app.py``. This file only sets up the page, the
navigation and the sidebar; each step of the lesson is a file in ``pages/``.
"""

import streamlit as st

from ui.data import dataset_picker
from ui.runs import sidebar_status
from ui.lesson import available_steps
from ui.profile import display_name_box

st.set_page_config(page_title="MNIST Playground", page_icon="✏️", layout="wide")

pages = [
    st.Page(step.path, title=step.title, icon=step.icon, default=(i == 0))
    for i, step in enumerate(available_steps())
]
# The menu is drawn here with st.page_link, and Streamlit's own is hidden (with
# client.showSidebarNavigation = false): on a fresh server Streamlit's first script
# run would otherwise list the pages/ files by name ("app, dataset, draw, ...").
page = st.navigation(pages, position="hidden")

with st.sidebar:
    st.title("✏️ MNIST Playground")
    for link in pages:
        st.page_link(link)
dataset_picker()
sidebar_status()
display_name_box()

page.run()
