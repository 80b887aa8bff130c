"""core.fastfit: model.fit's updates in chunks, real callbacks, stop, NaN, validation, threads."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from core import fastfit

N, FEATURES, CLASSES = 250, 12, 4


def tiny_data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)
    return x, np.eye(CLASSES, dtype=np.float32)[labels]


def tiny_model(seed=0, optimizer="sgd", learning_rate=0.05, activation="tanh"):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((FEATURES,)), layers.Dense(8, activation=activation), layers.Dense(CLASSES, activation="softmax")]
    )
    opt = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}[optimizer](learning_rate=learning_rate)
    model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
    return model


def recorder_class():
    import keras

    class Recorder(keras.callbacks.Callback):
        """Records every hook call, and can stop training at a given step."""

        def __init__(self, stop_at=None):
            super().__init__()
            self.events = []
            self.stop_at = stop_at

        def on_train_begin(self, logs=None):
            self.events.append(("train_begin",))

        def on_epoch_begin(self, epoch, logs=None):
            self.events.append(("epoch_begin", epoch))

        def on_train_batch_begin(self, batch, logs=None):
            self.events.append(("batch_begin", batch))

        def on_train_batch_end(self, batch, logs=None):
            self.events.append(("batch_end", batch, dict(logs)))
            if self.stop_at is not None and batch >= self.stop_at:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.events.append(("epoch_end", epoch, dict(logs)))

        def on_train_end(self, logs=None):
            self.events.append(("train_end",))

        def batch_ends(self):
            return [e for e in self.events if e[0] == "batch_end"]

    return Recorder


def test_callbacks_in_keras_order_with_every_step():
    Recorder = recorder_class()
    x, y = tiny_data()
    model = tiny_model()
    rec = Recorder()
    history = fastfit.fit(model, x, y, batch_size=32, epochs=2, callbacks=[rec], steps_per_chunk=3)
    steps = math.ceil(N / 32)  # 8: seven full batches and one of 26
    kinds = [e[0] for e in rec.events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    assert kinds.count("epoch_begin") == kinds.count("epoch_end") == 2
    for epoch in range(2):
        begin = rec.events.index(("epoch_begin", epoch))
        end = next(i for i, e in enumerate(rec.events) if e[:2] == ("epoch_end", epoch))
        inside = rec.events[begin + 1 : end]
        assert [e[1] for e in inside if e[0] == "batch_end"] == list(range(steps))
        # chunks of 3 full batches, then the partial batch alone
        assert [e[1] for e in inside if e[0] == "batch_begin"] == [0, 3, 6, 7]
    logs = rec.batch_ends()[-1][2]
    assert set(logs) >= {"loss", "accuracy", "batch_loss", "batch_accuracy"}
    assert all(math.isfinite(v) for v in logs.values())
    assert history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2 and len(history.history["accuracy"]) == 2
    assert model.history is history
    assert history.params["steps"] == steps and history.params["epochs"] == 2


def test_batch_logs_are_what_kerass_callback_list_would_hand_over():
    """Plain floats under sorted keys: what CallbackList's per-step pythonify_logs makes of them."""
    Recorder = recorder_class()
    x, y = tiny_data()
    rec = Recorder()
    fastfit.fit(tiny_model(), x, y, batch_size=50, epochs=1, callbacks=[rec])
    for _, _, logs in rec.batch_ends():
        assert list(logs) == sorted(logs)
        assert all(type(value) is float for value in logs.values())


def test_batch_logs_are_running_means_and_epoch_logs_their_last_value():
    Recorder = recorder_class()
    x, y = tiny_data()
    rec = Recorder()
    fastfit.fit(tiny_model(), x, y, batch_size=50, epochs=1, callbacks=[rec])
    ends = rec.batch_ends()
    assert len(ends) == 5
    batch_losses = np.array([e[2]["batch_loss"] for e in ends])
    np.testing.assert_allclose([e[2]["loss"] for e in ends], np.cumsum(batch_losses) / np.arange(1, 6), rtol=1e-6)
    epoch_logs = rec.events[-2][2]
    assert epoch_logs["loss"] == pytest.approx(ends[-1][2]["loss"])
    assert epoch_logs["accuracy"] == pytest.approx(ends[-1][2]["accuracy"])


def test_same_weights_and_history_as_model_fit():
    """Same init, same batches in the same order, same optimizer: the same training."""
    x, y = tiny_data()
    reference = tiny_model(seed=3, optimizer="adam", learning_rate=0.01)
    expected = reference.fit(x, y, batch_size=32, epochs=3, verbose=0, validation_split=0.2)
    model = tiny_model(seed=3, optimizer="adam", learning_rate=0.01)
    history = fastfit.fit(model, x, y, batch_size=32, epochs=3, validation_split=0.2, seed=3)
    for a, b in zip(reference.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history.history[key], expected.history[key], rtol=1e-4, atol=1e-6)


