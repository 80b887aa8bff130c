"""The sidebar's display name: what the teacher's Class page shows for this workspace."""

from __future__ import annotations

import streamlit as st

from core import profile
from ui.runs import escape_markdown, workspace_id

NAME_KEY = "profile_display_name"
NAME_WORKSPACE_KEY = "profile_display_name_workspace"


def _save() -> None:
    workspace = st.session_state[NAME_WORKSPACE_KEY]
    try:
        cleaned = profile.set_display_name(workspace, st.session_state.get(NAME_KEY) or "")
    except OSError as error:
        st.session_state[NAME_KEY + "_error"] = f"The name could not be saved: {error}"
        return
    st.session_state[NAME_KEY] = cleaned  # show what was kept (controls removed, 40 characters)


def display_name_box() -> None:
    """A text field in the sidebar for the name the class board shows (saved in the workspace)."""
    workspace = workspace_id()
    state = st.session_state
    if state.get(NAME_WORKSPACE_KEY) != workspace:  # first run, or another ?ws= in this tab
        state[NAME_WORKSPACE_KEY] = workspace
        state[NAME_KEY] = profile.stored_display_name(workspace)
    st.sidebar.text_input(
        "Your name on the class board", key=NAME_KEY, max_chars=profile.DISPLAY_NAME_MAX_LENGTH,
        on_change=_save, placeholder=profile.anonymous_name(workspace),
        help="What your teacher's Class page shows next to your runs (never your workspace link).",
    )
    error = state.pop(NAME_KEY + "_error", None)
    if error:
        st.sidebar.error(error)
    elif state.get(NAME_KEY):
        st.sidebar.caption(f"Shown as **{escape_markdown(state[NAME_KEY])}**")
