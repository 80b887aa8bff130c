"""Colours every page's figures share, so a digit and a bar look the same everywhere."""

from __future__ import annotations

#: matplotlib's ``plt.cm.binary`` as a plotly colorscale: 0 -> white, max -> black
#: (dark ink on white paper, as the book shows digits).
BINARY = [[0.0, "#ffffff"], [1.0, "#000000"]]
#: The one accent colour for plain bars (pixel histograms, class counts, a sure prediction).
INK = "#1f4e79"
