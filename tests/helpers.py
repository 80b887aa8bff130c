"""Helpers shared by test modules and benchmarks (fixtures live in conftest.py).

Tests import it as ``helpers`` (pytest puts tests/ on sys.path); benchmarks as
``tests.helpers`` with the repository root on sys.path.
"""

from __future__ import annotations

import base64
import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# AppTest runs the page scripts in-process; pages that import TensorFlow need time.
APPTEST_TIMEOUT = 180
_RNG = np.random.default_rng(0)


# -- data ---------------------------------------------------------------------------
def small_arrays(n_train: int = 30, n_test: int = 10) -> dict[str, np.ndarray]:
    """Random 28x28 uint8 images, labels cycling 0-9: the smallest valid dataset."""
    return dict(
        x_train=_RNG.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=(np.arange(n_train) % 10).astype(np.uint8),
        x_test=_RNG.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=(np.arange(n_test) % 10).astype(np.uint8),
    )


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An array as an idx file (LeCun's format): magic, dimensions, raw bytes."""
    magic = magic if magic is not None else (0x800 | array.ndim)
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_folder(folder, arrays, *, gz=True, dotted=False):
    """The four idx files of ``arrays`` in ``folder`` (gzipped, or named with dots)."""
    from core import data

    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in data.IDX_FILES.items():
        if dotted:
            stem = stem.replace("-idx", ".idx")
        raw = idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return folder


# -- models and runs ------------------------------------------------------------------
def book_network(*, optimizer: str = "adam", steps_per_execution: int = 1):
    """The chapter's network, Dense(10, sigmoid) -> Dense(10, softmax) on 784 inputs,
    compiled (seeded with 0 first, so its weights are the same each time)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense(10, activation="sigmoid"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"],
                  steps_per_execution=steps_per_execution)
    return model


def save_finished_run(model, *, root, workspace: str, config: dict, dataset: str = "mnist",
                      epochs: int = 1, name: str = "tiny", **metrics) -> str:
    """Save ``model`` as a finished run of ``epochs`` epochs (``metrics``: test_loss, ...); its id."""
    from core.runs import FINISHED, RunStore

    store = RunStore(workspace, root=root)
    run = store.create(config, dataset=dataset, seed=0, epochs_planned=epochs, name=name)
    store.save_model(run.run_id, model)
    store.update_metrics(run.run_id, status=FINISHED, epochs_done=epochs, **metrics)
    return run.run_id


def train_and_save(x_train, y_train, x_test, y_test, *, root, workspace: str, dataset: str, epochs: int = 3):
    """Train the book's network briefly (Adam, so a few seconds suffice) and save it as a run.

    Returns (run id, test loss, test accuracy, (N, 10) test probabilities).
    """
    import keras

    from core.preprocess import model_input

    model = book_network()
    x = model_input(x_train, input_shape=model.input_shape)
    model.fit(x, keras.utils.to_categorical(y_train, 10), batch_size=100, epochs=epochs, verbose=0)
    xt = model_input(x_test, input_shape=model.input_shape)
    loss, accuracy = model.evaluate(xt, keras.utils.to_categorical(y_test, 10), verbose=0)
    run_id = save_finished_run(model, root=root, workspace=workspace, config={"preset": "Book"},
                               dataset=dataset, epochs=epochs, name="tiny book",
                               test_loss=loss, test_accuracy=accuracy)
    probs = model.predict(xt, batch_size=2048, verbose=0)
    return run_id, loss, accuracy, probs


def dead_writer() -> dict:
    """The writer identity of a process that has ended."""
    from core import liveness

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return {"host": liveness.WRITER["host"], "pid": int(proc.stdout), "start_ticks": 1}


# -- AppTest ---------------------------------------------------------------------------
def open_app(page: str | None = None, *, query: dict | None = None, session: dict | None = None):
    """A new session of app.py (URL ``query``, ``session`` state set first), on ``page``
    after Home when given; fails on any exception. (AppTest lists app.py's sidebar on
    the first run only, not after switch_page.)"""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APPTEST_TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def pictures(at) -> list[list[tuple[str, str]]]:
    """Each ``st.image`` row on the page as its (caption, url) pairs."""
    return [[(image.caption, image.url) for image in element.proto.imgs] for element in at.get("image")]


def plotly_array(value) -> np.ndarray:
    """An array from a figure's JSON: a list, or plotly 6+'s typed buffer
    ``{"dtype": "i8", "bdata": base64, "shape": "10, 10"}``."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(s) for s in str(shape).split(",")]) if shape else flat
    return np.asarray(value)


def mosaic_tiles(z) -> list[np.ndarray]:
    """The pictures of a mosaic heatmap (core.charts.inside), row by row: cut at its all-NaN rows and columns."""
    z = np.asarray(z, dtype=float)

    def runs(filled):  # (start, stop) of each run of True
        edges = np.flatnonzero(np.diff(np.concatenate([[0], filled.astype(int), [0]])))
        return list(zip(edges[::2], edges[1::2]))

    return [z[r0:r1, c0:c1] for r0, r1 in runs(~np.isnan(z).all(axis=1)) for c0, c1 in runs(~np.isnan(z).all(axis=0))
            if not np.isnan(z[r0:r1, c0:c1]).all()]
