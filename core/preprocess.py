"""Turning images and labels into what the network eats.

The training steps of the book chapter (scale, flatten, one-hot),
:func:`model_input`, the one function that turns images into a network's
input (and :func:`model_input_code`, the same steps as script lines), and the
preparation of a canvas drawing the way MNIST's own images were made.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import numpy as np

NUM_CLASSES = 10
PIXEL_MAX = 255.0
IMAGE_SHAPE = (28, 28)


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 images -> float32 in [0, 1] (the book's ``astype('float32') / 255``).

    Shape is kept: (N, 28, 28) -> (N, 28, 28).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"scale expects uint8 pixels, got dtype {images.dtype}")
    return images.astype(np.float32) / np.float32(PIXEL_MAX)


def unit_pixels(pixels, *, caller: str = "model_input") -> np.ndarray:
    """uint8 pixels (scaled by :func:`scale`) or floats already in [0, 1] -> float32 in [0, 1].

    Any shape; it is kept. Floats are not divided again: a prepared drawing
    is in [0, 1] already. ``caller`` names the function in error messages.
    """
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        return scale(pixels)
    if not np.issubdtype(pixels.dtype, np.floating):
        raise ValueError(f"{caller} expects uint8 pixels or floats in [0, 1], got dtype {pixels.dtype}")
    pixels = pixels.astype(np.float32, copy=False)
    if not np.isfinite(pixels).all():
        raise ValueError(f"{caller}: float pixels must be in [0, 1], got NaN or infinite values")
    if pixels.size and (pixels.min() < 0 or pixels.max() > 1):
        raise ValueError(
            f"{caller}: float pixels must be in [0, 1], got {pixels.min():g}..{pixels.max():g} "
            "(pass uint8 pixels 0..255 to have them scaled)"
        )
    return pixels


def model_input(images, *, input_shape) -> np.ndarray:
    """(N, H, W) images -> float32 in [0, 1] shaped for a network: the one way images become input.

    ``images``: uint8 pixels 0..255 (divided by 255, as the book does) or
    floats already in [0, 1] (kept). ``input_shape`` is ``model.input_shape``
    (batch size first, ``None``): ``(None, 784)`` gives (N, 784) for a Dense
    network, ``(None, 28, 28, 1)`` gives (N, 28, 28, 1) for a CNN,
    ``(None, 28, 28)`` keeps (N, 28, 28). :func:`model_input_code` writes the
    same two steps as script lines.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"model_input expects (N, height, width) images, got shape {images.shape}")
    if isinstance(input_shape, list):  # a Keras model with several inputs
        raise ValueError(f"model_input expects a model with one input, got input shapes {input_shape}")
    per_item = tuple(input_shape)[1:]
    if any(d is None for d in per_item):
        raise ValueError(f"the model's input shape {tuple(input_shape)} has unknown sizes")
    n, height, width = images.shape
    if int(np.prod(per_item)) != height * width:
        raise ValueError(
            f"the model's input shape {tuple(input_shape)} takes {int(np.prod(per_item))} values "
            f"per item but the images are {height}x{width} ({height * width} values)"
        )
    return unit_pixels(images).reshape((n, *per_item))


def model_input_code(name: str, *, input_shape) -> list[str]:
    """The lines of a script doing what :func:`model_input` does to uint8 images in ``name``.

    ``input_shape`` as for :func:`model_input`; e.g. ``x = x.astype("float32") / 255``
    then ``x = x.reshape(-1, 784)``. A test runs them against model_input.
    """
    per_item = tuple(int(d) for d in tuple(input_shape)[1:])
    return [
        f'{name} = {name}.astype("float32") / {PIXEL_MAX:g}',
        f"{name} = {name}.reshape({', '.join(str(d) for d in (-1, *per_item))})",
    ]


