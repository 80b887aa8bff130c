"""From a model's test-set predictions to the numbers of the book's evaluation.

The chapter evaluates the trained network with ``model.evaluate`` (test loss
and accuracy), then looks closer: the confusion matrix (rows = true class,
columns = predicted class), accuracy as "diagonal sum / total", one class
against the rest as a 2x2 table (TP, FN, FP, TN) with sensitivity, and the
``predict`` probability vector of a single test image.

Everything here is plain NumPy / scikit-learn on arrays:

- ``y_true``: (N,) integer labels in 0..n_classes-1
- ``probs``:  (N, n_classes) predicted probabilities (softmax rows)
- ``y_pred``: (N,) integer predictions, ``probs.argmax(axis=1)``
- ``matrix``: (n_classes, n_classes) confusion counts, ``matrix[i, j]`` =
  number of items of true class ``i`` predicted as ``j``

Only :func:`predict_probabilities` touches a Keras model (it never imports
TensorFlow itself: it only calls the model it is given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.preprocess import NUM_CLASSES, model_input

#: One ``model.predict`` call over the whole test set in a few big batches:
#: far fewer Python round trips than Keras' default of 32.
PREDICT_BATCH_SIZE = 2048
#: Keras' ``backend.epsilon()``: probabilities are clipped to [eps, 1 - eps]
#: before the log in ``categorical_crossentropy``.
KERAS_EPSILON = 1e-7
NORMALIZE_CHOICES = (None, "true")
DEFAULT_GALLERY_LIMIT = 24


# --------------------------------------------------------------------------- validation


def _labels(y, *, name: str, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class labels, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    y = y.astype(np.intp)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"{name} must be in 0..{n_classes - 1}, got values {y.min()}..{y.max()}"
        )
    return y


def _probabilities(probs, *, n_items: int | None = None) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(
            f"probs must be a 2-D array (n_items, n_classes), got shape {probs.shape}"
        )
    if n_items is not None and probs.shape[0] != n_items:
        raise ValueError(
            f"probs has {probs.shape[0]} rows but y_true has {n_items} labels"
        )
    if not np.all(np.isfinite(probs)):
        raise ValueError("probs contains NaN or infinite values")
    return probs


def _square_matrix(matrix) -> np.ndarray:
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 2:
        raise ValueError(
            f"matrix must be a square (n_classes, n_classes) array, got shape {matrix.shape}"
        )
    if np.any(matrix < 0):
        raise ValueError("matrix must hold counts (no negative entries)")
    return matrix


def _class_index(value, *, name: str, n_classes: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer class index, got {value!r}")
    if not 0 <= int(value) < n_classes:
        raise ValueError(f"{name} must be in 0..{n_classes - 1}, got {value}")
    return int(value)


def _same_length(y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {y_true.shape[0]} and {y_pred.shape[0]}"
        )


# --------------------------------------------------------------------------- predictions


def predict_probabilities(model, images, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """``model.predict`` once over all ``images`` ((N, 28, 28) uint8, or floats in [0, 1])
    -> (N, n_classes) float32.

    The inputs are scaled and shaped from ``model.input_shape`` by
    :func:`core.preprocess.model_input`.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x = model_input(images, input_shape=model.input_shape)
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    return _probabilities(probs, n_items=x.shape[0])


