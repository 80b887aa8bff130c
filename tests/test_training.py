"""LiveHistory (a real Keras callback), the training queue, TrainingJob and its snapshots."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from core import fastfit
from core.runs import RunStore
from core.queue import TrainingQueue, live_jobs
from core.training import HistorySnapshot, JobSnapshot, TrainingJob, _format_duration

FEATURES, CLASSES = 20, 3


def tiny_model(*, learning_rate=0.1, activation="relu", seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Dense(16, activation=activation),
        keras.layers.Dense(CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def random_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, FEATURES), dtype=np.float32)
    y = np.eye(CLASSES, dtype=np.float32)[rng.integers(0, CLASSES, n)]
    return x, y


def live_history(**kwargs):
    from core.callbacks import LiveHistory

    return LiveHistory(**kwargs)


class StopAfter:
    """Sets an Event once ``n`` batches have ended (the page's Stop button, from a callback)."""

    def __new__(cls, n, event):
        import keras

        class _StopAfter(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seen = 0

            def on_train_batch_end(self, batch, logs=None):
                self.seen += 1
                if self.seen == n:
                    event.set()

        return _StopAfter()


# -- LiveHistory -------------------------------------------------------------------
@pytest.mark.slow  # a fresh interpreter
def test_importing_training_does_not_import_keras():
    code = ("import sys, core.training, core.queue, core.runs, core.downloads, core.liveness; "
            "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_live_history_matches_keras_history_under_model_fit():
    model = tiny_model()
    x, y = random_data()
    live = live_history()
    keras_history = model.fit(x, y, batch_size=50, epochs=3, verbose=0, shuffle=False, callbacks=[live])
    assert live.epoch == keras_history.epoch == [0, 1, 2]
    assert set(live.history) == set(keras_history.history) == {"loss", "accuracy"}
    for key, values in keras_history.history.items():
        np.testing.assert_allclose(live.history[key], values, rtol=1e-6)
    snap = live.snapshot()
    assert snap.steps_per_epoch == 12 and snap.total_epochs == 3
    assert snap.batch_steps == tuple(range(1, 37))  # one record per batch, global step numbers
    assert (snap.epoch, snap.step, snap.fraction) == (3, 12, 1.0)
    # Keras' batch logs are running means within the epoch: the last one is the epoch's value.
    assert snap.batch_logs["loss"][11] == pytest.approx(keras_history.history["loss"][0], rel=1e-5)


def test_live_history_under_fastfit_records_every_batch_and_validation():
    model = tiny_model()
    x, y = random_data()
    live = live_history()
    fastfit.fit(model, x, y, batch_size=32, epochs=2, validation_split=0.2, callbacks=[live])
    snap = live.snapshot()
    steps = int(np.ceil(480 / 32))
    assert snap.steps_per_epoch == steps and len(snap.batch_steps) == 2 * steps
    assert {"loss", "accuracy", "batch_loss", "batch_accuracy"} <= set(snap.batch_logs)
    assert set(snap.epoch_logs) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(snap.epoch_logs["val_accuracy"]) == 2
    assert snap.seconds_per_step > 0 and snap.eta_seconds == 0
    # A snapshot is a copy: the page may keep it while training goes on.
    snap.batch_logs["loss"].clear()
    assert len(live.snapshot().batch_logs["loss"]) == 2 * steps


def test_stop_event_stops_at_the_next_batch_and_keeps_full_epochs_only():
    model = tiny_model()
    x, y = random_data()
    stop = threading.Event()
    live = live_history(stop_event=stop)
    # Plain model.fit checks stop_training after every batch.
    model.fit(x, y, batch_size=50, epochs=10, verbose=0, callbacks=[StopAfter(30, stop), live])
    assert live.stopped and model.stop_training
    snap = live.snapshot()
    assert snap.batch_steps[-1] == 30  # 2 full epochs of 12 steps, then 6 steps of epoch 3
    assert live.epoch == [0, 1] and len(live.history["loss"]) == 2
    assert (snap.epoch, snap.step) == (3, 6)


def test_stop_under_fastfit_acts_after_the_current_chunk():
    model = tiny_model()
    x, y = random_data()
    stop = threading.Event()
    live = live_history(stop_event=stop)
    fastfit.fit(model, x, y, batch_size=10, epochs=20, steps_per_chunk=5, callbacks=[StopAfter(7, stop), live])
    assert live.stopped
    assert live.snapshot().batch_steps[-1] == 10  # the chunk holding step 7 ends at step 10
    assert live.epoch == []


def test_a_nan_or_exploding_loss_stops_training_as_diverged():
    model = tiny_model(learning_rate=1e38, activation="tanh")
    x, y = random_data()
    live = live_history()
    fastfit.fit(model, x, y, batch_size=10, epochs=5, steps_per_chunk=4, callbacks=[live])
    assert live.diverged and not live.stopped
    epoch, step = live.diverged_at
    assert epoch == 1 and 1 <= step <= 4  # the first non-finite batch, in the first chunk
    from core.callbacks import DIVERGED_LOSS

    # The first batch past the line: NaN, or a loss that exploded above it.
    assert not (live.batch_history["loss"][step - 1] <= DIVERGED_LOSS)
    assert live.diverged_loss == live.batch_history["loss"][step - 1] or np.isnan(live.diverged_loss)
    assert len(live.batch_steps) == 4  # stopped after that chunk
    assert live.epoch == [] and live.history == {}


def test_batch_records_are_thinned_beyond_the_cap():
    model = tiny_model()
    x, y = random_data()
    live = live_history(max_batch_points=10)
    fastfit.fit(model, x, y, batch_size=10, epochs=2, callbacks=[live])  # 120 batches
    snap = live.snapshot()
    assert 5 <= len(snap.batch_steps) <= 10
    assert list(snap.batch_steps) == sorted(snap.batch_steps) and snap.batch_steps[0] == 1
    assert len(snap.batch_logs["loss"]) == len(snap.batch_steps)
    assert len(live.epoch) == 2  # per-epoch logs are never thinned


def test_snapshots_from_another_thread_are_consistent():
    model = tiny_model()
    x, y = random_data(2000)
    live = live_history()
    seen, done = [], threading.Event()

    def reader():
        while not done.is_set():
            snap = live.snapshot()
            seen.append((len(snap.batch_steps), len(snap.batch_logs.get("loss", [])), len(snap.epochs)))
            time.sleep(0.001)

    thread = threading.Thread(target=reader)
    thread.start()
    fastfit.fit(model, x, y, batch_size=10, epochs=3, callbacks=[live])
    done.set()
    thread.join()
    assert seen and all(steps == losses for steps, losses, _ in seen if losses)
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)


# -- the queue -----------------------------------------------------------------------
def test_queue_is_first_come_first_served_and_reports_places():
    queue = TrainingQueue(1)
    a, b, c = "a", "b", "c"
    never = threading.Event()
    assert queue.acquire(a, cancel=never)
    got = {}
    cancel_c = threading.Event()
    tb = threading.Thread(target=lambda: got.setdefault("b", queue.acquire(b, cancel=never)))
    tb.start()
    _wait_for(lambda: queue.place(b) == 1)
    tc = threading.Thread(target=lambda: got.setdefault("c", queue.acquire(c, cancel=cancel_c)))
    tc.start()
    _wait_for(lambda: queue.place(c) == 2)
    assert queue.place(a) is None
    cancel_c.set()
    tc.join(5)
    assert got["c"] is False and queue.place(c) is None
    queue.release()
    tb.join(5)
    assert got["b"] is True and queue.place(b) is None
    queue.release()
    with pytest.raises(ValueError):
        queue.release()  # bounded: more releases than slots is a bug
    with pytest.raises(ValueError, match="slots"):
        TrainingQueue(0)


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


# -- TrainingJob -----------------------------------------------------------------------
def book(**changes):
    from core.model import PRESETS

    return dataclasses.replace(PRESETS["Book"], **changes)


def random_digits(n_train=1200, n_test=300, seed=0):
    """A Dataset-shaped object of random uint8 images (the mechanics, not the accuracy)."""
    rng = np.random.default_rng(seed)
    return SimpleNamespace(
        name="mnist",
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, n_train).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, n_test).astype(np.uint8),
    )


