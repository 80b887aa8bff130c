"""Figures for the Train page: loss and accuracy curves, live and compared across runs.

The x axis is in epochs for every curve: batch ``s`` of a run with ``k`` steps
per epoch sits at ``s / k``, and the value of epoch ``e`` (0-based) at ``e + 1``,
where that epoch ends. So per-batch and per-epoch points line up.
"""

from __future__ import annotations

import html
from typing import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from core.charts.style import INK, REDDISH_PURPLE, RUN_COLOURS, VERMILLION

#: The live curve never has more points than this: each point is the mean of a
#: small group of consecutive batches (a browser redrawing it every second stays light).
MAX_LIVE_POINTS = 400
METRICS = (("loss", "Loss"), ("accuracy", "Accuracy"))
TRAIN_COLOUR = INK
BATCH_COLOUR = "#9db9d5"
VALIDATION_COLOUR = VERMILLION
#: The book's printed log, drawn dotted beside a Book run (Okabe-Ito's reddish purple).
REFERENCE_COLOUR = REDDISH_PURPLE


def group_means(steps: Sequence[float], values: Sequence[float], *, max_points: int = MAX_LIVE_POINTS
                ) -> tuple[np.ndarray, np.ndarray]:
    """Average consecutive points in equal groups so that at most ``max_points`` remain.

    Returns (x, y) float arrays; x is each group's last step (where its value is known).
    Non-finite values (a diverged loss) are left out of the means.
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points}")
    x = np.asarray(steps, dtype=float)
    y = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"steps and values must be 1-D of one length, got {x.shape} and {y.shape}")
    size = max(1, int(np.ceil(len(x) / max_points)))
    if size == 1:
        return x, y
    groups = int(np.ceil(len(x) / size))
    pad = groups * size - len(x)
    y_padded = np.concatenate([y, np.full(pad, np.nan)]).reshape(groups, size)
    finite = np.isfinite(y_padded)
    counts = finite.sum(axis=1)
    sums = np.where(finite, y_padded, 0.0).sum(axis=1)
    means = np.divide(sums, counts, out=np.full(groups, np.nan), where=counts > 0)
    last = np.minimum(np.arange(1, groups + 1) * size, len(x)) - 1
    return x[last], means


def _two_panels(*, height: int, x_range: list[float] | None = None) -> dict:
    """Layout of two side-by-side panels (loss left, accuracy right).

    Written out instead of ``make_subplots`` and a template: the live view
    rebuilds this figure every second, and those two cost ~80 ms of the
    interpreter lock that the training thread needs.
    """
    gap = 0.08
    axis = dict(rangemode="tozero", gridcolor="#e5e9f0", zeroline=False)
    x_axis = dict(axis, title=dict(text="epoch"), range=x_range)
    return dict(
        xaxis=dict(x_axis, domain=[0, 0.5 - gap / 2], anchor="y"),
        xaxis2=dict(x_axis, domain=[0.5 + gap / 2, 1], anchor="y2"),
        yaxis=dict(axis, anchor="x"),
        yaxis2=dict(axis, anchor="x2", range=[0, 1.02]),
        annotations=[
            dict(text=title, x=x, y=1.0, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                 showarrow=False, font=dict(size=14))
            for (_, title), x in zip(METRICS, (0.25 - gap / 4, 0.75 + gap / 4))
        ],
        height=height, margin=dict(l=10, r=10, t=40, b=10), plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
    )


def _axes(col: int) -> dict:
    return dict(xaxis="x", yaxis="y") if col == 1 else dict(xaxis="x2", yaxis="y2")


def training_curves_figure(
    *,
    batch_steps: Sequence[int],
    batch_logs: Mapping[str, Sequence[float]],
    epochs: Sequence[int],
    epoch_logs: Mapping[str, Sequence[float]],
    steps_per_epoch: int,
    total_epochs: int | None = None,
    max_points: int = MAX_LIVE_POINTS,
    height: int = 340,
    reference: tuple[str, Mapping[str, Sequence[float]]] | None = None,
) -> go.Figure:
    """Loss and accuracy of one run, side by side: per batch group, per epoch, validation.

    ``reference``: (name, {"loss": [...], "accuracy": [...]}) per epoch 1, 2, ...
    drawn dotted for comparison (the book's printed log on a Book run).

    ``batch_logs`` holds Keras' batch logs (``batch_loss``/``batch_accuracy`` of each
    batch alone when present, else the running means ``loss``/``accuracy``), one value
    per entry of ``batch_steps`` (global 1-based steps); ``epoch_logs`` holds
    ``loss``, ``accuracy`` and maybe ``val_loss``/``val_accuracy`` per entry of
    ``epochs`` (0-based).
    """
    if steps_per_epoch < 1 and len(batch_steps):
        raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
    traces = []
    epoch_x = np.asarray(epochs, dtype=float) + 1
    for col, (key, title) in enumerate(METRICS, start=1):
        show_legend = col == 1
        batch_values = batch_logs.get(f"batch_{key}", batch_logs.get(key))
        if batch_values is not None and len(batch_steps):
            x, y = group_means(batch_steps, batch_values, max_points=max_points)
            traces.append(go.Scatter(
                x=x / steps_per_epoch, y=y, mode="lines", name="training, per batch",
                line=dict(color=BATCH_COLOUR, width=1), legendgroup="batch", showlegend=show_legend,
                hovertemplate=f"epoch %{{x:.2f}}<br>{title.lower()} %{{y:.4f}}<extra>batches</extra>",
                **_axes(col),
            ))
        for prefix, name, colour, dash in (("", "training, per epoch", TRAIN_COLOUR, "solid"),
                                           ("val_", "validation", VALIDATION_COLOUR, "dash")):
            values = epoch_logs.get(prefix + key)
            if values is None or not len(values):
                continue
            traces.append(go.Scatter(
                x=epoch_x[: len(values)], y=[np.nan if v is None else v for v in values],
                mode="lines+markers", name=name, line=dict(color=colour, width=2.5, dash=dash),
                marker=dict(size=8), legendgroup=name, showlegend=show_legend,
                hovertemplate=f"epoch %{{x:.0f}}<br>{name} {title.lower()} %{{y:.4f}}<extra></extra>",
                **_axes(col),
            ))
    if reference is not None:
        ref_name, ref_logs = reference
        label = html.escape(ref_name, quote=False).replace("%", "&#37;")
        for col, (key, title) in enumerate(METRICS, start=1):
            values = ref_logs.get(key)
            if not values:
                continue
            traces.append(go.Scatter(
                x=np.arange(1, len(values) + 1), y=list(values), mode="lines+markers", name=label,
                line=dict(color=REFERENCE_COLOUR, width=2, dash="dot"), marker=dict(size=7, symbol="diamond"),
                legendgroup="reference", showlegend=col == 1,
                hovertemplate=f"epoch %{{x:.0f}}<br>{label} {title.lower()} %{{y:.4f}}<extra></extra>",
                **_axes(col),
            ))
    layout = _two_panels(height=height, x_range=[0, total_epochs * 1.02] if total_epochs else None)
    layout["uirevision"] = "training-curves"  # keep the user's zoom while the curves grow
    return go.Figure(data=traces, layout=layout)


def compare_runs_figure(runs: Sequence[tuple[str, Sequence[int], Mapping[str, Sequence[float]]]],
                        *, height: int = 360) -> go.Figure:
    """Per-epoch loss and accuracy of several runs overlaid; validation dashed.

    ``runs``: (name, epochs (0-based), epoch_logs) per run.
    """
    traces = []
    for i, (raw_name, epochs, logs) in enumerate(runs):
        # Run names are typed by users: plotly renders some HTML (links) in legend
        # text, and "%{" would start a hover-template field.
        name = html.escape(raw_name).replace("%", "&#37;")
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        x = np.asarray(epochs, dtype=float) + 1
        for col, (key, title) in enumerate(METRICS, start=1):
            for prefix, dash, suffix in (("", "solid", ""), ("val_", "dash", " (validation)")):
                values = logs.get(prefix + key)
                if not values:
                    continue
                traces.append(go.Scatter(
                    x=x[: len(values)], y=[np.nan if v is None else v for v in values],
                    mode="lines+markers", name=name + suffix, legendgroup=name + suffix,
                    showlegend=col == 1, line=dict(color=colour, dash=dash, width=2),
                    hovertemplate=f"{name}{suffix}<br>epoch %{{x:.0f}}: {title.lower()} %{{y:.4f}}<extra></extra>",
                    **_axes(col),
                ))
    return go.Figure(data=traces, layout=_two_panels(height=height))
