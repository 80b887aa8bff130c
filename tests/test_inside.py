"""core.inside: weight pictures, every layer's output, one unit's sum, weight snapshots."""

from __future__ import annotations

import numpy as np
import pytest

from core import inside
from core.model import PRESETS, ModelConfig, build_model


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.fixture(scope="module")
def book():
    return build_model(PRESETS["Book"])


@pytest.fixture(scope="module")
def cnn():
    return build_model(PRESETS["CNN"])


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    img = np.zeros((28, 28), np.uint8)
    img[6:22, 10:18] = rng.integers(0, 256, (16, 8))
    return img


def test_trace_equals_numpy_arithmetic_on_the_weights(book, image):
    (w1, b1), (w2, b2) = [(np.asarray(layer.kernel, np.float64), np.asarray(layer.bias, np.float64))
                          for layer in book.layers]
    x = image.reshape(-1).astype(np.float64) / 255.0
    hidden = sigmoid(x @ w1 + b1)
    output = softmax(hidden @ w2 + b2)

    traces = inside.trace(book, image)
    assert [(t.name, t.kind, t.activation) for t in traces] == [
        ("dense", "Dense", "sigmoid"), ("dense_1", "Dense", "softmax")]
    np.testing.assert_allclose(traces[0].values, hidden, atol=1e-5)
    np.testing.assert_allclose(traces[1].values, output, atol=1e-5)
    np.testing.assert_allclose(traces[0].z, x @ w1 + b1, atol=1e-5)
    np.testing.assert_allclose(traces[1].z, hidden @ w2 + b2, atol=1e-5)
    # the same as the model itself, and the cached extractor gives the same
    np.testing.assert_allclose(traces[1].values, np.asarray(book(x[None].astype(np.float32)))[0], atol=1e-6)
    cached = inside.layer_outputs_model(book)
    for a, b in zip(inside.trace(cached, image), traces):
        np.testing.assert_array_equal(a.values, b.values)


def test_trace_of_the_cnn_gives_every_feature_map(cnn, image):
    traces = inside.trace(cnn, image)
    shapes = [(t.kind, t.values.shape) for t in traces]
    assert shapes == [
        ("Conv2D", (26, 26, 32)), ("MaxPooling2D", (13, 13, 32)), ("Conv2D", (11, 11, 64)),
        ("MaxPooling2D", (5, 5, 64)), ("Flatten", (1600,)), ("Dense", (128,)), ("Dropout", (128,)),
        ("Dense", (10,)),
    ]
    assert traces[0].z is None and traces[5].z.shape == (128,)
    # inference mode: Dropout passes its input through unchanged
    np.testing.assert_array_equal(traces[6].values, traces[5].values)
    assert traces[-1].values.sum() == pytest.approx(1.0, abs=1e-5)
    assert (traces[0].values >= 0).all()  # relu


def test_trace_of_a_sequential_built_without_input():
    import keras
    from keras import layers

    model = keras.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(3, activation="softmax")])
    model.build((None, 784))
    traces = inside.trace(model, np.full((28, 28), 0.5, np.float32))
    assert [t.values.shape for t in traces] == [(4,), (3,)]
    w, b = (np.asarray(v) for v in model.layers[0].weights)
    np.testing.assert_allclose(traces[0].values, np.tanh(np.full(784, 0.5) @ w + b), atol=1e-5)


def test_trace_rejects_a_batch(book):
    with pytest.raises(ValueError, match="one \\(height, width\\) image"):
        inside.trace(book, np.zeros((2, 28, 28), np.uint8))


def test_weight_images_are_the_kernel_columns(book):
    kernel = np.asarray(book.layers[0].kernel)
    images, units = inside.first_layer_weight_images(book)
    assert images.shape == (10, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(units, np.arange(10))
    for k in range(10):
        np.testing.assert_array_equal(images[k], kernel[:, k].reshape(28, 28))


def test_a_wide_layer_shows_its_strongest_units():
    model = build_model(ModelConfig(name="wide", hidden=((40, "relu"),)))
    kernel = np.asarray(model.layers[0].kernel)
    images, units = inside.first_layer_weight_images(model, max_units=16)
    assert images.shape == (16, 28, 28)
    assert list(units) == sorted(units)
    norms = np.linalg.norm(kernel, axis=0)
    assert norms[units].min() >= np.delete(norms, units).max()
    for image, k in zip(images, units):
        np.testing.assert_array_equal(image, kernel[:, k].reshape(28, 28))


def test_weight_images_need_a_first_dense_on_pixels(cnn):
    with pytest.raises(ValueError, match="takes 1600 values"):
        inside.first_layer_weight_images(cnn)
    with pytest.raises(ValueError, match="max_units"):
        inside.first_layer_weight_images(cnn, max_units=0)


def test_output_weights_and_conv_filters(book, cnn):
    kernel, bias = inside.output_weights(book)
    assert kernel.shape == (10, 10) and bias.shape == (10,)
    np.testing.assert_array_equal(kernel, np.asarray(book.layers[1].kernel))
    filters, fbias = inside.conv_filters(cnn)
    assert filters.shape == (32, 3, 3) and fbias.shape == (32,)
    conv_kernel = np.asarray(cnn.layers[0].kernel)  # (3, 3, 1, 32)
    np.testing.assert_array_equal(filters[7], conv_kernel[:, :, 0, 7])
    with pytest.raises(ValueError, match="no Conv2D layer"):
        inside.conv_filters(book)


def test_snapshot_is_a_copy():
    model = build_model(PRESETS["Book"])
    snapshot = inside.weights_snapshot(model)
    assert {k: v.shape for k, v in snapshot.items()} == {
        "dense/kernel": (784, 10), "dense/bias": (10,), "dense_1/kernel": (10, 10), "dense_1/bias": (10,)}
    before = {k: v.copy() for k, v in snapshot.items()}
    for variable in model.weights:
        variable.assign(variable + 1.0)
    for key, value in snapshot.items():
        np.testing.assert_array_equal(value, before[key])
    assert not np.array_equal(np.asarray(model.layers[0].kernel), snapshot["dense/kernel"])
    snapshot["dense/bias"][:] = 7.0  # writable, and owned by the snapshot
    assert not np.allclose(np.asarray(model.layers[0].bias), 7.0)


def test_unit_arithmetic_writes_out_the_sum(book, image):
    w, x, product, b, z, a, activation = inside.dense_unit_arithmetic(book, image, 3)
    kernel = np.asarray(book.layers[0].kernel, np.float64)
    np.testing.assert_allclose(w, kernel[:, 3])
    np.testing.assert_allclose(x, image.reshape(-1) / 255.0)
    np.testing.assert_allclose(product, w * x)
    assert z == pytest.approx(float(w @ x + b))
    assert a == pytest.approx(sigmoid(z)) and activation == "sigmoid"
    assert a == pytest.approx(float(inside.trace(book, image)[0].values[3]), abs=1e-5)
    arithmetic = inside.dense_unit_arithmetic(book, image, 3)
    top = arithmetic.largest_terms(3)
    assert abs(top[0][3]) == pytest.approx(np.abs(product).max())
    text = arithmetic.text()
    assert f"= {z:.3f}" in text and f"sigmoid({z:.3f}) = {a:.3f}" in text
    with pytest.raises(ValueError, match="unit must be an integer in 0..9"):
        inside.dense_unit_arithmetic(book, image, 10)
