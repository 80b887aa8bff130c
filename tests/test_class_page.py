"""AppTest of the teacher's Class page: hidden without a passcode, shows nothing before
it, locks after five wrong tries, then lists the class by display name (never an id)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import APPTEST_TIMEOUT, ROOT
from core import classroom, passcode, profile
from core.model import BATCH_SIZES
from core.runs import RunStore
from test_classroom import add_run
from ui.runs import escape_markdown

PASSCODE = "owl-Secret-42"
TEACHER = "teacher1abc"  # a new workspace needs a random-length id (core.workspace_ids)
STUDENTS = {"anaws1": "Ana", "benws2": "Ben <b>*bold*</b>"}


@pytest.fixture
def runs_root(monkeypatch, tmp_path):
    """A class of two named students and an unnamed one, on the offline stand-in dataset."""
    monkeypatch.delenv("MNIST_PATH", raising=False)
    monkeypatch.setenv("PLAYGROUND_KERAS_DATASETS", "0")
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv(passcode.ENV_VAR, raising=False)
    root = tmp_path / "runs"
    for workspace, name in STUDENTS.items():
        profile.set_display_name(workspace, name, root=root)
    add_run(root, "anaws1", "CNN", accuracy=0.991)
    add_run(root, "benws2", "CNN", accuracy=0.985)
    add_run(root, "benws2", "Book", accuracy=0.9)
    add_run(root, "noname3", "Book", accuracy=0.91)
    st.cache_resource.clear()  # the stand-in, not a dataset another test cached
    yield root
    st.cache_resource.clear()  # and the next test does not get the stand-in


def app(*, page: str | None = "pages/class.py", secrets: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APPTEST_TIMEOUT)
    if secrets:
        at.secrets.update(secrets)
    at.query_params["ws"] = TEACHER
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_text(at: AppTest) -> str:
    """Every element's protobuf as text: whatever the browser would receive."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def assert_no_ids(at: AppTest, root) -> None:
    text = page_text(at)
    for workspace in ("anaws1", "benws2", "noname3"):
        assert workspace not in text
        for run in RunStore(workspace, root=root).list_runs():
            assert run.run_id not in text


