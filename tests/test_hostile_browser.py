"""A rewritten canvas message in Chromium (issue 12): the server refuses it and stays small.

Playwright sits between the page and the server's websocket (``page.route_web_socket``):
when the canvas sends its drawing, the PNG data URL inside the BackMsg is swapped for a
9000x9000 PNG (a few hundred kB; gigabytes once decoded). The page must show a warning,
no traceback, and the server's peak memory must stay within 1.5 GB of its idle size.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from conftest import wait_for_app

pytestmark = pytest.mark.browser

WORKSPACE = "hostilebrowser1"
DATA_URL = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+")
#: What the issue allows above idle.
MAX_GROWTH_MB = 1536


def huge_png_url() -> str:
    buffer = io.BytesIO()
    Image.new("L", (9000, 9000), 0).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def memory_mb(pid: int, field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def forge(message: bytes, url: str) -> tuple[bytes, bool]:
    """The BackMsg with every canvas data URL in its widget states replaced by ``url``."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    try:
        msg.ParseFromString(message)
    except Exception:  # not a BackMsg: leave it alone
        return message, False
    changed = False
    for widget in msg.rerun_script.widget_states.widgets:
        kind = widget.WhichOneof("value")
        value = getattr(widget, kind, None) if kind else None
        if isinstance(value, str) and DATA_URL.search(value):
            setattr(widget, kind, DATA_URL.sub(lambda _: url, value))
            changed = True
    return (msg.SerializeToString(), True) if changed else (message, False)


def test_a_forged_9000px_canvas_message_is_refused_with_a_warning(streamlit_app, page):
    server = streamlit_app
    url = huge_png_url()
    forged = []

    def route(ws):
        upstream = ws.connect_to_server()

        def from_page(message):
            if isinstance(message, bytes) and b"data:image/png;base64," in message:
                message, changed = forge(message, url)
                forged.append(changed)
            upstream.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(r".*/_stcore/stream.*"), route)
    page.goto(server.url)
    page.get_by_text("MNIST Playground").first.wait_for(timeout=60_000)
    page.goto(f"{server.url}/draw?ws={WORKSPACE}")
    wait_for_app(page)
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for(timeout=90_000)
    page.get_by_text("Draw a digit ✏️").first.wait_for(timeout=60_000)
    idle_mb = memory_mb(server.process.pid, "VmRSS")

    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(x, y + i * box["height"] * 0.02)
    page.mouse.up()

    page.get_by_text("The drawing could not be read").first.wait_for(timeout=60_000)
    assert any(forged), "the canvas's message was never rewritten"
    text = page.locator('[data-testid="stAlert"]').all_inner_texts()
    assert any("at most 1024×1024" in t for t in text), text
    assert page.locator('[data-testid="stException"]').count() == 0
    peak_mb = memory_mb(server.process.pid, "VmHWM")
    print(f"server memory: idle {idle_mb:.0f} MB, peak {peak_mb:.0f} MB")
    assert peak_mb - idle_mb <= MAX_GROWTH_MB, (idle_mb, peak_mb)
    assert "Traceback" not in server.log()
