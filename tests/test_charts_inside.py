"""core.charts.inside: trace types, the data drawn is the data given, signed scales centred on 0."""

from __future__ import annotations

import numpy as np
from helpers import mosaic_tiles
import plotly.graph_objects as go
import pytest

from core.charts import inside as charts

RNG = np.random.default_rng(0)


def heatmaps(fig):
    return [t for t in fig.data if isinstance(t, go.Heatmap)]


def tiles(fig) -> list[np.ndarray]:
    (trace,) = heatmaps(fig)
    return mosaic_tiles(trace.z)


def test_every_builder_has_a_caption():
    builders = [name for name in dir(charts) if name.endswith("_figure") and callable(getattr(charts, name))]
    assert sorted(builders) == sorted(charts.CAPTIONS)
    assert all(text.strip() and "\n" not in text for text in charts.CAPTIONS.values())


def test_weight_images_grid():
    images = RNG.normal(size=(10, 28, 28)).astype(np.float32)
    images[3, 0, 0] = -9.0  # the largest |weight| sets both limits
    fig = charts.weight_images_figure(images, list(range(10)))
    (trace,) = fig.data  # one mosaic: one trace, one colour bar
    pictures = tiles(fig)
    assert len(pictures) == 10
    for k, picture in enumerate(pictures):
        np.testing.assert_allclose(picture, images[k], rtol=1e-6)
    assert trace.zmid == 0 and trace.zmin == -9.0 and trace.zmax == 9.0
    assert trace.colorscale == go.Heatmap(colorscale="RdBu").colorscale
    assert [a.text for a in fig.layout.annotations] == [f"unit {k}" for k in range(10)]
    with pytest.raises(ValueError, match="unit indices"):
        charts.weight_images_figure(images, [0, 1])


def test_output_weights_heatmap_has_the_bias_row():
    kernel, bias = RNG.normal(size=(10, 10)), RNG.normal(size=10)
    fig = charts.output_weights_figure(kernel, bias)
    (trace,) = fig.data
    z = np.asarray(trace.z)
    np.testing.assert_array_equal(z[:10], kernel)
    np.testing.assert_array_equal(z[10], bias)
    assert list(trace.y)[-1] == "bias" and list(trace.x) == [str(d) for d in range(10)]
    assert trace.zmid == 0 and trace.zmin == -trace.zmax
    with pytest.raises(ValueError, match="bias"):
        charts.output_weights_figure(kernel, bias[:5])


def test_conv_filters_grid():
    filters = RNG.normal(size=(32, 3, 3))
    fig = charts.conv_filters_figure(filters)
    pictures = tiles(fig)
    assert len(pictures) == 32
    np.testing.assert_allclose(pictures[31], filters[31])
    assert fig.data[0].zmid == 0


def test_activation_bars():
    z, a = RNG.normal(size=10), RNG.uniform(size=10)
    fig = charts.activation_bars_figure(z, a)
    bars = [t for t in fig.data if isinstance(t, go.Bar)]
    assert len(bars) == 2
    np.testing.assert_allclose(bars[0].y, z)
    np.testing.assert_allclose(bars[1].y, a)
    assert [c == charts.POSITIVE_COLOR for c in bars[0].marker.color] == list(z >= 0)


def test_unit_arithmetic_pictures():
    w, x = RNG.normal(size=784), RNG.uniform(size=784)
    fig = charts.unit_arithmetic_figure(w, x, w * x, title="z = 1")
    maps = heatmaps(fig)
    assert len(maps) == 3
    for trace, values in zip(maps, (w, x, w * x)):
        np.testing.assert_allclose(np.asarray(trace.z), values.reshape(28, 28))
    assert maps[0].zmid == 0 and maps[2].zmid == 0 and maps[1].zmin == 0


def test_feature_maps_show_the_most_active_channels():
    maps = np.zeros((26, 26, 32), np.float32)
    maps[:, :, [2, 30]] = 1.0
    fig = charts.feature_maps_figure(maps, max_maps=2)
    assert [a.text for a in fig.layout.annotations] == ["filter 2", "filter 30"]
    np.testing.assert_array_equal(tiles(fig)[1], maps[:, :, 30])
    assert len(charts.feature_maps_figure(maps, max_maps=40).layout.annotations) == 32


def test_saliency_overlay():
    image = RNG.integers(0, 256, (28, 28)).astype(np.uint8)
    attribution = RNG.normal(size=(28, 28))
    fig = charts.saliency_overlay_figure(image, attribution)
    digit, overlay = fig.data
    np.testing.assert_array_equal(np.asarray(digit.z), image)
    np.testing.assert_allclose(np.asarray(overlay.z), attribution)
    assert overlay.zmid == 0 and overlay.zmin == -overlay.zmax
    assert "0)" in overlay.colorscale[1][1]  # zero is transparent over the digit
    blank = charts.saliency_overlay_figure(np.zeros((28, 28)), np.zeros((28, 28)))
    assert blank.data[1].zmax == 1.0  # an all-zero map still has a scale


def test_pca_scatter_pair():
    n = 60
    labels = np.arange(n) % 10
    predicted = labels.copy()
    predicted[[1, 7, 8]] = 0  # three mistakes (true 1, 7, 8)
    raw, hidden = RNG.normal(size=(n, 2)), RNG.normal(size=(n, 2))
    indices = np.arange(100, 100 + n)
    fig = charts.pca_scatter_figure(raw, hidden, labels=labels, predicted=predicted, indices=indices,
                                    explained=([0.1, 0.05], [0.3, 0.2]))
    assert len(fig.data) == 20 and all(isinstance(t, go.Scatter) for t in fig.data)
    assert [t.showlegend for t in fig.data] == [True] * 10 + [False] * 10
    colors = {t.marker.color for t in fig.data}
    assert colors == set(charts.CLASS_COLORS) and len(colors) == 10
    points = 0
    for panel, xy in ((fig.data[:10], raw), (fig.data[10:], hidden)):
        for c, trace in enumerate(panel):
            custom = np.asarray(trace.customdata)
            assert (custom[:, 1] == c).all()
            rows = custom[:, 0] - 100
            np.testing.assert_allclose(np.column_stack([trace.x, trace.y]), xy[rows])
            np.testing.assert_array_equal(custom[:, 2], predicted[rows])
            symbols = np.asarray(trace.marker.symbol)
            assert list(symbols == charts.MISTAKE_SYMBOL) == list(custom[:, 2] != c)
            points += len(trace.x)
    assert points == 2 * n
    assert "15%" in fig.layout.annotations[0].text and "50%" in fig.layout.annotations[1].text
    # A click selects its point; in dragmode "select" a click reports an empty selection
    # (tests/test_evaluate_browser.py clicks a point in Chromium).
    assert fig.layout.clickmode == "event+select" and fig.layout.dragmode == "zoom"
    with pytest.raises(ValueError, match="expected raw_xy"):
        charts.pca_scatter_figure(raw[:5], hidden, labels=labels, predicted=predicted, indices=indices)
