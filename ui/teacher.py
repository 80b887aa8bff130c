"""The teacher's passcode as this server is configured (environment, else st.secrets)."""

from __future__ import annotations

import streamlit as st

from core import passcode


def configured_passcode() -> str | None:
    """``PLAYGROUND_TEACHER_PASSCODE``, else ``teacher_passcode`` in ``.streamlit/secrets.toml``;
    None when neither is set (then the Class page does not exist)."""
    return passcode.configured_passcode(st.secrets)
