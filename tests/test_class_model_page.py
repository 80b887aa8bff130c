"""AppTest of the class model on the pages: shared (one object for every session), marked,
used when a workspace has none, a session's own model first, a broken one falls back with a
message; the teacher shares a run from the Class page; Draw's wait for a CNN is measured."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import APPTEST_TIMEOUT, ROOT
from core import class_model, passcode
from core import evaluation as ev
from core.model import PRESETS
from core.queue import training_queue
from core.runs import RunStore
from helpers import book_network, open_app, save_finished_run
from test_classroom import add_run
from ui import runs as ui_runs

DRAW, EVALUATE = "pages/draw.py", "pages/evaluate.py"
TEACHER_WS = "teacherws"


@pytest.fixture
def root(tmp_path, monkeypatch, digits_env):
    """A teacher's finished run (named by the setting) and a student with a run of their own."""
    root = tmp_path / "runs"
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(root))
    monkeypatch.delenv(passcode.ENV_VAR, raising=False)
    shared = save_finished_run(book_network(), root=root, workspace=TEACHER_WS, config=PRESETS["Book"].to_dict(),
                               name="teacher book", test_accuracy=0.5, test_loss=1.0)
    own = save_finished_run(book_network(), root=root, workspace="ownws", config=PRESETS["Book"].to_dict(),
                            name="my own book", test_accuracy=0.4, test_loss=1.2)
    monkeypatch.setenv(class_model.ENV_VAR, f"{TEACHER_WS}/{shared}")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield {"root": root, "shared": shared, "own": own}
    st.cache_resource.clear()
    st.cache_data.clear()


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_every_session_draws_with_one_shared_object(root):
    first = open_app(DRAW, query={"ws": "student1"})
    second = open_app(DRAW, query={"ws": "student2"})
    model = first.session_state[ui_runs.SHARED_MODEL_KEY]
    assert second.session_state[ui_runs.SHARED_MODEL_KEY] is model  # not a copy per session
    assert model.trainable_weights == []
    for at in (first, second):
        assert "Model: **the class model · teacher book** (Book)" in captions(at)
        assert "shared by the teacher" in captions(at)
        assert not any("No trained model yet" in i.value for i in at.info)  # no waiting


def test_the_class_models_test_predictions_are_computed_once(root, monkeypatch):
    from core import class_model

    calls = []
    real = class_model.shared_predictions
    monkeypatch.setattr(class_model, "shared_predictions", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = open_app(EVALUATE, query={"ws": "student1"})
    second = open_app(EVALUATE, query={"ws": "student2"})
    assert calls == [1]  # once per process, not per session
    for at in (first, second):
        assert "evaluate_predictions" not in at.session_state  # nothing kept per session
        assert any("the class model · teacher book" in c.value for c in at.caption)
        assert at.metric[1].value == "0.5000"  # the run's stored test accuracy


def test_a_sessions_own_model_comes_first_and_the_class_model_can_be_chosen(root):
    at = open_app(DRAW, query={"ws": "ownws"})
    assert "Model: **my own book**" in captions(at)
    assert ui_runs.SHARED_MODEL_KEY not in at.session_state
    at.session_state[ui_runs.ACTIVE_RUN_KEY] = ui_runs.CLASS_CHOICE
    at.run()
    assert "Model: **the class model · teacher book**" in captions(at)
    assert at.query_params["run"] == ui_runs.CLASS_CHOICE
    at.session_state[ui_runs.ACTIVE_RUN_KEY] = root["own"]
    at.run()
    assert not at.exception
    assert "Model: **my own book**" in captions(at)

    train = open_app("pages/train.py", query={"ws": "ownws"})  # the picker offers it
    picker = train.selectbox(key="train_active_pick")
    assert ui_runs.CLASS_CHOICE in picker.options or any("the class model" in o for o in picker.options)
    picker.set_value(ui_runs.CLASS_CHOICE).run()
    assert not train.exception
    assert train.session_state[ui_runs.ACTIVE_RUN_KEY] == ui_runs.CLASS_CHOICE


@pytest.mark.parametrize("damage", ["deleted", "corrupt"])
def test_a_deleted_or_corrupt_class_model_falls_back_with_a_message(root, damage):
    store = RunStore(TEACHER_WS, root=root["root"])
    if damage == "deleted":
        store.delete(root["shared"])
    else:
        store.model_path(root["shared"]).write_bytes(b"PK\x03\x04 not a keras file")  # not even a zip
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APPTEST_TIMEOUT)
    at.query_params["ws"] = "ownws"
    at.session_state[ui_runs.ACTIVE_RUN_KEY] = ui_runs.CLASS_CHOICE
    at.run()
    assert not at.exception
    warning = " ".join(w.value for w in at.sidebar.warning)
    assert "No class model" in warning
    assert ("no longer exists" if damage == "deleted" else "is corrupt") in warning
    assert TEACHER_WS not in warning
    at.switch_page(DRAW).run()
    assert not at.exception
    assert "Model: **my own book**" in captions(at)  # the choice fell back to the own model

    alone = open_app(DRAW, query={"ws": "student3"})  # and a workspace with nothing: the offer
    assert any("No trained model yet" in i.value for i in alone.info)


