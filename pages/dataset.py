"""Step 1 · Data: the book's "Data to feed a neural network", live.

Every number here is computed from the loaded arrays. This page never imports
TensorFlow: one-hot is shown with NumPy (core.preprocess.one_hot, equal to
keras.utils.to_categorical, which a test checks) so it opens in about a second.
"""

import numpy as np
import streamlit as st

from core.charts.dataset import (
    class_counts_figure,
    digit_figure,
    examples_grid_figure,
    histogram_figure,
    strip_figure,
)
from core.preprocess import flatten, one_hot, scale
from core.charts.numbers import label_rows, vector_text
from ui.a11y import chart_with_table
from ui.data import current_dataset

EXAMPLES_PER_CLASS = 8
BOOK_TRAIN_INDEX = 8  # x_train[8] is a 1 in the book
BOOK_TEST_LABEL_INDEX = 0  # y_test[0] is a 7 in the book

def loading_section(ds) -> None:
    """``load_data()`` and how many images of each split."""
    st.code(
        "from keras.datasets import mnist\n"
        "(x_train, y_train), (x_test, y_test) = mnist.load_data()"
        if ds.name == "mnist"
        else "from keras.datasets import fashion_mnist\n"
        "(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()",
        language="python",
    )
    st.caption(f"Loaded: {ds.provenance}")

    c1, c2, c3 = st.columns(3)
    c1.metric("Training images", f"{len(ds.x_train):,}")
    c2.metric("Test images", f"{len(ds.x_test):,}")
    c3.metric("Classes", len(ds.class_names))
    st.markdown(
        "The network learns only from the **training** images. The **test** images are kept "
        "apart and used once at the end, to measure how well it reads digits it has never "
        "seen; a **validation** slice cut from the training data is what you watch *during* "
        "training, so that tuning your choices never peeks at the test set."
    )


def image_section(ds) -> tuple[str, np.ndarray, int]:
    """Image N of a split; returns (split, its images, N) for the reshape section."""
    names = ds.class_names
    st.header("Look at one image")
    left, right = st.columns([1, 1.3])
    with left:
        split = st.radio("Split", ["train", "test"], horizontal=True, key="data_split")
        images, labels = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
        # A number box and a slider edit the same N; each copies its value to the other.
        last = len(images) - 1
        for key in ("data_index", "data_index_slider"):
            st.session_state.setdefault(key, BOOK_TRAIN_INDEX)
            st.session_state[key] = min(st.session_state[key], last)
        index = st.number_input(
            "Image number N", min_value=0, max_value=last, step=1, key="data_index",
            on_change=lambda: st.session_state.update(data_index_slider=st.session_state["data_index"]),
        )
        st.slider(
            "…or slide", 0, last, key="data_index_slider",
            on_change=lambda: st.session_state.update(data_index=st.session_state["data_index_slider"]),
        )
        label = int(labels[index])
        st.code(
            f"digit = x_{split}[{index}]\n"
            f"print(y_{split}[{index}])   # → {label}"
            + (f"  ({names[label]})" if ds.name != "mnist" else ""),
            language="python",
        )
        st.metric("Label", names[label])
    with right:
        chart_with_table(
            digit_figure(images[index], title=f"x_{split}[{index}] — label {names[label]}"),
            key="digit_n",
        )
    return split, images, index


def arrays_section(ds) -> None:
    """ndim, shape and dtype of x_train."""
    st.header("What the arrays hold")
    st.markdown("A NumPy tensor is described by its number of axes, its shape and its data type:")
    st.code(
        f">>> print(x_train.ndim)\n{ds.x_train.ndim}\n"
        f">>> print(x_train.shape)\n{ds.x_train.shape}\n"
        f">>> print(x_train.dtype)\n{ds.x_train.dtype}",
        language="python",
    )
    st.caption(
        f"A 3-axis tensor: {len(ds.x_train):,} images of {ds.x_train.shape[1]}×{ds.x_train.shape[2]} "
        f"pixels, each an 8-bit integer from 0 (background) to 255 (full ink)."
    )


