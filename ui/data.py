"""The dataset the sidebar chose, loaded once per server process and shared read-only."""

from __future__ import annotations

import streamlit as st

from core.data import DATASETS, TITLES, Dataset, DatasetUnavailable, load_dataset

DATASET_KEY = "dataset_name"


@st.cache_resource(show_spinner="Loading the dataset…")
def _load(name: str) -> Dataset:
    # Safe to share between sessions: every array in a Dataset is read-only.
    return load_dataset(name)


def load(name: str) -> Dataset:
    """The named dataset (raises DatasetUnavailable when nothing provides it)."""
    return _load(name)


def current_dataset() -> Dataset:
    """The dataset chosen in the sidebar (MNIST by default; it always loads)."""
    name = st.session_state.get(DATASET_KEY, "mnist")
    try:
        return _load(name)
    except DatasetUnavailable:
        return _load("mnist")


def dataset_picker() -> Dataset:
    """Sidebar: choose the dataset, and say where it came from."""
    st.session_state.setdefault(DATASET_KEY, "mnist")
    name = st.sidebar.radio(
        "Dataset", DATASETS, key=DATASET_KEY, format_func=TITLES.get, horizontal=True,
    )
    try:
        dataset = _load(name)
    except DatasetUnavailable as error:
        st.sidebar.warning(str(error))
        dataset = _load("mnist")
    if dataset.is_standin:
        st.sidebar.warning(dataset.provenance)
    else:
        st.sidebar.caption(f"**{dataset.title}** · {dataset.provenance}")
    for message in dataset.warnings:
        st.sidebar.caption(f"⚠️ {message}")
    return dataset
