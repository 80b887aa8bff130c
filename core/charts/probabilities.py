"""The network's class probabilities (one softmax row) as bars: the Draw and Evaluate pages' chart.

One colour rule for every probability bar (also the Evaluate gallery's small
ones): the chosen class stands out, and where the true class is known it is
green, the chosen one red when it is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.style import INK, TRUE_COLOUR, WRONG_COLOUR

PALE = "#a9bfd6"             # every class but the highlighted ones
UNSURE = "#b0b0b0"           # the chosen class when the network is not sure
PREDICTED_COLOR = WRONG_COLOUR  # the class the model chose, when it is wrong
TRUE_COLOR = TRUE_COLOUR        # the true class
DIGITS = tuple(str(d) for d in range(10))


def bar_colours(probabilities, *, true_class: int | None = None, sure: bool = True) -> list[str]:
    """One colour per class of a (n,) probability vector.

    Without ``true_class`` (a drawing): the chosen class dark (INK), grey when
    the network is not ``sure``. With it (a test image): the true class green,
    the chosen class red when it is another one.
    """
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    n = probabilities.size
    if true_class is not None and not 0 <= int(true_class) < n:
        raise ValueError(f"true_class must be in 0..{n - 1}, got {true_class}")
    chosen = int(np.argmax(probabilities))
    colours = [PALE] * n
    if true_class is None:
        colours[chosen] = INK if sure else UNSURE
    else:
        colours[int(true_class)] = TRUE_COLOR
        if chosen != int(true_class):
            colours[chosen] = PREDICTED_COLOR
    return colours


def probabilities_figure(
    probabilities,
    *,
    class_names: Sequence[str] = DIGITS,
    true_class: int | None = None,
    sure: bool = True,
    title: str | None = None,
    height: int = 260,
) -> go.Figure:
    """Bar chart of a (n,) probability vector (softmax output), one bar per class name,
    coloured by :func:`bar_colours`, each bar labelled with its percentage."""
    probabilities = np.asarray(probabilities, dtype=float).ravel()
    names = [str(c) for c in class_names]
    if probabilities.size != len(names):
        raise ValueError(f"{probabilities.size} probabilities for {len(names)} classes")
    # One constructor, traces and layout as plain dicts: about 5x cheaper than update_* calls,
    # and the Draw page builds this figure after every stroke.
    fig = go.Figure(
        data=[dict(
            type="bar", x=names, y=probabilities,
            marker={"color": bar_colours(probabilities, true_class=true_class, sure=sure)},
            text=[f"{p:.0%}" if p >= 0.005 else "" for p in probabilities], textposition="outside",
            hovertemplate="%{x}: %{y:.4f}<extra></extra>", cliponaxis=False,
        )],
        layout=dict(
            xaxis={"type": "category", "title": {"text": "class"}},
            yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": {"text": "probability"}},
            title={"text": title} if title else None, height=height,
            margin=dict(l=10, r=10, t=40 if title else 20, b=10), showlegend=False,
        ),
    )
    return fig
