"""Cheap trainings: pooled models (traced once), weights-only checkpoints, fastfit.evaluate.

Each is checked against the plain way: a pooled model trains to the very weights a
freshly built one does; fastfit.evaluate gives model.evaluate's numbers; a run's
checkpoint loads into the network its config.json describes.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.model import PRESETS, build_model
from core.model_pool import ModelPool, model_pool
from core.preprocess import IMAGE_SHAPE, model_input, one_hot
from core.runs import CHECKPOINT_FILE, FINISHED, MODEL_FILE, RunStore

LIMIT = 1500


def weights_of(model) -> list[np.ndarray]:
    return [w.copy() for w in model.get_weights()]


def test_a_pooled_model_starts_as_a_fresh_one_for_any_seed():
    pool = ModelPool()
    config = PRESETS["Book"]
    first = pool.take(config, input_shape=IMAGE_SHAPE)
    for w in first.trainable_variables:  # a training changed it
        w.assign(w.numpy() + 1.0)
    pool.give_back(config, first, input_shape=IMAGE_SHAPE)
    for seed in (0, 3):
        again = pool.take(config.replace(seed=seed), input_shape=IMAGE_SHAPE)
        assert again is first  # the same object (its traced functions come with it)
        fresh = build_model(config.replace(seed=seed), input_shape=IMAGE_SHAPE)
        for got, want in zip(weights_of(again), weights_of(fresh)):
            np.testing.assert_array_equal(got, want)
        assert int(again.optimizer.iterations.numpy()) == 0
        pool.give_back(config, again, input_shape=IMAGE_SHAPE)
    assert pool.reused == 2


def test_another_architecture_gets_another_model():
    pool = ModelPool()
    book = pool.take(PRESETS["Book"], input_shape=IMAGE_SHAPE)
    pool.give_back(PRESETS["Book"], book, input_shape=IMAGE_SHAPE)
    wider = PRESETS["Book"].replace(hidden=((32, "sigmoid"),))
    assert pool.take(wider, input_shape=IMAGE_SHAPE) is not book
    assert pool.reused == 0


def test_a_second_training_reuses_the_model_and_ends_where_a_fresh_one_does(digits, tmp_path):
    from core.training import TrainingJob

    store = RunStore("poolws", root=tmp_path)
    config = PRESETS["Dense"].replace(epochs=2, seed=1)  # Adam: optimizer state must be reset too
    before = model_pool().reused
    results = []
    for _ in range(2):
        job = TrainingJob(config, digits, store=store, limit=LIMIT).start()
        assert job.join(timeout=600) and job.status == FINISHED, job.error
        results.append(store.load_model(job.run_id))
    assert model_pool().reused == before + 1
    for a, b in zip(weights_of(results[0]), weights_of(results[1])):
        np.testing.assert_array_equal(a, b)
    assert store.get(job.run_id).test_accuracy == pytest.approx(
        store.get(store.list_runs().runs[-1].run_id).test_accuracy, abs=0)


def test_fastfit_evaluate_matches_model_evaluate(digits):
    from core import fastfit

    model = build_model(PRESETS["Book"], input_shape=IMAGE_SHAPE)
    x = model_input(digits.x_test[:700], input_shape=model.input_shape)
    y = one_hot(digits.y_test[:700])
    keras_scores = model.evaluate(x, y, batch_size=256, verbose=0, return_dict=True)
    ours = fastfit.evaluate(model, x, y, batch_size=256)
    assert ours["loss"] == pytest.approx(keras_scores["loss"], rel=1e-5)
    assert ours["accuracy"] == pytest.approx(keras_scores["accuracy"], abs=1e-7)
    with pytest.raises(ValueError, match="batch_size"):
        fastfit.evaluate(model, x, y, batch_size=0)
    with pytest.raises(ValueError, match="same number"):
        fastfit.evaluate(model, x, y[:10])


def test_every_epoch_leaves_a_checkpoint_and_the_end_a_model_file(digits, tmp_path):
    from core.training import TrainingJob

    store = RunStore("ckptws", root=tmp_path)
    job = TrainingJob(PRESETS["Book"].replace(epochs=3), digits, store=store, limit=LIMIT).start()
    assert job.join(timeout=600) and job.status == FINISHED, job.error
    folder = store.run_path(job.run_id)
    assert (folder / CHECKPOINT_FILE).is_file() and (folder / MODEL_FILE).is_file()
    assert store.get(job.run_id).epochs_done == 3
    assert len(store.history(job.run_id)["epoch"]["loss"]) == 3


def test_a_run_cut_off_mid_training_loads_from_its_checkpoint(digits, tmp_path):
    from core import downloads

    store = RunStore("cutws", root=tmp_path)
    config = PRESETS["Book"]
    run = store.create(config.to_dict(), dataset="mnist", seed=0, epochs_planned=5)
    trained = build_model(config.replace(seed=7), input_shape=IMAGE_SHAPE)  # any other weights
    store.save_checkpoint(run.run_id, trained.get_weights())
    info = store.get(run.run_id)
    assert info.has_model and store.model_path(run.run_id).name == CHECKPOINT_FILE
    loaded = store.load_model(run.run_id)
    x = model_input(digits.x_test[:50], input_shape=loaded.input_shape)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), trained.predict(x, verbose=0), atol=1e-6)
    assert downloads.model_bytes(store, run.run_id)[:2] == b"PK"  # still a .keras (zip) download


def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path):
    from core.runs import CorruptRunError

    store = RunStore("badckpt", root=tmp_path)
    run = store.create(PRESETS["Book"].to_dict(), dataset="mnist", seed=0, epochs_planned=5)
    (store.run_path(run.run_id) / CHECKPOINT_FILE).write_bytes(b"not an npz")
    with pytest.raises(CorruptRunError, match=CHECKPOINT_FILE):
        store.load_model(run.run_id)
