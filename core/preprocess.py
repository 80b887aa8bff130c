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


# --- Geometry shared by the offline stand-in dataset and the drawing canvas ---
# LeCun's MNIST page: each digit was size-normalised to fit a 20x20 box
# (preserving its aspect ratio, anti-aliased), then centred in a 28x28 field
# by its centre of mass.
MNIST_BOX = 20
MNIST_SIZE = 28


def crop_to_ink(image: np.ndarray, *, threshold: float = 0.0) -> np.ndarray:
    """(H, W) grey ink-on-black -> the smallest (h, w) window holding all ink > threshold.

    An image without ink is returned unchanged.
    """
    image = np.asarray(image)
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    if rows.size == 0:
        return image
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def fit_in_box(image: np.ndarray, *, box: int = MNIST_BOX) -> np.ndarray:
    """(h, w) float image -> float32 image whose long side is ``box`` pixels.

    Aspect ratio is kept; Pillow's Lanczos filter gives the grey, anti-aliased
    edges MNIST's digits have.
    """
    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"fit_in_box expects a non-empty 2-D image, got shape {image.shape}")
    h, w = image.shape
    factor = box / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))  # Pillow wants (w, h)
    resized = Image.fromarray(image, mode="F").resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, None)


def centre_by_mass(image: np.ndarray, *, size: int = MNIST_SIZE) -> np.ndarray:
    """(h, w) image (h, w <= size) -> (size, size) float32 with its centre of mass in the middle."""
    from scipy import ndimage

    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape
    if h > size or w > size:
        raise ValueError(f"centre_by_mass: image {image.shape} does not fit in {size}x{size}")
    field = np.zeros((size, size), dtype=np.float32)
    top, left = (size - h) // 2, (size - w) // 2
    field[top : top + h, left : left + w] = image
    if field.sum() <= 0:
        return field
    cy, cx = ndimage.center_of_mass(field)
    centre = (size - 1) / 2
    # Sub-pixel shift with linear interpolation keeps the grey levels smooth.
    shifted = ndimage.shift(field, (centre - cy, centre - cx), order=1, mode="constant")
    return np.clip(shifted, 0.0, None).astype(np.float32)
