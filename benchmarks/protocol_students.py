"""Students without a browser: Streamlit sessions that replay what a real Chromium tab sent.

In a classroom each student's browser runs on the student's own machine. On this 2-core
host, K software-rendered Chromium tabs take most of the server's cores (docs/NOTES.md,
seventh session): the benchmark then measures the browsers more than the server. So a
real tab is recorded once (:class:`Recorder`: every BackMsg it sends over its websocket),
and each :class:`ProtocolStudent` replays those messages over a websocket of its own, in a
session and workspace of its own. The server does all the work K browsers would make it
do (the script's runs, fragment reruns, a live view's ticks, which a browser asks for when
the server sends ``auto_rerun``); nothing is rendered. Each replayed step is timed at the
socket (message sent -> the awaited element received). The figures a student sees are still
taken in real Chromium tabs, beside them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

STREAM = re.compile(r".*/_stcore/stream.*")


class Recorder:
    """Every BackMsg a Playwright page sends to the server, in order (``messages``)."""

    def __init__(self, page):
        self.messages: list[bytes] = []
        self._lock = threading.Lock()

        def route(ws):
            upstream = ws.connect_to_server()

            def from_page(message):
                if isinstance(message, bytes):
                    with self._lock:
                        self.messages.append(message)
                upstream.send(message)

            ws.on_message(from_page)

        page.route_web_socket(STREAM, route)

    def mark(self) -> int:
        with self._lock:
            return len(self.messages)

    def since(self, mark: int) -> list[bytes]:
        with self._lock:
            return list(self.messages[mark:])


def is_trigger(raw: bytes) -> bool:
    """Whether a recorded BackMsg presses a button (a trigger value set in its widget states)."""
    msg = BackMsg.FromString(raw)
    return any(w.WhichOneof("value") == "trigger_value" and w.trigger_value
               for w in msg.rerun_script.widget_states.widgets)


def element_text(fmsg: ForwardMsg) -> str:
    """The text a new element carries (a markdown body, a metric's label and value, a
    button's label), else ""."""
    if fmsg.WhichOneof("type") != "delta" or fmsg.delta.WhichOneof("type") != "new_element":
        return ""
    element = fmsg.delta.new_element
    kind = element.WhichOneof("type")
    if kind == "markdown":
        return element.markdown.body
    if kind == "metric":
        return f"{element.metric.label}: {element.metric.body}"
    if kind == "button":
        return element.button.label
    return ""


def with_workspace(query: str, workspace: str | None) -> str:
    """``query`` with its ``ws`` set to ``workspace`` (removed for None, as a new visitor's)."""
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in ("ws", "run")]
    return urlencode(([("ws", workspace)] if workspace else []) + pairs)


class ProtocolStudent:
    """One session over Streamlit's websocket, replaying recorded BackMsgs.

    The query string follows the server's (``page_info_changed``), as a browser's address
    bar does, so a new visitor gets its own workspace. A fragment the server asks to rerun
    every N s (``auto_rerun``) is rerun every N s while :meth:`send_until` waits.
    """

    def __init__(self, url: str, *, workspace: str | None = None):
        self.ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.workspace = workspace
        self.query: str | None = None  # the server's, once it has said one
        self.auto: dict[str, tuple[float, float]] = {}  # fragment id -> (interval, next due)
        self.last: BackMsg | None = None
        self.errors: list[str] = []
        self.socket = connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=60)

    def close(self) -> None:
        self.socket.close()

    def _send(self, msg: BackMsg) -> None:
        self.socket.send(msg.SerializeToString())

    def send(self, raw: bytes) -> None:
        msg = BackMsg.FromString(raw)
        if msg.WhichOneof("type") == "rerun_script":
            state = msg.rerun_script
            state.query_string = self.query if self.query is not None else with_workspace(
                state.query_string, self.workspace)
            self.last = msg
        self._send(msg)

    def open_page(self, messages: list[bytes], *, timeout: float) -> None:
        """Replay a recorded page opening: each run it asks for, to its end."""
        for raw in messages:
            if BackMsg.FromString(raw).WhichOneof("type") == "rerun_script":
                self.send_until(raw, script_finished, timeout=timeout)
            else:
                self.send(raw)

    def _tick(self, fragment_id: str) -> None:
        """A fragment's timed rerun, as the browser sends it: the last widget states, no button pressed."""
        if self.last is None:
            return
        msg = BackMsg()
        msg.rerun_script.CopyFrom(self.last.rerun_script)
        msg.rerun_script.query_string = self.query if self.query is not None else msg.rerun_script.query_string
        msg.rerun_script.fragment_id = fragment_id
        msg.rerun_script.is_auto_rerun = True
        widgets = msg.rerun_script.widget_states.widgets
        for index in reversed(range(len(widgets))):
            if widgets[index].WhichOneof("value") == "trigger_value":
                del widgets[index]
        self._send(msg)

    def _receive(self, fmsg: ForwardMsg) -> None:
        kind = fmsg.WhichOneof("type")
        if kind == "page_info_changed":
            self.query = fmsg.page_info_changed.query_string
        elif kind == "auto_rerun":
            interval = max(0.1, fmsg.auto_rerun.interval)
            self.auto[fmsg.auto_rerun.fragment_id] = (interval, time.monotonic() + interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in fmsg.stop_auto_rerun.fragment_ids:
                self.auto.pop(fragment_id, None)
        elif kind == "new_session" and not fmsg.metadata.run.fragment_ids:
            self.auto.clear()  # a full run starts (not a fragment's): its fragments announce themselves again
        elif kind == "delta" and fmsg.delta.WhichOneof("type") == "new_element":
            if fmsg.delta.new_element.WhichOneof("type") == "exception":
                self.errors.append(fmsg.delta.new_element.exception.message[:200])

    def send_until(self, raw: bytes | None, done: Callable[[ForwardMsg], bool], *, timeout: float) -> float:
        """Send ``raw`` (if any), then read until ``done`` holds for a message; seconds it took.

        TimeoutError when it does not come within ``timeout`` seconds.
        """
        start = time.monotonic()
        if raw is not None:
            self.send(raw)
        deadline = start + timeout
        while True:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"nothing awaited came within {timeout:.0f} s")
            for fragment_id, (interval, due) in list(self.auto.items()):
                if now >= due:
                    self.auto[fragment_id] = (interval, now + interval)
                    self._tick(fragment_id)
            wait = min([deadline - now] + [due - now for _, due in self.auto.values()] + [1.0])
            try:
                data = self.socket.recv(timeout=max(0.01, wait))
            except TimeoutError:
                continue
            fmsg = ForwardMsg.FromString(data)
            self._receive(fmsg)
            if done(fmsg):
                return time.monotonic() - start


def script_finished(fmsg: ForwardMsg) -> bool:
    return fmsg.WhichOneof("type") == "script_finished"


def shows(text: str) -> Callable[[ForwardMsg], bool]:
    """``done`` for :meth:`ProtocolStudent.send_until`: an element whose text contains ``text``."""
    return lambda fmsg: text in element_text(fmsg)
