"""core.book: the book's printed log, the re-runs, and the text that compares them."""

from __future__ import annotations

import pytest

from core import book


def test_logs_have_five_epochs():
    for log in (book.BOOK, book.KERAS2, book.KERAS3):
        assert len(log.loss) == book.EPOCHS
        assert list(log.loss) == sorted(log.loss, reverse=True)  # every epoch lowers the loss
        assert log.accuracy is None or len(log.accuracy) == book.EPOCHS


def test_keras2_and_keras3_agree_to_four_decimals_and_the_book_does_not_reach_its_accuracy():
    assert all(abs(a - b) <= 1e-4 + 1e-9 for a, b in zip(book.KERAS2.loss, book.KERAS3.loss))
    assert abs(book.KERAS2.test_accuracy - book.KERAS3.test_accuracy) < 0.002
    assert book.BOOK.test_accuracy - book.BOOK.accuracy[-1] > 0.19  # the gap the text points at
    assert book.loss_differences(book.KERAS3) == (0.048, 0.0726, 0.0594, 0.0405, 0.0238)


def test_measured_paths_to_ninety_percent_are_consistent():
    by_epochs = book.ACCURACY_BY_EPOCHS_AT_LR_001
    assert by_epochs[book.EPOCHS] == book.KERAS3.test_accuracy
    assert by_epochs[book.EPOCHS_TO_90_AT_LR_001] >= book.TARGET_ACCURACY
    assert all(acc < book.TARGET_ACCURACY for e, acc in by_epochs.items() if e < book.EPOCHS_TO_90_AT_LR_001)
    by_rate = book.ACCURACY_AFTER_5_EPOCHS_BY_LR
    assert by_rate[0.01] == book.KERAS3.test_accuracy
    assert book.LOSS_AFTER_5_EPOCHS_BY_LR[0.01] == book.KERAS3.loss[-1]
    reaching = [rate for rate, acc in by_rate.items() if acc >= book.TARGET_ACCURACY]
    assert min(reaching) == book.LR_TO_90_IN_5_EPOCHS == 0.1
    assert by_rate[0.05] < book.TARGET_ACCURACY


def test_comparison_text_says_what_matches_and_what_does_not():
    lines = book.comparison_text()
    assert all(isinstance(line, str) and line for line in lines)
    text = " ".join(lines)
    for fact in ("1.3288", "0.678", "0.6766", "0.9018", "36 epochs", "does not fit", "0.68–0.77", "seed 4"):
        assert fact in text


def test_the_playground_reproduces_the_keras3_log(mnist):
    """The Book preset on the real MNIST gives KERAS3's log and test accuracy (about 5-10 s)."""
    import numpy as np

    from core import fastfit
    from core.evaluation import predict_probabilities
    from core.model import PRESETS, build_model, model_input
    from core.preprocess import one_hot

    config = PRESETS["Book"]
    model = build_model(config)
    history = fastfit.fit(model, model_input(config, mnist.x_train), one_hot(mnist.y_train),
                          batch_size=config.batch_size, epochs=config.epochs, seed=config.seed)
    assert [round(v, 4) for v in history.history["loss"]] == list(book.KERAS3.loss)
    assert [round(v, 4) for v in history.history["accuracy"]] == list(book.KERAS3.accuracy)
    accuracy = float(np.mean(predict_probabilities(model, mnist.x_test).argmax(axis=1) == mnist.y_test))
    assert accuracy == pytest.approx(book.KERAS3.test_accuracy, abs=1e-4)


def test_seed_runs_bracket_the_book_log_but_not_its_test_accuracy():
    closest = book.closest_seed_run()
    assert closest is book.SEED_RUNS[4]
    assert max(abs(d) for d in book.loss_differences(closest)) < 0.03
    for log in (book.KERAS3, *book.SEED_RUNS.values()):
        # a run's test accuracy sits a little above its last training accuracy, far below 0.9018
        assert 0 < log.test_accuracy - log.accuracy[-1] < 0.03
        assert log.test_accuracy < book.BOOK.test_accuracy - 0.1
