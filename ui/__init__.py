"""Streamlit helpers shared by the pages (the only Streamlit code outside pages/ and app.py).

Importing this package (every page does) also works around two Streamlit
behaviours, once per server process:

1. Streamlit's ``keras.backend.clear_session()`` after every rerun, which slows a
   background training whenever any page reruns (see the function below).
2. A legacy "pages/ folder" mode that would show a page without the app around it.

Both reach into Streamlit internals. When a Streamlit release moves them, the
workaround is skipped with a logged warning (the app still runs, only slower or
with the legacy first page), and tests/test_workarounds.py fails.
"""

import logging
import sys

import streamlit as st

log = logging.getLogger(__name__)


def _keep_keras_state_between_reruns() -> bool:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run.

    Once Keras is imported, Streamlit's script runner "cleans" it after each run,
    fragment runs included (``script_runner._clean_problem_modules``). That is a full
    ``gc.collect()`` (0.1-0.4 s holding the interpreter lock with TensorFlow loaded),
    TensorFlow's kernel cache cleared and Keras' global state replaced, all while a
    training thread is running: a live view refreshing every second made a Book run
    ~45% slower. Models here belong to sessions and are built with explicit layer
    names, so the reset buys nothing. Streamlit's other cleanup (matplotlib) is kept.

    Returns whether the replacement is in place.
    """
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        log.warning("streamlit.runtime.scriptrunner.script_runner is gone: Keras is reset after every rerun")
        return False
    original = getattr(script_runner, "_clean_problem_modules", None)
    if original is None:
        log.warning("Streamlit has no script_runner._clean_problem_modules any more: "
                    "the workaround that keeps Keras' state between reruns does not apply")
        return False
    if getattr(original, "keeps_keras_state", False):
        return True  # already replaced

    def clean_problem_modules() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            try:
                pyplot.close("all")
            except Exception:  # as Streamlit: cleanup must never break a run
                pass

    clean_problem_modules.keeps_keras_state = True
    script_runner._clean_problem_modules = clean_problem_modules
    return True


def _leave_legacy_pages_mode() -> None:
    """Switch Streamlit's legacy "pages/ folder" mode off (and rerun) when it is on.

    Streamlit decides once per server process whether the app is a legacy
    "pages/ folder" app: it is, until ``st.navigation`` has been called once. So
    when the very first request to a fresh server is a page's own URL
    (``/dataset``), Streamlit runs ``pages/dataset.py`` *instead of* ``app.py``: no
    page config, no sidebar, the pages/ files listed by name. Switching the mode
    off and rerunning sends that rerun through ``app.py`` and its
    ``st.navigation``, as every later one goes.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:
        log.warning("streamlit.runtime.pages_manager.PagesManager is gone: the legacy pages workaround does not apply")
        return
    if not hasattr(PagesManager, "uses_pages_directory"):
        log.warning("Streamlit's PagesManager has no uses_pages_directory any more: "
                    "the legacy pages workaround does not apply")
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_keep_keras_state_between_reruns()  # 1.
_leave_legacy_pages_mode()  # 2. (last: it may rerun)
