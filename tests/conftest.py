"""Shared fixtures: real MNIST (when configured), a running app, and Chromium.

Tests that need the real MNIST read ``MNIST_PATH`` and skip when it is unset;
``.ci/run`` sets it, so in CI they run.
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

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# AppTest runs the page scripts in-process; pages that import TensorFlow need time.
APPTEST_TIMEOUT = 180


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real MNIST (``MNIST_PATH``), or skip."""
    value = os.environ.get("MNIST_PATH")
    if not value or not Path(value).exists():
        pytest.skip("MNIST_PATH is not set to the real MNIST (CI sets it)")
    return Path(value)


@pytest.fixture(scope="session")
def mnist(mnist_path):
    """The real MNIST as a read-only Dataset."""
    from core.data import load_dataset

    return load_dataset("mnist", path=mnist_path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StreamlitServer:
    """``streamlit run app.py`` on a free local port; ``url`` is its address."""

    def __init__(self, env: dict[str, str], log_path: Path):
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
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
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
    page.set_default_timeout(30_000)
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