def flatten(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 784): each image unrolled row by row (what model_input does for Dense)."""
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
    box = ink_box(image, threshold=threshold)
    if box is None:
        return image
    top, bottom, left, right = box
    return image[top:bottom, left:right]


def fit_in_box(image: np.ndarray, *, box: int = MNIST_BOX) -> np.ndarray:
    """(h, w) image in [0, 1] -> float32 image whose long side is ``box`` pixels.

    Aspect ratio is kept; Pillow's Lanczos filter gives the grey, anti-aliased
    edges MNIST's digits have.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"fit_in_box expects a non-empty 2-D image, got shape {image.shape}")
    return rescale(image, box / max(image.shape))


# --- Preparing a canvas drawing the way MNIST's images were made -------------
#
# LeCun's MNIST page: "The original black and white (bilevel) images from NIST
# were size normalized to fit in a 20x20 pixel box while preserving their
# aspect ratio. The resulting images contain grey levels as a result of the
# anti-aliasing technique used by the normalization algorithm. the images were
# centered in a 28x28 image by computing the center of mass of the pixels, and
# translating the image so as to position this point at the center of the
# 28x28 field."

#: Ink fainter than this (0..1) is ignored when finding the ink's bounding box,
#: so anti-aliasing fringes and faint noise do not stretch the crop.
INK_THRESHOLD = 0.1
#: Less ink than this fraction of the canvas area counts as an empty canvas
#: (a stray click or speck); one dab of the default pen on a 280 px canvas is
#: about 0.4 %.
MIN_INK_FRACTION = 0.002
#: More than this fraction of the canvas covered by ink: not one digit.
TOO_FULL_FRACTION = 0.5
#: Below this spread between the darkest and brightest pixel an opaque image
#: is one flat colour: no ink at all.
MIN_CONTRAST = 0.05
#: Where MNIST's digits have their centre of mass, (row, column) in pixel
#: indices: the training images average (13.99, 14.00), not the middle 13.5.
MNIST_CENTRE_OF_MASS = (14.0, 14.0)
#: ITU-R 601 luma weights (what Pillow's ``convert("L")`` uses).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)

STAGE_NAMES = ("grey", "cropped", "fitted20", "centred28", "vector784")


@dataclass(frozen=True, repr=False)
class DrawingStages:
    """Every intermediate image of :func:`prepare_drawing_stages`.

    grey       (H, W) float32 ink in [0, 1], white ink on black, canvas size
    cropped    (h, w) float32, cut to the ink's bounding box (or ``grey``)
    fitted20   (h', w') float32, longest side 20 (or the canvas's own scale)
    centred28  (28, 28) float32 in [0, 1], what MNIST images look like
    vector784  (784,) float32, the numbers a Dense network receives
    """

    grey: np.ndarray
    cropped: np.ndarray
    fitted20: np.ndarray
    centred28: np.ndarray
    vector784: np.ndarray
    empty: bool
    too_full: bool
    inverted: bool
    ink_source: str  # "alpha" | "luminance" | "grey"
    ink_box: tuple[int, int, int, int] | None  # (top, bottom, left, right), exclusive ends
    ink_fraction: float
    crop: bool = True
    scale: bool = True
    centre: bool = True

    def centre_of_mass(self) -> tuple[float, float] | None:
        """(row, column) of the prepared 28x28 image's centre of mass, None if empty."""
        if self.centred28.sum() <= 0:
            return None
        from scipy import ndimage

        row, col = ndimage.center_of_mass(self.centred28)
        return float(row), float(col)

    def __repr__(self) -> str:
        com = self.centre_of_mass()
        com_text = "None" if com is None else f"({com[0]:.1f}, {com[1]:.1f})"
        off = [name for name in ("crop", "scale", "centre") if not getattr(self, name)]
        return (
            f"DrawingStages(canvas={self.grey.shape[0]}x{self.grey.shape[1]}, "
            f"ink={self.ink_source}{', inverted' if self.inverted else ''}, "
            f"ink_box={self.ink_box}, fitted={self.fitted20.shape[0]}x{self.fitted20.shape[1]}, "
            f"centre_of_mass={com_text}, ink_fraction={self.ink_fraction:.3f}, "
            f"empty={self.empty}, too_full={self.too_full}"
            + (f", off={off}" if off else "")
            + ")"
        )