def test_a_class_model_file_that_does_not_load_falls_back_on_the_page(root):
    path = RunStore(TEACHER_WS, root=root["root"]).model_path(root["shared"])
    with zipfile.ZipFile(path, "w") as archive:  # a zip, but no Keras model in it
        archive.writestr("config.json", "not json")
    at = open_app(DRAW, query={"ws": "ownws"}, session={ui_runs.ACTIVE_RUN_KEY: ui_runs.CLASS_CHOICE})
    assert any("The class model cannot be used" in w.value and "could not be loaded" in w.value
               for w in at.warning)
    assert "Model: **my own book**" in captions(at)
    at.run()  # known broken now: no second attempt, no second warning
    assert not at.exception and not any("class model" in w.value for w in at.warning)
    assert "Model: **my own book**" in captions(at)


@pytest.mark.slow  # a fresh interpreter in a subprocess
def test_home_with_a_class_model_does_not_import_tensorflow(root):
    # A fresh interpreter: this one has loaded TensorFlow for other tests.
    script = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
              "at = AppTest.from_file('app.py', default_timeout=120); at.run()\n"
              "assert not at.exception, at.exception\n"
              "print([c.value for c in at.sidebar.caption if 'Active model' in c.value])\n"
              "print('TF' if 'tensorflow' in sys.modules else 'NO-TF')\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         # without the server's background warm-up, which imports TensorFlow on purpose
                         env={**os.environ, "PLAYGROUND_WARM_UP": "0"}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "the class model · teacher book" in out.stdout
    assert out.stdout.strip().endswith("NO-TF")


def test_without_a_class_model_draw_says_how_long_a_cnn_takes_here(root, monkeypatch):
    monkeypatch.delenv(class_model.ENV_VAR)
    at = open_app(DRAW, query={"ws": "student4"})
    slots = training_queue().slots
    text = captions(at)
    assert "about a minute" not in text
    assert "No CNN run has finished on this server yet" in text
    for seconds, workspace in ((80.0, "anaws1"), (100.0, "benws2"), (130.0, "carws3")):
        run = add_run(root["root"], workspace, "CNN", accuracy=0.99)
        RunStore(workspace, root=root["root"]).update_metrics(run.run_id, train_seconds=seconds)
    st.cache_data.clear()  # the recent times are cached for RECENT_RUNS_TTL_S
    at = open_app(DRAW, query={"ws": "student4"})
    expected = (f"About 1 min 40 s on this server now (the median of the last 3 CNN runs here; "
                f"0 trainings running and 0 waiting for {slots} slot{'s' if slots != 1 else ''}).")
    assert expected in captions(at)


def test_the_teacher_makes_a_run_the_class_model(root, monkeypatch):
    monkeypatch.delenv(class_model.ENV_VAR)
    monkeypatch.setenv(passcode.ENV_VAR, "owl-Secret-42")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APPTEST_TIMEOUT)
    at.query_params["ws"] = "teacher1"
    at.run()
    at.switch_page("pages/class.py").run()
    at.text_input(key="class_passcode").input("owl-Secret-42").run()
    assert not at.exception
    buttons = [b for b in at.button if b.label == "Make this the class model"]
    assert len(buttons) == 2  # one per finished run with a model
    # Best first: the teacher's run (0.5) before the student's (0.4).
    buttons[0].click().run()
    assert not at.exception
    assert any("is now the class model" in s.value for s in at.success)
    assert class_model.resolve(root["root"]).ref.run_id == root["shared"]
    assert any(b.label == "The class model" and b.disabled for b in at.button)
    assert TEACHER_WS not in " ".join(m.value for m in at.markdown)

    student = open_app(DRAW, query={"ws": "student5"})
    assert "Model: **the class model · teacher book**" in captions(student)
    at.button(key="class_unshare").click().run()
    assert not class_model.choice_path(root["root"]).exists()