def test_keras_order_is_the_order_model_fit_visits():
    """Guards the reproducibility promise against Keras upgrades (see core/fastfit.py)."""
    import keras
    import tensorflow as tf

    seen = []

    class Spy(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            x, _ = data
            seen.append(x.numpy()[:, 0].astype(int))
            return {"seen": tf.constant(0.0)}

    n, seed = 103, 5
    keras.utils.set_random_seed(seed)
    spy = Spy()
    spy.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    ids = np.arange(n, dtype=np.float32)[:, None]
    spy.fit(ids, ids, batch_size=10, epochs=2, verbose=0)
    order = fastfit.keras_order(n, seed)
    assert sorted(order.tolist()) == list(range(n))
    np.testing.assert_array_equal(np.concatenate(seen), np.concatenate([order, order]))


def test_stop_training_mid_epoch_acts_within_one_chunk():
    Recorder = recorder_class()
    x, y = tiny_data(n=1000)
    rec = Recorder(stop_at=5)
    history = fastfit.fit(tiny_model(), x, y, batch_size=10, epochs=3, callbacks=[rec], steps_per_chunk=4)
    ends = [e[1] for e in rec.batch_ends()]
    assert ends == list(range(8))  # the chunk holding step 5 (steps 4..7) finishes, nothing after
    kinds = [e[0] for e in rec.events]
    assert kinds.count("epoch_end") == 1 and kinds[-1] == "train_end"
    assert history.epoch == [0]


def test_stop_training_set_from_another_thread_acts_after_the_current_chunk():
    # The page's Stop button sets the flag from another thread; here that thread runs
    # (and is waited for) inside the first batch end, so the moment is known.
    x, y = tiny_data(n=2000)

    class StopFromAThread(recorder_class()):
        def on_train_batch_end(self, batch, logs=None):
            super().on_train_batch_end(batch, logs)
            if batch == 0:
                thread = threading.Thread(target=setattr, args=(self.model, "stop_training", True))
                thread.start()
                thread.join()

    rec = StopFromAThread()
    history = fastfit.fit(tiny_model(), x, y, batch_size=10, epochs=5, callbacks=[rec], steps_per_chunk=2)
    assert [e[1] for e in rec.batch_ends()] == [0, 1]  # the rest of the first chunk, nothing after
    kinds = [e[0] for e in rec.events]
    assert kinds.count("epoch_end") == 1 and kinds[-1] == "train_end"
    assert history.epoch == [0]


def test_nan_loss_is_reported_and_terminate_on_nan_stops():
    import keras

    Recorder = recorder_class()
    x, y = tiny_data(n=2000)
    rec = Recorder()
    model = tiny_model(learning_rate=10.0, activation="relu")  # SGD at lr 10 blows up
    fastfit.fit(
        model, x, y, batch_size=10, epochs=3, callbacks=[rec, keras.callbacks.TerminateOnNaN()],
        steps_per_chunk=5,
    )
    losses = [e[2]["batch_loss"] for e in rec.batch_ends()]
    assert not math.isfinite(losses[-1])
    assert not math.isfinite(rec.batch_ends()[-1][2]["loss"])  # the running mean too (what callbacks check)
    assert len(losses) < 200  # stopped long before 3 epochs of 200 steps
    first_bad = next(i for i, v in enumerate(losses) if not math.isfinite(v))
    assert len(losses) <= (first_bad // 5 + 1) * 5  # within the chunk where it happened


def test_validation_split_logs_match_evaluate_on_the_last_fraction():
    Recorder = recorder_class()
    x, y = tiny_data(n=300)
    rec = Recorder()
    model = tiny_model()
    history = fastfit.fit(model, x, y, batch_size=16, epochs=2, validation_split=0.2, callbacks=[rec])
    # 240 training samples -> 15 steps; the last 60 samples are validation
    assert [e[1] for e in rec.batch_ends()][-1] == 14
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    val_loss, val_accuracy = model.evaluate(x[240:], y[240:], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(val_accuracy, abs=1e-6)


@pytest.mark.parametrize("n, split", [(999, 0.05), (1234, 0.01), (60_000, 0.2), (2000, 0.1), (300, 0.2)])
def test_train_count_is_keras_own_split(n, split):
    # core.training sizes the live progress with train_count: it must be the split fit()
    # makes, which is Keras' (a hand-made n - int(n * split) is one more for n=999, 0.05).
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    (train,), (validation,) = train_validation_split((np.zeros(n),), validation_split=split)
    assert fastfit.train_count(n, split) == len(train) and len(train) + len(validation) == n
    assert fastfit.train_count(n, 0.0) == n


def test_train_count_refuses_a_split_that_leaves_nothing():
    with pytest.raises(ValueError, match="too few to split"):
        fastfit.train_count(1, 0.2)


def test_two_trainings_at_once_in_two_threads_match_one_at_a_time():
    x, y = tiny_data(n=1200)
    models = [tiny_model(seed=s) for s in (0, 1)]
    alone = [tiny_model(seed=s) for s in (0, 1)]
    for model, seed in zip(alone, (0, 1)):
        fastfit.fit(model, x, y, batch_size=10, epochs=2, seed=seed, steps_per_chunk=7)
    errors = []

    def train(model, seed):
        try:
            fastfit.fit(model, x, y, batch_size=10, epochs=2, seed=seed, steps_per_chunk=7)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=train, args=(m, s)) for m, s in zip(models, (0, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for together, one in zip(models, alone):
        for a, b in zip(together.get_weights(), one.get_weights()):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"validation_split": 1.0}, "validation_split must be in"),
        ({"steps_per_chunk": 0}, "steps_per_chunk must be a positive integer"),
    ],
)
def test_bad_arguments_raise_value_errors(kwargs, message):
    x, y = tiny_data()
    options = {"batch_size": 10, "epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        fastfit.fit(tiny_model(), x, y, **options)


def test_bad_shapes_and_uncompiled_model():
    import keras

    x, y = tiny_data()
    with pytest.raises(ValueError, match="one-hot"):
        fastfit.fit(tiny_model(), x, y.argmax(1), batch_size=10, epochs=1)
    with pytest.raises(ValueError, match="differ in length"):
        fastfit.fit(tiny_model(), x, y[:-1], batch_size=10, epochs=1)
    bare = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(CLASSES, activation="softmax")])
    with pytest.raises(ValueError, match="must be compiled"):
        fastfit.fit(bare, x, y, batch_size=10, epochs=1)
