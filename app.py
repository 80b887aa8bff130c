"""MNIST Playground: the classic Keras MNIST example, every step live.

Run with ``streamlit run app.py``. This file only sets up the page, the
navigation and the sidebar; each step of the lesson is a file in ``pages/``.
"""

import streamlit as st

from core import blas, tf_threads, warmup
from ui.a11y import projector_toggle
from ui.data import dataset_picker
from ui.lesson import available_steps
from ui.lesson_link import lesson
from ui.profile import display_name_box
from ui.runs import sidebar_status

st.set_page_config(page_title="MNIST Playground", page_icon="✏️", layout="wide")
# Many students share the cores: numpy's BLAS spreading one small product over all of
# them (and spinning after it) cost a Draw stroke 2.5x its CPU (core/blas.py).
blas.use_one_blas_thread()
# The same for TensorFlow, before anything imports it: each training on one core, since
# the server already runs one training per core (core/tf_threads.py).
tf_threads.limit_intra_op_threads()

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
lesson()  # a lesson link's settings, kept for the session (and in the URL) from the first page on
dataset = dataset_picker()
# The teacher's Class page may be on the projector: no workspace id in its sidebar.
sidebar_status(show_workspace=page.url_path != "class")
display_name_box()
projector_toggle()

page.run()

# TensorFlow loads (and the Book model traces) in the background once the first page
# is on screen (importing it holds the interpreter lock for seconds at a time, so not
# before): the first student to press Train does not wait for it. Once per process.
warmup.start(dataset=dataset)  # its splits prepared as the Book's input, as a training would
