"""The Draw page's logic: the canvas and pen sizes, nearest images, one prediction.

* ``NearestImages``: the training images closest to a prepared drawing, fast
  enough for every stroke (PCA shortlist, then exact distances).
* ``predict_drawing``: what the network says about one prepared drawing.

The synthetic digits the tests and benchmarks draw live in ``tests/strokes.py``.
No Streamlit here; scikit-learn is imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.preprocess import PIXEL_MAX, model_input

CANVAS_SIZE = 280
#: Default pen width in canvas pixels. A digit drawn 70 % of the canvas tall
#: (196 px) is shrunk ~10x into MNIST's 20 px box, so a 26 px pen becomes a
#: stroke of about 2.6 px: MNIST's own thickness. Measured, not guessed: the
#: digits drawn with it carry 0.8-1.0x the ink of the average MNIST digit of
#: the same class (tests/test_prepare_drawing.py checks it).
DEFAULT_STROKE_WIDTH = 26
MIN_STROKE_WIDTH = 6
MAX_STROKE_WIDTH = 50

@dataclass(frozen=True)
class Neighbour:
    index: int      # position in the training set
    label: int
    distance: float  # Euclidean, pixels in [0, 1]


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's own array keeps its flags)."""
    view = array.view()
    view.setflags(write=False)
    return view


class NearestImages:
    """The training images nearest to a prepared 28x28 drawing.

    Exact Euclidean distances over 784 pixels for a shortlist found in a
    PCA space (64 numbers per image instead of 784): a query reads 15 MB
    instead of 188 MB, a few milliseconds for 60,000 images.

    images: (N, 28, 28) uint8, kept by reference (not copied)
    labels: (N,) integers

    Every array it holds is read-only (the caller's arrays through read-only
    views), so one index can be shared between sessions (st.cache_resource).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, components: int = 64,
                 shortlist: int = 64, fit_size: int = 10_000, seed: int = 0):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(f"NearestImages expects (N, H, W) uint8 images, got {images.shape} {images.dtype}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
        if images.shape[0] == 0:
            raise ValueError("NearestImages needs at least one image")
        from sklearn.decomposition import PCA

        self.images = _read_only(images)
        self.labels = _read_only(labels)
        self.shortlist = int(shortlist)
        flat = images.reshape(images.shape[0], -1)
        components = int(min(components, flat.shape[1], images.shape[0]))
        rng = np.random.default_rng(seed)
        sample = flat[rng.choice(flat.shape[0], min(fit_size, flat.shape[0]), replace=False)]
        pca = PCA(n_components=components, svd_solver="randomized", random_state=seed)
        pca.fit(sample.astype(np.float32) / np.float32(PIXEL_MAX))
        self._mean = _read_only(pca.mean_.astype(np.float32))
        self._basis = _read_only(pca.components_.T.astype(np.float32))  # (784, k)
        # Project in chunks so the float copy of the training set never exists at once.
        codes = [
            (flat[i:i + 8192].astype(np.float32) / np.float32(PIXEL_MAX) - self._mean) @ self._basis
            for i in range(0, flat.shape[0], 8192)
        ]
        self._codes = _read_only(np.concatenate(codes))
        self._codes_sq = _read_only(np.einsum("ij,ij->i", self._codes, self._codes))

    def __repr__(self) -> str:
        return (f"NearestImages(n={self.images.shape[0]}, components={self._basis.shape[1]}, "
                f"shortlist={self.shortlist})")

    def query(self, image: np.ndarray, k: int = 3) -> list[Neighbour]:
        """(28, 28) or (784,) floats in [0, 1] -> the k nearest, closest first."""
        vector = np.asarray(image, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self._basis.shape[0]:
            raise ValueError(f"query expects {self._basis.shape[0]} pixels, got {vector.shape[0]}")
        code = (vector - self._mean) @ self._basis
        approx = self._codes_sq - 2.0 * (self._codes @ code)  # + |code|^2, same for all
        size = min(max(self.shortlist, k), approx.shape[0])
        candidates = np.argpartition(approx, size - 1)[:size]
        pixels = self.images[candidates].reshape(size, -1).astype(np.float32) / np.float32(PIXEL_MAX)
        exact = np.sqrt(((pixels - vector) ** 2).sum(axis=1))
        order = np.argsort(exact, kind="stable")[:k]
        return [Neighbour(int(candidates[i]), int(self.labels[candidates[i]]), float(exact[i])) for i in order]


#: Below this top probability the page says "not sure" instead of a digit.
UNSURE_BELOW = 0.5


@dataclass(frozen=True, repr=False)
class Prediction:
    """What the network says about one drawing: (C,) probabilities, C classes."""

    probabilities: np.ndarray

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    @property
    def sure(self) -> bool:
        return self.confidence >= UNSURE_BELOW

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])

    def __repr__(self) -> str:
        return f"Prediction(digit={self.digit}, confidence={self.confidence:.3f}, sure={self.sure})"


def predict_drawing(model, image28: np.ndarray, *, call=None) -> Prediction:
    """Call a Keras model on one prepared (28, 28) drawing (floats in [0, 1]), shaped
    per its input_shape by :func:`core.preprocess.model_input`, as the test set is.

    ``call``: the model's inference, :func:`core.forward.numpy_forward` (off TensorFlow's
    pools) or :func:`core.inside.compiled_call` (the CNN on one image: ~6 ms instead of
    ~16 ms eagerly, measured in benchmarks/bench_inside.py); None calls
    ``model(x, training=False)``. Never
    ``model.predict``: one image needs no tf.data pipeline.
    """
    image28 = np.asarray(image28)
    if image28.ndim != 2:
        raise ValueError(f"predict_drawing expects one (28, 28) image, got shape {image28.shape}")
    x = model_input(image28[np.newaxis], input_shape=model.input_shape)
    output = call(x) if call is not None else model(x, training=False)
    output = np.asarray(output, dtype=np.float64).reshape(-1)
    if output.ndim != 1 or output.size < 2:
        raise ValueError(f"expected one probability per class, got output of shape {output.shape}")
    if output.min() < 0 or abs(output.sum() - 1.0) > 1e-3:  # logits, not a softmax: convert
        output = np.exp(output - output.max())
        output /= output.sum()
    return Prediction(output)
