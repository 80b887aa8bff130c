"""Figures for the Dataset page: digits, pixel histograms, the 784-strip, class counts."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.charts.style import BINARY, INK


def digit_figure(image: np.ndarray, *, title: str | None = None, size: int = 320) -> go.Figure:
    """One (28, 28) image as a square heatmap in the binary colormap, pixel values on hover."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"digit_figure expects a 2-D image, got shape {image.shape}")
    zmax = 255 if image.dtype == np.uint8 else max(1.0, float(image.max()))
    fig = go.Figure(
        go.Heatmap(
            z=image, colorscale=BINARY, zmin=0, zmax=zmax, showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", constrain="domain", showticklabels=True)
    fig.update_xaxes(constrain="domain")
    fig.update_layout(
        width=size, height=size, margin=dict(l=10, r=10, t=40 if title else 25, b=10),
        title=dict(text=title, x=0.5) if title else None,
    )
    return fig


def histogram_figure(values: np.ndarray, *, title: str, bins: int = 32) -> go.Figure:
    """Histogram of pixel values with a log y axis (most pixels are background zeros)."""
    values = np.asarray(values).ravel()
    lo, hi = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi if hi > lo else lo + 1))
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), marker_color=INK,
            hovertemplate="value ≈ %{x:.3g}: %{y} pixels<extra></extra>",
        )
    )
    fig.update_yaxes(type="log", title="pixels (log scale)")
    fig.update_xaxes(title="pixel value")
    fig.update_layout(title=title, height=260, margin=dict(l=10, r=10, t=40, b=10), bargap=0)
    return fig


def strip_figure(vector: np.ndarray, *, title: str, row_length: int = 28) -> go.Figure:
    """A 784-long vector drawn as one strip; dotted lines mark where each image row starts."""
    vector = np.asarray(vector, dtype=float).ravel()
    # One constructor with plain dicts (the Draw page builds this after every stroke).
    fig = go.Figure(
        data=[dict(
            type="heatmap", z=vector[np.newaxis, :], colorscale=BINARY, zmin=0, zmax=max(1e-9, vector.max()),
            showscale=False, hovertemplate="index %{x}: %{z:.3f}<extra></extra>",
        )],
        layout=dict(
            # All row boundaries as ONE path shape: 27 line shapes cost 4x the figure's time
            # to build and validate (12 ms against 3 ms), after every stroke on Draw.
            shapes=[dict(
                type="path", yref="paper", line=dict(width=0.5, dash="dot", color="#bbbbbb"),
                path=" ".join(f"M {start - 0.5} 0 L {start - 0.5} 1"
                              for start in range(row_length, vector.size, row_length)),
            )],
            yaxis={"showticklabels": False},
            xaxis={"title": {"text": f"index 0 … {vector.size - 1} (row r, column c → 28·r + c)"}},
            title={"text": title}, height=150, margin=dict(l=10, r=10, t=40, b=40),
        ),
    )
    return fig


def class_counts_figure(counts: np.ndarray, class_names: tuple[str, ...], *, title: str) -> go.Figure:
    """Bar chart of how many images each class has."""
    fig = go.Figure(
        go.Bar(
            x=list(class_names), y=np.asarray(counts), marker_color=INK, text=np.asarray(counts),
            textposition="outside", cliponaxis=False,
            hovertemplate="%{x}: %{y} images<extra></extra>",
        )
    )
    fig.update_xaxes(type="category", title="class")
    fig.update_yaxes(title="images")
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def png_data_uri(image: np.ndarray) -> str:
    """(H, W) grey or (H, W, 3) RGB uint8 image -> a ``data:image/png;base64,...`` URI.

    Also what the Draw page hands ``st.image`` after every stroke: a data URI goes to the
    browser inside the page's message, where an array would be encoded, decoded again for
    its size, stored and fetched by one more HTTP request per picture.
    """
    import base64
    import io

    from PIL import Image

    image = np.asarray(image, dtype=np.uint8)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"png_data_uri expects (H, W) or (H, W, 3) uint8, got shape {image.shape}")
    buffer = io.BytesIO()
    # compress_level 1: a few percent larger than the default 6 for these blocky pictures, and faster
    Image.fromarray(image, mode="L" if image.ndim == 2 else "RGB").save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def examples_grid_figure(
    images: np.ndarray, labels: list[str], *, per_row: int, title: str | None = None, gap: int = 4
) -> go.Figure:
    """A grid of small (28, 28) uint8 digits, each captioned with ``labels[i]``.

    Drawn as one PNG mosaic (dark ink on white) inside the figure: 80 heatmap
    subplots take over a second to build, and even one mosaic heatmap is a 1 MB
    chart to send; the PNG is a few kB.
    """
    images = np.asarray(images)
    if images.ndim != 3 or len(images) != len(labels):
        raise ValueError(f"expected (N, h, w) images and N labels, got {images.shape} and {len(labels)}")
    n, h, w = images.shape
    rows = int(np.ceil(n / per_row))
    cell_h, cell_w = h + gap + 8, w + gap  # room under each digit for its caption
    mosaic = np.zeros((rows * cell_h, per_row * cell_w), dtype=np.uint8)
    annotations = []
    for i, image in enumerate(images):
        r, c = divmod(i, per_row)
        mosaic[r * cell_h : r * cell_h + h, c * cell_w : c * cell_w + w] = image
        annotations.append(
            dict(x=c * cell_w + w / 2, y=r * cell_h + h + 3, text=labels[i], showarrow=False,
                 font=dict(size=10), xref="x", yref="y")
        )
    fig = go.Figure(go.Image(source=png_data_uri(255 - mosaic), hoverinfo="skip"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(
        title=title, annotations=annotations, plot_bgcolor="white",
        height=max(220, 95 * rows), margin=dict(l=5, r=5, t=40 if title else 10, b=5),
    )
    return fig
