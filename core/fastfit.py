"""A faster ``model.fit``: the same updates, many batches per TensorFlow call.

The book's model has 7,960 weights, so ``model.fit`` spends almost all its time
on per-step Python and ``tf.data`` overhead, not arithmetic. :func:`fit` keeps
the training data on the device as two tensors and runs a *chunk* of steps
inside one ``tf.function`` (a ``tf.range`` loop that gathers each batch from
the epoch's order), then hands the per-batch losses and accuracies back as
vectors. Callbacks are real ``keras.callbacks.Callback`` objects and see the
same hooks as under ``model.fit``.

Same updates as ``model.fit``
    Same batch size and number of steps (``ceil(n_train / batch_size)``, the last
    batch partial), the model's own compiled loss (``model.compute_loss``) and
    optimizer (``optimizer.apply_gradients``), ``training=True`` for dropout,
    ``validation_split`` taking the *last* fraction of the data before shuffling.

Same order as ``model.fit``
    With a global seed set (``keras.utils.set_random_seed``, as every exported
    script does), Keras 3's TensorFlow data pipeline shuffles with
    ``tf.random.shuffle`` inside a ``tf.data`` map whose op seeds are
    ``(global_seed, 0)``; the iterator is re-created every epoch, so every epoch
    sees the *same* permutation. :func:`fit` computes that very permutation with
    explicit seeds (:func:`keras_order`), so a training here and the exported
    script's plain ``model.fit`` see identical batches and end with the same test
    accuracy (measured: bitwise-equal weights for the Book preset). A fresh
    shuffle per epoch instead moved the Book's final test accuracy away from
    ``model.fit``'s by up to 0.004 over seeds 0-4, more than the 0.002 the
    export promises. tests/test_fastfit.py checks the order against ``model.fit``
    itself, so a Keras upgrade that changes it fails loudly.

Threads
    Each call builds its own ``tf.function`` and tensors and never touches global
    random state, so two trainings may run at once in one process (each on its
    own model).
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable, Sequence

import numpy as np

#: A chunk is sized to take about this long, so a live view gets a new point
#: several times a second and a stop request acts within about this time.
CHUNK_SECONDS = 0.1
#: Steps in the first chunk of a training (it also pays for tracing the function).
FIRST_CHUNK_STEPS = 8
#: Never more steps than this in one call, whatever the timing says.
MAX_CHUNK_STEPS = 256
#: Batch size for the validation pass when batch_size is tiny (speed only; the
#: mean over the whole set is the same).
MIN_EVAL_BATCH = 1000
#: ``tf.random.get_seed`` turns seeds (0, 0) into (0, 2**31 - 1).
_MAXINT32 = 2**31 - 1


def keras_order(n: int, seed: int) -> np.ndarray:
    """The order in which Keras 3 ``model.fit`` (TensorFlow backend) visits n samples.

    Valid when the global seed is ``seed`` (``keras.utils.set_random_seed(seed)``)
    and ``shuffle=True``; the same order is used for every epoch. Returns an
    (n,) int64 permutation.
    """
    import tensorflow as tf

    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    seed1, seed2 = int(seed), 0
    if (seed1, seed2) == (0, 0):
        seed2 = _MAXINT32  # what tf.random.get_seed does with a zero pair

    # A fresh function each call: the stateful shuffle kernel starts from its
    # seeds, exactly as in Keras' freshly created iterator (an eager call would
    # reuse a cached kernel and continue its stream).
    @tf.function(autograph=False)
    def permutation():
        indices = tf.range(n, dtype=tf.int64)
        return tf.raw_ops.RandomShuffle(value=indices, seed=seed1, seed2=seed2)

    return permutation().numpy()


def train_count(n: int, validation_split: float) -> int:
    """How many of n samples ``fit`` trains on: the first ``floor(n * (1 - validation_split))``.

    Keras' ``train_validation_split`` arithmetic (the rest is validation data); ValueError
    when a non-zero split leaves no training or no validation sample.
    """
    n, validation_split = int(n), float(validation_split)
    if not validation_split:
        return n
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at in (0, n):
        raise ValueError(
            f"{n} samples are too few to split with validation_split={validation_split}"
        )
    return split_at


def _split(x, y, validation_split: float):
    """Keras' ``train_validation_split``: the last fraction becomes validation data."""
    split_at = train_count(len(x), validation_split)
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])


