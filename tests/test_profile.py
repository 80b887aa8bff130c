"""core.profile: display names cleaned, stored in the workspace folder, never the id."""

from __future__ import annotations

import json

import pytest

from core import profile
from core.runs import RunStore


def test_clean_strips_controls_and_bidi_and_collapses_spaces():
    hostile = "\u202eevil\u202c  Ana\u200b\u200e\u200f\u2066x\u2069\n\tB\x00\x1b[31m"
    cleaned = profile.clean_display_name(hostile)
    assert cleaned == "evil Anax B[31m"
    assert not any(ch in cleaned for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
    assert profile.clean_display_name("  Ana   María \u2028 López ") == "Ana María López"
    assert profile.clean_display_name("x" * 100) == "x" * profile.DISPLAY_NAME_MAX_LENGTH
    assert profile.clean_display_name("\u202e\u200b  ") == ""
    assert profile.clean_display_name(None) == ""


def test_set_and_get_are_stored_in_the_workspace_folder(tmp_path):
    assert profile.display_name("abc123", root=tmp_path) == profile.anonymous_name("abc123")
    assert profile.set_display_name("abc123", "  Ana \u202e B ", root=tmp_path) == "Ana B"
    stored = json.loads((tmp_path / "abc123" / profile.PROFILE_FILE).read_text())
    assert stored == {"display_name": "Ana B"}
    assert "abc123" not in (tmp_path / "abc123" / profile.PROFILE_FILE).read_text()
    assert profile.display_name("abc123", root=tmp_path) == "Ana B"
    # No temporary file is left behind, and the runs listing ignores the profile.
    assert [p.name for p in (tmp_path / "abc123").iterdir()] == [profile.PROFILE_FILE]
    assert len(RunStore("abc123", root=tmp_path).list_runs()) == 0
    # An empty name clears it: back to the anonymous one.
    assert profile.set_display_name("abc123", "   ", root=tmp_path) == ""
    assert profile.display_name("abc123", root=tmp_path).startswith("Anonymous ")


def test_anonymous_name_never_holds_the_id():
    name = profile.anonymous_name("abcdef1234")
    assert name.startswith("Anonymous ") and "abcdef1234" not in name
    assert len(profile.short_tag("abcdef1234")) == 4
    assert profile.anonymous_name("abcdef1234") == name  # stable
    assert profile.anonymous_name("abcdef1235") != name


def test_bad_workspace_or_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="workspace id"):
        profile.set_display_name("../etc", "x", root=tmp_path)
    with pytest.raises(ValueError, match="must be text"):
        profile.set_display_name("abc", 42, root=tmp_path)
    (tmp_path / "abc").mkdir()
    (tmp_path / "abc" / profile.PROFILE_FILE).write_text("not json")
    assert profile.display_name("abc", root=tmp_path) == profile.anonymous_name("abc")