@pytest.fixture
def store(tmp_path):
    return RunStore("tests", root=tmp_path)


def test_a_job_trains_evaluates_and_saves_the_run(store, mnist):
    job = TrainingJob(book(epochs=2, learning_rate=0.5), mnist, store=store, name="book", limit=3000, queue=TrainingQueue(1))
    assert job.status == "queued" and store.get(job.run_id).status == "queued"
    job.start()
    assert job.join(120), "training did not end"
    snap = job.snapshot()
    assert snap.status == "finished", snap.error
    assert snap.epochs_done == 2 and snap.history.fraction == 1.0
    assert 0.5 < snap.test_accuracy <= 1.0 and snap.test_loss > 0  # far above chance (0.1)
    info = store.get(job.run_id)
    assert (info.status, info.epochs_done, info.name) == ("finished", 2, "book")
    assert info.test_accuracy == pytest.approx(snap.test_accuracy)
    assert info.train_seconds > 0 and info.has_model
    history = store.history(job.run_id)
    assert history["epochs"] == [0, 1] and len(history["epoch"]["loss"]) == 2
    assert len(history["batch_steps"]) == 2 * 30  # 3000 images / batch 100
    config = json.loads((info.path / "config.json").read_text())
    assert config["train_limit"] == 3000 and config["model"]["epochs"] == 2
    model = store.load_model(job.run_id)
    x = (mnist.x_test[:3000].reshape(-1, 784) / 255.0).astype(np.float32)
    accuracy = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == mnist.y_test[:3000]))
    assert accuracy == pytest.approx(snap.test_accuracy, abs=1e-6)  # the saved model is the evaluated one
    assert live_jobs("tests") == []