def _is_tensor(value) -> bool:
    return type(value).__module__.startswith("tensorflow")


def _as_array(value, dtype=None):
    """A TensorFlow tensor as it is (core.prepared's shared ones: no copy), anything else as a NumPy array."""
    return value if _is_tensor(value) else np.asarray(value, dtype)


def _validate(x, y, batch_size, epochs, validation_split):
    x = _as_array(x)
    y = _as_array(y)
    if len(x.shape) < 2:
        raise ValueError(f"x must be (N, ...) samples, got shape {tuple(x.shape)}")
    if len(y.shape) != 2:
        raise ValueError(f"y must be one-hot (N, classes), got shape {tuple(y.shape)}")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if len(x) == 0:
        raise ValueError("x is empty")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
    return x, y


def _make_train_chunk(model, x_spec, y_spec, *, jit_compile: bool | None = None):
    """A ``tf.function`` running ``len(indices)`` training steps; returns per-step loss and accuracy.

    ``jit_compile=True`` (XLA) only for benchmarks/bench_cnn_search.py: slower on CPU, so fit never asks for it.
    """
    import tensorflow as tf

    variables = model.trainable_variables

    @tf.function(
        input_signature=[
            x_spec,
            y_spec,
            tf.TensorSpec([None, None], tf.int64),  # (steps, batch) sample indices
        ],
        reduce_retracing=True,
        jit_compile=jit_compile,
    )
    def train_chunk(x_all, y_all, indices):
        steps = tf.shape(indices)[0]
        losses = tf.TensorArray(tf.float32, size=steps)
        accuracies = tf.TensorArray(tf.float32, size=steps)
        for step in tf.range(steps):
            x = tf.gather(x_all, indices[step])
            y = tf.gather(y_all, indices[step])
            # The body of Keras' own TensorFlow train_step.
            with tf.GradientTape() as tape:
                y_pred = model(x, training=True)
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
            gradients = tape.gradient(loss, variables)
            model.optimizer.apply_gradients(zip(gradients, variables))
            hits = tf.equal(tf.argmax(y_pred, axis=-1), tf.argmax(y, axis=-1))
            losses = losses.write(step, tf.cast(loss, tf.float32))
            accuracies = accuracies.write(step, tf.reduce_mean(tf.cast(hits, tf.float32)))
        return losses.stack(), accuracies.stack()

    return train_chunk


def _make_evaluate(model, x_spec, y_spec):
    """A ``tf.function`` returning (sum of batch loss * batch size, correct count) over a set."""
    import tensorflow as tf

    @tf.function(input_signature=[x_spec, y_spec, tf.TensorSpec([], tf.int32)])
    def evaluate(x_all, y_all, batch_size):
        n = tf.shape(x_all)[0]
        loss_sum = tf.constant(0.0, tf.float64)
        correct = tf.constant(0, tf.int64)
        for start in tf.range(0, n, batch_size):
            x = x_all[start : start + batch_size]
            y = y_all[start : start + batch_size]
            y_pred = model(x, training=False)
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            size = tf.cast(tf.shape(x)[0], tf.float64)
            loss_sum += tf.cast(loss, tf.float64) * size
            hits = tf.equal(tf.argmax(y_pred, axis=-1), tf.argmax(y, axis=-1))
            correct += tf.reduce_sum(tf.cast(hits, tf.int64))
        return loss_sum, correct

    return evaluate


def _traced(model, kind: str, x_spec, y_spec):
    """The model's traced train or evaluate function, made once per model and input shape.

    A ``tf.function`` captures the model's variables, so it can serve every later
    training of the *same* model object (core.model_pool hands a model back out with
    fresh weights): the trace, a few tenths of a second, is paid once per model.
    """
    cache = model.__dict__.setdefault("_fastfit_functions", {})
    key = (kind, tuple(x_spec.shape.as_list()), tuple(y_spec.shape.as_list()))
    if key not in cache:
        if kind == "train" and not getattr(model.optimizer, "built", False):
            # Variables must exist before tracing: a tf.function may not create them in a loop.
            model.optimizer.build(model.trainable_variables)
        make = _make_train_chunk if kind == "train" else _make_evaluate
        cache[key] = make(model, x_spec, y_spec)
    return cache[key]


