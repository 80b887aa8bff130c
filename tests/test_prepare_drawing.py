"""prepare_drawing: a canvas drawing -> a 28x28 image made the way MNIST's were."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.drawing import DEFAULT_STROKE_WIDTH, NearestImages, predict_drawing
from core.preprocess import (
    STAGE_NAMES,
    DrawingStages,
    prepare_drawing,
    prepare_drawing_stages,
    stage_code_lines,
)
from strokes import DIGIT_STROKES, QUALITY_SET, DrawingSpec, render_spec, render_strokes


def rgba_digit(digit=7, style="plain", **kwargs) -> np.ndarray:
    return render_spec(DrawingSpec(digit, style, **kwargs))


def ink_span(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of the bounding box of all non-zero pixels."""
    rows = np.flatnonzero((image > 0).any(axis=1))
    cols = np.flatnonzero((image > 0).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def as_rgb_white_on_black(rgba: np.ndarray) -> np.ndarray:
    """Composite a transparent-canvas drawing over black: what a screenshot would hold."""
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255
    return np.round(rgba[:, :, :3] * alpha).astype(np.uint8)


@pytest.mark.parametrize("spec", QUALITY_SET[::3], ids=lambda s: s.name)
def test_centre_of_mass_is_at_14_14(spec):
    image = prepare_drawing(render_spec(spec))
    row, col = ndimage.center_of_mass(image)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1, (row, col)


@pytest.mark.parametrize("spec", QUALITY_SET[1::3], ids=lambda s: s.name)
def test_ink_fits_the_20_box_and_touches_it_on_the_long_side(spec):
    image = prepare_drawing(render_spec(spec))
    height, width = ink_span(image)
    assert max(height, width) == 20
    assert min(height, width) <= 20


def test_aspect_ratio_is_kept():
    # A tall thin '1' stays thin: it is not stretched to fill the box.
    stages = prepare_drawing_stages(rgba_digit(1, "plain"))
    height, width = stages.fitted20.shape
    assert height == 20 and width < 8
    crop_h, crop_w = stages.cropped.shape
    assert abs(width / height - crop_w / crop_h) < 0.1


def test_result_is_float32_28x28_in_unit_range_with_grey_levels():
    image = prepare_drawing(rgba_digit(3, "round"))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0 and image.max() <= 1
    grey = (image > 0.05) & (image < 0.95)
    assert grey.sum() >= 10  # anti-aliased edges, not a bilevel image


def test_inversion_is_detected_from_the_image():
    rgb = as_rgb_white_on_black(rgba_digit(2, "curl"))
    white_on_black = prepare_drawing_stages(rgb)
    black_on_white = prepare_drawing_stages(255 - rgb)
    assert not white_on_black.inverted and black_on_white.inverted
    np.testing.assert_allclose(white_on_black.centred28, black_on_white.centred28, atol=1e-5)


def test_grey_paper_background_is_subtracted():
    grey = as_rgb_white_on_black(rgba_digit(5, "hook"))[:, :, 0].astype(np.float32) / 255
    on_paper = 0.9 - 0.7 * grey  # dark ink on light grey paper
    np.testing.assert_allclose(prepare_drawing(on_paper), prepare_drawing(grey), atol=0.02)


def test_rgba_and_rgb_give_the_same_result():
    rgba = rgba_digit(4, "closed")
    rgb = as_rgb_white_on_black(rgba)
    opaque_rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    expected = prepare_drawing(rgba)
    np.testing.assert_allclose(prepare_drawing(rgb), expected, atol=1 / 255)
    np.testing.assert_allclose(prepare_drawing(opaque_rgba), expected, atol=1 / 255)
    np.testing.assert_allclose(prepare_drawing(rgb[:, :, 0]), expected, atol=1 / 255)


def test_alpha_is_the_ink_on_a_transparent_canvas():
    # Black strokes on a transparent canvas are still ink: transparency is the background.
    rgba = rgba_digit(6, "loop")
    black_ink = rgba.copy()
    black_ink[:, :, :3] = 0
    stages = prepare_drawing_stages(black_ink)
    assert stages.ink_source == "alpha" and not stages.empty
    np.testing.assert_allclose(stages.centred28, prepare_drawing(rgba), atol=1e-6)


def test_uint8_and_float_input_agree():
    rgba = rgba_digit(9, "curved")
    np.testing.assert_allclose(prepare_drawing(rgba.astype(np.float32) / 255), prepare_drawing(rgba), atol=1e-6)


@pytest.mark.parametrize("size", [(281, 281), (199, 341), (400, 150), (57, 57)])
def test_odd_sizes_and_non_square_canvases(size):
    height, width = size
    canvas = np.zeros((height, width), np.float32)
    # An upright bar, a third of the canvas tall, off to one side.
    canvas[height // 5: height // 5 + height // 3, width // 4: width // 4 + max(2, width // 25)] = 1.0
    image = prepare_drawing(canvas)
    assert image.shape == (28, 28)
    span_h, span_w = ink_span(image)
    assert span_h == 20 and span_w <= 5
    row, col = ndimage.center_of_mass(image)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_empty_canvas():
    for blank in (np.zeros((280, 280, 4), np.uint8), np.zeros((280, 280, 3), np.uint8),
                  np.full((280, 280), 255, np.uint8)):
        stages = prepare_drawing_stages(blank)
        assert stages.empty and not stages.too_full
        assert stages.centred28.shape == (28, 28) and not stages.centred28.any()


def test_a_stray_speck_is_nearly_empty():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[100:103, 140:143] = 255
    assert prepare_drawing_stages(canvas).empty


def test_a_single_dot_becomes_a_centred_blob():
    dot = render_strokes([np.array([[70.0, 200.0]])], stroke_width=DEFAULT_STROKE_WIDTH)
    stages = prepare_drawing_stages(dot)
    assert not stages.empty and not stages.too_full
    assert max(ink_span(stages.centred28)) == 20
    row, col = stages.centre_of_mass()
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_full_canvas_is_flagged_not_crashed():
    full = np.full((280, 280, 4), 255, np.uint8)
    stages = prepare_drawing_stages(full)
    assert stages.too_full and not stages.empty
    assert stages.centred28.shape == (28, 28)
    scribbled = np.zeros((280, 280, 4), np.uint8)
    scribbled[10:270, 10:250] = 255
    assert prepare_drawing_stages(scribbled).too_full


def test_a_digit_is_neither_empty_nor_too_full():
    stages = prepare_drawing_stages(rgba_digit(8, "two_loops", height=0.9, stroke_width=40))
    assert not stages.empty and not stages.too_full


def test_stage_switches():
    small_corner = rgba_digit(7, "plain", centre=(0.25, 0.25), height=0.3)
    full = prepare_drawing_stages(small_corner)
    no_crop = prepare_drawing_stages(small_corner, crop=False)
    no_scale = prepare_drawing_stages(small_corner, scale=False)
    no_centre = prepare_drawing_stages(small_corner, centre=False)
    assert no_crop.cropped.shape == (280, 280)
    assert max(no_crop.fitted20.shape) == 20
    # Without size normalisation the digit keeps its size on the canvas: 30 % of 28 px.
    assert max(ink_span(no_scale.centred28)) <= 10
    # Without centring by mass the box is centred instead: a '7' sits lower by mass.
    assert not np.allclose(no_centre.centred28, full.centred28)
    for stages in (no_crop, no_scale, no_centre):
        assert not np.allclose(stages.centred28, full.centred28)
        assert stages.centred28.shape == (28, 28)
    assert "off=['crop']" in repr(no_crop)


def test_stages_repr_and_vector():
    stages = prepare_drawing_stages(rgba_digit(0, "round"))
    assert isinstance(stages, DrawingStages)
    text = repr(stages)
    for word in ("canvas=280x280", "ink=alpha", "empty=False", "too_full=False", "centre_of_mass="):
        assert word in text
    assert stages.vector784.shape == (784,)
    np.testing.assert_array_equal(stages.vector784, stages.centred28.reshape(-1))


def test_every_stage_has_its_code_line():
    lines = stage_code_lines()
    assert set(lines) == set(STAGE_NAMES)
    assert "centre_like_mnist" in lines["centred28"]
    assert "fit_in_box" in lines["fitted20"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, "got None"),
        (np.zeros((28, 28, 2), np.uint8), "shape"),
        (np.zeros((4, 28, 28, 1), np.uint8), "shape"),
        (np.zeros((0, 28), np.uint8), "no pixels"),
        (np.full((28, 28), 255.0), r"\[0, 1\]"),
        (np.full((28, 28), np.nan), "NaN"),
        (np.zeros((28, 28), np.int64), "dtype"),
    ],
)
def test_bad_input_raises_clear_value_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        prepare_drawing(bad)