def test_stop_keeps_the_weights_and_still_evaluates(store):
    job = TrainingJob(book(epochs=50, batch_size=10), random_digits(), store=store, queue=TrainingQueue(1)).start()
    _wait_for(lambda: job.snapshot().history.epochs)  # at least one full epoch
    job.stop()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "stopped", snap.error
    assert 1 <= snap.epochs_done < 50
    assert snap.message.startswith(f"Stopped after {snap.epochs_done} epoch")
    assert snap.test_accuracy is not None
    info = store.get(job.run_id)
    assert info.status == "stopped" and info.has_model
    assert info.status_text == f"stopped after {snap.epochs_done} epoch" + ("s" if snap.epochs_done > 1 else "")


def test_second_job_waits_in_the_queue_and_reports_its_place(store):
    queue = TrainingQueue(1)
    first = TrainingJob(book(epochs=50, batch_size=10), random_digits(), store=store, queue=queue).start()
    second = TrainingJob(book(epochs=1), random_digits(), store=store, queue=queue).start()
    _wait_for(lambda: first.status == "running")
    _wait_for(lambda: second.snapshot().queue_place == 1)
    snap = second.snapshot()
    assert snap.status == "queued" and "place 1 in the queue" in snap.progress_line
    assert {job.run_id for job in live_jobs("tests")} == {first.run_id, second.run_id}
    first.stop()
    assert first.join(60) and second.join(60)
    assert first.status == "stopped" and second.status == "finished", second.error
    assert second.snapshot().queue_place is None


def test_stopping_a_queued_job_leaves_the_queue(store):
    queue = TrainingQueue(1)
    first = TrainingJob(book(epochs=50, batch_size=10), random_digits(), store=store, queue=queue).start()
    second = TrainingJob(book(epochs=1), random_digits(), store=store, queue=queue).start()
    _wait_for(lambda: second.snapshot().queue_place == 1)
    second.stop()
    assert second.join(10)
    assert second.status == "stopped" and second.snapshot().epochs_done == 0
    assert store.get(second.run_id).status_text == "stopped after 0 epochs"
    first.stop()
    assert first.join(60)


def test_a_huge_learning_rate_diverges_with_a_plain_explanation(store):
    config = book(epochs=3, learning_rate=1e38, batch_size=10)
    job = TrainingJob(config, random_digits(), store=store, queue=TrainingQueue(1)).start()
    assert job.join(60)
    snap = job.snapshot()
    assert snap.status == "diverged", snap.error
    assert ("NaN" in snap.message or "exploded" in snap.message)
    assert "lower the learning rate" in snap.hint.lower()
    info = store.get(job.run_id)
    assert info.status == "diverged" and info.hint == snap.hint and info.test_accuracy is None


