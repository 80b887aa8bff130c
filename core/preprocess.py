"""Turning images and labels into what the network eats.

The training steps of the book chapter (scale, flatten, one-hot) and the
preparation of a canvas drawing the way MNIST's own images were made.
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10
PIXEL_MAX = 255.0


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (the book's ``astype('float32') / 255``).

    Shape is kept: (N, 28, 28) -> (N, 28, 28).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"scale expects uint8 pixels, got dtype {images.dtype}")
    return images.astype(np.float32) / np.float32(PIXEL_MAX)


def flatten(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784): each image unrolled row by row."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"flatten expects (N, height, width) images, got shape {images.shape}")
    return images.reshape(images.shape[0], -1)


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(N,) integer labels -> (N, num_classes) float32 one-hot rows.

    The same result as ``keras.utils.to_categorical(labels, num_classes)``
    (a test checks it), computed with NumPy so pages that only show data
    never have to import TensorFlow.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot expects a 1-D array of labels, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    return np.eye(num_classes, dtype=np.float32)[labels.astype(np.intp)]
