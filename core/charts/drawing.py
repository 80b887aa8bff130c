"""Pictures for the Draw page's X-ray (its probability bars: core/charts/probabilities.py)."""

from __future__ import annotations

import numpy as np


def pixel_picture(image: np.ndarray, *, size: int = 140) -> np.ndarray:
    """(h, w) floats in [0, 1] -> uint8 picture about ``size`` px on its long side,
    each pixel a crisp square (browsers blur small images when they enlarge them)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"pixel_picture expects a non-empty 2-D image, got shape {image.shape}")
    factor = max(1, size // max(image.shape))
    picture = np.clip(image, 0.0, 1.0) * 255
    if factor > 1:
        picture = np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
    return picture.round().astype(np.uint8)


#: What the X-ray shows outside a picture's own pixels: a dark grey that is
#: neither ink nor background, so a 20x12 image in its 20x20 box shows the box.
FRAME_GREY = 0.22


def framed(image: np.ndarray, *, height: int | None = None, width: int | None = None,
           fill: float = FRAME_GREY) -> np.ndarray:
    """(h, w) -> (height, width) with the image in the middle and ``fill`` around it;
    by default the smallest square that holds it."""
    image = np.asarray(image, dtype=np.float32)
    side = max(image.shape)
    height, width = height or side, width or side
    if image.shape[0] > height or image.shape[1] > width:
        raise ValueError(f"framed: {image.shape} does not fit in {height}x{width}")
    frame = np.full((height, width), fill, dtype=np.float32)
    top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    frame[top:top + image.shape[0], left:left + image.shape[1]] = image
    return frame