def test_mnist_digits_come_back_as_themselves(mnist):
    # An MNIST image is already prepared: running it through again changes little.
    images = mnist.x_test[:200]
    unchanged = [
        np.abs(prepare_drawing(image) - image.astype(np.float32) / 255).max() < 0.1 for image in images
    ]
    assert np.mean(unchanged) >= 0.9


def test_default_pen_matches_mnist_stroke_thickness(mnist):
    # After scaling, digits drawn at the usual size with the default pen carry
    # about as much ink as MNIST's digits of the same class.
    ratios = []
    for digit in range(10):
        mnist_ink = (mnist.x_train[mnist.y_train == digit][:2000].astype(np.float32) / 255).sum(axis=(1, 2)).mean()
        for style in DIGIT_STROKES[digit]:
            drawn = prepare_drawing(render_spec(DrawingSpec(digit, style)))
            ratios.append(drawn.sum() / mnist_ink)
    assert 0.75 <= np.median(ratios) <= 1.25, np.round(ratios, 2)


def test_nearest_images_match_brute_force(mnist):
    index = NearestImages(mnist.x_train, mnist.y_train)
    assert "n=60000" in repr(index)
    train = mnist.x_train.reshape(len(mnist.x_train), -1).astype(np.float32) / 255
    queries = [prepare_drawing(render_spec(spec)) for spec in QUALITY_SET[::4]]
    queries += [mnist.x_test[i].astype(np.float32) / 255 for i in range(10)]
    agree = 0
    for query in queries:
        exact = np.argsort(((train - query.reshape(-1)) ** 2).sum(axis=1))[:3]
        found = [n.index for n in index.query(query, k=3)]
        agree += found[0] == exact[0]
    assert agree / len(queries) >= 0.9
    # A test image's nearest training images mostly share its label.
    labels = [index.query(mnist.x_test[i].astype(np.float32) / 255, k=1)[0].label for i in range(50)]
    assert np.mean(np.array(labels) == mnist.y_test[:50]) >= 0.9


