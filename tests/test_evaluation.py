"""core.evaluation: the numbers agree with scikit-learn, Keras and the book."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix

from core import evaluation as ev
from core.preprocess import model_input
from helpers import book_network

RNG_SEED = 1234


@pytest.fixture
def random_labels():
    rng = np.random.default_rng(RNG_SEED)
    y_true = rng.integers(0, 10, size=2000)
    # Mostly right, sometimes wrong: a realistic matrix with a heavy diagonal.
    y_pred = np.where(rng.random(2000) < 0.7, y_true, rng.integers(0, 10, size=2000))
    return y_true, y_pred


def random_probs(rng, n, n_classes=10):
    logits = rng.normal(size=(n, n_classes)) * 3
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- confusion


def test_confusion_agrees_with_sklearn(random_labels):
    y_true, y_pred = random_labels
    m = ev.confusion(y_true, y_pred)
    assert m.shape == (10, 10)
    np.testing.assert_array_equal(m, confusion_matrix(y_true, y_pred))
    assert m.sum() == len(y_true)


def test_confusion_normalised_rows_agree_with_sklearn(random_labels):
    y_true, y_pred = random_labels
    m = ev.confusion(y_true, y_pred, normalize="true")
    np.testing.assert_allclose(m, confusion_matrix(y_true, y_pred, normalize="true"))
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


def test_confusion_keeps_all_classes_and_empty_rows_are_zero():
    y_true = np.array([0, 0, 1])
    y_pred = np.array([0, 1, 1])
    m = ev.confusion(y_true, y_pred)
    assert m.shape == (10, 10)
    assert m[0, 0] == 1 and m[0, 1] == 1 and m[1, 1] == 1
    n = ev.confusion(y_true, y_pred, normalize="true")
    assert np.all(n[2:] == 0)  # no items of classes 2..9: rows of 0, not NaN
    np.testing.assert_allclose(n[0, :2], [0.5, 0.5])


def test_accuracy_from_matrix_is_mean_of_correct(random_labels):
    y_true, y_pred = random_labels
    acc = ev.accuracy_from_matrix(ev.confusion(y_true, y_pred))
    assert acc.total == len(y_true)
    assert acc.correct == int(np.sum(y_true == y_pred))
    assert float(acc) == pytest.approx(np.mean(y_true == y_pred))
    assert "/ 2000 =" in repr(acc)


# --------------------------------------------------------------------------- report


def test_per_class_report_agrees_with_sklearn(random_labels):
    y_true, y_pred = random_labels
    rows = ev.per_class_report(y_true, y_pred)
    expected = classification_report(y_true, y_pred, output_dict=True)
    assert [r.name for r in rows] == [str(i) for i in range(10)]
    for r in rows:
        e = expected[str(r.index)]
        assert r.precision == pytest.approx(e["precision"])
        assert r.recall == pytest.approx(e["recall"])
        assert r.f1 == pytest.approx(e["f1-score"])
        assert r.support == e["support"]
    # Recall is the one-vs-rest sensitivity from the matrix.
    m = ev.confusion(y_true, y_pred)
    for r in rows:
        assert r.recall == pytest.approx(ev.one_vs_rest(m, r.index).sensitivity)


def test_per_class_report_uses_class_names():
    names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    rows = ev.per_class_report([0, 1, 9], [0, 9, 9], class_names=names)
    assert rows[9].name == "Ankle boot"
    assert rows[9].precision == pytest.approx(0.5)
    assert rows[1].recall == 0.0
    assert rows[3].support == 0 and rows[3].precision == 0.0  # never seen: 0, no warning


def test_most_confused_pairs_order_and_text():
    m = np.zeros((10, 10), dtype=int)
    np.fill_diagonal(m, 100)
    m[4, 9] = 23
    m[7, 2] = 11
    m[9, 4] = 11
    m[3, 5] = 1
    pairs = ev.most_confused_pairs(m, top=3)
    assert [(p.true_class, p.pred_class, p.count) for p in pairs] == [(4, 9, 23), (7, 2, 11), (9, 4, 11)]
    assert str(pairs[0]) == "4 read as 9: 23 times"
    # Zero cells are never listed, even when top asks for more.
    everything = ev.most_confused_pairs(m, top=50)
    assert len(everything) == 4
    assert str(everything[-1]) == "3 read as 5: 1 time"


# --------------------------------------------------------------------------- gallery


def test_cell_gallery_wrong_cell_most_confident_first():
    y_true = np.array([4, 4, 4, 4, 9, 4])
    probs = np.full((6, 10), 0.0, dtype=np.float32)
    probs[0, 9], probs[0, 4] = 0.6, 0.4    # 4 read as 9, 0.6
    probs[1, 9], probs[1, 4] = 0.95, 0.05  # 4 read as 9, 0.95
    probs[2, 4], probs[2, 9] = 0.7, 0.3    # 4 correct, 0.7
    probs[3, 9], probs[3, 4] = 0.8, 0.2    # 4 read as 9, 0.8
    probs[4, 9] = 1.0                      # a 9, correct: not in (4, 9)
    probs[5, 4], probs[5, 9] = 0.51, 0.49  # 4 correct, 0.51
    g = ev.cell_gallery(y_true, probs, true_class=4, pred_class=9)
    assert list(g.indices) == [1, 3, 0]
    np.testing.assert_allclose(g.confidence, [0.95, 0.8, 0.6])
    assert g.count == 3 and not g.is_correct
    # The diagonal: least confident correct first.
    d = ev.cell_gallery(y_true, probs, true_class=4, pred_class=4)
    assert list(d.indices) == [5, 2]
    assert d.is_correct
    # The limit cuts after ordering; count still says how many there are.
    cut = ev.cell_gallery(y_true, probs, true_class=4, pred_class=9, limit=2)
    assert list(cut.indices) == [1, 3] and cut.count == 3
    assert "showing 2 of 3" in repr(cut)
    empty = ev.cell_gallery(y_true, probs, true_class=9, pred_class=4)
    assert len(empty) == 0 and empty.count == 0


def test_cell_gallery_matches_matrix_cells():
    rng = np.random.default_rng(RNG_SEED)
    y_true = rng.integers(0, 10, size=500)
    probs = random_probs(rng, 500)
    m = ev.confusion(y_true, probs.argmax(axis=1))
    for i, j in [(0, 0), (3, 8), (9, 4)]:
        g = ev.cell_gallery(y_true, probs, true_class=i, pred_class=j, limit=None)
        assert g.count == m[i, j] == len(g)
        assert np.all(y_true[g.indices] == i)
        assert np.all(probs[g.indices].argmax(axis=1) == j)


# --------------------------------------------------------------------------- 2x2


def test_one_vs_rest_known_case():
    # Three classes: 0 is positive.
    m = np.array([[50, 3, 2],
                  [4, 40, 6],
                  [1, 5, 39]])
    t = ev.one_vs_rest(m, 0)
    assert (t.tp, t.fn, t.fp, t.tn) == (50, 5, 5, 90)
    assert t.total == 150
    assert t.accuracy == pytest.approx(140 / 150)
    assert t.sensitivity == pytest.approx(50 / 55)
    assert t.specificity == pytest.approx(90 / 95)
    assert t.precision == pytest.approx(50 / 55)
    assert "TP=50 FN=5 FP=5 TN=90" in repr(t)
    u = ev.one_vs_rest(m, 2)
    assert (u.tp, u.fn, u.fp, u.tn) == (39, 6, 8, 97)


def test_one_vs_rest_sums_to_total(random_labels):
    y_true, y_pred = random_labels
    m = ev.confusion(y_true, y_pred)
    for d in range(10):
        t = ev.one_vs_rest(m, d)
        assert t.total == len(y_true)
        assert t.tp + t.fn == np.sum(y_true == d)
        assert t.tp + t.fp == np.sum(y_pred == d)


# --------------------------------------------------------------------------- inputs and loss


def test_model_input_shapes_per_model():
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    images = images.astype(np.uint8)
    dense = model_input(images, input_shape=(None, 784))
    assert dense.shape == (3, 784) and dense.dtype == np.float32
    assert dense.max() <= 1.0
    np.testing.assert_allclose(dense[1], images[1].reshape(-1) / 255.0, rtol=1e-6)
    cnn = model_input(images, input_shape=(None, 28, 28, 1))
    assert cnn.shape == (3, 28, 28, 1)
    np.testing.assert_allclose(cnn[..., 0], images / 255.0, rtol=1e-6)


def test_model_input_keeps_floats_already_in_unit_range():
    """A prepared drawing is float in [0, 1] already: shaped, not divided by 255 again."""
    floats = np.linspace(0, 1, 2 * 28 * 28).reshape(2, 28, 28)
    dense = model_input(floats, input_shape=(None, 784))
    assert dense.shape == (2, 784) and dense.dtype == np.float32
    np.testing.assert_allclose(dense, floats.reshape(2, -1), rtol=1e-6)
    uint8 = (floats * 255).round().astype(np.uint8)
    np.testing.assert_allclose(model_input(uint8, input_shape=(None, 28, 28, 1))[..., 0],
                               floats, atol=0.5 / 255)


def test_loss_and_accuracy_formula():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]], dtype=np.float32)
    y = np.array([0, 1, 1])
    loss, acc = ev.loss_and_accuracy(y, probs)
    assert acc == pytest.approx(2 / 3)
    assert loss == pytest.approx((-np.log(0.7) - np.log(0.1) - np.log(1 - 1e-7)) / 3, rel=1e-6)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ev.confusion([0, 1], [0]), "same length"),
        (lambda: ev.confusion([0, 10], [0, 1]), r"y_true must be in 0\.\.9"),
        (lambda: ev.confusion([[0, 1]], [0, 1]), "1-D"),
        (lambda: ev.confusion([0.5, 1], [0, 1]), "integer"),
        (lambda: ev.confusion([0, 1], [0, 1], normalize="all"), "normalize"),
        (lambda: ev.accuracy_from_matrix(np.zeros((10, 10))), "empty"),
        (lambda: ev.accuracy_from_matrix(np.ones((3, 4))), "square"),
        (lambda: ev.accuracy_from_matrix(np.eye(3) * 0.5), "counts"),
        (lambda: ev.one_vs_rest(np.eye(10), 10), r"digit must be in 0\.\.9"),
        (lambda: ev.one_vs_rest(np.eye(10), "3"), "integer"),
        (lambda: ev.one_vs_rest(-np.eye(3), 0), "negative"),
        (lambda: ev.cell_gallery([0, 1], np.eye(3)[:2], true_class=5, pred_class=0), "true_class"),
        (lambda: ev.cell_gallery([0, 1], np.eye(3)[:2], true_class=0, pred_class=0, limit=0), "limit"),
        (lambda: ev.cell_gallery([0, 1, 2], np.eye(3)[:2], true_class=0, pred_class=0), "rows"),
        (lambda: ev.cell_gallery([0], np.array([[np.nan, 1.0]]), true_class=0, pred_class=0), "NaN"),
        (lambda: ev.per_class_report([0], [0], class_names=("a", "b")), "10 names"),
        (lambda: ev.most_confused_pairs(np.eye(10), top=0), "top"),
        (lambda: model_input(np.full((2, 28, 28), 255.0), input_shape=(None, 784)), r"\[0, 1\]"),
        (lambda: model_input(np.full((2, 28, 28), np.nan), input_shape=(None, 784)), r"\[0, 1\]"),
        (lambda: model_input(np.zeros((2, 28, 28), np.int64), input_shape=(None, 784)), "uint8"),
        (lambda: model_input(np.zeros((2, 28, 28), np.uint8), input_shape=(None, 100)), "784"),
        (lambda: ev.loss_and_accuracy([], np.zeros((0, 10))), "empty"),
    ],
)
def test_validation_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------- with Keras


@pytest.fixture(scope="module")
def tiny_trained_model():
    """A real (small) book network trained briefly on structured synthetic digits.

    Ten random 28x28 templates plus noise: learnable, so the matrix is not
    trivial, and no dataset is needed.
    """
    import keras

    model = book_network()  # seeds Keras with 0
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, size=(10, 28, 28))
    y = rng.integers(0, 10, size=1500).astype(np.uint8)
    noise = rng.normal(0, 90, size=(1500, 28, 28))
    x = np.clip(templates[y] + noise, 0, 255).astype(np.uint8)
    x_flat = model_input(x[:1000], input_shape=model.input_shape)
    model.fit(x_flat, keras.utils.to_categorical(y[:1000], 10), batch_size=100, epochs=3, verbose=0)
    return model, x[1000:], y[1000:]


def test_matrix_accuracy_equals_keras_evaluate(tiny_trained_model):
    import keras

    model, x_test, y_test = tiny_trained_model
    x = model_input(x_test, input_shape=model.input_shape)
    loss, accuracy = model.evaluate(x, keras.utils.to_categorical(y_test, 10), verbose=0)
    probs = ev.predict_probabilities(model, x_test)
    assert probs.shape == (len(y_test), 10)
    book = ev.accuracy_from_matrix(ev.confusion(y_test, probs.argmax(axis=1)))
    assert 0.2 < float(book) < 1.0  # learnt something, not everything: a real test
    assert round(float(book), 4) == round(accuracy, 4)
    my_loss, my_accuracy = ev.loss_and_accuracy(y_test, probs)
    assert my_loss == pytest.approx(loss, abs=1e-4)
    assert my_accuracy == pytest.approx(accuracy, abs=1e-6)
