"""AppTest of a lesson link opened on the Train page: its settings, its lock, hostile links.

A student opens ``/train?preset=CNN&epochs=3&batch=128&lock=1`` (no ``?ws=``): a new
workspace, the Train page preset with the teacher's settings, locked with ``lock=1``.
"""

from __future__ import annotations

import pytest

from core.model import PRESETS
from helpers import open_app

LOCK_LINE = "Your teacher chose"


@pytest.fixture
def env(digits_env, monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("PLAYGROUND_TRAIN_LIMIT", "2000")
    return tmp_path / "runs"


def lesson_train_page(**query):
    """A new session of the Train page opened with the link's ``query`` (and nothing else)."""
    return open_app("pages/train.py", query=query)


def query(at) -> dict[str, list[str]]:
    """The URL's query parameters after the run, each as the list of its values."""
    out = {}
    for key in at.query_params:
        value = at.query_params[key]
        out[key] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return out


def widgets_locked(at) -> list[bool]:
    return [at.selectbox(key="train_preset").disabled, at.slider(key="train_epochs").disabled,
            at.select_slider(key="train_batch").disabled]


def test_a_lesson_link_gives_a_new_workspace_starting_from_its_settings(env):
    at = lesson_train_page(preset="CNN", epochs="3", batch="128")
    assert at.selectbox(key="train_preset").value == "CNN"
    assert at.slider(key="train_epochs").value == 3
    assert at.select_slider(key="train_batch").value == 128
    # A new workspace was made and put in the URL; the lesson stays there beside it.
    params = query(at)
    assert params["ws"] and params["preset"] == ["CNN"] and params["epochs"] == ["3"]
    # Without lock they are only starting values: the student can change them.
    assert widgets_locked(at) == [False, False, False]
    assert not any(LOCK_LINE in i.value for i in at.info)
    at.slider(key="train_epochs").set_value(7).run()
    assert at.slider(key="train_epochs").value == 7
    assert "epochs=7" in at.code[0].value


def test_two_students_get_two_workspaces(env):
    first = lesson_train_page(preset="Dense", epochs="2")
    second = lesson_train_page(preset="Dense", epochs="2")
    assert query(first)["ws"] != query(second)["ws"]


def test_lock_disables_the_controls_says_so_and_holds(env):
    at = lesson_train_page(preset="CNN", epochs="3", batch="128", lock="1")
    assert widgets_locked(at) == [True, True, True]
    assert any(LOCK_LINE in i.value for i in at.info)
    assert "epochs=3" in at.code[0].value and "batch_size=128" in at.code[0].value
    # A rerun (the one that added ?ws=, and any later one) keeps the lock.
    at.run()
    assert widgets_locked(at) == [True, True, True] and query(at)["lock"] == ["1"]
    # A session that forges the values still trains the teacher's settings.
    at.session_state["train_epochs"] = 40
    at.session_state["train_preset"] = "Book"
    at.run()
    assert at.slider(key="train_epochs").value == 3 and at.selectbox(key="train_preset").value == "CNN"
    assert "epochs=3" in at.code[0].value
    # Another page and back (Streamlit drops query parameters on a page switch): still locked.
    at.switch_page("pages/dataset.py")
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert widgets_locked(at) == [True, True, True]
    assert query(at)["lock"] == ["1"] and query(at)["preset"] == ["CNN"]
    # A refresh: a new session of the URL the browser now shows.
    refreshed = open_app("pages/train.py", query={k: v[0] for k, v in query(at).items()})
    assert widgets_locked(refreshed) == [True, True, True]
    assert refreshed.slider(key="train_epochs").value == 3
    assert query(refreshed)["ws"] == query(at)["ws"]


def test_the_other_settings_stay_free_under_a_lock(env):
    at = lesson_train_page(epochs="2", lock="yes")
    # No preset in the link: the book's network, locked with the link's epochs.
    assert at.selectbox(key="train_preset").value == "Book" and at.slider(key="train_epochs").value == 2
    assert not at.number_input(key="train_seed").disabled and not at.slider(key="train_val").disabled
    at.number_input(key="train_seed").set_value(7).run()
    assert "seed" in at.code[0].value and "7" in at.code[0].value


HOSTILE = {
    "preset": "<img src=x onerror=alert(1)>**CNN**",
    "epochs": "999",
    "batch": "77",  # in 1..60000, but not a choice of the Train page's slider
    "lock": "[click](http://evil.example)",
}


def test_hostile_values_are_ignored_with_a_note_never_shown_never_passed_on(env):
    at = lesson_train_page(**HOSTILE)
    # Nothing the link asked for got through: the book's defaults, unlocked.
    assert at.selectbox(key="train_preset").value == "Book"
    assert at.slider(key="train_epochs").value == 5 and at.select_slider(key="train_batch").value == 100
    assert widgets_locked(at) == [False, False, False]
    notes = [w.value for w in at.warning]
    for key in ("preset", "epochs", "batch", "lock"):
        assert any(f"“{key}”" in note for note in notes), (key, notes)
    shown = " ".join(e.value for e in (*at.warning, *at.info, *at.markdown, *at.caption, *at.code)
                     if isinstance(e.value, str))
    for value in HOSTILE.values():
        assert value not in shown
    assert "onerror" not in shown and "evil.example" not in shown
    # And the URL no longer carries them (a shared or refreshed link is clean).
    params = query(at)
    assert not set(params) & set(HOSTILE), params
    # The notes stay for the session's later reruns.
    at.run()
    assert len([w for w in at.warning if "ignored" in w.value or "not locked" in w.value]) == len(notes)


def test_out_of_range_values_are_dropped_one_by_one(env):
    at = lesson_train_page(preset="cnn", epochs="0", batch="256", lock="1")
    # The good ones are kept (preset in any case, batch), the bad one noted.
    assert at.selectbox(key="train_preset").value == "CNN"
    assert at.select_slider(key="train_batch").value == 256
    assert at.slider(key="train_epochs").value == PRESETS["CNN"].epochs  # the preset's own
    assert any("“epochs”" in w.value for w in at.warning)
    assert widgets_locked(at) == [True, True, True]


def test_a_repeated_parameter_with_two_values_is_ignored(env):
    from streamlit.testing.v1 import AppTest

    from conftest import APPTEST_TIMEOUT, ROOT

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APPTEST_TIMEOUT)
    at.query_params["epochs"] = ["2", "9"]
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    assert at.slider(key="train_epochs").value == 5
    assert any("more than once" in w.value for w in at.warning)
