"""core.config: settings from environment variables; a bad value never crashes the app."""

from __future__ import annotations

import warnings

import pytest

from core import config

LIMITS = [
    (config.max_runs_per_workspace, "PLAYGROUND_MAX_RUNS_PER_WORKSPACE", 50),
    (config.max_workspace_mb, "PLAYGROUND_MAX_WORKSPACE_MB", 200),
    (config.max_train_seconds, "PLAYGROUND_MAX_TRAIN_SECONDS", 600),
    (config.max_queue, "PLAYGROUND_MAX_QUEUE", 60),
]


@pytest.mark.parametrize("setting, var, default", LIMITS)
def test_limit_defaults(monkeypatch, setting, var, default):
    monkeypatch.delenv(var, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unset is not worth a warning
        assert setting() == default
    monkeypatch.setenv(var, "  ")
    assert setting() == default


@pytest.mark.parametrize("setting, var, default", LIMITS)
def test_limit_values(monkeypatch, setting, var, default):
    monkeypatch.setenv(var, " 7 ")
    assert setting() == 7
    monkeypatch.setenv(var, "1")
    assert setting() == 1


@pytest.mark.parametrize("setting, var, default", LIMITS)
@pytest.mark.parametrize("bad", ["0", "-3", "ten", "2.5", "1e3", "50MB"])
def test_bad_limit_falls_back_to_the_default_with_a_warning(monkeypatch, setting, var, default, bad):
    monkeypatch.setenv(var, bad)
    with pytest.warns(RuntimeWarning, match=rf"{var}='{bad}' is not a whole number >= 1; using the default {default}"):
        assert setting() == default


def test_settings_are_read_when_asked_for(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_QUEUE", "3")
    assert config.max_queue() == 3
    monkeypatch.setenv("PLAYGROUND_MAX_QUEUE", "4")
    assert config.max_queue() == 4


def test_max_trainings(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", "2")
    assert config.max_trainings() == 2
    monkeypatch.setenv("PLAYGROUND_MAX_TRAININGS", "many")
    assert config.max_trainings() >= 1


def test_train_limit(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_TRAIN_LIMIT", raising=False)
    assert config.train_limit() is None
    monkeypatch.setenv("PLAYGROUND_TRAIN_LIMIT", "64")
    assert config.train_limit() == 64
    monkeypatch.setenv("PLAYGROUND_TRAIN_LIMIT", "0")
    with pytest.raises(ValueError, match="at least 1"):
        config.train_limit()


def test_served_config_hides_errors_and_does_not_watch_files():
    import tomllib
    from pathlib import Path

    settings = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["showErrorDetails"] == "none"
    assert settings["server"]["fileWatcherType"] == "none"
    assert settings["server"]["runOnSave"] is False


def test_class_model_setting(monkeypatch):
    monkeypatch.delenv("PLAYGROUND_CLASS_MODEL", raising=False)
    assert config.class_model() is None
    monkeypatch.setenv("PLAYGROUND_CLASS_MODEL", "  teacherws/20251126-001530-123-a1b2c3 ")
    assert config.class_model() == "teacherws/20251126-001530-123-a1b2c3"