def loss_and_accuracy(y_true, probs) -> tuple[float, float]:
    """Test loss and accuracy as ``model.evaluate`` reports them, from the predictions.

    Loss is Keras' categorical cross-entropy (rows renormalised, clipped to
    ``[1e-7, 1 - 1e-7]``, mean of ``-log p[true]``); accuracy is the fraction
    whose argmax is the true class. ``y_true`` (N,), ``probs`` (N, n_classes).
    """
    probs = _probabilities(probs)
    y_true = _labels(y_true, name="y_true", n_classes=probs.shape[1])
    if y_true.shape[0] != probs.shape[0]:
        raise ValueError(f"probs has {probs.shape[0]} rows but y_true has {y_true.shape[0]} labels")
    if y_true.size == 0:
        raise ValueError("cannot evaluate on an empty set")
    p = probs.astype(np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    p_true = np.clip(p[np.arange(len(y_true)), y_true], KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    loss = float(np.mean(-np.log(p_true)))
    accuracy = float(np.mean(probs.argmax(axis=1) == y_true))
    return loss, accuracy


# --------------------------------------------------------------------------- the matrix


def confusion(y_true, y_pred, *, n_classes: int = NUM_CLASSES, normalize: str | None = None) -> np.ndarray:
    """Confusion matrix (n_classes, n_classes): rows = true class, columns = predicted.

    ``normalize=None`` gives counts (int64); ``normalize="true"`` divides each
    row by its number of items (float; a class with no items gives a row of 0).
    Computed by ``sklearn.metrics.confusion_matrix`` with every class listed,
    so the matrix is always n_classes x n_classes.
    """
    from sklearn.metrics import confusion_matrix

    if normalize not in NORMALIZE_CHOICES:
        raise ValueError(f"normalize must be one of {NORMALIZE_CHOICES}, got {normalize!r}")
    y_true = _labels(y_true, name="y_true", n_classes=n_classes)
    y_pred = _labels(y_pred, name="y_pred", n_classes=n_classes)
    _same_length(y_true, y_pred)
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))
    if normalize is None:
        return counts.astype(np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    # sklearn warns and gives NaN for an empty row; an empty class has no errors.
    return np.divide(counts, rows, out=np.zeros(counts.shape, dtype=np.float64), where=rows > 0)


@dataclass(frozen=True)
class MatrixAccuracy:
    """The book's accuracy: the diagonal (correct answers) over all items."""

    correct: int
    total: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    def __float__(self) -> float:
        return self.accuracy

    def __repr__(self) -> str:
        return f"MatrixAccuracy({self.correct} / {self.total} = {self.accuracy:.4f})"


def accuracy_from_matrix(matrix) -> MatrixAccuracy:
    """Sum of the diagonal / sum of all cells of a count matrix (n_classes, n_classes)."""
    matrix = _square_matrix(matrix)
    total = matrix.sum()
    if total <= 0:
        raise ValueError("the matrix is empty (all cells are 0): accuracy is undefined")
    if not np.allclose(matrix, np.round(matrix)):
        raise ValueError("accuracy_from_matrix needs counts, not a normalised matrix")
    return MatrixAccuracy(correct=int(round(np.trace(matrix))), total=int(round(total)))


# --------------------------------------------------------------------------- a cell's items


@dataclass(frozen=True)
class CellGallery:
    """The test items of one confusion-matrix cell, most telling first.

    ``indices`` index the test set; ``confidence[k]`` is the probability the
    model gave its predicted class for item ``indices[k]``. ``count`` is the
    number of items in the cell (``indices`` may be cut to a limit).
    """

    true_class: int
    pred_class: int
    indices: np.ndarray
    confidence: np.ndarray
    count: int

    @property
    def is_correct(self) -> bool:
        return self.true_class == self.pred_class

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        kind = "least confident correct" if self.is_correct else "most confident wrong"
        return (
            f"CellGallery(true={self.true_class}, predicted={self.pred_class}, "
            f"showing {len(self.indices)} of {self.count}, {kind} first)"
        )


def cell_gallery(y_true, probs, *, true_class: int, pred_class: int,
                 limit: int | None = DEFAULT_GALLERY_LIMIT) -> CellGallery:
    """Items with label ``true_class`` that the model predicted as ``pred_class``.

    ``y_true`` (N,), ``probs`` (N, n_classes). Off the diagonal (mistakes)
    the items come most confident in the wrong class first; on the diagonal,
    the least confident correct ones first (the near misses). Ties keep
    test-set order. ``limit=None`` keeps all.
    """
    probs = _probabilities(probs)
    n_classes = probs.shape[1]
    y_true = _labels(y_true, name="y_true", n_classes=n_classes)
    if y_true.shape[0] != probs.shape[0]:
        raise ValueError(f"probs has {probs.shape[0]} rows but y_true has {y_true.shape[0]} labels")
    true_class = _class_index(true_class, name="true_class", n_classes=n_classes)
    pred_class = _class_index(pred_class, name="pred_class", n_classes=n_classes)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")

    y_pred = probs.argmax(axis=1)
    members = np.flatnonzero((y_true == true_class) & (y_pred == pred_class))
    confidence = probs[members, pred_class]
    key = confidence if true_class == pred_class else -confidence
    order = np.argsort(key, kind="stable")
    if limit is not None:
        order = order[:limit]
    return CellGallery(
        true_class=true_class,
        pred_class=pred_class,
        indices=members[order],
        confidence=confidence[order].astype(np.float64),
        count=int(members.size),
    )


# --------------------------------------------------------------------------- one class vs the rest


@dataclass(frozen=True)
class OneVsRest:
    """The book's 2x2 table for one class (positive) against all the others.

    ``tp``: class items predicted as the class; ``fn``: class items predicted
    as something else; ``fp``: other items predicted as the class; ``tn``:
    other items predicted as something else.
    """

    positive: int
    tp: int
    fn: int
    fp: int
    tn: int

    @property
    def total(self) -> int:
        return self.tp + self.fn + self.fp + self.tn

    @property
    def accuracy(self) -> float:
        """(TP + TN) / total."""
        return (self.tp + self.tn) / self.total

    @property
    def sensitivity(self) -> float:
        """TP / (TP + FN): the share of the class that is found (recall). NaN if none."""
        positives = self.tp + self.fn
        return self.tp / positives if positives else float("nan")

    @property
    def specificity(self) -> float:
        """TN / (TN + FP): the share of the rest correctly left out. NaN if none."""
        negatives = self.tn + self.fp
        return self.tn / negatives if negatives else float("nan")

    @property
    def precision(self) -> float:
        """TP / (TP + FP): how often a "this class" answer is right. NaN if never said."""
        said = self.tp + self.fp
        return self.tp / said if said else float("nan")

    def __repr__(self) -> str:
        return (
            f"OneVsRest(class {self.positive}: TP={self.tp} FN={self.fn} FP={self.fp} TN={self.tn}, "
            f"accuracy={self.accuracy:.4f}, sensitivity={self.sensitivity:.4f}, "
            f"specificity={self.specificity:.4f})"
        )


def one_vs_rest(matrix, digit: int) -> OneVsRest:
    """Collapse a count matrix (n_classes, n_classes) to class ``digit`` vs the rest."""
    matrix = _square_matrix(matrix)
    if not np.allclose(matrix, np.round(matrix)):
        raise ValueError("one_vs_rest needs counts, not a normalised matrix")
    if matrix.sum() <= 0:
        raise ValueError("the matrix is empty (all cells are 0)")
    digit = _class_index(digit, name="digit", n_classes=matrix.shape[0])
    m = np.round(matrix).astype(np.int64)
    tp = int(m[digit, digit])
    fn = int(m[digit, :].sum()) - tp
    fp = int(m[:, digit].sum()) - tp
    tn = int(m.sum()) - tp - fn - fp
    return OneVsRest(positive=digit, tp=tp, fn=fn, fp=fp, tn=tn)


# --------------------------------------------------------------------------- per class


@dataclass(frozen=True)
class ClassScore:
    """One row of scikit-learn's classification report."""

    index: int
    name: str
    precision: float
    recall: float  # the book's sensitivity
    f1: float
    support: int

    def __repr__(self) -> str:
        return (
            f"ClassScore({self.name!r}: precision={self.precision:.3f}, recall={self.recall:.3f}, "
            f"f1={self.f1:.3f}, support={self.support})"
        )


def per_class_report(y_true, y_pred, *, class_names=None, n_classes: int = NUM_CLASSES) -> list[ClassScore]:
    """Precision, recall (sensitivity), F1 and support per class, from
    ``sklearn.metrics.classification_report(output_dict=True)``.

    ``y_true``, ``y_pred``: (N,). ``class_names``: n_classes names (default
    "0".."9"). A class never predicted gets precision 0 (not a warning).
    """
    from sklearn.metrics import classification_report

    y_true = _labels(y_true, name="y_true", n_classes=n_classes)
    y_pred = _labels(y_pred, name="y_pred", n_classes=n_classes)
    _same_length(y_true, y_pred)
    if y_true.size == 0:
        raise ValueError("cannot report on an empty set")
    names = _names(class_names, n_classes)
    report = classification_report(
        y_true, y_pred, labels=np.arange(n_classes), target_names=list(names),
        output_dict=True, zero_division=0,
    )
    return [
        ClassScore(
            index=i,
            name=name,
            precision=float(report[name]["precision"]),
            recall=float(report[name]["recall"]),
            f1=float(report[name]["f1-score"]),
            support=int(report[name]["support"]),
        )
        for i, name in enumerate(names)
    ]


def _names(class_names, n_classes: int) -> tuple[str, ...]:
    if class_names is None:
        return tuple(str(i) for i in range(n_classes))
    names = tuple(str(n) for n in class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names must have {n_classes} names, got {len(names)}")
    if len(set(names)) != n_classes:
        raise ValueError(f"class_names must be distinct, got {names}")
    return names


@dataclass(frozen=True)
class ConfusedPair:
    """An off-diagonal cell: ``count`` items of ``true_class`` read as ``pred_class``."""

    true_class: int
    pred_class: int
    count: int
    true_name: str
    pred_name: str

    def __str__(self) -> str:
        times = "time" if self.count == 1 else "times"
        return f"{self.true_name} read as {self.pred_name}: {self.count} {times}"

    def __repr__(self) -> str:
        return f"ConfusedPair({self})"


def most_confused_pairs(matrix, *, top: int = 5, class_names=None) -> list[ConfusedPair]:
    """The ``top`` largest off-diagonal cells of a count matrix, largest first.

    Ties are broken by (true, predicted) order; cells with 0 are left out.
    """
    matrix = _square_matrix(matrix)
    if not np.allclose(matrix, np.round(matrix)):
        raise ValueError("most_confused_pairs needs counts, not a normalised matrix")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    n = matrix.shape[0]
    names = _names(class_names, n)
    m = np.round(matrix).astype(np.int64)
    off = m.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")
    pairs = []
    for k in flat[:top]:
        i, j = divmod(int(k), n)
        if off[i, j] == 0:
            break
        pairs.append(ConfusedPair(i, j, int(off[i, j]), names[i], names[j]))
    return pairs