def test_sgd_at_learning_rate_10_explodes_and_is_stopped_as_diverged(store, mnist):
    # The example. Keras 3 takes the cross-entropy from the logits, so the
    # loss rarely reaches NaN: it explodes to tens or hundreds, far above a blind
    # guess (ln 10 = 2.3), and that is stopped as divergence too.
    from core.model import PRESETS

    config = PRESETS["Book"].replace(hidden=((64, "relu"),), learning_rate=10.0, epochs=2)
    job = TrainingJob(config, mnist, store=store, queue=TrainingQueue(1), limit=6000).start()
    assert job.join(120)
    snap = job.snapshot()
    assert snap.status == "diverged", (snap.status, snap.error)
    assert "exploded" in snap.message or "NaN" in snap.message
    assert "lower the learning rate" in snap.hint.lower()
    assert store.get(job.run_id).status == "diverged"


def test_an_error_is_recorded_not_raised(store):
    bad = random_digits()
    bad.y_train = np.full(len(bad.y_train), 12, dtype=np.uint8)  # labels out of 0..9
    job = TrainingJob(book(epochs=1), bad, store=store, queue=TrainingQueue(1)).start()
    assert job.join(60)
    assert job.status == "failed" and "labels must be in 0..9" in job.error
    info = store.get(job.run_id)
    assert info.status == "failed" and "ValueError" in info.message


def test_job_arguments_are_validated(store):
    with pytest.raises(ValueError, match="ModelConfig"):
        TrainingJob({"epochs": 1}, random_digits(), store=store)
    with pytest.raises(ValueError, match="limit"):
        TrainingJob(book(), random_digits(), store=store, limit=0)


def test_a_job_that_cannot_be_built_leaves_no_run(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "core.callbacks", None)  # importing it fails, as without Keras
    with pytest.raises(ImportError):
        TrainingJob(book(), random_digits(), store=store, queue=TrainingQueue(1))
    listing = store.list_runs()
    assert len(listing) == 0 and listing.warnings == ()  # no run stuck as "queued"


def test_a_split_that_leaves_no_training_data_is_refused_before_the_run_exists(store):
    with pytest.raises(ValueError, match="too few to split"):
        TrainingJob(book(validation_split=0.2), random_digits(), store=store, limit=1, queue=TrainingQueue(1))
    assert len(store.list_runs()) == 0


def test_a_thread_that_cannot_start_fails_the_run_instead_of_leaving_it_queued(store, monkeypatch):
    job = TrainingJob(book(), random_digits(), store=store, queue=TrainingQueue(1))

    def no_threads():
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(job._thread, "start", no_threads)
    assert job.start() is job
    assert job.status == "failed" and job.done and "can't start new thread" in job.error
    info = store.get(job.run_id)
    assert info.status == "failed" and not info.is_active
    assert live_jobs("tests") == []
    store.delete(job.run_id)  # not stuck: it can be deleted


def test_live_progress_counts_the_steps_fit_will_take(store):
    # 999 images, 5% for validation: Keras trains on floor(999 * 0.95) = 949 (not 950).
    job = TrainingJob(book(batch_size=1, validation_split=0.05), random_digits(n_train=999), store=store,
                      queue=TrainingQueue(1))
    assert job.snapshot().history.steps_per_epoch == fastfit.train_count(999, 0.05) == 949


def test_a_job_is_done_once_it_has_ended_and_not_while_it_waits(store):
    queue = TrainingQueue(1)
    never = threading.Event()
    assert queue.acquire("another training", cancel=never)  # the only slot is taken
    job = TrainingJob(book(), random_digits(), store=store, queue=queue)
    assert job.status == "queued" and not job.done
    job.start()
    _wait_for(lambda: job.snapshot().queue_place == 1)
    snap = job.snapshot()
    assert not job.done and not snap.done
    assert "ETA" not in snap.progress_line  # still waiting: its place, not a time
    job.stop()
    assert job.join(10)
    assert job.status == "stopped" and job.done and job.snapshot().done
    assert live_jobs("tests") == []
    queue.release()


