"""core.charts.dataset: the figures show the data they are given."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from core.charts.dataset import (
    class_counts_figure,
    digit_figure,
    examples_grid_figure,
    histogram_figure,
    png_data_uri,
    strip_figure,
)

RNG = np.random.default_rng(1)
DIGITS = RNG.integers(0, 256, (12, 28, 28), dtype=np.uint8)


def test_digit_is_dark_ink_on_white_with_row_0_on_top():
    fig = digit_figure(DIGITS[0], title="x_train[0]")
    heatmap = fig.data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), DIGITS[0])
    assert heatmap.colorscale[0][1].lower() in ("#ffffff", "white")  # 0 = paper
    assert heatmap.colorscale[-1][1].lower() in ("#000000", "black")  # 255 = ink
    assert (heatmap.zmin, heatmap.zmax) == (0, 255)
    assert fig.layout.yaxis.autorange == "reversed"
    with pytest.raises(ValueError, match="2-D"):
        digit_figure(DIGITS)


def test_strip_has_784_values_and_a_marker_at_each_row_start():
    vector = DIGITS[0].reshape(-1) / 255
    fig = strip_figure(vector, title="unrolled")
    np.testing.assert_allclose(np.asarray(fig.data[0].z)[0], vector)
    (marks,) = fig.layout.shapes  # one path: a vertical line before each row's first pixel
    segments = re.findall(r"M (\S+) 0 L (\S+) 1", marks.path)
    assert [float(x0) + 0.5 for x0, _ in segments] == list(range(28, 784, 28))
    assert all(x0 == x1 for x0, x1 in segments) and marks.yref == "paper"


def test_histogram_counts_every_pixel():
    fig = histogram_figure(DIGITS, title="pixels")
    assert sum(fig.data[0].y) == DIGITS.size


def test_class_counts_bars():
    counts = np.arange(10) * 7
    fig = class_counts_figure(counts, tuple("0123456789"), title="counts")
    assert list(fig.data[0].y) == counts.tolist() and list(fig.data[0].x) == list("0123456789")


def test_examples_grid_is_one_png_holding_every_digit():
    fig = examples_grid_figure(DIGITS, [f"#{i}" for i in range(12)], per_row=5, gap=4)
    assert len(fig.data) == 1
    png = base64.b64decode(fig.data[0].source.split(",", 1)[1])
    mosaic = 255 - np.asarray(Image.open(io.BytesIO(png)))
    assert mosaic.shape == (3 * (28 + 4 + 8), 5 * (28 + 4))
    np.testing.assert_array_equal(mosaic[:28, :28], DIGITS[0])
    np.testing.assert_array_equal(mosaic[40:68, 64:92], DIGITS[7])  # row 1, column 2
    assert [a.text for a in fig.layout.annotations] == [f"#{i}" for i in range(12)]
    with pytest.raises(ValueError, match="labels"):
        examples_grid_figure(DIGITS, ["only one"], per_row=5)


@pytest.mark.parametrize("shape", [(28, 28), (140, 90, 3)])
def test_png_data_uri_holds_the_exact_pixels(shape):
    image = RNG.integers(0, 256, shape, dtype=np.uint8)
    uri = png_data_uri(image)
    assert uri.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    np.testing.assert_array_equal(decoded, image)


def test_png_data_uri_refuses_what_is_not_grey_or_rgb():
    with pytest.raises(ValueError, match="uint8"):
        png_data_uri(np.zeros((4, 4, 4), np.uint8))
