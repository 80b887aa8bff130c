"""core.maps: seeded sample, PCA on pixels and on the first hidden layer, as sklearn computes it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from core import maps
from core.model import PRESETS, build_model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (600, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 600).astype(np.uint8)
    return images, labels


@pytest.fixture(scope="module")
def book():
    return build_model(PRESETS["Book"])


def test_map_shapes_and_sample(book, data):
    images, labels = data
    result = maps.test_set_map(book, images, labels, n=200, seed=1)
    assert result.indices.shape == (200,) and len(set(result.indices)) == 200
    assert list(result.indices) == sorted(result.indices)
    assert result.raw_xy.shape == result.hidden_xy.shape == (200, 2)
    np.testing.assert_array_equal(result.labels, labels[result.indices])
    assert result.predicted.shape == (200,) and set(result.predicted) <= set(range(10))
    assert result.hidden_layer == "dense"
    assert result.mistakes.dtype == bool and result.mistakes.sum() == (result.predicted != result.labels).sum()
    assert (result.raw_explained > 0).all() and result.raw_explained.sum() <= 1.0


def test_map_is_deterministic_and_the_seed_matters(book, data):
    images, labels = data
    a = maps.test_set_map(book, images, labels, n=100, seed=0)
    b = maps.test_set_map(book, images, labels, n=100, seed=0)
    c = maps.test_set_map(book, images, labels, n=100, seed=5)
    for field in ("indices", "raw_xy", "hidden_xy", "predicted"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.indices, c.indices)


def test_map_matches_sklearn_on_the_same_data(book, data):
    images, labels = data
    result = maps.test_set_map(book, images, labels, n=150, seed=2)
    raw = images[result.indices].reshape(150, -1).astype(np.float32) / 255.0
    np.testing.assert_allclose(result.raw_xy, PCA(n_components=2, random_state=2).fit_transform(raw), atol=1e-3)
    hidden = np.asarray(book.layers[0](raw))
    np.testing.assert_allclose(result.hidden_xy, PCA(n_components=2, random_state=2).fit_transform(hidden), atol=1e-4)
    np.testing.assert_array_equal(result.predicted, np.asarray(book(raw)).argmax(axis=1))


def test_cnn_maps_its_dense_layer(data):
    images, labels = data
    result = maps.test_set_map(build_model(PRESETS["CNN"]), images, labels, n=50)
    assert result.hidden_xy.shape == (50, 2) and result.hidden_layer == "dense"


def test_more_requested_than_there_are(book, data):
    images, labels = data
    assert maps.test_set_map(book, images[:40], labels[:40], n=2000).indices.tolist() == list(range(40))


def test_bad_inputs(book, data):
    images, labels = data
    with pytest.raises(ValueError, match="labels must be"):
        maps.test_set_map(book, images, labels[:10])
    with pytest.raises(ValueError, match="n must be"):
        maps.test_set_map(book, images, labels, n=2)
    with pytest.raises(ValueError, match="images must be"):
        maps.test_set_map(book, images[0], labels)


def test_a_cached_pixel_map_is_reused_and_checked(book, data):
    images, labels = data
    pixels = maps.pixel_map(images, n=120, seed=4)
    assert not pixels.xy.flags.writeable
    with_cache = maps.test_set_map(book, images, labels, n=120, seed=4, pixels=pixels)
    without = maps.test_set_map(book, images, labels, n=120, seed=4)
    np.testing.assert_array_equal(with_cache.raw_xy, without.raw_xy)
    np.testing.assert_array_equal(with_cache.hidden_xy, without.hidden_xy)
    with pytest.raises(ValueError, match="another sample"):
        maps.test_set_map(book, images, labels, n=120, seed=5, pixels=pixels)
    with pytest.raises(ValueError, match="another sample"):
        maps.test_set_map(book, images, labels, n=100, seed=4, pixels=pixels)


def test_more_images_than_one_forward_batch(book):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (maps.FORWARD_BATCH + 37, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, len(images))
    result = maps.test_set_map(book, images, labels, n=len(images))
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    np.testing.assert_array_equal(result.predicted, np.asarray(book(x)).argmax(axis=1))