def unlock(at: AppTest) -> AppTest:
    at.text_input(key="class_passcode").input(PASSCODE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_no_passcode_no_class_page(runs_root):
    from ui.lesson import available_steps

    assert "pages/class.py" not in [step.path for step in available_steps()]
    at = app(page=None)
    assert not any(button.label == "Class" for button in at.get("page_link"))
    home_text = page_text(at)
    assert "Teacher passcode" not in home_text and "For the teacher" not in home_text


def test_the_passcode_also_comes_from_secrets(runs_root):
    at = app(secrets={"teacher_passcode": PASSCODE})
    assert [t.value for t in at.title] == ["Class"]
    assert at.text_input(key="class_passcode").label == "Teacher passcode"
    # The page is in the navigation (switch_page found it) but Home does not list it for students.
    assert "For the teacher" not in page_text(app(page=None, secrets={"teacher_passcode": PASSCODE}))


def test_nothing_of_the_class_before_the_passcode(runs_root, monkeypatch):
    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    at = app()
    field = at.text_input(key="class_passcode")
    assert field.label == "Teacher passcode" and field.proto.type == field.proto.PASSWORD
    text = page_text(at)
    assert_no_ids(at, runs_root)
    assert "Ana" not in text and "Ben" not in text and "Anonymous" not in text
    assert not at.dataframe and PASSCODE not in text


def test_five_wrong_tries_lock_the_field(runs_root, monkeypatch):
    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    at = app()
    for tries_left in (4, 3, 2, 1):
        at.text_input(key="class_passcode").input(f"wrong{tries_left}").run()
        assert f"{tries_left} tries left" in at.error[0].value
        assert at.text_input(key="class_passcode").value == ""  # never kept
    at.text_input(key="class_passcode").input("wrong0").run()
    assert "locked" in at.error[0].value and at.text_input(key="class_passcode").disabled
    # The right passcode does not open it during the minute (set as a typed value would be).
    at.session_state["class_passcode"] = PASSCODE
    at.run()
    assert "locked" in at.error[0].value and not at.dataframe
    assert_no_ids(at, runs_root)
    assert "Ana" not in page_text(at)


def test_the_right_passcode_shows_the_class_by_display_name(runs_root, monkeypatch):
    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    at = unlock(app())
    assert not at.error
    table = at.dataframe[0].value
    assert sorted(table["student"]) == sorted(["Ana", "Ben <b>*bold*</b>", "Ben <b>*bold*</b>",
                                               profile.anonymous_name("noname3")])
    markdown = [m.value for m in at.markdown]
    assert "#### 1. Ana · 99.10%" in markdown
    # Markup in a name is shown literally (escaped), never rendered.
    assert any(escape_markdown(STUDENTS["benws2"]) in m for m in markdown)
    assert not any("<b>" in m for m in markdown)
    assert_no_ids(at, runs_root)
    text = page_text(at)
    assert PASSCODE not in text
    assert PASSCODE not in repr({k: at.session_state[k] for k in at.session_state})
    assert len(at.get("plotly_chart")) == 1 and at.get("download_button")
    # It holds for the session: another run of the page needs no passcode again.
    at.run()
    assert at.dataframe and "Teacher passcode" not in [t.label for t in at.text_input]


def test_a_clicked_point_shows_that_runs_curves(runs_root, monkeypatch):
    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    store = RunStore("anaws1", root=runs_root)
    run = store.list_runs().runs[0]
    store.write_history(run.run_id, {
        "epochs": [0, 1], "epoch": {"loss": [0.5, 0.3], "accuracy": [0.9, 0.95]},
        "batch_steps": [1, 2, 3, 4], "batch": {"loss": [0.9, 0.6, 0.4, 0.3], "accuracy": [0.5, 0.8, 0.9, 0.95]},
        "steps_per_epoch": 2, "total_epochs": 2,
    })
    at = unlock(app())
    assert "Click a point" in " ".join(c.value for c in at.caption)
    # (AppTest cannot click a plotly point: the page's selection handler stores the
    # point's opaque key in the session, as here.)
    at.session_state["class_selected"] = classroom.opaque_key("anaws1", run.run_id)
    at.run()
    assert len(at.get("plotly_chart")) == 2
    assert any(m.value.startswith("**Ana** · CNN") for m in at.markdown)


def test_live_trainings_with_places_and_stop(runs_root, monkeypatch):
    from core.data import Dataset
    from core.model import PRESETS
    from core.queue import TrainingQueue
    from core.training import TrainingJob

    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 200).astype(np.uint8)
    dataset = Dataset("mnist", "MNIST", images, labels, images[:50], labels[:50], tuple("0123456789"), "random")
    queue = TrainingQueue(1)
    blocker = object()
    assert queue.acquire(blocker, cancel=threading.Event())
    job = TrainingJob(PRESETS["Book"], dataset, store=RunStore("anaws1", root=runs_root), queue=queue,
                      name="waiting run").start()
    try:
        for _ in range(500):
            if queue.place(job):
                break
            threading.Event().wait(0.02)
        at = unlock(app())
        assert any(m.value == "**Ana** · waiting run (waiting, place 1)" for m in at.markdown)
        stop = next(b for b in at.button if b.label == "Stop")
        assert "anaws1" not in stop.key and job.run_id not in stop.key
        stop.click().run()
        assert job.join(30) and job.status == "stopped"
        at.run()
        assert "Nobody is training" in " ".join(c.value for c in at.caption)
    finally:
        job.stop()
        job.join(30)
        queue.release()


def test_lesson_link_builder(runs_root, monkeypatch):
    monkeypatch.setenv(passcode.ENV_VAR, PASSCODE)
    at = unlock(app())
    at.selectbox(key="class_l_preset").select("CNN").run()
    at.slider(key="class_l_epochs_CNN").set_value(3).run()
    at.checkbox(key="class_l_lock").check().run()
    assert at.select_slider(key="class_l_batch_CNN").value == 128  # the Train page's choices
    assert list(at.select_slider(key="class_l_batch_CNN").options) == [str(b) for b in BATCH_SIZES]
    assert at.code[0].value == "http://localhost:8501/train?preset=CNN&epochs=3&batch=128&lock=1"
    at.text_input(key="class_l_base").input("not a url").run()
    assert "must be a full link" in at.error[0].value and not at.code


def test_sidebar_display_name_is_saved_cleaned_and_escaped(runs_root):
    at = app(page=None)
    box = at.sidebar.text_input(key="profile_display_name")
    assert box.value == "" and box.placeholder == profile.anonymous_name(TEACHER)
    box.input("  Mrs \u202eSmith*  ").run()
    assert profile.stored_display_name(TEACHER, root=runs_root) == "Mrs Smith*"
    # (AppTest shows app.py's sidebar on a session's first run only: the state tells.)
    assert at.session_state["profile_display_name"] == "Mrs Smith*"
    # A new session of the same workspace finds the name again, shown escaped.
    again = app(page=None)
    assert again.sidebar.text_input(key="profile_display_name").value == "Mrs Smith*"
    assert any(c.value == r"Shown as **Mrs Smith\***" for c in again.sidebar.caption)
