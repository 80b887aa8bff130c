"""A workspace's display name: what the teacher's Class page shows instead of the id.

Stored as ``<runs root>/<workspace>/profile.json`` (``{"display_name": ...}``),
written atomically. The workspace id opens a student's runs to whoever has it,
so it is never shown in its place: an unnamed workspace is "Anonymous" plus a
short hash of the id (16 bits: enough to tell a class apart, far too few to
find the id from).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core import config as settings
from core.runs import atomic_write_json, validate_workspace
from core.text import clean_name

PROFILE_FILE = "profile.json"
DISPLAY_NAME_MAX_LENGTH = 40
ANONYMOUS = "Anonymous"


def clean_display_name(text: object) -> str:
    """``text`` as a safe one-line name: NFC, controls and bidi/format characters
    removed, whitespace collapsed, at most 40 characters ("" when nothing is left)."""
    if not isinstance(text, str):
        return ""
    # core.text.clean_name is the one cleaner (it also bounds stacked combining marks);
    # a forged multi-megabyte value is cut first, so cleaning it costs nothing.
    return clean_name(text[: 4 * DISPLAY_NAME_MAX_LENGTH], max_len=DISPLAY_NAME_MAX_LENGTH)


def short_tag(workspace: str) -> str:
    """4 hex digits derived from the workspace id (tells two unnamed students apart)."""
    return hashlib.sha256(validate_workspace(workspace).encode("ascii")).hexdigest()[:4]


def anonymous_name(workspace: str) -> str:
    """"Anonymous 3f2a": the name of a workspace that has not chosen one."""
    return f"{ANONYMOUS} {short_tag(workspace)}"


def _profile_path(workspace: str, root: str | Path | None) -> Path:
    root = Path(root) if root is not None else settings.runs_dir()
    return root / validate_workspace(workspace) / PROFILE_FILE


def stored_display_name(workspace: str, *, root: str | Path | None = None) -> str:
    """The name the workspace chose, cleaned; "" when none (or the file is unreadable)."""
    try:
        payload = json.loads(_profile_path(workspace, root).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return ""
    return clean_display_name(payload.get("display_name")) if isinstance(payload, dict) else ""


def display_name(workspace: str, *, root: str | Path | None = None) -> str:
    """What others see: the chosen name, else ``anonymous_name(workspace)``."""
    return stored_display_name(workspace, root=root) or anonymous_name(workspace)


def set_display_name(workspace: str, name: str, *, root: str | Path | None = None) -> str:
    """Save a (cleaned) display name for the workspace and return it; "" clears it.

    The folder is created when the workspace has no runs yet.
    """
    if not isinstance(name, str):
        raise ValueError(f"a display name must be text, got {type(name).__name__}")
    cleaned = clean_display_name(name)
    path = _profile_path(workspace, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"display_name": cleaned})
    return cleaned