def evaluate(model, x, y, *, batch_size: int = MIN_EVAL_BATCH) -> dict[str, float]:
    """``model.evaluate(x, y, return_dict=True)``'s loss and accuracy, in one TensorFlow call.

    x : (N, ...) float32 samples; y : (N, classes) one-hot labels. The loss is the
    mean of the compiled loss over all N samples (batches weighted by their size,
    as Keras averages), accuracy the fraction whose argmax matches. Keras'
    ``evaluate`` builds and traces a new function and a data pipeline on every
    call (1-2 s for 10,000 test images here); this reuses the model's traced one.
    """
    import tensorflow as tf

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    x = _as_array(x, np.float32)
    y = _as_array(y, np.float32)
    if _is_tensor(x) or _is_tensor(y):
        x, y = tf.cast(x, tf.float32), tf.cast(y, tf.float32)  # as np.asarray(..., float32) does
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(f"x and y must hold the same number (> 0) of samples, got {len(x)} and {len(y)}")
    x_spec = tf.TensorSpec([None, *x.shape[1:]], tf.float32)
    y_spec = tf.TensorSpec([None, *y.shape[1:]], tf.float32)
    run = _traced(model, "evaluate", x_spec, y_spec)
    loss_sum, correct = run(tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(y, tf.float32),
                            tf.constant(batch_size, tf.int32))
    return {"loss": float(loss_sum.numpy() / len(x)), "accuracy": float(correct.numpy() / len(x))}


