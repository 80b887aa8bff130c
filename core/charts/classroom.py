"""The Class page's figure: every run's test accuracy against the epochs it trained."""

from __future__ import annotations

import html
from typing import Sequence

import plotly.graph_objects as go

from core.charts.style import RUN_COLOURS
from core.model import PRESETS


def _plain(text: str) -> str:
    # Names are typed by students: plotly renders some HTML in hover text.
    return html.escape(text).replace("%", "&#37;")


def class_scatter_figure(points: Sequence, *, height: int = 460) -> go.Figure:
    """One marker per run (``core.classroom.ChartPoint``), one colour per preset.

    Each point's ``customdata[0]`` is its ``key`` (opaque), so a selection names the run.
    """
    # The built-in presets in menu order (a stable colour each), then any other.
    order = list(PRESETS)
    presets = sorted(dict.fromkeys(p.preset for p in points),
                     key=lambda name: (order.index(name) if name in order else len(order), name))
    traces = []
    for i, preset in enumerate(presets):
        mine = [p for p in points if p.preset == preset]
        traces.append(go.Scatter(
            x=[p.epochs for p in mine], y=[p.test_accuracy for p in mine], mode="markers",
            name=_plain(preset), marker=dict(size=16, color=RUN_COLOURS[i % len(RUN_COLOURS)],
                                             line=dict(width=1, color="#ffffff")),
            customdata=[[p.key, _plain(p.student), _plain(p.run)] for p in mine],
            hovertemplate="%{customdata[1]} · %{customdata[2]}<br>%{x} epochs: test accuracy %{y:.4f}<extra></extra>",
        ))
    figure = go.Figure(data=traces)
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), font=dict(size=18),
        legend=dict(title="Preset", orientation="h", y=1.08), clickmode="event+select",
        xaxis=dict(title="Epochs trained", dtick=1, rangemode="tozero"),
        yaxis=dict(title="Test accuracy", tickformat=".0%"),
    )
    return figure
