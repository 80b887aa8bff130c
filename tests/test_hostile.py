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

from helpers import open_app, pictures

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
        assert any("**grey**" in caption for row in pictures(at) for caption, _ in row)  # the X-ray of the stroke
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
    assert any("**grey**" in caption for row in pictures(at) for caption, _ in row)


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


# -- fairness: one training per workspace and browser, a bounded queue, a bounded cost --------
def _blocked_queue():
    """A one-slot queue whose slot is held, so every job started on it waits (status queued)."""
    import threading

    from core.queue import TrainingQueue

    queue = TrainingQueue(1)
    blocker = object()
    assert queue.acquire(blocker, cancel=threading.Event())
    return queue


def _job(tmp_path, workspace, queue, *, config=None, **kwargs):
    from core.runs import RunStore
    from core.training import TrainingJob
    from test_training import book, random_digits

    return TrainingJob(config or book(epochs=1), random_digits(n_train=200, n_test=50), store=RunStore(workspace, root=tmp_path),
                       queue=queue, **kwargs).start()


def test_a_second_training_of_a_workspace_or_browser_is_refused_and_the_queue_is_bounded(tmp_path):
    from core.queue import admission_problem
    from test_training import _wait_for

    queue = _blocked_queue()
    jobs = []
    try:
        assert admission_problem("fairws1aaaa", client="browser-a") is None
        jobs.append(_job(tmp_path, "fairws1aaaa", queue, client="browser-a", name="first"))
        # Another tab of the same workspace, or the same browser in a fresh workspace.
        same_ws = admission_problem("fairws1aaaa", client="browser-b")
        assert same_ws and "already has a training waiting in the queue" in same_ws and "“first”" in same_ws
        same_browser = admission_problem("fairws2aaaa", client="browser-a")
        assert same_browser and "This browser already has a training" in same_browser
        assert admission_problem("fairws2aaaa", client="browser-b") is None
        jobs.append(_job(tmp_path, "fairws2aaaa", queue, client="browser-b", name="second"))
        full = admission_problem("fairws3aaaa", client="browser-c", max_queue=2)
        assert full and "queue is full: 2 trainings are already waiting (at most 2)" in full
        assert admission_problem("fairws3aaaa", client="browser-c", max_queue=3) is None
        # First come, first served across workspaces.
        _wait_for(lambda: queue.place(jobs[0]) and queue.place(jobs[1]))
        assert (queue.place(jobs[0]), queue.place(jobs[1])) == (1, 2)
    finally:
        for job in jobs:
            job.stop()
        for job in jobs:
            assert job.join(30)
    assert admission_problem("fairws1aaaa", client="browser-a") is None  # both left the queue


def test_the_time_limit_stops_a_training_and_keeps_no_model_before_the_first_epoch(tmp_path):
    from core.queue import TrainingQueue

    from test_training import book

    # Batch size 1: many steps, so the limit is checked long before the first epoch ends.
    job = _job(tmp_path, "limitws1aaa", TrainingQueue(1), time_limit=1e-6, config=book(epochs=3, batch_size=1))
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == "stopped", snap.error
    assert "limit for one training before the first epoch ended: no model is kept" in snap.message
    run = job.store.get(job.run_id)
    assert not run.has_model and not run.is_usable


def test_time_limit_callback_stops_fit_at_the_limit():
    from core.callbacks import TimeLimit
    from test_training import random_data, tiny_model

    ticks = iter(range(10_000))
    limit = TimeLimit(5, clock=lambda: float(next(ticks)))
    model = tiny_model()
    x, y = random_data()
    history = model.fit(x, y, batch_size=50, epochs=20, verbose=0, callbacks=[limit])
    assert limit.reached
    assert len(history.epoch) == 1  # 12 batches per epoch: stopped in the first, at tick 5


def test_limit_text():
    from core.training import limit_text

    assert limit_text(600) == "10-minute" and limit_text(90) == "90-second" and limit_text(1e-6) == "1-second"