def prepare_drawing(image, *, crop: bool = True, scale: bool = True, centre: bool = True) -> np.ndarray:
    """A drawing of any size -> (28, 28) float32 in [0, 1], prepared like MNIST.

    ``image``: (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; uint8 0..255 or
    float in [0, 1]. White-on-black or black-on-white (decided from the
    border); with an alpha channel, transparent pixels are no ink. The
    switches turn stages off (see :func:`prepare_drawing_stages`).
    """
    return prepare_drawing_stages(image, crop=crop, scale=scale, centre=centre).centred28


def prepare_drawing_stages(
    image, *, crop: bool = True, scale: bool = True, centre: bool = True
) -> DrawingStages:
    """Like :func:`prepare_drawing` but keeps every stage for the X-ray.

    crop=False   fit the whole canvas instead of the ink's bounding box
    scale=False  keep the canvas's own scale (28 / longest canvas side)
                 instead of fitting the longest side of the ink into 20 px
    centre=False centre the bounding box, not the centre of mass
    Lines tagged ``# X-ray: <stage>`` are what the Draw page shows.
    """
    pixels = _validated_image(image)
    grey, source, inverted = ink_image(pixels)  # X-ray: grey
    ink_fraction = float((grey > 0.5).mean())
    box = ink_box(grey)
    empty = box is None or float(grey.sum()) < MIN_INK_FRACTION * grey.size
    if empty:
        blank = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
        return DrawingStages(
            grey=grey, cropped=grey, fitted20=np.zeros((MNIST_BOX, MNIST_BOX), np.float32),
            centred28=blank, vector784=blank.reshape(-1), empty=True, too_full=False,
            inverted=inverted, ink_source=source, ink_box=box, ink_fraction=ink_fraction,
            crop=crop, scale=scale, centre=centre,
        )
    top, bottom, left, right = box
    cropped = grey[top:bottom, left:right] if crop else grey  # X-ray: cropped
    fitted = fit_in_box(cropped, box=MNIST_BOX) if scale else rescale(cropped, MNIST_SIZE / max(grey.shape))  # X-ray: fitted20
    centred = centre_like_mnist(fitted, size=MNIST_SIZE) if centre else centre_by_box(fitted, size=MNIST_SIZE)  # X-ray: centred28
    centred = np.clip(centred, 0.0, 1.0)  # Lanczos may overshoot a little
    vector = centred.reshape(MNIST_SIZE * MNIST_SIZE)  # X-ray: vector784
    return DrawingStages(
        grey=grey, cropped=cropped, fitted20=fitted, centred28=centred, vector784=vector,
        empty=False, too_full=ink_fraction > TOO_FULL_FRACTION, inverted=inverted,
        ink_source=source, ink_box=box, ink_fraction=ink_fraction,
        crop=crop, scale=scale, centre=centre,
    )


def stage_code_lines() -> dict[str, str]:
    """{stage name: the source line that makes it}, read from this module.

    The Draw page labels each X-ray stage with it, so the label can never
    drift from the code.
    """
    return dict(_stage_code_lines())


@functools.cache  # read once: inspect tokenizes the source, and Draw asks after every stroke
def _stage_code_lines() -> dict[str, str]:
    source = inspect.getsource(prepare_drawing_stages)
    lines = {}
    for line in source.splitlines():
        code, marker, stage = line.partition("  # X-ray: ")
        if marker and stage.strip() in STAGE_NAMES:
            lines[stage.strip()] = code.strip()
    return lines


def _validated_image(image) -> np.ndarray:
    """Check shape/dtype/range up front; return float32 (H, W) or (H, W, C) in [0, 1]."""
    if image is None:
        raise ValueError("prepare_drawing expects an image array, got None")
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ValueError(
            "prepare_drawing expects (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, "
            f"got shape {pixels.shape}"
        )
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ValueError(f"prepare_drawing got an image with no pixels, shape {pixels.shape}")
    if pixels.dtype == bool:
        return pixels.astype(np.float32)
    return unit_pixels(pixels, caller="prepare_drawing")