# -- what the live view prints ------------------------------------------------------------
def history_at(**fields):
    defaults = dict(epoch=2, total_epochs=5, step=300, steps_per_epoch=600, seconds_per_step=0.001,
                    batch_logs={"loss": [0.9, 0.7021], "accuracy": [0.7, 0.8123]})
    return HistorySnapshot(**{**defaults, **fields})


def job_at(status="running", **fields):
    return JobSnapshot(run_id="x", status=status, history=history_at(**fields))


def test_keras_progress_is_what_model_fit_verbose_1_prints():
    # Keras' Progbar: "step/steps bar ETA per-step - metric: value ...", bar 20 characters.
    assert job_at().keras_progress == (
        "Epoch 2/5\n300/600 ━━━━━━━━━━────────── 0s 1ms/step - accuracy: 0.8123 - loss: 0.7021"
    )
    # Steps are right-aligned to the width of the total; below 1 ms the unit is us.
    assert job_at(step=5, seconds_per_step=0.0005).keras_progress.splitlines()[1] == (
        "  5/600 ──────────────────── 0s 500us/step - accuracy: 0.8123 - loss: 0.7021"
    )
    # At the end of an epoch Keras shows the epoch's duration: 600 steps of 10 ms.
    assert job_at(step=600, seconds_per_step=0.01).keras_progress.splitlines()[1] == (
        "600/600 ━━━━━━━━━━━━━━━━━━━━ 6s 10ms/step - accuracy: 0.8123 - loss: 0.7021"
    )
    assert job_at(epoch=0, step=0).keras_progress == ""  # nothing before the first epoch
    assert job_at(seconds_per_step=None, batch_logs={}).keras_progress == "Epoch 2/5\n300/600 ━━━━━━━━━━──────────"


def test_progress_line_shows_the_eta_only_while_training():
    running = job_at(eta_seconds=75)
    assert running.progress_line == "Epoch 2/5 · step 300/600 · 1ms/step · ETA 1m 15s · loss: 0.7021 · accuracy: 0.8123"
    assert "ETA" not in job_at(status="finished", eta_seconds=75).progress_line


@pytest.mark.parametrize("seconds, text", [
    (None, "?"), (float("nan"), "?"), (float("inf"), "?"), (-3, "0s"), (0, "0s"), (42.4, "42s"),
    (61, "1m 01s"), (3599, "59m 59s"), (3600, "1h 00m"), (7325, "2h 02m"),
])
def test_durations_in_words(seconds, text):
    assert _format_duration(seconds) == text


def test_run_names_in_the_comparison_chart_are_plain_text():
    from core.charts.training import compare_runs_figure

    evil = '<a href="http://example.invalid">click</a> %{y}'
    fig = compare_runs_figure([(evil, [0, 1], {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]})])
    names = {trace.name for trace in fig.data}
    assert all("<a" not in n and "%{" not in n for n in names)
    assert any("&lt;a href" in n for n in names)
    assert all("http://example.invalid" not in (t.hovertemplate or "").split("<br>")[0] or "&lt;" in t.hovertemplate
               for t in fig.data)


def test_a_checkpoints_history_keeps_every_epoch_and_a_thinned_batch_curve_ending_on_the_last():
    from core.callbacks import checkpoint_history

    steps = list(range(1, 30_001))
    history = {"epochs": [0, 1], "epoch": {"loss": [2.0, 1.0]}, "batch_steps": steps,
               "batch": {"loss": [float(s) for s in steps]}, "steps_per_epoch": 600, "total_epochs": 50}
    thinned = checkpoint_history(history, max_points=2_000)
    assert len(thinned["batch_steps"]) <= 2_000 and thinned["batch_steps"][-1] == 30_000
    assert thinned["batch"]["loss"] == [float(s) for s in thinned["batch_steps"]]  # records stay paired
    assert thinned["epochs"] == [0, 1] and thinned["epoch"] == history["epoch"]
    assert len(history["batch_steps"]) == 30_000  # the live history is not touched
    short = {**history, "batch_steps": steps[:10], "batch": {"loss": [1.0] * 10}}
    assert checkpoint_history(short, max_points=2_000) is short
