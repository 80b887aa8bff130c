"""core.charts (probabilities, drawing, evaluation, training): each figure shows the data it is given."""

from __future__ import annotations

import numpy as np
import pytest

from core.charts.drawing import FRAME_GREY, framed, pixel_picture
from core.charts.evaluation import MATRIX_TRACE, confusion_figure, gallery_figure, per_class_figure
from core.charts.probabilities import (
    INK,
    PALE,
    PREDICTED_COLOR,
    TRUE_COLOR,
    UNSURE,
    bar_colours,
    probabilities_figure,
)
from core.charts.training import RUN_COLOURS, compare_runs_figure, group_means, training_curves_figure

PROBS = np.array([0.01, 0.02, 0.6, 0.1, 0.05, 0.05, 0.05, 0.05, 0.04, 0.03])
NAMES = tuple(str(d) for d in range(10))


# -- probabilities -------------------------------------------------------------------
def test_probability_bars_hold_the_vector_with_percent_labels():
    fig = probabilities_figure(PROBS, class_names=NAMES, title="x_test[3]")
    (bar,) = fig.data
    assert bar.type == "bar"
    assert list(bar.x) == list(NAMES)
    np.testing.assert_allclose(bar.y, PROBS)
    assert bar.text[2] == "60%" and bar.text[0] == "1%"
    assert fig.layout.title.text == "x_test[3]"
    assert fig.layout.yaxis.title.text == "probability" and fig.layout.yaxis.tickformat == ".0%"
    assert fig.layout.xaxis.type == "category"
    with pytest.raises(ValueError, match="10 probabilities for 3 classes"):
        probabilities_figure(PROBS, class_names=("a", "b", "c"))


def test_a_drawing_highlights_the_chosen_class_dark_when_sure_grey_when_not():
    sure = probabilities_figure(PROBS).data[0].marker.color
    assert sure[2] == INK and set(sure[:2] + sure[3:]) == {PALE}
    assert probabilities_figure(PROBS, sure=False).data[0].marker.color[2] == UNSURE


def test_a_test_image_shows_the_true_class_green_and_a_wrong_choice_red():
    wrong = bar_colours(PROBS, true_class=3)
    assert (wrong[3], wrong[2]) == (TRUE_COLOR, PREDICTED_COLOR)
    assert wrong.count(PALE) == 8
    right = bar_colours(PROBS, true_class=2)
    assert right[2] == TRUE_COLOR and PREDICTED_COLOR not in right
    with pytest.raises(ValueError, match="true_class"):
        bar_colours(PROBS, true_class=10)


# -- drawing ---------------------------------------------------------------------------
def test_pixel_picture_enlarges_each_pixel_into_a_square():
    image = np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32)
    picture = pixel_picture(image, size=10)
    assert picture.shape == (10, 10) and picture.dtype == np.uint8
    assert (picture[:5, 5:] == 255).all() and (picture[:5, :5] == 0).all()
    assert picture[9, 0] == 128 and picture[9, 9] == 64
    with pytest.raises(ValueError, match="2-D"):
        pixel_picture(np.zeros(4))


def test_framed_puts_the_image_in_the_middle_of_grey():
    frame = framed(np.ones((2, 4), np.float32))
    assert frame.shape == (4, 4)
    assert (frame[1:3] == 1).all() and (frame[0] == np.float32(FRAME_GREY)).all()
    with pytest.raises(ValueError, match="does not fit"):
        framed(np.ones((5, 5)), height=4, width=4)


# -- evaluation ------------------------------------------------------------------------
def test_confusion_heatmap_and_clickable_cells_carry_the_matrix():
    matrix = np.array([[5, 1, 0], [0, 3, 2], [1, 0, 4]])
    fig = confusion_figure(matrix, class_names=("a", "b", "c"), selected=(1, 2))
    heatmap, cells = fig.data[0], fig.data[MATRIX_TRACE]
    assert (heatmap.type, cells.type) == ("heatmap", "scatter")
    np.testing.assert_array_equal(np.asarray(heatmap.z), matrix)
    assert heatmap.zmax == 5 and heatmap.texttemplate == "%{z:d}"
    assert len(cells.customdata) == 9 and list(cells.customdata[5]) == [1, 2]
    assert cells.text[5].startswith("true b, predicted c: 2 images")
    assert fig.layout.xaxis.title.text == "predicted class" and fig.layout.yaxis.title.text == "true class"
    assert list(fig.layout.xaxis.ticktext) == ["a", "b", "c"]
    (outline,) = fig.layout.shapes
    assert (outline.x0, outline.y0) == (1.5, 0.5)
    shares = confusion_figure(matrix / matrix.sum(axis=1, keepdims=True), class_names=("a", "b", "c"),
                              counts=matrix, normalized=True)
    assert shares.data[0].zmax == 1.0 and shares.data[0].texttemplate == "%{z:.2f}"
    with pytest.raises(ValueError, match="square"):
        confusion_figure(np.zeros((2, 3)), class_names=("a", "b"))


