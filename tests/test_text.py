"""core.text.clean_name and core.workspace_ids: what people type is made safe to show and hard to guess."""

from __future__ import annotations

import pytest

from core import runs
from core.text import BIDI_CONTROLS, clean_name
from core.workspace_ids import check_workspace_id, is_workspace_id_acceptable

# --- clean_name ---------------------------------------------------------------


def test_right_to_left_override_removed():
    # Shown raw, this reads "my run exe.jpg" reversed into "my run gpj.exe".
    assert clean_name("my run \u202egpj.exe", max_len=80) == "my run gpj.exe"


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS))
def test_every_bidi_control_removed(char):
    assert clean_name(f"a{char}b", max_len=80) == "ab"


def test_the_bidi_set_is_the_one_unicode_defines():
    expected = {chr(c) for c in range(0x202A, 0x202F)} | {chr(c) for c in range(0x2066, 0x206A)}
    assert BIDI_CONTROLS == expected | {"\u200e", "\u200f", "\u061c"}


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("  two   words  ", "two words"),
        ("line\nbreak\ttab\r\n", "line break tab"),
        ("no\u00a0break\u2003em\u2028line", "no break em line"),  # Unicode spaces and separators
        ("bell\x07null\x00esc\x1b[31m", "bellnullesc[31m"),  # Cc
        ("zero\u200bwidth\ufeffbom\u00adsoft\u2060joiner", "zerowidthbomsoftjoiner"),  # Cf
        ("private\ue000use", "privateuse"),  # Co
        ("tag\U000e0041s", "tags"),
        ("Café", "Café"),
        ("Cafe\u0301", "Café"),  # decomposed: composed by NFC, still one letter
        ("Tiếng Việt", "Tiếng Việt"),
        ("数字 ٣ 🙂", "数字 ٣ 🙂"),
        ("", ""),
        ("\u202e\u200b \n", ""),
    ],
)
def test_clean_name(raw, clean):
    assert clean_name(raw, max_len=80) == clean


def test_joiners_kept_for_emoji_and_scripts():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert clean_name(family, max_len=80) == family
    assert clean_name("می\u200cخواهم", max_len=80) == "می\u200cخواهم"  # Persian needs ZWNJ


def test_combining_mark_flood_trimmed():
    zalgo = "Z" + "\u0336\u0353\u0359\u0326\u0317" * 10 + "a"
    clean = clean_name(zalgo, max_len=80)
    # Three marks stay on the Z (NFC puts them in canonical order first).
    assert clean[0] == "Z" and clean[-1] == "a" and len(clean) == 5
    assert set(clean[1:4]) <= set(zalgo[1:51])


def test_max_len_after_cleaning():
    assert clean_name("\u202e" * 500 + "abc def", max_len=5) == "abc d"
    assert clean_name("abcd efgh", max_len=5) == "abcd"  # no trailing space
    assert len(clean_name("x" * 10_000, max_len=80)) == 80


def test_bad_arguments():
    with pytest.raises(ValueError, match="text"):
        clean_name(None, max_len=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_len"):
        clean_name("a", max_len=0)


# --- workspace ids ----------------------------------------------------------


def test_random_new_ids_are_accepted():
    for _ in range(50):
        ws = runs.new_workspace_id()
        assert check_workspace_id(ws, existing=False) == ws


@pytest.mark.parametrize("ws", ["a", "class1", "abcdefghi", "123456789"])
def test_short_new_ids_refused(ws):
    assert not is_workspace_id_acceptable(ws, existing=False)
    with pytest.raises(ValueError, match="too short to start a new workspace"):
        check_workspace_id(ws, existing=False)


@pytest.mark.parametrize("ws", ["a", "class1", "abcdefghi"])
def test_existing_short_ids_keep_working(ws):
    assert check_workspace_id(ws, existing=True) == ws


def test_typed_capitals_and_spaces_are_the_same_workspace():
    assert check_workspace_id("  AbCdEfGhIj ", existing=False) == "abcdefghij"
    assert check_workspace_id("CLASS", existing=True) == "class"


@pytest.mark.parametrize(
    "ws", ["", "has space1", "../../etc1", "abc-defghij", "ümlautsabcd", "a" * 41, "\u202eabcdefghijk"]
)
@pytest.mark.parametrize("existing", [True, False])
def test_malformed_ids_refused_even_if_a_folder_exists(ws, existing):
    with pytest.raises(ValueError, match="not a workspace id"):
        check_workspace_id(ws, existing=existing)


def test_longest_id_accepted():
    assert is_workspace_id_acceptable("a" * runs.WORKSPACE_MAX_LENGTH, existing=False)


def test_not_text():
    assert not is_workspace_id_acceptable(None, existing=True)  # type: ignore[arg-type]