def fit(
    model,
    x,
    y,
    *,
    batch_size: int,
    epochs: int,
    validation_split: float = 0.0,
    seed: int = 0,
    callbacks: Sequence[Any] = (),
    steps_per_chunk: int | None = None,
):
    """Train a compiled model like ``model.fit``, several batches per TensorFlow call.

    Parameters
    ----------
    model : compiled ``keras.Model`` (loss on one-hot labels, e.g. categorical_crossentropy).
    x : (N, ...) float32 samples, e.g. (N, 784) or (N, 28, 28, 1); NumPy or a TensorFlow tensor.
    y : (N, classes) one-hot labels.
    batch_size, epochs : as in ``model.fit``.
    validation_split : the last fraction of x/y is held out (as ``model.fit`` does).
    seed : the seed the model was built with; batches come in ``model.fit``'s
        order for that seed (see ``keras_order``).
    callbacks : ``keras.callbacks.Callback`` objects, driven through a
        ``keras.callbacks.CallbackList`` as in ``model.fit``. Hooks: on_train_begin;
        on_epoch_begin; on_train_batch_begin(first step of a chunk) before each
        chunk; on_train_batch_end(step, logs) for *every* step after its chunk
        ran, logs = {"loss", "accuracy"} running means since the epoch began
        (Keras' batch logs) plus "batch_loss", "batch_accuracy" of that batch
        alone; on_epoch_end(epoch, logs) with loss/accuracy (and val_loss /
        val_accuracy when validating); on_train_end. A non-finite loss shows up
        in the logs as nan/inf; training goes on unless a callback stops it.
        A callback stops training the Keras way, ``self.model.stop_training = True``;
        it takes effect after the current chunk.
    steps_per_chunk : fixed steps per TensorFlow call (chunk boundaries a test can
        count on); None sizes chunks to take about ``CHUNK_SECONDS``.

    Returns the ``keras.callbacks.History`` (also ``model.history``).
    """
    import keras
    import tensorflow as tf

    x, y = _validate(x, y, batch_size, epochs, validation_split)
    if steps_per_chunk is not None and (not isinstance(steps_per_chunk, int) or steps_per_chunk < 1):
        raise ValueError(f"steps_per_chunk must be a positive integer or None, got {steps_per_chunk!r}")
    if getattr(model, "optimizer", None) is None:
        raise ValueError("the model must be compiled (model.compile(...)) before fit")

    validation_data = None
    if validation_split:
        (x, y), validation_data = _split(x, y, validation_split)

    n = len(x)
    steps_per_epoch = math.ceil(n / batch_size)
    x_spec = tf.TensorSpec([None, *x.shape[1:]], tf.float32)
    y_spec = tf.TensorSpec([None, *y.shape[1:]], tf.float32)
    x_all = tf.cast(x, tf.float32) if _is_tensor(x) else tf.convert_to_tensor(x, tf.float32)  # float32: as is
    y_all = tf.cast(y, tf.float32) if _is_tensor(y) else tf.convert_to_tensor(y, tf.float32)

    train_chunk = _traced(model, "train", x_spec, y_spec)
    evaluate = _traced(model, "evaluate", x_spec, y_spec) if validation_data is not None else None
    if evaluate is not None:
        x_val, y_val = validation_data
        x_val_t = tf.convert_to_tensor(x_val, tf.float32)
        y_val_t = tf.convert_to_tensor(y_val, tf.float32)
        eval_batch = tf.constant(max(batch_size, MIN_EVAL_BATCH), tf.int32)

    # model.fit's own container (History appended last, model.history set), with
    # model.fit's params; it also dispatches batch ends as model.fit does.
    cbs = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, model=model, verbose=0, epochs=epochs, steps=steps_per_epoch,
    )
    history = model.history
    seconds_per_step: list[float] = []  # measured after the first (tracing) chunk

    def per_chunk() -> int:
        if steps_per_chunk is not None:
            return steps_per_chunk
        if not seconds_per_step:
            return FIRST_CHUNK_STEPS
        return int(min(MAX_CHUNK_STEPS, max(1, CHUNK_SECONDS / seconds_per_step[-1])))

    full_steps = n // batch_size

    def chunks(order: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
        """(first step, (steps, batch) indices); the partial last batch is a call of its own."""
        full_batches = order[: full_steps * batch_size].reshape(full_steps, batch_size)
        first = 0
        while first < full_steps:
            count = min(per_chunk(), full_steps - first)
            yield first, full_batches[first : first + count]
            first += count
        if n % batch_size:
            yield full_steps, order[full_steps * batch_size :][None, :]

    order = keras_order(n, seed)
    model.stop_training = False
    cbs.on_train_begin({})
    traced = False
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch, {})
        seen = loss_sum = hit_sum = 0.0  # running totals since the epoch began
        for first, indices in chunks(order):
            cbs.on_train_batch_begin(first, {})
            started = time.perf_counter()
            losses, accuracies = train_chunk(x_all, y_all, tf.constant(indices))
            losses, accuracies = losses.numpy(), accuracies.numpy()
            if traced:
                seconds_per_step.append((time.perf_counter() - started) / len(indices))
            traced = True
            size = indices.shape[1]
            for i, (loss, accuracy) in enumerate(zip(losses.tolist(), accuracies.tolist())):
                seen += size
                loss_sum += loss * size
                hit_sum += accuracy * size
                # What CallbackList.on_train_batch_end would hand each callback (plain floats,
                # keys sorted), without its per-step pythonify_logs: a tensor check per value
                # that held the interpreter lock longer than the step itself.
                logs = {
                    "accuracy": hit_sum / seen,
                    "batch_accuracy": accuracy,
                    "batch_loss": loss,
                    "loss": loss_sum / seen,
                }
                for callback in cbs.callbacks:
                    callback.on_train_batch_end(first + i, logs)
            if model.stop_training:
                break
        epoch_logs = {"loss": loss_sum / seen, "accuracy": hit_sum / seen}
        if evaluate is not None:
            val_loss_sum, correct = evaluate(x_val_t, y_val_t, eval_batch)
            epoch_logs["val_loss"] = float(val_loss_sum.numpy() / len(x_val))
            epoch_logs["val_accuracy"] = float(correct.numpy() / len(x_val))
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training:
            break
    cbs.on_train_end({})
    model.history = history
    return history
