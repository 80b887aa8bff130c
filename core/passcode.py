"""The teacher's passcode: where it comes from, how it is checked, the lock-out.

The passcode is read from ``PLAYGROUND_TEACHER_PASSCODE`` or, when that is unset,
from ``teacher_passcode`` in ``.streamlit/secrets.toml`` (the page passes
``st.secrets`` in). It is compared in constant time and never logged, put in a
URL or shown. Five wrong tries lock the field for a minute; that state lives in
a plain dict (the page keeps it in ``st.session_state``) with an injectable clock.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

ENV_VAR = "PLAYGROUND_TEACHER_PASSCODE"
SECRET_KEY = "teacher_passcode"
MAX_TRIES = 5
LOCKOUT_S = 60.0


def configured_passcode(secrets: Mapping[str, Any] | None = None) -> str | None:
    """The passcode from the environment, else from ``secrets``; None when neither sets one."""
    value = os.environ.get(ENV_VAR, "")
    if not value.strip() and secrets is not None:
        try:
            secret = secrets.get(SECRET_KEY)
        except (KeyError, FileNotFoundError):  # st.secrets without a secrets.toml
            secret = None
        value = secret if isinstance(secret, str) else ""
    value = value.strip()
    return value or None


def check(entered: str, expected: str | None) -> bool:
    """Whether ``entered`` is the passcode (constant-time; False when none is configured)."""
    if not expected or not isinstance(entered, str):
        return False
    return hmac.compare_digest(entered.encode("utf-8"), expected.encode("utf-8"))


class Attempts:
    """Passcode tries of one browser session, kept in ``state`` (a dict the page stores).

    >>> attempts = Attempts(st.session_state.setdefault("teacher_attempts", {}))  # doctest: +SKIP
    >>> attempts.submit(entered, passcode)                                         # doctest: +SKIP
    """

    def __init__(
        self,
        state: MutableMapping[str, Any],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tries: int = MAX_TRIES,
        lockout_s: float = LOCKOUT_S,
    ):
        if int(max_tries) < 1:
            raise ValueError(f"max_tries must be at least 1, got {max_tries}")
        if not lockout_s > 0:
            raise ValueError(f"lockout_s must be positive, got {lockout_s}")
        self.state, self.clock = state, clock
        self.max_tries, self.lockout_s = int(max_tries), float(lockout_s)
        state.setdefault("unlocked", False)
        state.setdefault("failures", 0)
        state.setdefault("locked_until", 0.0)

    @property
    def unlocked(self) -> bool:
        """The right passcode was entered in this session."""
        return bool(self.state["unlocked"])

    @property
    def failures(self) -> int:
        """Wrong tries since the last lock-out (or the start)."""
        return int(self.state["failures"])

    def locked_for(self) -> float:
        """Seconds until the field opens again (0.0 when it is open)."""
        return max(0.0, float(self.state["locked_until"]) - self.clock())

    @property
    def tries_left(self) -> int:
        return self.max_tries - self.failures

    def submit(self, entered: str, expected: str | None) -> bool:
        """Check one try; True when it unlocks. While locked out nothing is checked."""
        if self.unlocked:
            return True
        if self.locked_for() > 0:
            return False
        if check(entered, expected):
            self.state.update(unlocked=True, failures=0, locked_until=0.0)
            return True
        failures = self.failures + 1
        if failures >= self.max_tries:
            self.state.update(failures=0, locked_until=self.clock() + self.lockout_s)
        else:
            self.state["failures"] = failures
        return False

    def lock(self) -> None:
        """Forget the unlock (a "leave" button)."""
        self.state["unlocked"] = False
