"""core.attribution: gradient x input and integrated gradients (completeness, blank input, shapes)."""

from __future__ import annotations

import numpy as np
import pytest

from core import attribution
from core.model import PRESETS, build_model, model_input
from core.preprocess import one_hot

TRAIN_SLICE = 6000  # real MNIST: 5 epochs x 60 steps = 300 SGD steps (the offline stand-in has fewer images)


@pytest.fixture(scope="module")
def trained_book(digits):
    from core import fastfit

    config = PRESETS["Book"].replace(learning_rate=0.5)
    model = build_model(config)
    x = model_input(config, digits.x_train[:TRAIN_SLICE])
    fastfit.fit(model, x, one_hot(digits.y_train[:TRAIN_SLICE]), batch_size=100, epochs=5, seed=0)
    return model


def probability(model, image, class_index):
    from core.preprocess import model_input as prepare_inputs

    x = prepare_inputs(np.asarray(image)[None], input_shape=model.input_shape)
    return float(np.asarray(model(x, training=False))[0, class_index])


def test_integrated_gradients_add_up_to_the_change_in_probability(trained_book, digits):
    explainer = attribution.Attributor(trained_book)
    checked = 0
    for i in range(8):
        image, label = digits.x_test[i], int(digits.y_test[i])
        ig = attribution.integrated_gradients(explainer, image, class_index=label)
        assert ig.shape == (28, 28) and ig.dtype == np.float32
        change = probability(trained_book, image, label) - probability(trained_book, np.zeros((28, 28), np.uint8), label)
        if abs(change) < 0.05:
            continue  # too small a change for a relative check to mean anything
        assert ig.sum() == pytest.approx(change, rel=0.05)
        assert np.all(ig[image == 0] == 0)  # x - baseline is zero where there is no ink
        checked += 1
    assert checked >= 5


def test_a_baseline_other_than_black(trained_book, digits):
    image, base = digits.x_test[0], digits.x_test[1]
    label = int(digits.y_test[0])
    ig = attribution.integrated_gradients(trained_book, image, class_index=label, baseline=base, steps=100)
    change = probability(trained_book, image, label) - probability(trained_book, base, label)
    assert ig.sum() == pytest.approx(change, rel=0.05, abs=0.01)


def test_gradient_x_input_is_the_gradient_times_the_pixels(trained_book, digits):
    import tensorflow as tf

    image, label = digits.x_test[0], int(digits.y_test[0])
    x = tf.constant(image.reshape(1, 784).astype(np.float32) / 255.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        p = trained_book(x, training=False)[0, label]
    expected = (tape.gradient(p, x).numpy() * x.numpy()).reshape(28, 28)
    gxi = attribution.gradient_x_input(trained_book, image, class_index=label)
    assert gxi.shape == (28, 28)
    np.testing.assert_allclose(gxi, expected, rtol=1e-5, atol=1e-8)
    # the pixels that push the true class up outweigh the others on a well-classified digit
    assert gxi.sum() > 0


def test_a_blank_input_has_no_attribution():
    for name in ("Book", "CNN"):
        model = build_model(PRESETS[name])
        explainer = attribution.Attributor(model)
        blank = np.zeros((28, 28), np.uint8)
        for class_index in (0, 7):
            np.testing.assert_array_equal(explainer.gradient_x_input(blank, class_index=class_index), 0.0)
            np.testing.assert_array_equal(explainer.integrated_gradients(blank, class_index=class_index), 0.0)


def test_cnn_maps_are_images():
    model = build_model(PRESETS["CNN"])
    explainer = attribution.Attributor(model)
    image = np.zeros((28, 28), np.float32)
    image[8:20, 12:16] = 1.0
    assert explainer.gradient_x_input(image, class_index=1).shape == (28, 28)
    ig = explainer.integrated_gradients(image, class_index=1, steps=10)
    assert ig.shape == (28, 28) and np.isfinite(ig).all()


def test_bad_arguments_are_named():
    model = build_model(PRESETS["Book"])
    explainer = attribution.Attributor(model)
    image = np.zeros((28, 28), np.uint8)
    with pytest.raises(ValueError, match="class_index must be in 0..9"):
        explainer.gradient_x_input(image, class_index=10)
    with pytest.raises(ValueError, match="steps must be"):
        explainer.integrated_gradients(image, class_index=0, steps=0)
    with pytest.raises(ValueError, match="baseline shape"):
        explainer.integrated_gradients(image, class_index=0, baseline=np.zeros((27, 28), np.uint8))
    with pytest.raises(ValueError, match="one \\(height, width\\) image"):
        explainer.gradient_x_input(np.zeros((1, 28, 28)), class_index=0)


def test_drawing_explainer_equals_trace_and_gradient_x_input():
    from core import inside

    model = build_model(PRESETS["CNN"])
    explainer = attribution.DrawingExplainer(model)
    image = np.zeros((28, 28), np.uint8)
    image[5:23, 12:17] = 200
    traces, saliency, chosen = explainer.explain(image)
    expected = inside.trace(explainer.extractor, image)
    assert [t.name for t in traces] == [t.name for t in expected]
    for a, b in zip(traces, expected):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-6)
    assert chosen == int(expected[-1].values.argmax())
    np.testing.assert_allclose(saliency, explainer.gradient_x_input(image, class_index=chosen), rtol=1e-4, atol=1e-7)
    _, other, three = explainer.explain(image, class_index=3)
    assert three == 3
    np.testing.assert_allclose(other, explainer.gradient_x_input(image, class_index=3), rtol=1e-4, atol=1e-7)
