"""A map of the test set: each image as a point, on its raw pixels and as the network sees it.

:func:`test_set_map` takes a fixed, seeded sample of test images and projects
them to 2-D with PCA (``sklearn.decomposition.PCA``) twice: the raw pixels
(H*W values in [0, 1]) and the first hidden layer's activations (the first
Dense layer: 10 values for the book's network; the Dense(128) after the
convolutions for the CNN). Side by side they show whether the network has
pulled the classes apart.

The raw-pixel map depends on the images only: :func:`pixel_map` computes it once
per dataset (a page can cache it, read-only, for every session) and
:func:`test_set_map` reuses it, so a new model pays only its own forward pass
and a PCA of its (N, units) activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import threading

import numpy as np

from core.preprocess import model_input

#: Serialises the one-BLAS-thread limit of pca_2d (see there).
_BLAS_LIMIT_LOCK = threading.Lock()

DEFAULT_N = 2000
#: Images per forward call: one traced call (core.inside.compiled_call; no ``predict``
#: tf.data pipeline, measured 6x slower on the Book for 2,000 images, and no eager
#: op-by-op call, 2x slower on the CNN) in slices that keep the CNN's (N, 26, 26, 32)
#: feature maps small (43 MB a slice); 250-1,000 measured the same, 2,000 slower.
FORWARD_BATCH = 500


@dataclass(frozen=True, repr=False, eq=False)
class PixelMap:
    """The raw-pixel PCA of a seeded sample: indices (N,), xy (N, 2), explained (2,)."""

    indices: np.ndarray
    xy: np.ndarray
    explained: np.ndarray
    seed: int = 0

    def __repr__(self) -> str:
        return f"PixelMap({len(self.indices)} images, seed={self.seed})"


@dataclass(frozen=True, repr=False, eq=False)
class TestSetMap:
    """N sampled test images as points.

    indices (N,) positions in the test set (sorted); raw_xy and hidden_xy (N, 2)
    PCA coordinates; labels and predicted (N,) classes; raw_explained and
    hidden_explained (2,) the variance ratio each axis explains.
    """

    __test__ = False  # not a pytest class, despite its name

    indices: np.ndarray
    raw_xy: np.ndarray
    hidden_xy: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    raw_explained: np.ndarray
    hidden_explained: np.ndarray
    hidden_layer: str = ""

    @property
    def mistakes(self) -> np.ndarray:
        """(N,) bool: where the prediction is wrong."""
        return self.predicted != self.labels

    def __repr__(self) -> str:
        return f"TestSetMap({len(self.indices)} images, {int(self.mistakes.sum())} mistakes, hidden={self.hidden_layer})"


def sample_indices(n_items: int, *, n: int = DEFAULT_N, seed: int = 0) -> np.ndarray:
    """min(n, n_items) distinct positions out of n_items, sorted; the same for the same seed."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"n must be an integer of at least 3 (a 2-D PCA needs 3 points), got {n!r}")
    if n_items < 3:
        raise ValueError(f"need at least 3 images for a 2-D map, got {n_items}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_items, size=min(int(n), n_items), replace=False))


def pca_2d(features: np.ndarray, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> ((N, 2) coordinates float32, (2,) explained variance ratios)."""
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    features = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    if features.shape[1] < 2:
        raise ValueError(f"a 2-D map needs at least 2 features per image, got {features.shape[1]}")
    pca = PCA(n_components=2, random_state=seed)
    # One BLAS thread: on a busy server (TensorFlow's threads, other sessions) OpenBLAS's
    # threads wait on each other; measured on 2 cores under load: 2,000 x 784 pixels
    # 32 ms median with one thread against 102 ms (spikes to 2 s) with two.
    # The limit is process-wide (threadpoolctl sets and restores it): one map at a time, so two
    # sessions' saves and restores cannot interleave and leave BLAS on one thread for good.
    with _BLAS_LIMIT_LOCK, threadpool_limits(limits=1, user_api="blas"):
        xy = pca.fit_transform(features)
    return xy.astype(np.float32), pca.explained_variance_ratio_.astype(np.float32)


def pixel_map(images, *, n: int = DEFAULT_N, seed: int = 0) -> PixelMap:
    """The raw-pixel half of :func:`test_set_map` for images (M, H, W) (model-independent)."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, height, width), got shape {images.shape}")
    indices = sample_indices(len(images), n=n, seed=seed)
    sample = images[indices]
    raw = model_input(sample, input_shape=(None, sample.shape[1] * sample.shape[2]))
    xy, explained = pca_2d(raw, seed=seed)
    for array in (indices, xy, explained):
        array.flags.writeable = False  # shareable between sessions
    return PixelMap(indices, xy, explained, seed)


def hidden_and_output_model(model):
    """A ``keras.Model``: the model's input -> (first Dense layer's output, the model's output).

    It has ``hidden_layer_name`` and ``compiled_call`` (one traced graph, any batch size).
    """
    import keras

    from core.inside import compiled_call

    dense = [layer for layer in getattr(model, "layers", ()) if type(layer).__name__ == "Dense"]
    if not dense:
        raise ValueError("the model has no Dense layer to map")
    both = keras.Model(inputs=model.inputs, outputs=[dense[0].output, model.outputs[0]], name="hidden_and_output")
    both.hidden_layer_name = dense[0].name
    both.compiled_call = compiled_call(both)
    return both


def hidden_and_probabilities(both, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x (N, *input) float32 -> (first Dense layer's output (N, units), probabilities (N, classes)).

    ``both``: a :func:`hidden_and_output_model`; its traced call runs on slices of
    FORWARD_BATCH images (traced once, on the first slice).
    """
    parts = [both.compiled_call(x[i : i + FORWARD_BATCH]) for i in range(0, len(x), FORWARD_BATCH)]
    hidden = np.concatenate([np.asarray(h) for h, _ in parts])
    probs = np.concatenate([np.asarray(p) for _, p in parts])
    return hidden, probs


def test_set_map(
    model, images, labels, *, n: int = DEFAULT_N, seed: int = 0, pixels: PixelMap | None = None
) -> TestSetMap:
    """PCA maps of a seeded sample of ``images`` ((M, H, W) uint8) with ``labels`` (M,).

    ``pixels``: the :func:`pixel_map` of the same images, n and seed (computed
    here when None). One forward pass gives both the hidden activations and
    the predictions.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"images must be (N, height, width), got shape {images.shape}")
    if labels.shape != (len(images),):
        raise ValueError(f"labels must be ({len(images)},), got shape {labels.shape}")
    indices = sample_indices(len(images), n=n, seed=seed)
    if pixels is None:
        pixels = pixel_map(images, n=n, seed=seed)
    elif pixels.seed != seed or not np.array_equal(pixels.indices, indices):
        raise ValueError("pixels is the pixel_map of another sample (pass the same images, n and seed)")
    both = hidden_and_output_model(model)
    x = model_input(images[indices], input_shape=model.input_shape)
    hidden, probs = hidden_and_probabilities(both, x)
    hidden_xy, hidden_explained = pca_2d(hidden, seed=seed)
    fields = dict(
        indices=indices,
        raw_xy=pixels.xy,
        hidden_xy=hidden_xy,
        labels=labels[indices].astype(np.intp),
        predicted=np.asarray(probs).argmax(axis=1).astype(np.intp),
        raw_explained=pixels.explained,
        hidden_explained=hidden_explained,
    )
    for array in fields.values():
        array.flags.writeable = False  # shareable between sessions
    return TestSetMap(**fields, hidden_layer=both.hidden_layer_name)
