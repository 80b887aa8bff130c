"""Colours and the projector setting every page's figures share: the one place for colours.

The hues are Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008):
eight colours that stay apart for the common colour-vision deficiencies. Charts
never rely on colour alone: lines also differ by dash, points by symbol, and every
chart has its numbers in a table one click away (ui/a11y.py).
"""

from __future__ import annotations

import plotly.graph_objects as go

#: Okabe–Ito, by name.
BLACK, ORANGE, SKY_BLUE, BLUISH_GREEN = "#000000", "#E69F00", "#56B4E9", "#009E73"
YELLOW, BLUE, VERMILLION, REDDISH_PURPLE = "#F0E442", "#0072B2", "#D55E00", "#CC79A7"
OKABE_ITO = (BLACK, ORANGE, SKY_BLUE, BLUISH_GREEN, YELLOW, BLUE, VERMILLION, REDDISH_PURPLE)
#: Lines and points on white: the eight in an order where neighbours differ most
#: (yellow, the faintest on white, late; black last so it does not look like the axes).
RUN_COLOURS = (BLUE, ORANGE, BLUISH_GREEN, VERMILLION, REDDISH_PURPLE, SKY_BLUE, YELLOW, BLACK)
#: Ten classes (digits): Okabe–Ito's eight plus a mid grey and Paul Tol's wine. No ten
#: hues stay apart for every reader, so the PCA scatter also names the class on hover.
CLASS_COLOURS = (BLUE, ORANGE, BLUISH_GREEN, VERMILLION, REDDISH_PURPLE, SKY_BLUE, YELLOW, BLACK,
                 "#999999", "#882255")
#: matplotlib's ``plt.cm.binary`` as a plotly colorscale: 0 -> white, max -> black
#: (dark ink on white paper, as the book shows digits).
BINARY = [[0.0, "#ffffff"], [1.0, "#000000"]]
#: The one accent colour for plain bars (pixel histograms, class counts, a sure prediction).
INK = "#1f4e79"
#: A sequential single-hue scale (light to dark): its order survives greyscale printing.
SEQUENTIAL = "Blues"
#: The true class and a wrong prediction (Okabe–Ito's green and vermillion stay apart
#: for red-green colour blindness, unlike plain green and red).
TRUE_COLOUR, WRONG_COLOUR = BLUISH_GREEN, VERMILLION

#: Projector setting: type this many times larger, lines this many times thicker.
PROJECTOR_FONT_SCALE = 1.5
PROJECTOR_LINE_SCALE = 2.0


def for_projector(fig: go.Figure) -> go.Figure:
    """``fig`` readable from the back of a classroom: larger type, thicker lines and markers.

    Changes ``fig`` in place and returns it (the figure builders stay projector-blind).
    """
    font = fig.layout.font.size or 12
    fig.update_layout(font={"size": round(font * PROJECTOR_FONT_SCALE)})
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and trace.type in ("scatter", "scattergl"):
            trace.line.width = (line.width or 2) * PROJECTOR_LINE_SCALE
        marker = getattr(trace, "marker", None)
        if marker is not None and trace.type in ("scatter", "scattergl") and isinstance(marker.size, (int, float)):
            trace.marker.size = marker.size * PROJECTOR_LINE_SCALE ** 0.5
        textfont = getattr(trace, "textfont", None)
        if textfont is not None and isinstance(textfont.size, (int, float)):
            trace.textfont.size = round(textfont.size * PROJECTOR_FONT_SCALE)
    for annotation in fig.layout.annotations or ():
        annotation.font.size = round((annotation.font.size or 12) * PROJECTOR_FONT_SCALE)
    return fig
