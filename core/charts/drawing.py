"""Figures and pictures for the Draw page: the 10 probabilities and the X-ray images."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.charts.style import INK

PALE = "#a9bfd6"
UNSURE = "#b0b0b0"


def probabilities_figure(
    probabilities: np.ndarray,
    *,
    class_names: tuple[str, ...] | list[str] = tuple(str(d) for d in range(10)),
    sure: bool = True,
    height: int = 260,
) -> go.Figure:
    """Bar chart of all class probabilities (softmax output); the top bar is dark
    when the network is sure, grey when it is not."""
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    if probabilities.size != len(class_names):
        raise ValueError(f"{probabilities.size} probabilities for {len(class_names)} classes")
    top = int(np.argmax(probabilities))
    colours = [PALE] * probabilities.size
    colours[top] = INK if sure else UNSURE
    fig = go.Figure(
        go.Bar(
            x=list(class_names), y=probabilities, marker_color=colours,
            text=[f"{p:.0%}" if p >= 0.005 else "" for p in probabilities], textposition="outside",
            hovertemplate="%{x}: %{y:.4f}<extra></extra>", cliponaxis=False,
        )
    )
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(range=[0, 1.1], tickformat=".0%", title="probability")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=20, b=10), showlegend=False)
    return fig


def pixel_picture(image: np.ndarray, *, size: int = 140) -> np.ndarray:
    """(h, w) floats in [0, 1] -> uint8 picture about ``size`` px on its long side,
    each pixel a crisp square (browsers blur small images when they enlarge them)."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or min(image.shape) == 0:
        raise ValueError(f"pixel_picture expects a non-empty 2-D image, got shape {image.shape}")
    factor = max(1, size // max(image.shape))
    picture = np.clip(image, 0.0, 1.0) * 255
    if factor > 1:
        picture = np.repeat(np.repeat(picture, factor, axis=0), factor, axis=1)
    return picture.round().astype(np.uint8)


#: What the X-ray shows outside a picture's own pixels: a dark grey that is
#: neither ink nor background, so a 20x12 image in its 20x20 box shows the box.
FRAME_GREY = 0.22


def framed(image: np.ndarray, *, height: int | None = None, width: int | None = None,
           fill: float = FRAME_GREY) -> np.ndarray:
    """(h, w) -> (height, width) with the image in the middle and ``fill`` around it;
    by default the smallest square that holds it."""
    image = np.asarray(image, dtype=np.float32)
    side = max(image.shape)
    height, width = height or side, width or side
    if image.shape[0] > height or image.shape[1] > width:
        raise ValueError(f"framed: {image.shape} does not fit in {height}x{width}")
    frame = np.full((height, width), fill, dtype=np.float32)
    top, left = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    frame[top:top + image.shape[0], left:left + image.shape[1]] = image
    return frame