# -- the disk quota --------------------------------------------------------------------------
def test_quota_refuses_when_runs_or_megabytes_are_used_up(tmp_path):
    from core.quota import quota_problem, workspace_usage
    from core.runs import RunStore

    store = RunStore("quotaws1aaa", root=tmp_path)
    assert quota_problem(store) is None and workspace_usage(store).runs == 0
    for _ in range(2):
        store.create({"name": "Book"}, dataset="mnist", seed=0, epochs_planned=1)
    run = store.list_runs().runs[0]
    (run.path / "model.keras").write_bytes(b"\0" * (2 * 1024 * 1024))
    usage = workspace_usage(store)
    assert usage.runs == 2 and usage.megabytes > 2
    assert "holds 2 runs, the most this server keeps for one workspace (2)" in quota_problem(store, max_runs=2)
    assert "take 2 MB, the most this server keeps for one workspace (2 MB)" in quota_problem(store, max_mb=2)
    assert quota_problem(store, max_runs=3, max_mb=3) is None


def test_the_train_page_refuses_a_training_past_the_quota(env, monkeypatch):
    from core.runs import RunStore

    monkeypatch.setenv("PLAYGROUND_MAX_RUNS_PER_WORKSPACE", "1")
    store = RunStore("quotapage1a", root=env)
    store.create({"name": "Book"}, dataset="mnist", seed=0, epochs_planned=1)
    store.create  # the workspace exists now: its link is accepted whatever its length
    at = open_app(TRAIN, query={"ws": "quotapage1a"})
    at.button(key="train_train").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert any("Training could not start" in e and "the most this server keeps" in e for e in errors), errors
    assert len(store.list_runs()) == 1  # nothing new was made
    assert any("one training per workspace at a time" in c.value for c in at.caption)


# -- forged widget values and run files --------------------------------------------------------
def _finished_run(root, workspace: str, *, name: str = "good run") -> str:
    from core.runs import FINISHED, RunStore

    store = RunStore(workspace, root=root)
    run = store.create({"name": "Book", "kind": "dense"}, dataset="mnist", seed=0, epochs_planned=1, name=name)
    store.update_metrics(run.run_id, status=FINISHED, epochs_done=1, test_accuracy=0.5, test_loss=1.0)
    return run.run_id


def test_a_history_json_with_wrong_types_gives_a_warning_and_the_run_list_still_renders(env):
    from core.runs import CorruptRunError, RunStore

    run_id = _finished_run(env, "historyws1a")
    store = RunStore("historyws1a", root=env)
    (store.run_path(run_id) / "model.keras").write_bytes(b"not read by the Train page")  # usable: shown
    (store.run_path(run_id) / "history.json").write_text(json.dumps(
        {"epochs": [0], "epoch": {"loss": [1.0]}, "batch_steps": "ab", "batch": {}, "steps_per_epoch": 3}))
    with pytest.raises(CorruptRunError, match="batch_steps"):
        store.history(run_id)
    from ui.run_list import _history_csv

    assert _history_csv(store, run_id).startswith(f"# the history of run {run_id} cannot be read")
    at = open_app(TRAIN, query={"ws": "historyws1a", "run": run_id})
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be read" in w and "batch_steps" in w for w in at.warning.values)
    assert any(h.value == "Your runs" for h in at.header)


@pytest.mark.parametrize("history", [
    {"epochs": [0], "epoch": {"loss": "x"}},
    {"epochs": ["a"], "epoch": {}},
    {"epochs": [0], "epoch": [], "batch_steps": []},
    {"epochs": [], "batch_steps": [1], "batch": {"loss": [None]}, "steps_per_epoch": "3"},
])
def test_every_bad_history_type_is_a_corrupt_run(tmp_path, history):
    from core.runs import CorruptRunError, RunStore

    run_id = _finished_run(tmp_path, "historyws2a")
    store = RunStore("historyws2a", root=tmp_path)
    (store.run_path(run_id) / "history.json").write_text(json.dumps(history))
    with pytest.raises(CorruptRunError):
        store.history(run_id)