def normalise_section(ds) -> None:
    """Integers 0-255 to floats 0-1, with a histogram before and after."""
    st.header("Normalise: integers 0–255 → floats 0–1")
    st.code(
        "x_train = x_train.astype('float32')\nx_test = x_test.astype('float32')\n"
        "x_train /= 255\nx_test /= 255",
        language="python",
    )
    # A fixed sample keeps this light on every rerun; the range is exact over all data.
    sample = ds.x_train[:: max(1, len(ds.x_train) // 2000)]
    scaled_sample = scale(sample)
    before, after = st.columns(2)
    with before:
        st.markdown(
            f"**Before**: dtype `{ds.x_train.dtype}`, values "
            f"{int(ds.x_train.min())} … {int(ds.x_train.max())}"
        )
        chart_with_table(histogram_figure(sample, title="Pixel values (uint8)"), key="hist_before")
    with after:
        st.markdown(
            f"**After**: dtype `{scaled_sample.dtype}`, values "
            f"{float(ds.x_train.min()) / 255:.1f} … {float(ds.x_train.max()) / 255:.1f}"
        )
        chart_with_table(histogram_figure(scaled_sample, title="Pixel values (float32)"), key="hist_after")
    st.caption(
        f"Histogram of {sample.size:,} pixels from {len(sample):,} training images. Most pixels are "
        "background (0); small numbers around 0–1 suit the network's weights and learning rate "
        "far better than 0–255."
    )


def reshape_section(ds, split: str, images: np.ndarray, index: int) -> None:
    """Each 28x28 image becomes 784 numbers (the image chosen above, unrolled)."""
    n_train, n_test = len(ds.x_train), len(ds.x_test)
    st.header("Reshape: each 28×28 image becomes 784 numbers")
    st.code(
        "x_train = x_train.reshape(60000, 784)\nx_test = x_test.reshape(10000, 784)"
        if (n_train, n_test) == (60000, 10000)
        else f"x_train = x_train.reshape({n_train}, 784)\nx_test = x_test.reshape({n_test}, 784)",
        language="python",
    )
    vector = flatten(scale(images[index : index + 1]))[0]
    chart_with_table(
        strip_figure(vector, title=f"x_{split}[{index}] unrolled row by row: 28 rows × 28 columns = {vector.size}"),
        vector_text(vector), key="strip",
    )
    flat_train_shape = (n_train, int(np.prod(ds.x_train.shape[1:])))
    flat_test_shape = (n_test, int(np.prod(ds.x_test.shape[1:])))
    st.code(
        f">>> print(x_train.shape)\n{flat_train_shape}\n>>> print(x_test.shape)\n{flat_test_shape}",
        language="python",
    )
    st.caption("The dense layer sees a flat list: it does not know which pixels were neighbours.")


def one_hot_section(ds) -> None:
    """One test label as the one-hot vector to_categorical makes."""
    n_train, n_test = len(ds.x_train), len(ds.x_test)
    st.header("One-hot labels")
    st.markdown(
        "The network answers with 10 numbers, one per class, so each label becomes a vector "
        "of ten 0s with a single 1 at the label's position."
    )
    one_left, one_right = st.columns([1, 2])
    with one_left:
        st.session_state.setdefault("onehot_index", BOOK_TEST_LABEL_INDEX)
        # Another dataset may have fewer test images than the number kept from before.
        st.session_state["onehot_index"] = min(st.session_state["onehot_index"], n_test - 1)
        j = st.number_input("Test label number", 0, n_test - 1, step=1, key="onehot_index")
    with one_right:
        vector10 = one_hot(ds.y_test[j : j + 1])[0]
        st.code(
            "from keras.utils import to_categorical\n"
            "y_train = to_categorical(y_train, num_classes=10)\n"
            "y_test = to_categorical(y_test, num_classes=10)\n"
            f">>> print(y_test[{j}])   # was the label {int(ds.y_test[j])}\n"
            f"{np.array2string(vector10, separator=' ')}\n"
            f">>> print(y_train.shape, y_test.shape)\n({n_train}, 10) ({n_test}, 10)",
            language="python",
        )


def classes_section(ds) -> None:
    """How many images of each class, and examples of each."""
    names = ds.class_names
    st.header("How many of each class?")
    counts = np.bincount(ds.y_train, minlength=len(names))
    chart_with_table(class_counts_figure(counts, names, title="Training images per class"), key="counts")
    st.caption(
        f"Fewest: {names[int(counts.argmin())]} ({counts.min():,}); most: "
        f"{names[int(counts.argmax())]} ({counts.max():,}). Roughly balanced, so accuracy is a fair "
        "first measure."
    )

    st.subheader("Examples of each class")
    picks = [np.flatnonzero(ds.y_train == c)[:EXAMPLES_PER_CLASS] for c in range(len(names))]
    grid_indices = np.concatenate(picks)
    titles = [f"{names[ds.y_train[i]]} · #{i}" for i in grid_indices]
    chart_with_table(examples_grid_figure(ds.x_train[grid_indices], titles, per_row=EXAMPLES_PER_CLASS),
                     label_rows(titles, column="class · training image"), key="grid")


def main() -> None:
    ds = current_dataset()
    st.title("1 · The data")
    if ds.is_standin:
        st.warning(ds.provenance)
    loading_section(ds)
    split, images, index = image_section(ds)
    arrays_section(ds)
    normalise_section(ds)
    reshape_section(ds, split, images, index)
    one_hot_section(ds)
    classes_section(ds)


main()