def test_gallery_puts_each_image_above_its_bars():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    probs = np.tile(PROBS, (3, 1))
    fig = gallery_figure(images, probs, [7, 8, 9], class_names=NAMES, true_class=3, per_row=2)
    assert [trace.type for trace in fig.data] == ["heatmap", "bar"] * 3
    np.testing.assert_array_equal(np.asarray(fig.data[2].z), images[1])
    np.testing.assert_allclose(fig.data[3].y, PROBS)
    assert list(fig.data[1].marker.color) == bar_colours(PROBS, true_class=3)
    assert [a.text for a in fig.layout.annotations] == [f"x_test[{i}]<br>2 0.60" for i in (7, 8, 9)]
    with pytest.raises(ValueError, match="must match"):
        gallery_figure(images, probs[:2], [7, 8, 9], class_names=NAMES, true_class=3)


def test_per_class_scores_are_three_bar_groups():
    precision, recall, f1 = [0.9, 0.8], [0.7, 0.95], [0.79, 0.87]
    fig = per_class_figure(("a", "b"), precision, recall, f1)
    assert [trace.name for trace in fig.data] == ["precision", "recall", "F1"]
    assert all(trace.type == "bar" and list(trace.x) == ["a", "b"] for trace in fig.data)
    np.testing.assert_allclose(fig.data[1].y, recall)
    assert fig.layout.barmode == "group"
    assert fig.layout.yaxis.range[0] == pytest.approx(0.65)
    with pytest.raises(ValueError, match="one value per class"):
        per_class_figure(("a", "b"), precision, [0.5], f1)


# -- training --------------------------------------------------------------------------
def test_group_means_average_equal_groups_and_skip_non_finite_values():
    x, y = group_means([1, 2, 3, 4, 5], [1.0, 3.0, float("nan"), 5.0, 7.0], max_points=3)
    np.testing.assert_array_equal(x, [2, 4, 5])
    np.testing.assert_allclose(y, [2.0, 5.0, 7.0])
    x, y = group_means([1, 2], [0.5, None])
    assert list(x) == [1, 2] and np.isnan(y[1])
    with pytest.raises(ValueError, match="max_points"):
        group_means([1], [1.0], max_points=0)


def test_training_curves_put_loss_left_accuracy_right_in_epochs():
    fig = training_curves_figure(
        batch_steps=[1, 2, 3, 4], batch_logs={"loss": [2.0, 1.5, 1.2, 1.0], "accuracy": [0.2, 0.4, 0.5, 0.6]},
        epochs=[0, 1], epoch_logs={"loss": [1.5, 1.0], "accuracy": [0.4, 0.6], "val_loss": [1.4, 1.1],
                                   "val_accuracy": [0.45, 0.55]},
        steps_per_epoch=2, total_epochs=2,
    )
    assert all(trace.type == "scatter" for trace in fig.data)
    by_panel = {(t.name, t.xaxis): t for t in fig.data}
    batches = by_panel[("training, per batch", "x")]
    np.testing.assert_allclose(batches.x, [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(batches.y, [2.0, 1.5, 1.2, 1.0])
    np.testing.assert_allclose(by_panel[("validation", "x2")].y, [0.45, 0.55])
    np.testing.assert_allclose(by_panel[("training, per epoch", "x")].x, [1, 2])
    assert [a.text for a in fig.layout.annotations] == ["Loss", "Accuracy"]
    assert fig.layout.xaxis.title.text == "epoch" and list(fig.layout.xaxis.range) == [0, 2.04]


def test_compare_runs_gives_each_run_its_colour_and_escapes_its_name():
    logs = {"loss": [1.0, 0.5], "accuracy": [0.7, 0.9]}
    fig = compare_runs_figure([("a<b>", [0, 1], logs), ("second", [0, 1], {**logs, "val_loss": [0.9, 0.6]})])
    names = [trace.name for trace in fig.data]
    assert names == ["a&lt;b&gt;", "a&lt;b&gt;", "second", "second (validation)", "second"]
    assert fig.data[0].line.color == RUN_COLOURS[0] and fig.data[2].line.color == RUN_COLOURS[1]
    assert fig.data[3].line.dash == "dash"
    np.testing.assert_allclose(fig.data[1].y, [0.7, 0.9])
    assert RUN_COLOURS[0].lower() == "#0072b2" and len(set(RUN_COLOURS)) == 8  # Okabe–Ito
