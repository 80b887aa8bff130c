"""Every student can use it: each chart with its numbers one click away, and the projector setting.

:func:`chart_with_table` replaces ``st.plotly_chart`` on the pages: the chart (made
projector-sized when the sidebar's setting is on), then an expander
"Numbers behind this chart" with a table or a sentence (core.charts.numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from core.charts.numbers import figure_rows
from core.charts.style import for_projector

PROJECTOR_KEY = "projector"
TABLE_LABEL = "Numbers behind this chart"
#: Larger type for the whole app (Streamlit sizes its text in rem, so the root font scales it).
#: A static string: nothing a user typed ever reaches it.
PROJECTOR_CSS = """<style>
html { font-size: 24px; }
[data-testid="stSidebar"] { min-width: 22rem; }
</style>"""


def projector_on() -> bool:
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def projector_toggle() -> None:
    """The sidebar's projector setting: larger type everywhere and thicker chart lines."""
    st.sidebar.toggle("Projector", key=PROJECTOR_KEY,
                      help="Larger type and thicker lines, to read from the back of a classroom.")
    if projector_on():
        st.html(PROJECTOR_CSS)


def chart_with_table(fig: go.Figure, rows: Sequence[dict] | str | None = None, *, key: str, **kwargs):
    """``st.plotly_chart(fig, key=key, **kwargs)`` followed by its text equivalent.

    ``rows``: the table (a list of dicts), or a sentence; None reads the figure's
    own traces (:func:`core.charts.numbers.figure_rows`). Returns what
    ``st.plotly_chart`` returns (the selection, with ``on_select``).
    """
    if projector_on():
        fig = for_projector(go.Figure(fig))  # a copy: a cached figure stays as built
    kwargs.setdefault("config", {"displayModeBar": False})
    event = st.plotly_chart(fig, key=key, **kwargs)
    numbers = figure_rows(fig) if rows is None else rows
    with st.expander(TABLE_LABEL, icon=":material/table:"):
        if isinstance(numbers, str):
            st.markdown(numbers)
        elif numbers:
            st.dataframe(list(numbers), hide_index=True, key=f"{key}_numbers")
        else:
            st.caption("No numbers yet.")
    return event
