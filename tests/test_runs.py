"""RunStore: folders, atomic writes, listing, recovery of interrupted runs, editing."""

from __future__ import annotations

import json
import math
import os
import re
import time

import pytest

from core import downloads, liveness, runs
from core.runs import (
    CONFIG_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    RunStore,
    atomic_write_json,
    new_run_id,
    new_workspace_id,
    validate_run_id,
    validate_workspace,
)
from helpers import dead_writer

MODEL_CONFIG = {"name": "Book", "hidden": [{"units": 10, "activation": "sigmoid"}], "optimizer": "sgd", "epochs": 5}


@pytest.fixture
def store(tmp_path):
    return RunStore("ws1", root=tmp_path)


def make_run(store, name=None, epochs=5):
    return store.create(MODEL_CONFIG, dataset="mnist", seed=0, epochs_planned=epochs, name=name)


# -- ids -------------------------------------------------------------------------
# Upper case is refused: on a case-insensitive disk (macOS) "ABC" and "abc" would share a folder.
@pytest.mark.parametrize("bad", ["", "a/b", "../x", "a b", "é", "x" * 41, None, 12, "ws.1", "Abc123", "ABC"])
def test_bad_workspace_ids_are_refused_before_touching_a_path(tmp_path, bad):
    with pytest.raises(ValueError, match="letters and digits"):
        RunStore(bad, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_good_workspace_ids():
    assert validate_workspace("abc123") == "abc123"
    assert validate_workspace("x" * 40) == "x" * 40
    fresh = new_workspace_id()
    assert validate_workspace(fresh) == fresh and fresh != new_workspace_id()
    for _ in range(50):
        assert re.fullmatch(r"[a-z0-9]{10}", new_workspace_id())


def test_run_ids_sort_by_time_and_are_unique():
    ids = [new_run_id(1_700_000_000.0 + i / 100) for i in range(50)]
    assert ids == sorted(ids)
    assert len({new_run_id(1_700_000_000.0) for _ in range(100)}) == 100
    for run_id in ids:
        assert validate_run_id(run_id) == run_id


@pytest.mark.parametrize("bad", ["..", "../ws2/20250101-000000-000-abcdef", "x", "20250101-000000-000-ABCDEF"])
def test_bad_run_ids_are_refused(store, bad):
    with pytest.raises(ValueError, match="not a run id"):
        store.run_path(bad)


# -- writing and reading -----------------------------------------------------------
def test_create_writes_config_and_queued_metrics(store):
    run = make_run(store, name="first")
    folder = store.folder / run.run_id
    config = json.loads((folder / CONFIG_FILE).read_text())
    metrics = json.loads((folder / METRICS_FILE).read_text())
    assert config["model"] == MODEL_CONFIG and config["dataset"] == "mnist" and config["seed"] == 0
    assert config["name"] == "first"
    assert metrics["status"] == "queued" and metrics["epochs_planned"] == 5
    assert run.status == "queued" and run.status_text == "queued" and not run.has_model


def test_a_refused_name_leaves_no_run_folder(store):
    with pytest.raises(ValueError, match="run name"):
        make_run(store, name="   ")
    assert not store.folder.exists() or list(store.folder.iterdir()) == []


def test_a_failed_create_leaves_no_half_made_run(store, monkeypatch):
    real_write = runs.atomic_write_json

    def failing_metrics(path, payload):
        if path.name == METRICS_FILE:
            raise OSError("disk full")
        real_write(path, payload)

    monkeypatch.setattr(runs, "atomic_write_json", failing_metrics)
    with pytest.raises(OSError, match="disk full"):
        make_run(store)
    listing = store.list_runs()
    assert len(listing) == 0 and listing.warnings == ()  # no folder that lists as broken


def test_usable_runs_have_a_model_and_no_longer_train(store):
    import keras

    run = make_run(store)
    assert not run.is_usable  # queued, no model
    store.update_metrics(run.run_id, status="stopped")
    assert not store.get(run.run_id).is_usable  # stopped while queued: still no model
    store.save_model(run.run_id, keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]))
    assert store.get(run.run_id).is_usable
    store.update_metrics(run.run_id, status="running")
    assert not store.get(run.run_id).is_usable  # a checkpoint of a run still training


