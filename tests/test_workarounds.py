"""The Streamlit workarounds of ui/__init__.py still apply to the installed Streamlit.

Each reaches into a Streamlit internal; a release that moves it makes the app skip
the workaround with a logged warning, and these tests fail, so nobody ships it unnoticed.
"""

from __future__ import annotations

import logging

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

import ui


def test_the_keras_clean_up_after_each_rerun_is_replaced():
    assert ui._keep_keras_state_between_reruns() is True
    # Streamlit calls the module global by name after every script run; it is ours.
    assert getattr(script_runner._clean_problem_modules, "keeps_keras_state", False) is True


def test_keras_state_survives_streamlits_clean_up():
    import keras

    # keras.backend.clear_session() restarts Keras' name counters (and drops its graph):
    # after Streamlit's clean-up the next name must still follow the last one.
    first = keras.backend.get_uid("workaround_probe")
    script_runner._clean_problem_modules()
    assert keras.backend.get_uid("workaround_probe") == first + 1


def test_without_the_clean_up_function_the_patch_warns_instead_of_failing(monkeypatch, caplog):
    monkeypatch.delattr(script_runner, "_clean_problem_modules")
    with caplog.at_level(logging.WARNING, logger="ui"):
        assert ui._keep_keras_state_between_reruns() is False
    assert "_clean_problem_modules" in caplog.text


def test_streamlit_still_has_the_legacy_pages_flag_and_sets_it_from_a_pages_folder(tmp_path, monkeypatch):
    assert hasattr(PagesManager, "uses_pages_directory")
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text("")
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(tmp_path / "app.py"))
    assert PagesManager.uses_pages_directory is True  # the legacy mode the workaround leaves


def test_the_legacy_pages_mode_is_switched_off(monkeypatch):
    monkeypatch.setattr(PagesManager, "uses_pages_directory", True)
    ui._leave_legacy_pages_mode()  # outside a script run st.rerun() does nothing
    assert PagesManager.uses_pages_directory is False


def test_without_the_legacy_flag_pages_still_import_with_a_warning(monkeypatch, caplog):
    monkeypatch.delattr(PagesManager, "uses_pages_directory")
    with caplog.at_level(logging.WARNING, logger="ui"):
        ui._leave_legacy_pages_mode()  # no AttributeError
    assert "uses_pages_directory" in caplog.text
