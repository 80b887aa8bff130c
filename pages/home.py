"""Home: what the lesson is, and a link to each step."""

import streamlit as st

from ui.data import current_dataset
from ui.lesson import available_steps

dataset = current_dataset()

st.title("MNIST Playground")
st.markdown(
    """
Teach a computer to read handwritten digits, one live step at a time. This is the
classic Keras MNIST example: **70,000 pictures of digits**, a tiny neural network of
**7,960 numbers**, and a few seconds of training that take it from blind guessing to
reading most of the digits it has never seen (a small convolutional network, a minute
of training, reads 99 in 100). Every number on these pages is computed from the
real data and the real network you train, and each step shows the Python code that
produced it, so you can copy it into your own notebook.
"""
)

if dataset.is_standin:
    st.warning(dataset.provenance)

st.subheader("The lesson")
for step in available_steps()[1:]:
    with st.container(border=True):
        st.page_link(step.path, label=f"**{step.title}**", icon=step.icon)
        st.caption(step.blurb)

st.caption(
    "Based on the Keras MNIST example as taught in the book chapter "
    "(Sequential, Dense, SGD, categorical cross-entropy). "
    f"Data: {dataset.provenance}"
)