def ink_image(pixels: np.ndarray) -> tuple[np.ndarray, str, bool]:
    """Float image in [0, 1] -> (ink, source, inverted): white ink on black.

    RGBA whose alpha varies (a painting on a transparent canvas), or whose
    colours are all one (a fully painted canvas): alpha is the ink. Otherwise
    the luminance, turned so that the border (the background) is dark, and
    stretched so the background is 0 and the strongest ink 1.
    """
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        alpha = pixels[:, :, 3]
        rgb = pixels[:, :, :3]
        if np.ptp(alpha) > 0 or np.ptp(rgb) < MIN_CONTRAST:
            return np.ascontiguousarray(alpha, dtype=np.float32), "alpha", False
        pixels = rgb
    source = "grey"
    if pixels.ndim == 3:
        pixels = pixels @ LUMA_WEIGHTS
        source = "luminance"
    if np.ptp(pixels) < MIN_CONTRAST:
        return np.zeros(pixels.shape, dtype=np.float32), source, False
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    background = float(np.median(border))
    inverted = background > 0.5
    if inverted:  # black on white: the ink is the dark part
        pixels, background = 1.0 - pixels, 1.0 - background
    # Stretch background..strongest ink to 0..1: pencil on grey paper reads
    # like a pen on white (MNIST's strokes are saturated too).
    strongest = float(pixels.max())
    if strongest - background < MIN_CONTRAST:  # only marks darker than the background: no ink
        return np.zeros(pixels.shape, dtype=np.float32), source, inverted
    ink = np.clip((pixels - background) / (strongest - background), 0.0, 1.0)
    return ink.astype(np.float32), source, inverted


def ink_box(ink: np.ndarray, *, threshold: float = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels above ``threshold``, ends exclusive; None without ink."""
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def rescale(ink: np.ndarray, factor: float) -> np.ndarray:
    """(h, w) -> (h * factor, w * factor) float32, anti-aliased (Pillow's Lanczos,
    like :func:`fit_in_box`), at least one pixel each way."""
    from PIL import Image

    height, width = ink.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))  # Pillow wants (w, h)
    resized = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F").resize(
        size, Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def centre_by_box(ink: np.ndarray, *, size: int = MNIST_SIZE) -> np.ndarray:
    """(h, w) with h, w <= size -> (size, size) float32, the box in the middle
    (what :func:`centre_like_mnist` does before it moves the centre of mass)."""
    height, width = ink.shape
    if height > size or width > size:
        raise ValueError(f"centre_by_box: image {ink.shape} does not fit in {size}x{size}")
    field = np.zeros((size, size), dtype=np.float32)
    top, left = (size - height) // 2, (size - width) // 2
    field[top:top + height, left:left + width] = ink
    return field


def centre_like_mnist(ink: np.ndarray, *, size: int = MNIST_SIZE) -> np.ndarray:
    """(h, w) with h, w <= size -> (size, size) float32, moved by whole pixels so
    its centre of mass lands on MNIST_CENTRE_OF_MASS.

    Whole pixels, as MNIST did: the 20 px box stays exactly 20 px (the long
    side of the ink is 20 px in 59,987 of MNIST's 60,000 training images) and
    the grey levels are not blurred again.
    """
    from scipy import ndimage

    field = centre_by_box(ink, size=size)
    if field.sum() <= 0:
        return field
    row, col = ndimage.center_of_mass(field)
    target = np.asarray(MNIST_CENTRE_OF_MASS) * (size / MNIST_SIZE)
    offset = np.floor(target - np.array([row, col]) + 0.5)  # round half up, the same each way
    return ndimage.shift(field, offset, order=0, mode="constant", cval=0.0).astype(np.float32)
