"""core.prepared: one shared, immutable copy of a split's network input per process."""

from __future__ import annotations

import numpy as np
import pytest

from core.model import PRESETS, model_input
from core.prepared import PreparedSplits
from core.preprocess import one_hot


def test_the_same_split_is_prepared_once_and_equals_model_input(digits):
    splits = PreparedSplits()
    x, y = splits.get(digits.x_train, digits.y_train, input_shape=(None, 784))
    again, _ = splits.get(digits.x_train, digits.y_train, input_shape=(None, 784))
    assert again is x and splits.prepared == 1
    np.testing.assert_array_equal(x.numpy(), model_input(PRESETS["Book"], digits.x_train))
    np.testing.assert_array_equal(y.numpy(), one_hot(digits.y_train))
    # the CNN's shape is a reshape of the same tensor, not a second preparation
    cnn, _ = splits.get(digits.x_train, digits.y_train, input_shape=(None, 28, 28, 1))
    assert splits.prepared == 1 and tuple(cnn.shape) == (len(digits.x_train), 28, 28, 1)
    np.testing.assert_array_equal(cnn.numpy(), model_input(PRESETS["CNN"], digits.x_train))


def test_a_limit_or_other_arrays_are_their_own_entries_and_the_cache_is_bounded(digits):
    splits = PreparedSplits(max_splits=2)
    x, _ = splits.get(digits.x_train, digits.y_train, limit=100, input_shape=(None, 784))
    assert tuple(x.shape) == (100, 784)
    splits.get(digits.x_test, digits.y_test, input_shape=(None, 784))
    splits.get(digits.x_train, digits.y_train, input_shape=(None, 784))
    assert splits.prepared == 3 and len(splits._kept) == 2
    splits.get(digits.x_train, digits.y_train, limit=100, input_shape=(None, 784))  # dropped: made again
    assert splits.prepared == 4
    copy = digits.x_train.copy()  # equal values, another array: never mistaken for the first
    splits.get(copy, digits.y_train, input_shape=(None, 784))
    assert splits.prepared == 5


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="max_splits"):
        PreparedSplits(max_splits=0)
    with pytest.raises(ValueError, match=r"images \(N, H, W\)"):
        PreparedSplits().get(np.zeros((3, 784)), np.zeros(3), input_shape=(None, 784))


def test_a_second_training_reads_the_first_ones_tensors(monkeypatch, tmp_path, digits):
    from core.prepared import prepared_splits
    from core.runs import RunStore
    from core.training import TrainingJob

    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    store = RunStore("prepared", root=tmp_path / "runs")
    before = prepared_splits().prepared
    for seed in (0, 1):
        job = TrainingJob(PRESETS["Book"].replace(epochs=1, seed=seed), digits, store=store, limit=300).start()
        assert job.join(120) and job.status == "finished", job.error
    assert prepared_splits().prepared - before <= 2  # the training and the test split, once


def test_a_bad_limit_or_shape_is_refused_early(digits):
    splits = PreparedSplits()
    for limit in (0, -5):
        with pytest.raises(ValueError, match="limit must be a positive"):
            splits.get(digits.x_test, digits.y_test, limit=limit, input_shape=(None, 784))
    with pytest.raises(ValueError, match="does not hold"):
        splits.get(digits.x_test, digits.y_test, input_shape=(None, 100))


def test_two_threads_asking_at_once_share_one_conversion(digits):
    import threading

    splits = PreparedSplits()
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        splits.get(digits.x_test, digits.y_test, input_shape=(None, 784))[0])) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert splits.prepared == 1 and all(r is results[0] for r in results)
