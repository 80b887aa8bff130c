"""The numbers behind a chart, as plain rows for a table: every chart's text equivalent.

:func:`figure_rows` reads them from any of this project's plotly figures (bars,
lines, heatmaps); the builders below give a shorter or clearer table where a
chart's raw traces would not (training curves, a 784-number strip). Rows are
lists of dicts (one dict per table row, the same keys in each).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

#: A table longer than this is cut (with a last row saying so): a one-click table, not a dump.
MAX_ROWS = 500
MORE = "…"


def _plain(value):
    """A cell value a table shows as is (numpy scalars to Python, NaN to None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _axis_of(fig: go.Figure, trace, letter: str):
    name = getattr(trace, f"{letter}axis", None) or letter
    return fig.layout[f"{letter}axis{name[1:]}"] if name[1:] else fig.layout[f"{letter}axis"]


def _labels(values, axis) -> list:
    """Tick labels for positions: an axis with tickvals/ticktext names its positions."""
    values = list(values)
    if axis is not None and axis.tickvals is not None and axis.ticktext is not None:
        names = dict(zip(list(axis.tickvals), list(axis.ticktext)))
        return [names.get(v, v) for v in values]
    return [_plain(v) for v in values]


def _title(axis, default: str) -> str:
    text = axis.title.text if axis is not None and axis.title is not None else None
    return text or default


def _cut(rows: list[dict]) -> list[dict]:
    if len(rows) <= MAX_ROWS:
        return rows
    first = next(iter(rows[0]))
    return rows[:MAX_ROWS] + [{first: f"{MORE} {len(rows) - MAX_ROWS:,} more rows"}]


def figure_rows(fig: go.Figure) -> list[dict]:
    """The data of ``fig``'s bar, line and heatmap traces as table rows.

    Bars or lines that share their x values become one row per x with a column per
    trace; otherwise one row per point. A heatmap is one row per y with a column per x.
    Traces without data for a table (images, invisible click targets) are skipped.
    """
    series = [t for t in fig.data if t.type in ("bar", "scatter", "scattergl") and t.y is not None
              and not (t.type != "bar" and t.marker is not None and t.marker.color == "rgba(0,0,0,0)")]
    heatmaps = [t for t in fig.data if t.type == "heatmap" and t.z is not None]
    rows: list[dict] = []
    if series:
        xs = [tuple(t.x) if t.x is not None else tuple(range(len(t.y))) for t in series]
        x_title = _title(_axis_of(fig, series[0], "x"), "x")
        if len(set(xs)) == 1:
            labels = _labels(xs[0], _axis_of(fig, series[0], "x"))
            # Column names once, not per row: reading a plotly attribute costs tens of microseconds.
            columns = [t.name or _title(_axis_of(fig, t, "y"), f"y{n + 1}" if n else "y")
                       for n, t in enumerate(series)]
            values = [list(t.y) for t in series]
            for i, x in enumerate(labels):
                row = {x_title: x}
                for column, ys in zip(columns, values):
                    row[column] = _plain(ys[i])
                rows.append(row)
        else:
            for n, (t, x) in enumerate(zip(series, xs)):
                y_title = _title(_axis_of(fig, t, "y"), "y")
                for xv, yv in zip(_labels(x, _axis_of(fig, t, "x")), t.y):
                    rows.append({"series": t.name or f"{n + 1}", x_title: _plain(xv), y_title: _plain(yv)})
    for t in heatmaps:
        z = np.asarray(t.z, dtype=float)
        if z.ndim != 2:
            continue
        x_axis, y_axis = _axis_of(fig, t, "x"), _axis_of(fig, t, "y")
        cols = _labels(t.x if t.x is not None else range(z.shape[1]), x_axis)
        ys = _labels(t.y if t.y is not None else range(z.shape[0]), y_axis)
        y_title = _title(y_axis, "row")
        for y, values in zip(ys, z):
            row = {y_title: y}
            row.update({str(c): _plain(round(float(v), 4)) for c, v in zip(cols, values)})
            rows.append(row)
    return _cut(rows)


def epoch_rows(epochs: Sequence[int], epoch_logs: Mapping[str, Sequence[float]]) -> list[dict]:
    """One row per finished epoch (1-based): loss, accuracy and the validation ones when logged."""
    keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if epoch_logs.get(k)]
    rows = []
    for i, epoch in enumerate(epochs):
        row = {"epoch": int(epoch) + 1}
        for key in keys:
            values = epoch_logs[key]
            row[key.replace("val_", "validation ")] = _plain(round(float(values[i]), 4)) if (
                i < len(values) and values[i] is not None) else None
        rows.append(row)
    return rows


def compare_rows(runs: Sequence[tuple[str, Sequence[int], Mapping[str, Sequence[float]]]]) -> list[dict]:
    """:func:`epoch_rows` of several runs, each row naming its run (the compare chart's input)."""
    return [{"run": name, **row} for name, epochs, logs in runs for row in epoch_rows(epochs, logs)]


def vector_text(vector: np.ndarray, *, row_length: int = 28) -> str:
    """A sentence for a long pixel vector: how many numbers, how many inked, where the ink is."""
    vector = np.asarray(vector, dtype=float).ravel()
    inked = np.flatnonzero(vector > 0)
    if not inked.size:
        return f"{vector.size} numbers, all 0 (no ink)."
    rows = inked // row_length
    return (f"{vector.size} numbers from {vector.min():.2f} to {vector.max():.2f}; {inked.size} are above 0 "
            f"(ink), in rows {int(rows.min())} to {int(rows.max())} of {vector.size // row_length}; "
            f"mean {vector.mean():.3f}.")


def label_rows(titles: Sequence[str], *, column: str = "image") -> list[dict]:
    """A picture grid's text equivalent: the caption of each picture, in order."""
    return [{column: str(title)} for title in titles]
