"""CNN preset search: which CNN reaches >= 99.0 % test accuracy in <= 3x the book's fit time?

In one process, on real MNIST (``MNIST_PATH``), for each candidate and seed:

(a) the book script's fit, timed as written: ``model.fit(x, y, batch_size=100,
    epochs=5, verbose=0)`` on Dense(10, sigmoid) -> Dense(10, softmax), SGD;
(b) the candidate trained as the app trains it: a seeded ``keras.Sequential`` of
    standard layers + ``core.fastfit.fit`` with the app's live callback
    (``core.training.LiveHistory``), then ``model.evaluate`` on the test set.

The book fit runs before the first candidate and after every candidate (after
all its seeds); a candidate's ratio is its fit time over the mean of the two
book fits around it (the machine is shared, so only a ratio within one run
means anything).

``jit_compile=True``, which ``core.fastfit.fit`` does not use, is measured by
swapping in its ``_make_train_chunk`` with that flag (XLA compiles once per
chunk length, so those candidates fix ``steps_per_chunk``). Prints one
JSON line per (candidate, seed); docs/NOTES.md "CNN preset search" has the figures.

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_cnn_search.py \
        --candidates c16_32_bn_2ep,kerasio_1ep --seeds 0 [--list] [--intra N --inter N]
        [--script-check]   # also train with plain model.fit (the exported script's way)
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
import time

from _common import add_thread_options, apply_thread_options, load_mnist
from bench_training import book_fit, book_inputs

# A candidate: the layers (standard Keras only), the optimizer and its schedule, the
# fit arguments and the fast-path options. convs: (filters, kernel) per Conv2D(relu),
# each followed by MaxPooling2D(2) and, with bn, BatchNormalization (after the pool:
# a quarter of the values to normalise). schedule "warmup_cosine": CosineDecay from
# lr/10 warming up linearly to lr over `warmup` of the steps, then down to 0.
BASE = dict(convs=((32, 3), (64, 3)), bn=False, hidden=((128, "relu"),), dropout=0.25,
            optimizer="adam", lr=0.002, schedule=None, warmup=0.1, batch=128, epochs=4,
            jit=False, steps_per_chunk=None)


def cand(**changes):
    unknown = set(changes) - set(BASE)
    if unknown:
        raise ValueError(f"unknown candidate keys {sorted(unknown)}")
    return {**BASE, **changes}


SMALL = ((16, 3), (32, 3))
CANDIDATES = {
    # Today's preset (PRESETS["CNN"]) and keras-io's mnist_convnet (one of its 15 epochs).
    "preset_cnn_4ep": cand(),
    "kerasio_1ep": cand(hidden=(), dropout=0.5, lr=0.001, epochs=1),
    # Today's stack, fewer epochs, with a warm-up + cosine schedule and/or batch norm.
    "c32_64_1ep_cos": cand(epochs=1, lr=0.003, schedule="warmup_cosine"),
    "c32_64_2ep_cos": cand(epochs=2, lr=0.003, schedule="warmup_cosine"),
    "c32_64_bn_1ep_cos": cand(epochs=1, bn=True, lr=0.005, schedule="warmup_cosine"),
    "c32_64_bn_2ep_cos": cand(epochs=2, bn=True, lr=0.005, schedule="warmup_cosine"),
    # A smaller stack: Conv16 -> Pool -> Conv32 -> Pool (a quarter of the arithmetic).
    "c16_32_2ep": cand(convs=SMALL, epochs=2, lr=0.003),
    "c16_32_2ep_cos": cand(convs=SMALL, epochs=2, lr=0.004, schedule="warmup_cosine"),
    "c16_32_bn_2ep_cos": cand(convs=SMALL, epochs=2, bn=True, lr=0.006, schedule="warmup_cosine"),
    "c16_32_bn_3ep_cos": cand(convs=SMALL, epochs=3, bn=True, lr=0.006, schedule="warmup_cosine"),
    "c16_32_bn_2ep_cos_b256": cand(convs=SMALL, epochs=2, bn=True, lr=0.004, batch=256,
                                   schedule="warmup_cosine"),
    "c32_64_1ep_cos_b64": cand(epochs=1, lr=0.002, batch=64, schedule="warmup_cosine"),
    "c16_32_1ep_cos_b64": cand(convs=SMALL, epochs=1, lr=0.003, batch=64, schedule="warmup_cosine"),
    "c16_32_2ep_cos_b256": cand(convs=SMALL, epochs=2, lr=0.004, batch=256, schedule="warmup_cosine"),
    "c16_32_bn_2ep_cos_d10": cand(convs=SMALL, epochs=2, bn=True, hidden=(), dropout=0.0, lr=0.006,
                                  schedule="warmup_cosine"),
    "c16_32_bn_2ep_cos_jit": cand(convs=SMALL, epochs=2, bn=True, lr=0.006, schedule="warmup_cosine",
                                  jit=True, steps_per_chunk=32),
    "c16_32_bn_2ep_cos_chunk64": cand(convs=SMALL, epochs=2, bn=True, lr=0.006, schedule="warmup_cosine",
                                      steps_per_chunk=64),
    "c32_64_bn_1ep_cos_jit": cand(epochs=1, bn=True, lr=0.005, schedule="warmup_cosine", jit=True,
                                  steps_per_chunk=32),
    "c16_32_bn_1ep_cos": cand(convs=SMALL, epochs=1, bn=True, lr=0.006, schedule="warmup_cosine"),
    "c16_32_bn_1ep_cos_jit": cand(convs=SMALL, epochs=1, bn=True, lr=0.006, schedule="warmup_cosine", jit=True,
                                  steps_per_chunk=32),
    "c16_32_2ep_cos_jit": cand(convs=SMALL, epochs=2, lr=0.004, schedule="warmup_cosine", jit=True,
                                  steps_per_chunk=32),
    "kerasio_1ep_jit": cand(hidden=(), dropout=0.5, lr=0.001, epochs=1, jit=True, steps_per_chunk=32),
}


def describe(spec) -> str:
    """The layers in one line, like ModelConfig.architecture_text."""
    parts = []
    for filters, kernel in spec["convs"]:
        parts.append(f"Conv{filters}({kernel}x{kernel})-Pool" + ("-BN" if spec["bn"] else ""))
    parts.append("Flatten")
    parts += [f"Dense{units}({act})" for units, act in spec["hidden"]]
    if spec["dropout"]:
        parts.append(f"Drop{spec['dropout']:g}")
    parts.append("Dense10")
    return " > ".join(parts)


def build(spec, seed: int, steps_per_epoch: int):
    """A compiled, seeded keras.Sequential of standard layers (what an exported script would write)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    stack = [keras.Input(shape=(28, 28, 1))]
    for filters, kernel in spec["convs"]:
        stack.append(layers.Conv2D(filters, kernel_size=(kernel, kernel), activation="relu"))
        stack.append(layers.MaxPooling2D(pool_size=(2, 2)))
        if spec["bn"]:
            stack.append(layers.BatchNormalization())
    stack.append(layers.Flatten())
    for units, activation in spec["hidden"]:
        stack.append(layers.Dense(units, activation=activation))
    if spec["dropout"]:
        stack.append(layers.Dropout(spec["dropout"]))
    stack.append(layers.Dense(10, activation="softmax"))
    model = keras.Sequential(stack)
    lr = spec["lr"]
    if spec["schedule"] == "warmup_cosine":
        total = steps_per_epoch * spec["epochs"]
        warmup = int(round(spec["warmup"] * total))
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=spec["lr"] / 10, decay_steps=total - warmup,
            warmup_target=spec["lr"], warmup_steps=warmup)
    elif spec["schedule"] is not None:
        raise ValueError(f"unknown schedule {spec['schedule']!r}")
    optimizer = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[spec["optimizer"]](learning_rate=lr)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def candidate_fit(spec, seed, x_train, y_train, x_test, y_test, *, plain_fit=False):
    """Train as the app does (fastfit + live callback); returns (seconds, test acc, last train acc)."""
    from core import fastfit
    from core.callbacks import LiveHistory

    steps = math.ceil(len(x_train) / spec["batch"])
    model = build(spec, seed, steps)
    original = fastfit._make_train_chunk
    if spec["jit"]:
        fastfit._make_train_chunk = functools.partial(original, jit_compile=True)
    try:
        start = time.perf_counter()
        if plain_fit:  # the exported script's way
            model.fit(x_train, y_train, batch_size=spec["batch"], epochs=spec["epochs"], verbose=0)
        else:
            live = LiveHistory(steps_per_epoch=steps, epochs=spec["epochs"])
            fastfit.fit(model, x_train, y_train, batch_size=spec["batch"], epochs=spec["epochs"], seed=seed,
                        callbacks=[live], steps_per_chunk=spec["steps_per_chunk"])
        seconds = time.perf_counter() - start
        train_accuracy = float(model.history.history["accuracy"][-1])
    finally:
        fastfit._make_train_chunk = original
    _, accuracy = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    return seconds, float(accuracy), train_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default="c16_32_bn_2ep_cos")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--list", action="store_true", help="print the candidates and exit")
    parser.add_argument("--script-check", action="store_true",
                        help="also train each candidate with plain model.fit and compare accuracies")
    add_thread_options(parser)
    args = parser.parse_args()
    names = [name.strip() for name in args.candidates.split(",") if name.strip()]
    if args.list:
        for name, spec in CANDIDATES.items():
            print(name, "|", describe(spec), "|", {k: v for k, v in spec.items() if k not in ("convs", "hidden")})
        return
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        sys.exit(f"unknown candidates {unknown}; --list shows them")
    seeds = [int(s) for s in args.seeds.split(",")]

    import tensorflow as tf

    apply_thread_options(args)
    import keras

    from core.model import PRESETS, input_shape_for
    from core.preprocess import one_hot

    (images_train, labels_train), (images_test, labels_test) = load_mnist()
    book_x, book_x_test = book_inputs(images_train, images_test)
    y_train, y_test = one_hot(labels_train), one_hot(labels_test)
    shape = input_shape_for(PRESETS["CNN"])
    x_train, x_test = book_x.reshape(-1, *shape), book_x_test.reshape(-1, *shape)

    book_before, _ = book_fit(book_x, y_train, book_x_test, y_test)
    for name in names:
        spec = CANDIDATES[name]
        rows = []
        for seed in seeds:
            seconds, accuracy, train_accuracy = candidate_fit(spec, seed, x_train, y_train, x_test, y_test)
            row = {
                "candidate": name, "seed": seed, "layers": describe(spec),
                "batch": spec["batch"], "epochs": spec["epochs"], "optimizer": spec["optimizer"],
                "lr": spec["lr"], "schedule": spec["schedule"], "jit": spec["jit"],
                "steps_per_chunk": spec["steps_per_chunk"],
                "fit_s": round(seconds, 2), "test_accuracy": round(accuracy, 4),
                "train_accuracy_last_epoch": round(train_accuracy, 4),
            }
            if args.script_check:
                plain_s, plain_acc, _ = candidate_fit(spec, seed, x_train, y_train, x_test, y_test, plain_fit=True)
                row.update(plain_fit_s=round(plain_s, 2), plain_fit_accuracy=round(plain_acc, 4))
            rows.append(row)
        # One book fit after each candidate (all its seeds): with the one before, it brackets them.
        book_after, _ = book_fit(book_x, y_train, book_x_test, y_test)
        book_s = (book_before + book_after) / 2
        for row in rows:
            row.update(book_s=round(book_s, 2), book_runs_s=[round(book_before, 2), round(book_after, 2)],
                       ratio=round(row["fit_s"] / book_s, 2))
            row["threads"] = [tf.config.threading.get_intra_op_parallelism_threads(),
                              tf.config.threading.get_inter_op_parallelism_threads()]
            print(json.dumps(row), flush=True)
        book_before = book_after
    print(json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
