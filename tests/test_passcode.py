"""core.passcode: where the passcode comes from, the check, five tries then a minute's lock."""

from __future__ import annotations

import pytest

from core import passcode


class Clock:
    """A clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_configured_from_env_else_secrets(monkeypatch):
    monkeypatch.delenv(passcode.ENV_VAR, raising=False)
    assert passcode.configured_passcode() is None
    assert passcode.configured_passcode({}) is None
    assert passcode.configured_passcode({"teacher_passcode": "  owl  "}) == "owl"
    assert passcode.configured_passcode({"teacher_passcode": ""}) is None
    assert passcode.configured_passcode({"teacher_passcode": 1234}) is None  # TOML number: not a passcode
    monkeypatch.setenv(passcode.ENV_VAR, "hawk")
    assert passcode.configured_passcode({"teacher_passcode": "owl"}) == "hawk"
    monkeypatch.setenv(passcode.ENV_VAR, "   ")
    assert passcode.configured_passcode() is None


def test_check():
    assert passcode.check("owl", "owl")
    assert not passcode.check("Owl", "owl")
    assert not passcode.check("owl ", "owl")
    assert passcode.check("éclair", "éclair")  # non-ASCII works (compared as UTF-8 bytes)
    assert not passcode.check("", None) and not passcode.check("x", "")
    assert not passcode.check(None, "owl")


def test_five_wrong_tries_lock_the_field_for_a_minute():
    clock, state = Clock(), {}
    attempts = passcode.Attempts(state, clock=clock)
    for i in range(4):
        assert not attempts.submit("wrong", "owl")
        assert attempts.locked_for() == 0 and attempts.tries_left == 4 - i
    assert not attempts.submit("wrong", "owl")  # the fifth
    assert attempts.locked_for() == pytest.approx(60)
    # While locked even the right passcode is not checked.
    assert not attempts.submit("owl", "owl") and not attempts.unlocked
    clock.now += 59
    assert attempts.locked_for() == pytest.approx(1)
    clock.now += 1
    assert attempts.locked_for() == 0 and attempts.tries_left == 5
    assert attempts.submit("owl", "owl") and attempts.unlocked


def test_state_lives_in_the_dict_and_holds_for_the_session():
    clock, state = Clock(), {}
    assert passcode.Attempts(state, clock=clock).submit("owl", "owl")
    # A new Attempts over the same dict (the next script run) is still unlocked.
    again = passcode.Attempts(state, clock=clock)
    assert again.unlocked and again.submit("anything", "owl")
    assert "owl" not in repr(state)  # the passcode itself is never stored
    again.lock()
    assert not passcode.Attempts(state, clock=clock).unlocked


def test_a_right_passcode_resets_the_count():
    state = {}
    attempts = passcode.Attempts(state, clock=Clock())
    for _ in range(3):
        attempts.submit("wrong", "owl")
    assert attempts.submit("owl", "owl") and attempts.failures == 0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_tries"):
        passcode.Attempts({}, max_tries=0)
    with pytest.raises(ValueError, match="lockout_s"):
        passcode.Attempts({}, lockout_s=0)
