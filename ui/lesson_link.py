"""The lesson link this browser session was opened with (``?preset=CNN&epochs=3&batch=128&lock=1``).

Read once from the URL by :func:`lesson` and kept in ``st.session_state``: switching
pages drops query parameters, so the session remembers the lesson, and writes its
(validated) parameters back into the URL so a refresh keeps it, lock included. A
value the link got wrong is dropped from the URL with the rest of the link kept.
"""

from __future__ import annotations

import streamlit as st

from core.lesson_links import (
    BATCH_PARAM,
    EPOCHS_PARAM,
    LESSON_PARAMS,
    LOCK_PARAM,
    PRESET_PARAM,
    LessonSettings,
    parse_lesson_params,
)
from core.model import BATCH_SIZES

LESSON_KEY = "lesson_settings"
NOTES_KEY = "lesson_notes"


def _canonical(settings: LessonSettings | None) -> dict[str, str]:
    """The query parameters that say ``settings`` (nothing for no lesson)."""
    if settings is None:
        return {}
    values = {PRESET_PARAM: settings.preset, EPOCHS_PARAM: settings.epochs,
              BATCH_PARAM: settings.batch_size, LOCK_PARAM: "1" if settings.lock else None}
    return {key: str(value) for key, value in values.items() if value is not None}


def lesson() -> LessonSettings | None:
    """This session's lesson (None: opened without a lesson link). Call once per run, on every page."""
    state = st.session_state
    if any(key in st.query_params for key in LESSON_PARAMS):
        params = {key: st.query_params.get_all(key) for key in st.query_params}
        settings, notes = parse_lesson_params(params, batch_sizes=BATCH_SIZES)
        if settings != state.get(LESSON_KEY) or notes:
            state[LESSON_KEY], state[NOTES_KEY] = settings, notes
    settings = state.get(LESSON_KEY)
    wanted = _canonical(settings)
    for key in LESSON_PARAMS:
        if key not in wanted:
            if key in st.query_params:
                st.query_params.pop(key)
        elif st.query_params.get_all(key) != [wanted[key]]:
            st.query_params[key] = wanted[key]
    return settings


def notes() -> list[str]:
    """What the lesson link got wrong and was ignored (plain text, never the link's values)."""
    return list(st.session_state.get(NOTES_KEY, []))