def test_metrics_update_merges_and_final_status_reads_back(store):
    run = make_run(store)
    store.update_metrics(run.run_id, status="running", epochs_done=2)
    store.update_metrics(run.run_id, status="finished", epochs_done=5, test_loss=0.35, test_accuracy=0.9018,
                         train_seconds=3.5)
    info = store.get(run.run_id)
    assert (info.status, info.epochs_done, info.test_accuracy, info.train_seconds) == ("finished", 5, 0.9018, 3.5)
    assert info.status_text == "finished 5 epochs"
    assert "test accuracy 0.9018" in info.label


def test_non_finite_numbers_are_written_as_null(store):
    run = make_run(store)
    store.write_history(run.run_id, {"epochs": [0], "epoch": {"loss": [float("nan")]}, "batch": {}, "batch_steps": []})
    text = (store.folder / run.run_id / HISTORY_FILE).read_text()
    assert "NaN" not in text and json.loads(text)["epoch"]["loss"] == [None]


def test_a_long_history_is_written_compact_and_every_non_finite_number_as_null(store):
    run = make_run(store)
    losses = [0.5, float("inf"), float("-inf"), float("nan"), 0.25] * 4000  # 20,000 batch records
    store.write_history(run.run_id, {"epochs": [0, 1], "epoch": {"loss": [1.0, 0.5]},
                                     "batch": {"loss": losses, "step": list(range(len(losses)))}})
    text = (store.folder / run.run_id / HISTORY_FILE).read_text()
    assert "\n" not in text.strip()  # json's C encoder, not the indented pure-Python one
    written = json.loads(text)["batch"]
    assert written["loss"] == [None if not math.isfinite(v) else v for v in losses]
    assert written["step"] == list(range(len(losses)))


