"""Home: what the lesson is, a first look at the data, and a link to each step.

The first look is also what makes the next pages open quickly: it is a plotly
chart and a code block, so the browser has already loaded plotly.js and the
code highlighter (lazy chunks that take it about a second) when the student
clicks on to the Data page.
"""

import numpy as np
import streamlit as st

from core.charts.dataset import examples_grid_figure
from core.charts.numbers import label_rows
from ui.a11y import chart_with_table
from ui.data import current_dataset
from ui.lesson import available_steps

FIRST_LOOK = 12  # the first training images, as the book's loop over x_train[:n] shows them


def intro_section() -> None:
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


def first_look_section(dataset) -> None:
    """The first training images and the code that loads them."""
    first_look, code = st.columns([3, 2], vertical_alignment="center")
    with first_look:
        titles = [f"{dataset.class_names[label]} · #{i}" for i, label in enumerate(dataset.y_train[:FIRST_LOOK])]
        chart_with_table(
            examples_grid_figure(dataset.x_train[:FIRST_LOOK], titles, per_row=FIRST_LOOK // 2),
            label_rows(titles, column="class · training image"), key="home_first_look",
        )
    with code:
        st.code(
            f"from keras.datasets import {dataset.name}\n"
            f"(x_train, y_train), (x_test, y_test) = {dataset.name}.load_data()\n"
            f"print(y_train[:{FIRST_LOOK}])\n"
            f"# {np.array2string(dataset.y_train[:FIRST_LOOK])}",
            language="python", wrap_lines=True,
        )


def lesson_section() -> None:
    """A link to each step after Home."""
    st.subheader("The lesson")
    for step in available_steps()[1:]:
        if step.teacher_only:  # the teacher knows where the Class page is; students need not see it
            continue
        with st.container(border=True):
            st.page_link(step.path, label=f"**{step.title}**", icon=step.icon)
            st.caption(step.blurb)


def main() -> None:
    dataset = current_dataset()
    intro_section()
    if dataset.is_standin:
        st.warning(dataset.provenance)
    first_look_section(dataset)
    lesson_section()
    st.caption(
        "Based on the Keras MNIST example as taught in the book chapter "
        "(Sequential, Dense, SGD, categorical cross-entropy). "
        f"Data: {dataset.provenance}"
    )


main()
