"""Figures for the Evaluate page: the clickable confusion matrix, a cell's gallery,
per-class scores (its probability bars: core/charts/probabilities.py). Plain arrays in, plotly figures out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.probabilities import bar_colours
from core.charts.style import BINARY, BLUE, BLUISH_GREEN, ORANGE, SEQUENTIAL

MATRIX_COLORS = SEQUENTIAL  # one hue, light to dark: the counts read in greyscale too
TITLE_COLOR = "#1b1f24"
SELECTED_OUTLINE = ORANGE
SCORE_COLORS = {"precision": BLUE, "recall": ORANGE, "F1": BLUISH_GREEN}

#: The confusion matrix is drawn square at this height (pixels); its cells
#: must be large enough to hold a 4-digit count.
MATRIX_HEIGHT = 560
MATRIX_TRACE = 1  # index of the clickable scatter trace in confusion_figure
COLORBAR_ROOM = 40  # pixels beside the square for the colour bar
LABEL_PX_PER_CHAR = 7  # about one character of a tick label, for long class names


def _check_names(class_names: Sequence[str], n: int) -> list[str]:
    names = [str(c) for c in class_names]
    if len(names) != n:
        raise ValueError(f"class_names must have {n} names, got {len(names)}")
    return names


def confusion_figure(
    matrix: np.ndarray,
    *,
    class_names: Sequence[str],
    counts: np.ndarray | None = None,
    normalized: bool = False,
    selected: tuple[int, int] | None = None,
    height: int = MATRIX_HEIGHT,
) -> go.Figure:
    """The confusion matrix (n, n) as a heatmap with values in the cells and a colour bar.

    Rows are the true class (0 at the top), columns the predicted class.
    ``matrix`` is what is coloured and written (counts, or row shares when
    ``normalized``); ``counts`` (n, n), when given, is shown on hover.

    Streamlit reports no selection for clicks on a ``go.Heatmap``
    (streamlit#8760), so a transparent square-marker scatter sits on the cell
    centres (trace ``MATRIX_TRACE``): its points carry ``customdata =
    [true, predicted]`` and are what a click selects. ``hoverdistance=-1``
    makes the nearest cell centre answer, i.e. the cell under the pointer.
    ``selected`` = (true, predicted) is outlined.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (n, n), got shape {matrix.shape}")
    n = matrix.shape[0]
    names = _check_names(class_names, n)
    counts = matrix if counts is None else np.asarray(counts)
    if counts.shape != matrix.shape:
        raise ValueError(f"counts must have the matrix's shape {matrix.shape}, got {counts.shape}")

    text_format = "%{z:.2f}" if normalized else "%{z:d}"
    rows, cols = np.divmod(np.arange(n * n), n)
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=matrix,
            x=list(range(n)),
            y=list(range(n)),
            colorscale=MATRIX_COLORS,
            zmin=0,
            zmax=1.0 if normalized else max(1, int(matrix.max())),
            texttemplate=text_format,
            textfont={"size": 12},
            hoverinfo="skip",  # the scatter on top answers hovers and clicks
            colorbar={"title": {"text": "share of row" if normalized else "images"}},
        )
    )
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig.add_trace(
        go.Scatter(
            x=cols,
            y=rows,
            mode="markers",
            marker={
                "symbol": "square",
                "size": max(8, int(0.6 * height / n)),
                "color": "rgba(0,0,0,0)",
            },
            selected={"marker": {"opacity": 0}},
            unselected={"marker": {"opacity": 0}},
            customdata=np.column_stack([rows, cols]).tolist(),
            text=[
                f"true {names[i]}, predicted {names[j]}: {int(counts[i, j])} images "
                f"({share[i, j]:.1%} of the {names[i]}s)"
                for i, j in zip(rows, cols)
            ],
            hovertemplate="%{text}<br>click to see them<extra></extra>",
            showlegend=False,
        )
    )
    if selected is not None:
        i, j = selected
        fig.add_shape(
            type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
            line={"color": SELECTED_OUTLINE, "width": 4}, layer="above",
        )
    axis = {"tickmode": "array", "tickvals": list(range(n)), "ticktext": names,
            "showgrid": False, "zeroline": False, "range": [-0.5, n - 0.5]}
    fig.update_xaxes(**axis, title="predicted class", side="bottom", constrain="domain")
    fig.update_yaxes(**axis, title="true class", autorange=False, scaleanchor="x", constrain="domain")
    fig.update_yaxes(range=[n - 0.5, -0.5])  # true class 0 at the top, as in the book
    # A fixed size keeps the cells square and the colour bar next to them; long
    # class names (Fashion-MNIST) take their room from the square.
    label_room = LABEL_PX_PER_CHAR * max(0, max(len(name) for name in names) - 2)
    fig.update_xaxes(tickangle=-45 if label_room else 0)
    fig.update_layout(
        height=height,
        width=height + COLORBAR_ROOM + int(0.3 * label_room),
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hovermode="closest",
        hoverdistance=-1,
        dragmode=False,
        plot_bgcolor="white",
    )
    return fig


# Pixel layout of one gallery item: its title, the image, the bars, their tick labels.
GALLERY_TITLE_PX = 32  # two lines: the index, then the prediction
GALLERY_IMAGE_PX = 120
GALLERY_BARS_PX = 44
GALLERY_GAP_PX = 30  # below the bars: room for their tick labels
GALLERY_COLUMN_GAP = 0.012  # fraction of the width between columns


