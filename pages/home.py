"""Home: what the lesson is, and a link to each step."""

import streamlit as st

from ui.data import current_dataset

dataset = current_dataset()

st.title("MNIST Playground")
st.markdown(
    """
Teach a computer to read handwritten digits, one live step at a time. This is the
classic Keras MNIST example: **70,000 pictures of digits**, a tiny neural network of
**7,960 numbers**, and about a minute of training that takes it from guessing to
reading roughly nine digits in ten. Every number on these pages is computed from the
real data and the real network you train, and each step shows the Python code that
produced it, so you can copy it into your own notebook.
"""
)

if dataset.is_standin:
    st.warning(dataset.provenance)

st.subheader("The lesson")
STEPS = [
    ("pages/dataset.py", "1 · Data", "Load MNIST, look inside the arrays, and prepare them for the network: "
     "scale to [0, 1], reshape to 784, one-hot labels."),
    ("pages/train.py", "2 · Train", "Build the book's network, choose epochs and batch size, and watch "
     "loss and accuracy move while it learns."),
    ("pages/evaluate.py", "3 · Evaluate", "Test accuracy, the confusion matrix, and the digits the network "
     "gets wrong, and why accuracy alone can mislead."),
    ("pages/draw.py", "4 · Draw", "Draw a digit and see every preprocessing step and what the network thinks."),
]
from pathlib import Path  # noqa: E402  (only for the existence check below)

ROOT = Path(__file__).resolve().parent.parent
for path, title, text in STEPS:
    if not (ROOT / path).exists():
        continue  # a step is linked only once its page exists
    with st.container(border=True):
        st.page_link(path, label=f"**{title}**")
        st.caption(text)

st.caption(
    "Based on the Keras MNIST example as taught in the book chapter "
    "(Sequential, Dense, SGD, categorical cross-entropy). "
    f"Data: {dataset.provenance}"
)
