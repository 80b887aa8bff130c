"""The dataset the sidebar chose, loaded once per server process and shared read-only."""

from __future__ import annotations

import streamlit as st

from core.data import DATASETS, TITLES, Dataset, DatasetUnavailable, load_dataset

DATASET_KEY = "dataset_name"
#: Why the last choice in the sidebar could not be used (shown once, then cleared).
UNAVAILABLE_KEY = "dataset_unavailable"
DEFAULT = "mnist"


@st.cache_resource(show_spinner="Loading the dataset…")
def _load(name: str) -> Dataset | str:
    # Safe to share between sessions: every array in a Dataset is read-only.
    # A dataset that no source provides is cached too, as its explanation, so the
    # whole chain of sources (a download attempt included) is not retried on
    # every rerun of every session.
    try:
        return load_dataset(name)
    except DatasetUnavailable as error:
        return str(error)


def load(name: str) -> Dataset:
    """The named dataset; raises DatasetUnavailable (with the explanation) when nothing provides it."""
    result = _load(name)
    if isinstance(result, str):
        raise DatasetUnavailable(result)
    return result


def current_dataset() -> Dataset:
    """The dataset chosen in the sidebar (MNIST by default; it always loads)."""
    name = st.session_state.get(DATASET_KEY, DEFAULT)
    try:
        return load(name if isinstance(name, str) and name in DATASETS else DEFAULT)  # a forged name: the default
    except DatasetUnavailable:
        return load(DEFAULT)


def _check_choice() -> None:
    """Radio callback: an unavailable dataset is refused, and the radio goes back to MNIST."""
    name = st.session_state[DATASET_KEY]
    result = _load(name) if isinstance(name, str) and name in DATASETS else f"There is no dataset called {str(name)[:40]!r}."
    if isinstance(result, str):
        st.session_state[UNAVAILABLE_KEY] = result
        st.session_state[DATASET_KEY] = DEFAULT


def dataset_picker() -> Dataset:
    """Sidebar: choose the dataset, and say where it came from."""
    name = st.session_state.get(DATASET_KEY)
    if not isinstance(name, str) or name not in DATASETS:  # unset, or forged
        st.session_state[DATASET_KEY] = DEFAULT
    st.sidebar.radio(
        "Dataset", DATASETS, key=DATASET_KEY, format_func=TITLES.get, horizontal=True,
        on_change=_check_choice,
    )
    if message := st.session_state.pop(UNAVAILABLE_KEY, None):
        st.sidebar.warning(message)
    dataset = current_dataset()
    if dataset.is_standin:
        st.sidebar.warning(dataset.provenance)
    else:
        st.sidebar.caption(f"**{dataset.title}** · {dataset.provenance}")
    for message in dataset.warnings:
        st.sidebar.caption(f":material/warning: {message}")
    return dataset
