"""Settings read from environment variables, in one place.

Each setting is read when asked for (not at import), so tests can change the
environment with ``monkeypatch.setenv``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

#: Where Debian's ``dataset-fashion-mnist`` package puts the idx files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def _positive_int(var: str, default: int) -> int:
    """``var`` as a whole number >= 1; unset means ``default``, a bad value too (with a warning, never a crash)."""
    value = os.environ.get(var, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        # warnings.warn, not logging: shown once per message, not on every rerun that reads it.
        warnings.warn(
            f"{var}={value!r} is not a whole number >= 1; using the default {default}",
            RuntimeWarning,
            stacklevel=3,
        )
        return default
    return number


def _path(var: str) -> Path | None:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else None


def mnist_path() -> Path | None:
    """``MNIST_PATH``: a Keras-style ``mnist.npz`` or a folder of the four idx files."""
    return _path("MNIST_PATH")


def fashion_mnist_path() -> Path | None:
    """``FASHION_MNIST_PATH``, else Debian's folder when it exists."""
    path = _path("FASHION_MNIST_PATH")
    if path is None and DEBIAN_FASHION_MNIST.is_dir():
        return DEBIAN_FASHION_MNIST
    return path


def use_keras_datasets() -> bool:
    """``PLAYGROUND_KERAS_DATASETS`` (default 1): try ``keras.datasets`` (cache or download)."""
    return os.environ.get("PLAYGROUND_KERAS_DATASETS", "1").strip() not in {"0", "false", "no"}


def warm_up() -> bool:
    """``PLAYGROUND_WARM_UP`` (default 1): import TensorFlow and trace the Book model in the
    background as soon as the server runs its first page, so no student waits for it."""
    return os.environ.get("PLAYGROUND_WARM_UP", "1").strip() not in {"0", "false", "no"}


def runs_dir() -> Path:
    """``PLAYGROUND_RUNS_DIR`` (default ``runs/`` beside app.py): where runs are saved."""
    return _path("PLAYGROUND_RUNS_DIR") or Path(__file__).resolve().parent.parent / "runs"


def class_model() -> str | None:
    """``PLAYGROUND_CLASS_MODEL`` (unset: none): ``<workspace>/<run-id>`` of the run every
    session may draw with, for servers without a Class page (the teacher's choice there wins)."""
    value = os.environ.get("PLAYGROUND_CLASS_MODEL", "").strip()
    return value or None


def max_trainings() -> int:
    """``PLAYGROUND_MAX_TRAININGS`` (default: number of CPU cores): trainings at once."""
    value = os.environ.get("PLAYGROUND_MAX_TRAININGS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            pass
    return max(1, os.cpu_count() or 1)


def tf_threads() -> int:
    """``PLAYGROUND_TF_THREADS`` (default 1): TensorFlow's intra-op threads per op (core/tf_threads.py);
    0 leaves TensorFlow's default (every core), a bad value means 1 (with a warning)."""
    value = os.environ.get("PLAYGROUND_TF_THREADS", "").strip()
    if value == "0":
        return 0
    return _positive_int("PLAYGROUND_TF_THREADS", 1)


def training_nice() -> int:
    """``PLAYGROUND_TRAINING_NICE`` (default 10, at most 19): the CPU priority trainings yield
    with (core/priority.py); 0 keeps them at the class's priority, a bad value means 10."""
    value = os.environ.get("PLAYGROUND_TRAINING_NICE", "").strip()
    if value == "0":
        return 0
    return min(19, _positive_int("PLAYGROUND_TRAINING_NICE", 10))


def train_limit() -> int | None:
    """``PLAYGROUND_TRAIN_LIMIT`` (tests only; unset = everything): train and test on the
    first N images of each split, so an end-to-end test of the page takes seconds."""
    value = os.environ.get("PLAYGROUND_TRAIN_LIMIT", "").strip()
    if not value:
        return None
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"PLAYGROUND_TRAIN_LIMIT must be a whole number, got {value!r}") from None
    if limit < 1:
        raise ValueError(f"PLAYGROUND_TRAIN_LIMIT must be at least 1, got {limit}")
    return limit


# --- limits: what one workspace or one training may cost the server (docs/NOTES.md, "Limits") ---

DEFAULT_MAX_RUNS_PER_WORKSPACE = 50
DEFAULT_MAX_WORKSPACE_MB = 200
DEFAULT_MAX_TRAIN_SECONDS = 600
DEFAULT_MAX_QUEUE = 60


def max_runs_per_workspace() -> int:
    """``PLAYGROUND_MAX_RUNS_PER_WORKSPACE`` (default 50): saved runs one workspace may hold."""
    return _positive_int("PLAYGROUND_MAX_RUNS_PER_WORKSPACE", DEFAULT_MAX_RUNS_PER_WORKSPACE)


def max_workspace_mb() -> int:
    """``PLAYGROUND_MAX_WORKSPACE_MB`` (default 200): disk space one workspace's runs may take, in MB."""
    return _positive_int("PLAYGROUND_MAX_WORKSPACE_MB", DEFAULT_MAX_WORKSPACE_MB)


def max_train_seconds() -> int:
    """``PLAYGROUND_MAX_TRAIN_SECONDS`` (default 600): the longest one training may run before it is stopped."""
    return _positive_int("PLAYGROUND_MAX_TRAIN_SECONDS", DEFAULT_MAX_TRAIN_SECONDS)


def max_queue() -> int:
    """``PLAYGROUND_MAX_QUEUE`` (default 60): trainings that may wait for a free slot; more are refused."""
    return _positive_int("PLAYGROUND_MAX_QUEUE", DEFAULT_MAX_QUEUE)
