"""Shared fixtures: the digits (real MNIST when configured, else the stand-in), a running app, Chromium.

``digits`` / ``digits_env`` are the real MNIST when ``MNIST_PATH`` names it and
otherwise the offline stand-in (scikit-learn's digits), so the page tests run
anywhere; an assertion about real-MNIST figures checks ``digits.is_standin``.
Tests that need the real MNIST itself (``mnist_path`` / ``mnist``) skip when it
is unset; ``.ci/run`` sets it, so in CI they run. Shared helpers that are not
fixtures are in ``helpers.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpers import APPTEST_TIMEOUT  # noqa: E402,F401 - test modules import it from here

# AppTests run app.py in this process: no background TensorFlow warm-up thread here
# (it would compete for the cores and for the shared model pool); servers get it back.
os.environ["PLAYGROUND_WARM_UP"] = "0"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config):
    # TensorFlow on the thread count app.py gives it (core.tf_threads), whichever test
    # imports TensorFlow first (an AppTest run sets it, a core test would not). Here, not
    # at import: the benchmarks import this module and time the book's script with
    # TensorFlow's own default.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    # Trainings at the tests' own priority (core/priority.py lowers them by default): TensorFlow's
    # pools are process-wide, and a lowered test process or server would wait longer on a loaded
    # machine. tests/test_priority.py asks for the default itself.
    os.environ.setdefault("PLAYGROUND_TRAINING_NICE", "0")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    """A browser test, or one on a running app, starts a server (and Chromium): always slow too."""
    for item in items:
        if item.get_closest_marker("browser") or {"browser", "streamlit_app"} & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


def _real_mnist_path() -> Path | None:
    value = os.environ.get("MNIST_PATH")
    return Path(value) if value and Path(value).exists() else None


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real MNIST (``MNIST_PATH``), or skip."""
    path = _real_mnist_path()
    if path is None:
        pytest.skip("MNIST_PATH is not set to the real MNIST (CI sets it)")
    return path


@pytest.fixture(scope="session")
def mnist(mnist_path):
    """The real MNIST as a read-only Dataset."""
    from core.data import load_dataset

    return load_dataset("mnist", path=mnist_path)


@pytest.fixture(scope="session")
def digits():
    """The real MNIST when ``MNIST_PATH`` names it, else the offline stand-in (never a download)."""
    from core.data import load_dataset

    path = _real_mnist_path()
    return load_dataset("mnist", path=path, use_keras=False) if path else load_dataset("mnist", use_keras=False)


@pytest.fixture
def digits_env(monkeypatch, digits):
    """The app's environment for ``digits``: MNIST_PATH for the real MNIST, else none and no
    keras.datasets (so the app loads the same stand-in offline). Returns ``digits``."""
    path = _real_mnist_path()
    if path is not None and not digits.is_standin:
        monkeypatch.setenv("MNIST_PATH", str(path))
    else:
        monkeypatch.delenv("MNIST_PATH", raising=False)
        monkeypatch.setenv("PLAYGROUND_KERAS_DATASETS", "0")
    return digits


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """``streamlit run app.py`` on a free local port; ``url`` is its address."""

    def __init__(self, env: dict[str, str], log_path: Path, *, cwd: Path = ROOT):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(self.port), "--server.address", "127.0.0.1",
                "--server.headless", "true", "--browser.gatherUsageStats", "false",
            ],
            cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start:\n{log_path.read_text()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def start_app(tmp_dir: Path, **env_overrides: str) -> StreamlitServer:
    """Start the app with its runs in ``tmp_dir/runs`` (and any extra environment)."""
    env = dict(os.environ)
    env.setdefault("PLAYGROUND_RUNS_DIR", str(tmp_dir / "runs"))
    env["PLAYGROUND_WARM_UP"] = "1"  # a real server warms up, as in a classroom
    env.update(env_overrides)
    return StreamlitServer(env, tmp_dir / "streamlit.log")


@pytest.fixture(scope="module")
def streamlit_app(tmp_path_factory, mnist_path):
    """The app on real MNIST, one server per test module; yields the server."""
    server = start_app(tmp_path_factory.mktemp("app"), MNIST_PATH=str(mnist_path))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never ``playwright install``)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab at a desktop size."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    # Generous: a loaded machine (the suite beside a benchmark) is slow, never stuck.
    page.set_default_timeout(90_000)
    yield page
    context.close()


def wait_for_app(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]')
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=60_000,
    )


HOVER_LABEL_JS = (
    "text => [...document.querySelectorAll('.hoverlayer')].some(e => e.textContent.includes(text))"
)


def hover_until_label(page, where, text: str, *, timeout_s: float = 90.0) -> tuple[float, float]:
    """Point at ``where()`` (a callable giving viewport x, y) until plotly's hover label
    contains ``text``; returns the position that answered.

    A rerun that redraws the chart after the pointer arrived leaves no hover (plotly
    answers mouse moves, not a pointer resting on a new graph), so the pointer steps off
    and back, and the position is read again, until the label shows or time runs out.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        x, y = where()
        page.mouse.move(x + 3, y + 3)
        page.mouse.move(x, y)
        try:
            page.wait_for_function(HOVER_LABEL_JS, arg=text, timeout=3_000)
            return x, y
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"no hover label with {text!r} within {timeout_s:.0f} s") from None
