"""Streamlit helpers shared by the pages (the only Streamlit code outside pages/ and app.py).

Importing this package also fixes a Streamlit quirk that would otherwise show a
page without the app around it. Streamlit decides once per server process
whether the app is a legacy "pages/ folder" app: it is, until ``st.navigation``
has been called once. So when the very first request to a fresh server is a
page's own URL (``/dataset``), Streamlit runs ``pages/dataset.py`` *instead of*
``app.py``: no page config, no sidebar, the pages/ files listed by name. Every
page imports ``ui``, so here we switch the legacy mode off and rerun, and that
rerun goes through ``app.py`` and its ``st.navigation`` as every later one does.
"""

import streamlit as st

try:  # an internal flag; if a future Streamlit drops it, there is nothing to fix
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # pragma: no cover
    PagesManager = None

if PagesManager is not None and PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