def test_a_forged_preset_name_falls_back_to_the_book(env):
    # Set as the session's state before the widget is drawn: what a forged widget message leaves there.
    at = open_app(TRAIN, query={"ws": "forgedws1aa"}, session={"train_preset": "NoSuchPreset"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="train_preset").value == "Book"


def test_a_forged_preset_name_in_the_callback_and_config_is_refused():
    from streamlit.testing.v1 import AppTest

    def script():
        import streamlit as st

        from ui import controls

        st.session_state["train_preset"] = "Book"
        controls._load_values(controls.PRESETS["Book"])
        st.session_state["train_preset"] = "NoSuchPreset"
        controls._on_preset_change()  # changes nothing
        try:
            controls.current_config()
        except ValueError as error:
            st.write(f"refused: {error}")

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "refused: There is no preset called 'NoSuchPreset'." in [m.value for m in at.markdown]


def test_a_forged_dataset_name_falls_back_to_mnist(env):
    at = open_app(TRAIN, query={"ws": "forgedws2aa"}, session={"dataset_name": "../../etc/passwd"})
    assert not at.exception, [e.value for e in at.exception]
    assert any("training images of MNIST; then" in m.value for m in at.markdown)
    at = open_app(query={"ws": "forgedws2aa"}, session={"dataset_name": ["not", "a", "name"]})
    assert at.sidebar.radio(key="dataset_name").value == "mnist"


def test_forged_run_ids_in_the_run_widgets_are_dropped(env):
    first = _finished_run(env, "forgedws3aa", name="one")
    second = _finished_run(env, "forgedws3aa", name="two")
    forged = {"train_compare": [first, "20990101-000000-000-ffffff", {"x": 1}], "train_manage_pick": "not-a-run"}
    at = open_app(TRAIN, query={"ws": "forgedws3aa"}, session=forged)
    assert not at.exception, [e.value for e in at.exception]
    assert at.multiselect(key="train_compare").value == [first]
    assert at.selectbox(key="train_manage_pick").value in (first, second)


def test_a_right_to_left_override_in_a_run_name_is_removed_on_save_and_display(tmp_path):
    from core.runs import CONFIG_FILE, RunStore

    run_id = _finished_run(tmp_path, "bidiws1aaaa")
    store = RunStore("bidiws1aaaa", root=tmp_path)
    assert store.rename(run_id, "my\u202egpj.exe run").name == "mygpj.exe run"
    path = store.run_path(run_id) / CONFIG_FILE
    cfg = json.loads(path.read_text())
    cfg["name"] = "\u202eevil\u200b name"  # written by hand (or an older version)
    path.write_text(json.dumps(cfg))
    assert store.get(run_id).name == "evil name"
    with pytest.raises(ValueError, match="empty"):
        store.rename(run_id, "\u202e\u200b")


def test_a_short_typed_workspace_id_is_refused_but_existing_links_keep_working(env):
    from core.runs import RunStore

    at = open_app(query={"ws": "a"})
    assert not at.exception
    assert at.query_params["ws"] != "a" and len(at.query_params["ws"]) >= 10
    assert any("too short to start a new workspace" in w for w in at.sidebar.warning.values)
    RunStore("old", root=env).folder.mkdir(parents=True)  # a link handed out before the rule
    at = open_app(query={"ws": "old"})
    assert at.query_params["ws"] == "old"
    assert not any("not opened" in w for w in at.sidebar.warning.values)


def test_the_sidebar_and_data_page_do_not_print_the_server_path(env, digits):
    import os

    at = open_app("pages/dataset.py", query={"ws": "pathws1aaaa"})
    assert not at.exception
    server_path = os.environ.get("MNIST_PATH")
    shown = " ".join(e.value for e in [*at.caption, *at.markdown, *at.sidebar.caption, *at.warning])
    assert "/work/" not in shown and (not server_path or os.path.dirname(server_path) not in shown)


def test_an_unsafe_model_is_called_unsafe_on_evaluate(env):
    import keras

    from core.runs import FINISHED, RunStore

    store = RunStore("unsafews1aa", root=env)
    run = store.create({"name": "Book", "kind": "dense"}, dataset="mnist", seed=0, epochs_planned=1, name="lambda")
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Lambda(lambda t: t * 2), keras.layers.Dense(10, activation="softmax")])
    model.save(store.run_path(run.run_id) / "model.keras")
    store.update_metrics(run.run_id, status=FINISHED, epochs_done=1)
    at = open_app("pages/evaluate.py", query={"ws": "unsafews1aa", "run": run.run_id})
    assert not at.exception, [e.value for e in at.exception]
    infos = " ".join(at.info.values)
    assert "refused it as unsafe" in infos and "no saved model yet" not in infos
