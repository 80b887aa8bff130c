"""Every student can use it: the colour-blind-safe palette, a table behind every chart,
the projector setting (issue 10, item 5). The browser checks are in test_a11y_browser.py."""

from __future__ import annotations

import numpy as np
import plotly.colors
import pytest

from core.charts import style
from core.charts.dataset import class_counts_figure, digit_figure
from core.charts.evaluation import confusion_figure, per_class_figure
from core.charts.numbers import MAX_ROWS, epoch_rows, figure_rows, vector_text
from core.charts.probabilities import bar_colours
from core.charts.training import RUN_COLOURS, training_curves_figure
from helpers import open_app

NAMES = [str(d) for d in range(10)]


def _luminance(colour: str) -> float:
    """Relative luminance (WCAG) of '#rrggbb' or 'rgb(r, g, b)'."""
    rgb = plotly.colors.hex_to_rgb(colour) if colour.startswith("#") else plotly.colors.unlabel_rgb(colour)
    linear = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_curves_and_classes_use_okabe_ito():
    assert set(RUN_COLOURS) == set(style.OKABE_ITO) and len(RUN_COLOURS) == 8
    assert len(set(style.CLASS_COLOURS)) == 10
    assert set(style.CLASS_COLOURS[:8]) == set(style.OKABE_ITO)
    # The true class and a wrong guess are not plain green and red.
    colours = bar_colours([0.1, 0.8, 0.1], true_class=0)
    assert colours[0] == style.BLUISH_GREEN and colours[1] == style.VERMILLION


def test_the_confusion_matrix_reads_in_greyscale():
    counts = np.array([[50, 2], [5, 40]])
    fig = confusion_figure(counts, class_names=["a", "b"])
    heatmap = fig.data[0]
    scale = [colour for _, colour in heatmap.colorscale]
    lightness = [_luminance(c) for c in scale]
    # One hue from light to dark: a larger count is always darker, in colour or in grey.
    assert all(a > b for a, b in zip(lightness, lightness[1:])), lightness
    assert heatmap.texttemplate == "%{z:d}"  # and each cell says its count


def test_figure_rows_of_bars_and_heatmaps():
    rows = figure_rows(class_counts_figure(np.array([3, 5]), ("cat", "dog"), title="t"))
    assert [list(r.values()) for r in rows] == [["cat", 3], ["dog", 5]]
    counts = np.array([[50, 2], [5, 40]])
    rows = figure_rows(confusion_figure(counts, class_names=["a", "b"]))
    # The confusion matrix: a row per true class, a column per predicted class (the
    # invisible click targets on top are not data).
    assert rows == [{"true class": "a", "a": 50, "b": 2}, {"true class": "b", "a": 5, "b": 40}]
    rows = figure_rows(per_class_figure(["a", "b"], [0.9, 0.8], [0.7, 0.6], [0.5, 0.4]))
    assert rows[0] == {next(iter(rows[0])): "a", "precision": 0.9, "recall": 0.7, "F1": 0.5}
    image = np.zeros((28, 28), dtype=np.uint8)
    image[3, 4] = 255
    rows = figure_rows(digit_figure(image))
    assert len(rows) == 28 and len(rows[0]) == 29 and rows[3]["4"] == 255


def test_long_tables_are_cut_with_a_note():
    fig = class_counts_figure(np.arange(MAX_ROWS + 10), tuple(f"c{i}" for i in range(MAX_ROWS + 10)), title="t")
    rows = figure_rows(fig)
    assert len(rows) == MAX_ROWS + 1 and "10 more rows" in str(rows[-1])


def test_epoch_rows_and_vector_text():
    rows = epoch_rows([0, 1], {"loss": [1.0, 0.5], "accuracy": [0.7, 0.9], "val_loss": [1.1, None]})
    assert rows == [{"epoch": 1, "loss": 1.0, "accuracy": 0.7, "validation loss": 1.1},
                    {"epoch": 2, "loss": 0.5, "accuracy": 0.9, "validation loss": None}]
    vector = np.zeros(784)
    vector[28 * 5 + 3] = 1.0
    assert vector_text(vector).startswith("784 numbers from 0.00 to 1.00; 1 are above 0 (ink), in rows 5 to 5")
    assert "no ink" in vector_text(np.zeros(784))


def test_the_projector_thickens_lines_and_enlarges_type():
    fig = training_curves_figure(batch_steps=[1, 2], batch_logs={"loss": [1, 0.5], "accuracy": [0.5, 0.6]},
                                 epochs=[0], epoch_logs={"loss": [0.7], "accuracy": [0.6]}, steps_per_epoch=2)
    widths = [t.line.width for t in fig.data]
    style.for_projector(fig)
    assert [t.line.width for t in fig.data] == [w * style.PROJECTOR_LINE_SCALE for w in widths]
    assert fig.layout.font.size == round(12 * style.PROJECTOR_FONT_SCALE)


@pytest.fixture
def env(digits_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_every_chart_on_the_data_page_has_its_numbers_one_click_away(env):
    at = open_app("pages/dataset.py")
    charts = at.get("plotly_chart")
    tables = [e for e in at.expander if e.label == "Numbers behind this chart"]
    assert charts and len(tables) == len(charts)
    assert all(t.dataframe or t.markdown for t in tables)


def test_the_projector_setting_enlarges_the_page_and_the_charts(env):
    import json

    at = open_app(query={"ws": "proj1"})
    toggle = at.sidebar.toggle(key="projector")
    assert toggle.label == "Projector" and not toggle.value
    assert not [h for h in at.get("html") if "font-size" in h.proto.body]
    plain = json.loads(at.get("plotly_chart")[0].proto.spec)
    # (AppTest lists app.py's sidebar on a session's first run only: a session with it on.)
    at = open_app(query={"ws": "proj1"}, session={"projector": True})
    assert at.sidebar.toggle(key="projector").value
    assert any("font-size" in h.proto.body for h in at.get("html"))
    large = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert large["layout"]["font"]["size"] > (plain["layout"].get("font", {}).get("size") or 12)
