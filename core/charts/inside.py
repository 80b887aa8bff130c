"""Figures for "Inside the network": weights, activations, attributions, the test-set map.

Plain arrays in (from core.inside, core.attribution, core.maps), plotly figures
out. Weights and attributions are signed, so they use one diverging scale
centred on 0 (``zmid=0``, symmetric limits): blue = positive (pushes the
unit or class up), red = negative, white = no effect. ``CAPTIONS`` holds the
one-line "how to read it" for each figure, keyed by the builder's name.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.grid import grid_layout, panel_axes
from core.charts.style import BINARY, CLASS_COLOURS, INK

#: plotly's 'RdBu': red for negative, white at 0, blue for positive.
DIVERGING = "RdBu"
#: The same, with 0 transparent, to lay attributions over a digit.
OVERLAY_SCALE = [[0.0, "rgba(178,24,43,0.9)"], [0.5, "rgba(255,255,255,0)"], [1.0, "rgba(33,102,172,0.9)"]]
CLASS_COLORS = CLASS_COLOURS  # core.charts.style: Okabe–Ito and two more, 10 classes
CORRECT_SYMBOL, MISTAKE_SYMBOL = "circle", "x"
NEGATIVE_COLOR, POSITIVE_COLOR = "#b2182b", "#2166ac"

CAPTIONS = {
    "weight_images_figure": (
        "Each square is one hidden unit's 784 weights laid out as the image: blue pixels push the "
        "unit up when inked, red ones push it down, white ones do not matter."
    ),
    "output_weights_figure": (
        "Row = hidden unit, column = digit: blue means that unit's activity votes for the digit, red "
        "against it; the last row is each digit's bias."
    ),
    "conv_filters_figure": (
        "Each 3×3 square is one filter of the first convolution: it responds where the image has the "
        "pattern blue-minus-red (edges, strokes in one direction)."
    ),
    "activation_bars_figure": (
        "Top: each hidden unit's weighted sum z; bottom: its activation a = f(z), the number passed on "
        "to the next layer."
    ),
    "unit_arithmetic_figure": (
        "Weights × input = product, pixel by pixel: z is the sum of the right-hand picture plus the "
        "bias; only inked pixels contribute."
    ),
    "feature_maps_figure": (
        "What each filter found in this drawing: dark where its pattern is present (after relu, "
        "nothing is negative)."
    ),
    "saliency_overlay_figure": (
        "Blue pixels raised the probability of the class, red ones lowered it; the stronger the colour, "
        "the larger the effect."
    ),
    "pca_scatter_figure": (
        "Each point is a test image placed by its two main directions of variation: left on raw pixels, "
        "right as the hidden layer sees it. × marks a mistake; click a point to open the image."
    ),
}


def _limit(*arrays: np.ndarray) -> float:
    """A symmetric colour limit: the largest |value| (1 when everything is 0)."""
    m = max((float(np.abs(a).max()) for a in arrays if np.size(a)), default=0.0)
    return m if m > 0 else 1.0


def _grid(n: int, columns: int) -> tuple[int, int]:
    cols = max(1, min(columns, n))
    return math.ceil(n / cols), cols


#: Screen pixels of a picture's title in a mosaic.
MOSAIC_TITLE_PX = 16


def mosaic(images: np.ndarray, *, columns: int, row_gap: int = 1, col_gap: int = 1
           ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(N, H, W) pictures tiled row by row into one (rows*(H+row_gap), cols*(W+col_gap)) array
    (less one gap each), NaN between them; also each picture's top-left (row, col) in it."""
    images = np.asarray(images, dtype=float)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must be (N, height, width) with N >= 1, got shape {images.shape}")
    n, h, w = images.shape
    rows, cols = _grid(n, columns)
    tiled = np.full((rows * (h + row_gap) - row_gap, cols * (w + col_gap) - col_gap), np.nan)
    corners = []
    for i, image in enumerate(images):
        top, left = (i // cols) * (h + row_gap), (i % cols) * (w + col_gap)
        tiled[top : top + h, left : left + w] = image
        corners.append((top, left))
    return tiled, corners


def _heatmap_grid(
    images: np.ndarray, titles: Sequence[str], *, columns: int, colorscale, zmin: float, zmax: float,
    zmid: float | None, cell: int, colorbar_title: str,
) -> go.Figure:
    """The pictures as ONE heatmap (a mosaic, titled per picture): a browser draws one trace on one
    pair of axes in 60-80 ms, where 16 small subplots took 200-400 ms (headless Chromium, measured)."""
    images = np.asarray(images)
    rows, cols = _grid(len(images), columns)
    h, w = images.shape[1:]
    # gaps in picture pixels: a title's height between rows (one picture is ``cell`` screen pixels)
    row_gap = math.ceil(h * MOSAIC_TITLE_PX / cell) + 1
    tiled, corners = mosaic(images, columns=columns, row_gap=row_gap, col_gap=max(1, round(w * 0.08)))
    height = rows * (cell + MOSAIC_TITLE_PX) + 40
    annotations = [
        # just inside the picture's top edge: plotly hides an annotation outside the axis range
        dict(text=title, x=left + (w - 1) / 2, y=top - 0.45, xref="x", yref="y", xanchor="center", yanchor="bottom",
             showarrow=False, font={"size": 11})
        for title, (top, left) in zip(titles, corners)
    ]
    axis = dict(showticklabels=False, ticks="", showline=False, showgrid=False, zeroline=False, constrain="domain")
    return go.Figure(
        data=[dict(type="heatmap", z=tiled, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid,
                   colorbar={"title": {"text": colorbar_title}, "thickness": 12}, hoverongaps=False,
                   hovertemplate="%{z:.3f}<extra></extra>")],
        layout=dict(
            xaxis=axis, yaxis=dict(axis, autorange="reversed", scaleanchor="x"), annotations=annotations,
            height=height, width=cols * cell + 80, plot_bgcolor="white",
            margin={"l": 10, "r": 10, "t": 30, "b": 10},
        ),
    )


# --------------------------------------------------------------------------- weights


def _weight_grid(images: np.ndarray, titles: Sequence[str], *, columns: int, cell: int) -> go.Figure:
    """Signed weights (N, H, W), one square each, on one colour scale symmetric around 0."""
    m = _limit(images)
    return _heatmap_grid(images, titles, columns=columns, colorscale=DIVERGING, zmin=-m, zmax=m, zmid=0,
                         cell=cell, colorbar_title="weight")


def weight_images_figure(images: np.ndarray, unit_indices: Sequence[int], *, columns: int = 5) -> go.Figure:
    """First-layer weights (U, H, W), one square per unit (titled with its index), on one shared scale."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be (units, height, width), got shape {images.shape}")
    units = [int(k) for k in unit_indices]
    if len(units) != len(images):
        raise ValueError(f"{len(images)} images but {len(units)} unit indices")
    return _weight_grid(images, [f"unit {k}" for k in units], columns=columns, cell=130)


def output_weights_figure(kernel: np.ndarray, bias: np.ndarray, *, class_names: Sequence[str] | None = None
                          ) -> go.Figure:
    """The last layer's (H, C) kernel as a heatmap (rows: hidden units, columns: classes), bias as the last row."""
    kernel, bias = np.asarray(kernel), np.asarray(bias)
    if kernel.ndim != 2 or bias.shape != (kernel.shape[1],):
        raise ValueError(f"kernel must be (units, classes) and bias (classes,), got {kernel.shape} and {bias.shape}")
    names = [str(c) for c in (class_names or range(kernel.shape[1]))]
    if len(names) != kernel.shape[1]:
        raise ValueError(f"class_names must have {kernel.shape[1]} names, got {len(names)}")
    z = np.vstack([kernel, bias[np.newaxis]])
    m = _limit(z)
    rows = [f"unit {i}" for i in range(kernel.shape[0])] + ["bias"]
    fig = go.Figure(
        go.Heatmap(
            z=z, x=names, y=rows, colorscale=DIVERGING, zmin=-m, zmax=m, zmid=0,
            texttemplate="%{z:.2f}" if z.size <= 400 else None, textfont={"size": 10},
            colorbar={"title": {"text": "weight"}},
            hovertemplate="%{y} → %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="class", type="category", side="top")
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_layout(height=40 + 32 * len(rows), width=160 + 48 * len(names),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def conv_filters_figure(filters: np.ndarray, *, columns: int = 8) -> go.Figure:
    """First-convolution filters (F, kh, kw) as a grid of small signed squares."""
    filters = np.asarray(filters)
    if filters.ndim != 3:
        raise ValueError(f"filters must be (F, height, width), got shape {filters.shape}")
    return _weight_grid(filters, [f"{i}" for i in range(len(filters))], columns=columns, cell=70)


# --------------------------------------------------------------------------- activations


def activation_bars_figure(z: np.ndarray, a: np.ndarray, *, activation: str = "sigmoid") -> go.Figure:
    """A layer's (U,) weighted sums z (top, coloured by sign) and activations a = f(z) (bottom)."""
    z, a = np.asarray(z, dtype=float).reshape(-1), np.asarray(a, dtype=float).reshape(-1)
    if z.shape != a.shape:
        raise ValueError(f"z and a must have the same length, got {z.size} and {a.size}")
    units = list(range(z.size))
    layout = grid_layout(2, 1, titles=["z = w·x + b", f"a = {activation}(z)"], vertical_spacing=0.12,
                         shared_x=True, title_font_size=16)
    layout["xaxis2"].update(title={"text": "hidden unit"}, tickmode="array",
                            tickvals=units if len(units) <= 32 else None)
    if activation in ("sigmoid", "softmax"):
        layout["yaxis2"]["range"] = [0, 1]
    traces = [
        dict(type="bar", x=units, y=z, marker_color=[POSITIVE_COLOR if v >= 0 else NEGATIVE_COLOR for v in z],
             name="z", hovertemplate="unit %{x}: z = %{y:.3f}<extra></extra>", **panel_axes(0)),
        dict(type="bar", x=units, y=a, marker_color=INK, name="a",
             hovertemplate="unit %{x}: a = %{y:.3f}<extra></extra>", **panel_axes(1)),
    ]
    fig = go.Figure(data=traces, layout=dict(layout, height=360, showlegend=False,
                                             margin={"l": 10, "r": 10, "t": 30, "b": 10}, bargap=0.2))
    return fig


def unit_arithmetic_figure(
    w: np.ndarray, x: np.ndarray, product: np.ndarray, *, image_shape: tuple[int, int] = (28, 28),
    title: str | None = None,
) -> go.Figure:
    """One unit's weights, the input and their product (each (H*W,)) as three (H, W) pictures."""
    pictures = [np.asarray(v, dtype=float).reshape(image_shape) for v in (w, x, product)]
    mw, mp = _limit(pictures[0]), _limit(pictures[2])
    specs = [
        (DIVERGING, -mw, mw, 0, 0.29),
        (BINARY, 0, max(1.0, float(pictures[1].max())), None, 0.645),
        (DIVERGING, -mp, mp, 0, 1.0),
    ]
    traces = [
        dict(type="heatmap", z=picture, colorscale=scale, zmin=lo, zmax=hi, zmid=mid,
             colorbar={"x": bar_x, "thickness": 10, "len": 0.9},
             hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>", **panel_axes(panel))
        for panel, (picture, (scale, lo, hi, mid, bar_x)) in enumerate(zip(pictures, specs))
    ]
    layout = grid_layout(1, 3, titles=["weights w", "input x", "w × x"], horizontal_spacing=0.06, images=True,
                         title_font_size=16)
    # a long sum (UnitArithmetic.text()) fits the width at this size
    fig = go.Figure(data=traces, layout=dict(
        layout, height=300, width=900, margin={"l": 10, "r": 10, "t": 60 if title else 30, "b": 10},
        title={"text": title, "font": {"size": 12}, "y": 0.98} if title else None, plot_bgcolor="white"))
    return fig


def feature_maps_figure(maps: np.ndarray, *, max_maps: int = 16, columns: int = 8) -> go.Figure:
    """A convolution's output (H, W, C): the ``max_maps`` most active channels (channel order), one square each."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"maps must be (height, width, channels), got shape {maps.shape}")
    if max_maps < 1:
        raise ValueError(f"max_maps must be at least 1, got {max_maps}")
    channels = np.arange(maps.shape[2])
    if maps.shape[2] > max_maps:
        channels = np.sort(np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:max_maps])
    images = maps[:, :, channels].transpose(2, 0, 1)
    top = float(images.max()) if images.size and images.max() > 0 else 1.0
    return _heatmap_grid(images, [f"filter {c}" for c in channels], columns=columns, colorscale=BINARY,
                         zmin=0, zmax=top, zmid=None, cell=90, colorbar_title="activation")


# --------------------------------------------------------------------------- attributions


def saliency_overlay_figure(image: np.ndarray, attribution: np.ndarray, *, title: str | None = None,
                            size: int = 360) -> go.Figure:
    """The digit (H, W) in grey, its (H, W) attribution laid over it (0 transparent, zmid 0)."""
    image, attribution = np.asarray(image, dtype=float), np.asarray(attribution, dtype=float)
    if image.ndim != 2 or attribution.shape != image.shape:
        raise ValueError(f"image and attribution must be the same (H, W), got {image.shape} and {attribution.shape}")
    m = _limit(attribution)
    ink_max = 255.0 if image.max() > 1 else 1.0
    axis = dict(showticklabels=False, ticks="", showline=False, showgrid=False, zeroline=False, constrain="domain")
    return go.Figure(
        data=[
            # the digit faint (a quarter of full ink) so the colours on top stay readable
            dict(type="heatmap", z=image, colorscale=[[0, "#ffffff"], [1, "#8c8c8c"]], zmin=0, zmax=ink_max,
                 showscale=False, hoverinfo="skip"),
            dict(type="heatmap", z=attribution, colorscale=OVERLAY_SCALE, zmin=-m, zmax=m, zmid=0,
                 colorbar={"title": {"text": "attribution"}, "thickness": 12},
                 hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>"),
        ],
        # one layout dict: update_xaxes/update_yaxes cost 0.1 s a figure, two figures an image
        layout=dict(xaxis=axis, yaxis=dict(axis, autorange="reversed", scaleanchor="x"),
                    height=size, width=size + 80, title=title, plot_bgcolor="white",
                    margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}),
    )


# --------------------------------------------------------------------------- the test-set map


def pca_scatter_figure(
    raw_xy: np.ndarray, hidden_xy: np.ndarray, *, labels: np.ndarray, predicted: np.ndarray,
    indices: np.ndarray, class_names: Sequence[str] | None = None,
    explained: tuple[Sequence[float], Sequence[float]] | None = None,
) -> go.Figure:
    """Two PCA scatters side by side (raw pixels, hidden layer): one trace per class and panel.

    Colour = true class (``CLASS_COLORS``), symbol = correct (circle) or a
    mistake (x). Every point's ``customdata`` is [test index, true, predicted],
    so a selection event names the image to open. Traces: classes 0..9 for the
    left panel, then 0..9 for the right.
    """
    raw_xy, hidden_xy = np.asarray(raw_xy), np.asarray(hidden_xy)
    labels, predicted, indices = (np.asarray(v).astype(int) for v in (labels, predicted, indices))
    n = len(indices)
    if raw_xy.shape != (n, 2) or hidden_xy.shape != (n, 2) or labels.shape != (n,) or predicted.shape != (n,):
        raise ValueError(
            f"expected raw_xy and hidden_xy (N, 2) and labels, predicted, indices (N,) with N = {n}; got "
            f"{raw_xy.shape}, {hidden_xy.shape}, {labels.shape}, {predicted.shape}"
        )
    names = [str(c) for c in (class_names or range(len(CLASS_COLORS)))]
    if labels.size and labels.max() >= len(names):
        raise ValueError(f"labels go up to {labels.max()} but there are {len(names)} class names")
    titles = ["raw pixels", "hidden layer"]
    if explained is not None:
        titles = [f"{t} (axes explain {float(np.sum(e)):.0%} of the variance)" for t, e in zip(titles, explained)]
    traces = []
    for panel, xy in enumerate((raw_xy, hidden_xy)):
        for c, name in enumerate(names):
            mask = labels == c
            wrong = predicted[mask] != c
            traces.append(dict(
                type="scatter", x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=name, legendgroup=name,
                showlegend=panel == 0,
                marker={"color": CLASS_COLORS[c % len(CLASS_COLORS)], "size": np.where(wrong, 8, 5).tolist(),
                        "symbol": np.where(wrong, MISTAKE_SYMBOL, CORRECT_SYMBOL).tolist(),
                        "line": {"width": 0}, "opacity": 0.8},
                customdata=np.column_stack([indices[mask], labels[mask], predicted[mask]]).tolist(),
                hovertemplate="test image %{customdata[0]}: true %{customdata[1]}, "
                              "predicted %{customdata[2]}<extra></extra>",
                **panel_axes(panel),
            ))
    layout = grid_layout(1, 2, titles=titles, horizontal_spacing=0.06, title_font_size=16,
                         x_axis={"title": {"text": "PC 1"}, "zeroline": False},
                         y_axis={"title": {"text": "PC 2"}, "zeroline": False})
    fig = go.Figure(data=traces, layout=layout)
    fig.update_layout(height=480, legend={"title": {"text": "true class"}, "itemsizing": "constant"},
                      # dragmode "zoom", not "select": in select mode a click starts an empty box
                      # and plotly reports an empty selection (a click opened nothing, measured in
                      # Chromium); in zoom mode a click selects its point and a drag zooms in.
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, clickmode="event+select", dragmode="zoom")
    return fig
