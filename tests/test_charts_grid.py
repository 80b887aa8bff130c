"""core.charts.grid lays panels out as plotly's make_subplots does (the reference), only cheaper."""

from __future__ import annotations

import numpy as np
import pytest
from plotly.subplots import make_subplots

from core.charts.grid import grid_layout, panel_axes


@pytest.mark.parametrize("rows, cols, h, v", [(1, 2, 0.06, 0.02), (2, 1, 0.02, 0.12), (1, 3, 0.06, 0.02),
                                              (2, 8, 0.02, 0.08)])
def test_domains_anchors_and_titles_match_make_subplots(rows, cols, h, v):
    titles = [f"panel {i}" for i in range(rows * cols)]
    reference = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=h,
                              vertical_spacing=v).layout
    layout = grid_layout(rows, cols, titles=titles, horizontal_spacing=h, vertical_spacing=v)
    for panel in range(rows * cols):
        k = "" if panel == 0 else str(panel + 1)
        for axis in ("xaxis", "yaxis"):
            np.testing.assert_allclose(layout[axis + k]["domain"], reference[axis + k].domain, atol=1e-9)
            assert layout[axis + k]["anchor"] == reference[axis + k].anchor
    for ours, theirs in zip(layout["annotations"], reference.annotations):
        assert ours["text"] == theirs.text
        assert ours["x"] == pytest.approx(theirs.x) and ours["y"] == pytest.approx(theirs.y)


def test_panel_axes_and_shared_x():
    assert panel_axes(0) == {"xaxis": "x", "yaxis": "y"} and panel_axes(3) == {"xaxis": "x4", "yaxis": "y4"}
    layout = grid_layout(2, 1, shared_x=True)
    assert layout["xaxis"]["matches"] == "x2" and layout["xaxis"]["showticklabels"] is False
    assert "matches" not in layout["xaxis2"]
    images = grid_layout(1, 2, images=True)
    assert images["yaxis2"]["scaleanchor"] == "x2" and images["yaxis2"]["autorange"] == "reversed"


def test_bad_grids_are_refused():
    with pytest.raises(ValueError, match="at least one row"):
        grid_layout(0, 2)
    with pytest.raises(ValueError, match="3 titles for 2 panels"):
        grid_layout(1, 2, titles=["a", "b", "c"])
