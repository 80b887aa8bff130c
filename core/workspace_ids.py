"""Which workspace ids a URL (``?ws=...``) may open.

A workspace is private only as long as its id is hard to guess. Links already
handed out (the workspace's folder exists) keep working whatever their length;
a *new* workspace needs an id as long as the random ones the app makes, so
``?ws=a`` cannot be used to make (or stumble into) an easily guessed one.
"""

from __future__ import annotations

from core.runs import NEW_WORKSPACE_LENGTH, validate_workspace


def check_workspace_id(ws: str, *, existing: bool) -> str:
    """The id, lower-cased and stripped, when it may be opened; else ValueError saying why.

    ``existing``: whether the workspace already has a folder (links handed out before).
    """
    if not isinstance(ws, str):
        raise ValueError(f"a workspace id is text, got {type(ws).__name__}")
    ws = ws.strip().lower()  # a link typed in capitals is the same workspace
    try:
        validate_workspace(ws)
    except ValueError:
        raise ValueError(
            f"{ws[:50]!r} is not a workspace id: it must be letters and digits only"
        ) from None
    if not existing and len(ws) < NEW_WORKSPACE_LENGTH:
        raise ValueError(
            f"{ws!r} is too short to start a new workspace: anyone could guess it. "
            f"New workspaces need at least {NEW_WORKSPACE_LENGTH} letters and digits "
            "(open the app without ?ws= to get a random one)."
        )
    return ws


def is_workspace_id_acceptable(ws: str, *, existing: bool) -> bool:
    """Whether :func:`check_workspace_id` accepts ``ws``."""
    try:
        check_workspace_id(ws, existing=existing)
    except ValueError:
        return False
    return True
