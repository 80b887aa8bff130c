"""core.class_model (the teacher's choice on disk, the setting, resolving and loading)
and core.wait_estimate (how long a CNN takes here now)."""

from __future__ import annotations

import numpy as np
import pytest

from core import class_model, wait_estimate
from core.runs import RunStore
from helpers import book_network, save_finished_run
from test_classroom import add_run


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.delenv(class_model.ENV_VAR, raising=False)
    return tmp_path / "runs"


def shared_run(root, workspace="teacherws"):
    return save_finished_run(book_network(), root=root, workspace=workspace, config={"preset": "Book"},
                             name="teacher's book", test_accuracy=0.9)


def test_no_choice_no_class_model(root):
    assert class_model.read_choice(root) is None
    assert class_model.resolve(root) is None


def test_the_teachers_choice_survives_on_disk(root):
    run_id = shared_run(root)
    resolved = class_model.write_choice("teacherws", run_id, root=root)
    assert resolved.info.name == "teacher's book" and resolved.model_path.name == "model.keras"
    again = class_model.resolve(root)  # a fresh read, as after a restart
    assert again.ref == class_model.ClassModelRef("teacherws", run_id) and again.ref.source == "teacher"
    assert again.is_run(RunStore("teacherws", root=root).get(run_id))
    class_model.clear_choice(root=root)
    assert class_model.resolve(root) is None


def test_the_setting_names_a_run_and_the_teacher_wins(root, monkeypatch):
    first, second = shared_run(root), shared_run(root, workspace="otherws")
    monkeypatch.setenv(class_model.ENV_VAR, f"teacherws/{first}")
    assert class_model.resolve(root).ref == class_model.ClassModelRef("teacherws", first, source="setting")
    class_model.write_choice("otherws", second, root=root)
    assert class_model.resolve(root).ref.run_id == second


@pytest.mark.parametrize("value", ["teacherws", "Teacher ws/20251126-001530-123-a1b2c3", "../x/y", "a/b/c"])
def test_a_bad_setting_is_a_problem_not_a_crash(root, monkeypatch, value):
    monkeypatch.setenv(class_model.ENV_VAR, value)
    with pytest.raises(class_model.ClassModelProblem, match=class_model.ENV_VAR):
        class_model.resolve(root)


def test_ids_are_validated_before_any_path(root):
    with pytest.raises(ValueError):
        class_model.write_choice("../etc", "20251126-001530-123-a1b2c3", root=root)
    with pytest.raises(ValueError):
        class_model.write_choice("teacherws", "../../passwd", root=root)
    assert not class_model.choice_path(root).exists()


def test_a_run_without_a_model_cannot_be_chosen(root):
    run = add_run(root, "teacherws", "CNN", accuracy=0.99)  # metrics only, no model.keras
    with pytest.raises(class_model.ClassModelProblem, match="no saved model"):
        class_model.write_choice("teacherws", run.run_id, root=root)
    assert not class_model.choice_path(root).exists()


def test_deleted_or_broken_runs_and_choices_say_why_without_naming_the_workspace(root):
    run_id = shared_run(root)
    class_model.write_choice("teacherws", run_id, root=root)
    RunStore("teacherws", root=root).delete(run_id)
    with pytest.raises(class_model.ClassModelProblem, match="no longer exists") as error:
        class_model.resolve(root)
    assert "teacherws" not in str(error.value)
    class_model.choice_path(root).write_text("{not json")
    with pytest.raises(class_model.ClassModelProblem, match="cannot be read"):
        class_model.resolve(root)


def test_a_corrupt_model_file_is_a_problem(root):
    run_id = shared_run(root)
    resolved = class_model.write_choice("teacherws", run_id, root=root)
    resolved.model_path.write_bytes(b"not a zip")
    with pytest.raises(class_model.ClassModelProblem, match="could not be loaded"):
        class_model.load_shared(resolved.model_path)
    with pytest.raises(class_model.ClassModelProblem, match="is corrupt"):  # known without Keras
        class_model.resolve(root)


def test_the_shared_model_is_read_only(root, digits):
    run_id = shared_run(root)
    resolved = class_model.write_choice("teacherws", run_id, root=root)
    model = class_model.load_shared(resolved.model_path)
    assert model.trainable_weights == [] and len(model.weights) == 4
    probs = class_model.shared_predictions(model, digits.x_test[:50])
    assert probs.shape == (50, 10) and not probs.flags.writeable
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


# -- how long a CNN takes here now ----------------------------------------------------------
def test_recent_seconds_are_the_newest_finished_cnn_runs_scaled_to_the_presets_epochs(tmp_path):
    root = tmp_path / "runs"
    runs = [add_run(root, "anaws1", "CNN", accuracy=0.99, epochs=2),  # 3.5 s for 2 epochs
            add_run(root, "benws2", "CNN", accuracy=0.99, epochs=4),
            add_run(root, "benws2", "Book", accuracy=0.9),
            add_run(root, "benws2", "CNN", status="stopped")]
    RunStore("benws2", root=root).update_metrics(runs[1].run_id, train_seconds=100.0)
    assert wait_estimate.scan_recent_seconds(root, epochs=4) == [100.0, 7.0]  # newest first
    assert wait_estimate.scan_recent_seconds(root, epochs=4, limit=1) == [100.0]
    assert wait_estimate.scan_recent_seconds(root, preset="Dense") == []


def test_the_estimate_counts_rounds_of_the_queue():
    idle = wait_estimate.estimate([90.0, 100.0, 200.0], running=0, waiting=0, slots=2)
    assert idle.seconds_per_training == 100.0 and idle.rounds_before == 0 and idle.seconds == 100.0
    assert idle.text() == ("About 1 min 40 s on this server now (the median of the last 3 CNN runs here; "
                           "0 trainings running and 0 waiting for 2 slots).")
    one_free = wait_estimate.estimate([100.0], running=1, waiting=0, slots=2)
    assert one_free.rounds_before == 0
    busy = wait_estimate.estimate([100.0], running=2, waiting=3, slots=2)
    assert busy.rounds_before == 2 and busy.seconds == 300.0  # 4 ahead of it on 2 slots
    assert busy.text().startswith("About 5 min on this server now: 1 min 40 s to train")
    assert "2 trainings running and 3 waiting for 2 slots" in busy.text()
    unknown = wait_estimate.estimate([], running=1, waiting=0, slots=1)
    assert unknown.seconds is None and "No CNN run has finished on this server yet" in unknown.text()
    with pytest.raises(ValueError, match="slots"):
        wait_estimate.estimate([1.0], running=0, waiting=0, slots=0)


@pytest.mark.parametrize("seconds, text", [(0.2, "1 s"), (40, "40 s"), (60, "1 min"), (95, "1 min 35 s"),
                                           (3900, "1 h 5 min")])
def test_duration(seconds, text):
    assert wait_estimate.duration(seconds) == text
