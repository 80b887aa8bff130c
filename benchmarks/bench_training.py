"""Training speed: the book's ``model.fit`` against the playground's fast loop.

In one process, on the same real MNIST (``MNIST_PATH``):

(a) the book's code as written: ``model.fit(x_train, y_train, batch_size=100,
    epochs=5, verbose=0)`` on Dense(10, sigmoid) -> Dense(10, softmax), SGD;
(b) the playground's path for the Book preset: ``core.model.build_model`` +
    ``core.fastfit.fit`` with a live callback (``core.callbacks.LiveHistory``);
(c) for context, (a) compiled with ``steps_per_execution`` (Keras' own remedy);
(d) the CNN preset on the fast path (target: >= 0.990 test accuracy in <= 60 s).

(a) and (b) alternate ``--repeats`` times; the best time of each counts (other
work on the machine only ever adds time). Prints ONE JSON line.

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_training.py [--repeats 2]
        [--no-cnn] [--intra N] [--inter N]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _common import add_thread_options, apply_thread_options, load_mnist

BOOK_BATCH_SIZE, BOOK_EPOCHS = 100, 5
STEPS_PER_EXECUTION = 50


def book_inputs(images_train, images_test):
    """The book's preparation, step by step: floats in [0, 1], one row of 784 per image."""
    x_train = (images_train.astype("float32") / 255).reshape(60000, 784)
    x_test = (images_test.astype("float32") / 255).reshape(10000, 784)
    return x_train, x_test


def book_fit(x_train, y_train, x_test, y_test, *, steps_per_execution=1):
    """The chapter's code (seeded like the Book preset so accuracies compare)."""
    from tests.helpers import book_network

    model = book_network(optimizer="sgd", steps_per_execution=steps_per_execution)
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=BOOK_BATCH_SIZE, epochs=BOOK_EPOCHS, verbose=0)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    return seconds, float(accuracy)


def live_callback(config, steps):
    """The app's live callback, core.callbacks.LiveHistory."""
    from core.callbacks import LiveHistory

    return LiveHistory(steps_per_epoch=steps, epochs=config.epochs)


def playground_fit(config, images_train, labels_train, images_test, labels_test):
    """The app's path: build_model + fastfit.fit with a live callback; returns (s, acc, callback)."""
    import math

    from core import fastfit
    from core.model import build_model, model_input
    from core.preprocess import one_hot

    x_train, y_train = model_input(config, images_train), one_hot(labels_train)
    x_test, y_test = model_input(config, images_test), one_hot(labels_test)
    model = build_model(config)
    live = live_callback(config, math.ceil(len(x_train) / config.batch_size))
    start = time.perf_counter()
    fastfit.fit(model, x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
                validation_split=config.validation_split, seed=config.seed, callbacks=[live])
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    return seconds, float(accuracy), live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-cnn", action="store_true", help="skip the CNN preset")
    add_thread_options(parser)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    apply_thread_options(args)
    import keras

    from core.model import PRESETS
    from core.preprocess import one_hot

    (images_train, labels_train), (images_test, labels_test) = load_mnist()
    x_train, x_test = book_inputs(images_train, images_test)
    y_train = keras.utils.to_categorical(labels_train, 10)
    y_test = keras.utils.to_categorical(labels_test, 10)
    assert np.array_equal(y_train, one_hot(labels_train))

    book_runs, fast_runs = [], []
    for _ in range(args.repeats):
        book_runs.append(book_fit(x_train, y_train, x_test, y_test))
        seconds, accuracy, live = playground_fit(PRESETS["Book"], images_train, labels_train,
                                                 images_test, labels_test)
        fast_runs.append((seconds, accuracy))
    spe_seconds, spe_accuracy = book_fit(x_train, y_train, x_test, y_test,
                                         steps_per_execution=STEPS_PER_EXECUTION)
    book_s, book_acc = min(book_runs)
    fast_s, fast_acc = min(fast_runs)
    result = {
        "book_fit_s": round(book_s, 3),
        "fast_fit_s": round(fast_s, 3),
        "ratio": round(book_s / fast_s, 2),
        "book_test_accuracy": round(book_acc, 4),
        "fast_test_accuracy": round(fast_acc, 4),
        "accuracy_diff": round(abs(book_acc - fast_acc), 4),
        "book_runs_s": [round(s, 3) for s, _ in book_runs],
        "fast_runs_s": [round(s, 3) for s, _ in fast_runs],
        "live_callback": type(live).__name__,
        f"spe{STEPS_PER_EXECUTION}_fit_s": round(spe_seconds, 3),
        f"spe{STEPS_PER_EXECUTION}_ratio": round(book_s / spe_seconds, 2),
        f"spe{STEPS_PER_EXECUTION}_test_accuracy": round(spe_accuracy, 4),
    }
    if not args.no_cnn:
        cnn = PRESETS["CNN"]
        seconds, accuracy, _ = playground_fit(cnn, images_train, labels_train, images_test, labels_test)
        result.update(cnn_fit_s=round(seconds, 2), cnn_test_accuracy=round(accuracy, 4), cnn_epochs=cnn.epochs)
    result.update(
        threads={"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                 "inter": tf.config.threading.get_inter_op_parallelism_threads(),
                 "cpus": os.cpu_count()},
        tensorflow=tf.__version__, keras=keras.__version__,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