def gallery_figure(
    images: np.ndarray,
    probs: np.ndarray,
    indices: Sequence[int],
    *,
    class_names: Sequence[str],
    true_class: int,
    per_row: int = 6,
) -> go.Figure:
    """Test images (k, 28, 28) of one cell, each above its probability bars (k, n).

    ``indices`` (k,) are the items' indices in x_test, written in the titles
    with the probability of the predicted class. Axes are laid out by hand
    (pixels converted to paper fractions) so titles never overlap the bars above.
    """
    images = np.asarray(images)
    probs = np.asarray(probs, dtype=float)
    k = len(indices)
    if k == 0:
        raise ValueError("gallery_figure needs at least one image")
    if images.shape[0] != k or probs.shape[0] != k:
        raise ValueError(
            f"images ({images.shape[0]}), probs ({probs.shape[0]}) and indices ({k}) must match"
        )
    names = _check_names(class_names, probs.shape[1])
    n = len(names)
    per_row = max(1, min(per_row, k))
    item_rows = int(np.ceil(k / per_row))
    block = GALLERY_TITLE_PX + GALLERY_IMAGE_PX + GALLERY_BARS_PX + GALLERY_GAP_PX
    height = block * item_rows

    def band(top_px: float, size_px: float) -> list[float]:
        """A vertical paper domain from a distance (pixels) below the top."""
        return [1 - (top_px + size_px) / height, 1 - top_px / height]

    # Traces, axes and titles collected, then one Figure: adding 36 traces and 72 axes one
    # at a time cost 0.6-1 s of the Evaluate page's rerun (each add re-validates the layout).
    traces: list[dict] = []
    layout: dict = {"annotations": []}
    for pos in range(k):
        r, c = divmod(pos, per_row)
        x_domain = [c / per_row + GALLERY_COLUMN_GAP, (c + 1) / per_row - GALLERY_COLUMN_GAP]
        top = r * block
        img_axis, bar_axis = 2 * pos + 1, 2 * pos + 2
        p = probs[pos]
        j = int(np.argmax(p))
        traces.append(dict(
            type="heatmap", z=images[pos], colorscale=BINARY, zmin=0, zmax=255, showscale=False,
            hoverinfo="skip", xaxis=f"x{img_axis}", yaxis=f"y{img_axis}",
        ))
        traces.append(dict(
            type="bar", x=list(range(n)), y=p, marker_color=bar_colours(p, true_class=true_class),
            customdata=names, hovertemplate="%{customdata}: %{y:.3f}<extra></extra>",
            xaxis=f"x{bar_axis}", yaxis=f"y{bar_axis}",
        ))
        layout[f"xaxis{img_axis}"] = dict(domain=x_domain, visible=False, constrain="domain",
                                          anchor=f"y{img_axis}")
        layout[f"yaxis{img_axis}"] = dict(
            domain=band(top + GALLERY_TITLE_PX, GALLERY_IMAGE_PX), visible=False,
            autorange="reversed", scaleanchor=f"x{img_axis}", constrain="domain",
            anchor=f"x{img_axis}",
        )
        layout[f"xaxis{bar_axis}"] = dict(
            domain=x_domain, anchor=f"y{bar_axis}", tickmode="array", tickvals=list(range(n)),
            ticktext=[str(t) for t in range(n)], tickfont={"size": 8}, fixedrange=True,
        )
        layout[f"yaxis{bar_axis}"] = dict(
            domain=band(top + GALLERY_TITLE_PX + GALLERY_IMAGE_PX, GALLERY_BARS_PX),
            range=[0, 1], visible=False, anchor=f"x{bar_axis}", fixedrange=True,
        )
        layout["annotations"].append(dict(
            text=f"x_test[{int(indices[pos])}]<br>{names[j]} {p[j]:.2f}",
            x=(x_domain[0] + x_domain[1]) / 2, y=1 - top / height, xref="paper", yref="paper",
            xanchor="center", yanchor="top", showarrow=False, font={"size": 11, "color": TITLE_COLOR},
        ))
    return go.Figure(data=traces, layout=dict(
        layout, height=height + 10, showlegend=False, bargap=0.15,
        margin={"l": 5, "r": 5, "t": 5, "b": 5}, plot_bgcolor="white",
    ))


def per_class_figure(names: Sequence[str], precision, recall, f1) -> go.Figure:
    """Grouped bars of precision, recall (sensitivity) and F1 for each class."""
    names = [str(n) for n in names]
    fig = go.Figure()
    for label, values in (("precision", precision), ("recall", recall), ("F1", f1)):
        values = np.asarray(values, dtype=float)
        if values.shape != (len(names),):
            raise ValueError(f"{label} must have one value per class ({len(names)}), got {values.shape}")
        fig.add_trace(go.Bar(
            name=label, x=names, y=values, marker_color=SCORE_COLORS[label],
            hovertemplate=f"%{{x}} {label}: %{{y:.3f}}<extra></extra>",
        ))
    low = min(float(np.min(v)) for v in (precision, recall, f1))
    fig.update_yaxes(range=[max(0.0, min(0.8, low - 0.05)), 1.0], title="score")
    fig.update_xaxes(type="category", title="class")
    fig.update_layout(barmode="group", height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "y": 1.1})
    return fig
