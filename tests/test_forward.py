"""core.forward: a network's inference in NumPy, checked against Keras' own outputs."""

from __future__ import annotations

import numpy as np
import pytest

from core.forward import numpy_forward
from core.model import PRESETS, ModelConfig, build_model
from core.preprocess import model_input


def images(n=8, seed=0):
    """Digit-like inputs: a blank field with a block of random ink."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.float32)
    out[:, 5:23, 8:20] = rng.random((n, 18, 12), dtype=np.float32)
    return out


def randomized(model, seed=1):
    """The model with random non-zero biases too (fresh Keras biases are all 0, which would hide a bias bug)."""
    rng = np.random.default_rng(seed)
    model.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


@pytest.mark.parametrize("config", [
    PRESETS["Book"], PRESETS["Dense"], PRESETS["CNN"],
    ModelConfig(hidden=((32, "tanh"), (16, "relu")), dropout=0.3),
    ModelConfig(kind="cnn", hidden=((8, "sigmoid"),)),
], ids=["book", "dense", "cnn", "two-hidden-dropout", "cnn-sigmoid"])
def test_same_outputs_as_keras(config):
    model = randomized(build_model(config))
    x = model_input(images(), input_shape=model.input_shape)
    expected = np.asarray(model(x, training=False))
    got = numpy_forward(model)(x)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_the_weights_are_copied_when_it_is_first_made():
    model = randomized(build_model(PRESETS["Book"]))
    x = model_input(images(2), input_shape=model.input_shape)
    call = numpy_forward(model)
    before = call(x)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    np.testing.assert_array_equal(call(x), before)


def test_a_layer_it_does_not_know_keeps_tensorflow():
    import keras
    from keras import layers

    unknown = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                                layers.Flatten(), layers.Dense(10, activation="softmax")])
    normalized = keras.Sequential([keras.Input((784,)), layers.BatchNormalization(), layers.Dense(10, activation="softmax")])
    gelu = keras.Sequential([keras.Input((784,)), layers.Dense(10, activation="gelu")])
    inputs = keras.Input((784,))
    functional = keras.Model(inputs, layers.Dense(10, activation="softmax")(inputs))  # not a straight chain
    assert numpy_forward(unknown) is None
    assert numpy_forward(normalized) is None
    assert numpy_forward(gelu) is None
    assert numpy_forward(functional) is None
    assert numpy_forward(object()) is None


def test_made_once_per_model_and_shared():
    model = build_model(PRESETS["Book"])
    assert numpy_forward(model) is numpy_forward(model)
    assert numpy_forward(build_model(PRESETS["Book"])) is not numpy_forward(model)