def test_writes_are_atomic_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_json(path, {"status": "running"})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(runs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_json(path, {"status": "finished"})
    assert json.loads(path.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left behind


def test_atomic_write_goes_through_a_temp_file_in_the_same_folder(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.basename(src), dst))
        real_replace(src, dst)

    monkeypatch.setattr(runs.os, "replace", spy)
    atomic_write_json(tmp_path / "config.json", {"a": 1})
    (folder, tmp_name, dst), = seen
    assert folder == str(tmp_path) and tmp_name != "config.json" and str(dst).endswith("config.json")


def test_listing_is_newest_first(store):
    ids = [make_run(store, name=f"run {i}").run_id for i in range(3)]
    listing = store.list_runs()
    assert [r.run_id for r in listing] == sorted(ids, reverse=True)
    assert [r.name for r in listing] == ["run 2", "run 1", "run 0"]
    assert listing.warnings == ()


def test_empty_workspace_lists_nothing(tmp_path):
    assert len(RunStore("nobody", root=tmp_path).list_runs()) == 0


def test_workspaces_do_not_see_each_other(tmp_path):
    make_run(RunStore("alice", root=tmp_path))
    assert len(RunStore("bob", root=tmp_path).list_runs()) == 0


def test_corrupt_files_are_skipped_with_a_warning(store):
    good = make_run(store, name="good")
    broken_json = make_run(store, name="broken")
    (store.folder / broken_json.run_id / METRICS_FILE).write_text("{not json")
    no_config = make_run(store)
    (store.folder / no_config.run_id / CONFIG_FILE).unlink()
    bad_status = make_run(store)
    store.update_metrics(bad_status.run_id, status="exploded")
    (store.folder / "notes.txt").write_text("not a run")  # ignored quietly

    listing = store.list_runs()
    assert [r.run_id for r in listing] == [good.run_id]
    assert len(listing.warnings) == 3
    text = " ".join(listing.warnings)
    assert broken_json.run_id in text and "metrics.json is unreadable" in text
    assert "config.json is missing" in text and "unknown status 'exploded'" in text


def test_a_run_whose_writer_is_gone_is_interrupted_with_its_checkpoint(store, tmp_path):
    import keras

    run = make_run(store, epochs=5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    store.save_model(run.run_id, model)
    store.update_metrics(run.run_id, status="running", epochs_done=2)
    # The process that was training it dies (say the server was restarted):
    path = store.folder / run.run_id / METRICS_FILE
    metrics = json.loads(path.read_text())
    metrics["writer"] = dead_writer()
    path.write_text(json.dumps(metrics))

    info = store.get(run.run_id)
    assert info.status == "interrupted" and info.status_text == "interrupted after epoch 2"
    assert info.has_model and not info.is_active
    restored = store.load_model(run.run_id)
    assert restored.count_params() == model.count_params()
    store.delete(run.run_id)  # an interrupted run can be deleted


def test_a_run_of_this_live_process_stays_running(store):
    run = make_run(store)
    store.update_metrics(run.run_id, status="running", epochs_done=1)
    info = store.get(run.run_id)
    assert info.status == "running" and info.is_active and info.status_text == "running (epoch 2/5)"
    with pytest.raises(ValueError, match="still training"):
        store.delete(run.run_id)


def test_rename(store):
    run = make_run(store, name="old")
    assert store.rename(run.run_id, "  my   best run ").name == "my best run"
    assert store.list_runs().runs[0].name == "my best run"
    for bad in ["", "   ", "x" * 81]:
        with pytest.raises(ValueError, match="run name"):
            store.rename(run.run_id, bad)
    with pytest.raises(KeyError):
        store.rename(new_run_id(), "ghost")


def test_delete_removes_the_folder(store):
    keep, gone = make_run(store), make_run(store)
    store.update_metrics(gone.run_id, status="finished")
    store.delete(gone.run_id)
    assert not (store.folder / gone.run_id).exists()
    assert [r.run_id for r in store.list_runs()] == [keep.run_id]


def test_history_as_csv(store):
    run = make_run(store)
    store.write_history(run.run_id, {
        "epochs": [0, 1],
        "epoch": {"loss": [0.9, 0.5], "accuracy": [0.7, 0.85], "val_loss": [1.0, None]},
        "batch_steps": [1, 2, 3],
        "batch": {"loss": [2.3, 2.1, 1.9]},
    })
    assert downloads.history_csv(store, run.run_id).splitlines() == [
        "epoch,loss,accuracy,val_loss",
        "1,0.9,0.7,1.0",
        "2,0.5,0.85,",
    ]
    assert downloads.history_csv(store, run.run_id, level="batch").splitlines() == ["step,loss", "1,2.3", "2,2.1", "3,1.9"]
    with pytest.raises(ValueError, match="level"):
        downloads.history_csv(store, run.run_id, level="minute")


def test_history_of_a_run_without_epochs_is_empty(store):
    run = make_run(store)
    assert store.history(run.run_id)["epoch"] == {}
    assert downloads.history_csv(store, run.run_id) == "epoch\n"


def test_model_bytes_and_missing_model(store):
    import keras

    run = make_run(store)
    with pytest.raises(FileNotFoundError, match="no saved model"):
        downloads.model_bytes(store, run.run_id)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    store.save_model(run.run_id, model)
    data = downloads.model_bytes(store, run.run_id)
    assert data[:2] == b"PK"  # a .keras file is a zip archive
    assert sorted(p.name for p in (store.folder / run.run_id).iterdir()) == [
        "config.json", "metrics.json", "model.keras",
    ]


def test_timestamps_and_repr(store):
    before = time.time()
    run = make_run(store)
    metrics = json.loads((store.folder / run.run_id / METRICS_FILE).read_text())
    assert metrics["updated_at"] >= before
    assert "ws1" in repr(store) and run.run_id in repr(run)


def test_script_of_a_run_is_the_keras_script_of_its_config(tmp_path):
    from core.export import keras_script
    from core.model import PRESETS

    store = RunStore("ws1", root=tmp_path)
    config = PRESETS["Book"].replace(epochs=3, batch_size=50)
    run = store.create(config.to_dict(), dataset="fashion_mnist", seed=config.seed, epochs_planned=3)
    assert downloads.script(store, run.run_id) == keras_script(config, dataset_name="fashion_mnist")
    assert run.preset == "Book" and run.config == config and run.config_problem == ""


def test_a_config_that_does_not_parse_lists_with_its_reason_and_has_no_script(store):
    odd = {**MODEL_CONFIG, "colour": "blue"}  # a key this version does not know
    run = store.create(odd, dataset="mnist", seed=0, epochs_planned=5, name="odd")
    info = store.get(run.run_id)
    assert info.config is None and info.preset == "?"
    assert "config.json" in info.config_problem and "colour" in info.config_problem
    assert [r.run_id for r in store.list_runs()] == [run.run_id]  # listed, not skipped
    with pytest.raises(ValueError, match="colour"):
        downloads.script(store, run.run_id)
