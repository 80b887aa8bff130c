"""A dataset's network input, prepared once per process: the tensors every training of it reads.

Each training used to rescale its 60,000 images to [0, 1] floats and copy them into a
TensorFlow tensor: 7 % and 10 % of a Book training's time on the server (py-spy,
2026-12-02), paid again by every student. The result depends only on the images,
the labels and the training limit, and TensorFlow tensors are immutable, so one copy
is shared by every training in the process (like ``core.model_pool``): a flat
(N, H*W) float32 tensor and the one-hot labels, reshaped per network for free.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from core.preprocess import model_input, one_hot

#: Splits kept (train and test of two datasets); MNIST's training split is 188 MB.
MAX_SPLITS = 4


class PreparedSplits:
    """Flat float32 inputs and one-hot labels of image splits, by the arrays' identity and limit."""

    def __init__(self, *, max_splits: int = MAX_SPLITS):
        if max_splits < 1:
            raise ValueError(f"max_splits must be at least 1, got {max_splits}")
        self.max_splits = max_splits
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple, tuple] = OrderedDict()
        self._building: dict[tuple, threading.Lock] = {}  # one lock per split being (or once) prepared
        self.prepared = 0  # how many splits were converted (tests, benchmarks)

    def get(self, images: np.ndarray, labels: np.ndarray, *, limit: int | None = None, input_shape: tuple):
        """(x, y) tensors: images (N, H, W) -> x (M, *input_shape[1:]), labels (N,) -> one-hot y (M, 10),
        M = min(limit, N) (the first ``limit`` items; all when None).

        ``input_shape`` is ``model.input_shape`` (batch first, e.g. ``(None, 784)`` or
        ``(None, 28, 28, 1)``). Two threads asking for the same split wait for one conversion.
        """
        import tensorflow as tf

        if images.ndim != 3 or labels.shape != (len(images),):
            raise ValueError(f"expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
        if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
            raise ValueError(f"limit must be a positive number of items or None, got {limit!r}")
        per_item = tuple(int(d) for d in tuple(input_shape)[1:])
        if int(np.prod(per_item)) != images.shape[1] * images.shape[2]:
            raise ValueError(f"the input shape {tuple(input_shape)} does not hold {images.shape[1]}x{images.shape[2]} "
                             "images")
        key = (id(images), id(labels), limit)
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one conversion per split; a second caller finds it kept
            with self._lock:
                entry = self._kept.get(key)
                if entry is not None and entry[0] is images and entry[1] is labels:  # the ids are still theirs
                    self._kept.move_to_end(key)
                else:
                    entry = None
            if entry is None:
                stop = len(images) if limit is None else int(limit)
                flat = model_input(images[:stop], input_shape=(None, images.shape[1] * images.shape[2]))
                entry = (images, labels, tf.convert_to_tensor(flat), tf.convert_to_tensor(one_hot(labels[:stop])))
                with self._lock:
                    self._kept[key] = entry
                    self.prepared += 1
                    while len(self._kept) > self.max_splits:
                        old, _ = self._kept.popitem(last=False)
                        self._building.pop(old, None)
        x = entry[2] if len(per_item) == 1 else tf.reshape(entry[2], (-1, *per_item))  # a view, no copy
        return x, entry[3]


_SPLITS_LOCK = threading.Lock()
_SPLITS: PreparedSplits | None = None


def prepared_splits() -> PreparedSplits:
    """The server process's one cache."""
    global _SPLITS
    with _SPLITS_LOCK:
        if _SPLITS is None:
            _SPLITS = PreparedSplits()
        return _SPLITS