def test_nearest_images_validate_input():
    images = np.zeros((5, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="labels"):
        NearestImages(images, np.zeros(4))
    with pytest.raises(ValueError, match="uint8"):
        NearestImages(images.astype(np.float32), np.zeros(5))
    index = NearestImages(np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8), np.arange(50) % 10)
    with pytest.raises(ValueError, match="784"):
        index.query(np.zeros(100))
    assert len(index.query(np.zeros((28, 28)), k=3)) == 3


def test_nearest_images_hold_only_read_only_arrays():
    """The index is shared between sessions (st.cache_resource): nothing in it may be writeable."""
    images = np.random.default_rng(0).integers(0, 255, (40, 28, 28), dtype=np.uint8)
    labels = np.arange(40) % 10
    index = NearestImages(images, labels, components=8)
    arrays = {name: value for name, value in vars(index).items() if isinstance(value, np.ndarray)}
    assert {"images", "labels", "_codes", "_codes_sq", "_mean", "_basis"} <= set(arrays)
    assert not [name for name, array in arrays.items() if array.flags.writeable]
    with pytest.raises(ValueError, match="read-only"):
        index.images[0, 0, 0] = 1
    assert images.flags.writeable and labels.flags.writeable  # the caller's arrays are untouched
    assert np.shares_memory(index.images, images)  # kept by reference, not copied


class FakeModel:
    """Just enough of a Keras model for predict_drawing: an input shape and a call."""

    def __init__(self, input_shape):
        self.input_shape = input_shape
        self.seen = None

    def __call__(self, x, training=False):
        self.seen = x
        return np.full((1, 10), 0.1)


@pytest.mark.parametrize("input_shape", [(None, 784), (None, 28, 28, 1), (None, 28, 28)])
def test_a_drawing_is_shaped_like_the_test_set(input_shape):
    """One shaping function for drawings and test images: core.preprocess.model_input."""
    from core.preprocess import model_input

    image = prepare_drawing(rgba_digit())
    model = FakeModel(input_shape)
    predict_drawing(model, image)
    assert model.seen.shape == (1,) + input_shape[1:] and model.seen.dtype == np.float32
    np.testing.assert_array_equal(model.seen.reshape(-1), image.reshape(-1))  # [0, 1] floats kept as they are
    as_pixels = np.round(image * 255).astype(np.uint8)[np.newaxis]
    np.testing.assert_allclose(model_input(as_pixels, input_shape=input_shape), model.seen, atol=1 / 255)
    with pytest.raises(ValueError, match="input shape"):
        predict_drawing(FakeModel((None, 32, 32, 3)), image)
    with pytest.raises(ValueError, match=r"\(28, 28\) image"):
        predict_drawing(model, image.reshape(-1))


def test_marks_darker_than_a_dark_background_are_no_ink():
    canvas = np.full((50, 50), 0.3, np.float32)
    canvas[10:20, 10:20] = 0.0
    stages = prepare_drawing_stages(canvas)
    assert stages.empty and np.isfinite(stages.grey).all()


def test_prediction_reads_probabilities():
    from core.drawing import UNSURE_BELOW, Prediction

    sure = Prediction(np.array([0.01, 0.02, 0.9, 0.07] + [0.0] * 6))
    assert (sure.digit, sure.runner_up, sure.sure) == (2, 3, True)
    assert "digit=2" in repr(sure) and "sure=True" in repr(sure)
    unsure = Prediction(np.full(10, 0.1))
    assert not unsure.sure and unsure.confidence < UNSURE_BELOW


def test_the_traced_call_reads_a_drawing_as_the_model_does():
    """The Draw page's traced inference (core.inside.compiled_call) gives the eager call's probabilities."""
    from core.inside import compiled_call
    from core.model import PRESETS, build_model

    image = prepare_drawing(rgba_digit())
    for preset in ("Book", "CNN"):
        model = build_model(PRESETS[preset])
        eager = predict_drawing(model, image)
        traced = predict_drawing(model, image, call=compiled_call(model))
        np.testing.assert_allclose(traced.probabilities, eager.probabilities, atol=1e-6)
        assert traced.digit == eager.digit
