"""A careless or hostile client (issue 12): forged canvas messages, uploads, widget values, run files.

Each test feeds the hostile input the way a browser could send it (the
component's state, a widget value in session_state, a file in the run folder)
and checks that the page answers with a message, not a traceback.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from helpers import open_app

DRAW = "pages/draw.py"
TRAIN = "pages/train.py"


@pytest.fixture
def env(monkeypatch, digits_env, tmp_path):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def png_bytes(array: np.ndarray, **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def huge_png() -> bytes:
    """A 9000x9000 PNG of a few hundred kB: gigabytes once decoded."""
    image = Image.new("L", (9000, 9000), 0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def forged_canvas(url, objects=({"type": "path"},)) -> dict:
    return {"drawing": {"raw": {"objects": list(objects)}, "data": url}}


def alerts(at) -> list[str]:
    return [e.value for e in at.warning] + [e.value for e in at.error] + [e.value for e in at.info]


# -- the canvas ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url, expected",
    [
        ("huge", "at most 1024×1024"),
        ("data:image/png;base64,!!!not base64!!!", "damaged"),
        ("data:image/png," + "A" * 40, "not base64"),
        ("data:text/html;base64,PGI+", "expected PNG"),
        (12345, "did not arrive as text"),
        ("sixteen", None),  # a 16-bit grey PNG is read, not a traceback
    ],
    ids=["9000x9000", "garbage-base64", "no-base64", "html", "a-number", "16-bit"],
)
def test_a_forged_canvas_message_gives_a_message_not_a_traceback(env, url, expected):
    if url == "huge":
        url = data_url(huge_png())
    elif url == "sixteen":
        wide = np.zeros((280, 280), np.uint16)
        wide[60:220, 130:150] = 65535
        url = data_url(png_bytes(wide))
    at = open_app(DRAW, query={"ws": "hostiledraw1"})
    at.session_state["draw_canvas"] = forged_canvas(url)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if expected is None:
        assert not [text for text in alerts(at) if "could not be read" in text]
        assert any("**grey**" in e.value for e in at.markdown)  # the X-ray of the stroke
    else:
        problems = [text for text in at.warning.values if "The drawing could not be read" in text]
        assert problems and expected in problems[0], alerts(at)


def test_forged_stroke_json_does_not_break_the_page(env):
    seven = np.zeros((280, 280, 4), np.uint8)
    seven[60:220, 130:150] = 255
    at = open_app(DRAW, query={"ws": "hostiledraw2"})
    at.session_state["draw_canvas"] = {"drawing": {"raw": {"objects": "many"}, "data": data_url(png_bytes(seven))}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


# -- the upload (the keyboard's way in) --------------------------------------------------
def test_an_uploaded_digit_is_read_like_a_drawing(env):
    digit = np.full((200, 200), 255, np.uint8)  # dark ink on white paper, as a photo would be
    digit[30:170, 90:110] = 0
    at = open_app(DRAW, query={"ws": "hostiledraw3"})
    assert any("keyboard" in c.value for c in at.caption)
    at.file_uploader(key="draw_upload").set_value(("one.png", png_bytes(digit), "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("uploaded picture" in c.value for c in at.caption)
    assert any("**grey**" in e.value for e in at.markdown)


@pytest.mark.parametrize(
    "content, expected",
    [(b"GIF89a not a png at all", "not a readable"), ("huge", "at most 2048×2048"),
     (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a readable")],
    ids=["garbage", "9000x9000", "cut-png"],
)
def test_a_bad_upload_gives_a_message(env, content, expected):
    content = huge_png() if content == "huge" else content
    at = open_app(DRAW, query={"ws": "hostiledraw4"})
    at.file_uploader(key="draw_upload").set_value(("x.png", content, "image/png")).run()
    assert not at.exception, [e.value for e in at.exception]
    problems = [text for text in at.warning.values if "uploaded file cannot be used" in text]
    assert problems and expected in problems[0], alerts(at)
