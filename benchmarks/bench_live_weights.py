"""What the live weight pictures cost a training: the same run with and without WeightsSnapshot.

The Book preset on the real MNIST (``MNIST_PATH``), the app's path (build_model +
core.fastfit.fit with core.callbacks.LiveHistory), once with only LiveHistory and
once with LiveHistory + core.callbacks.WeightsSnapshot (a copy of every weight at
each epoch's end), alternating ``--repeats`` times; the best time of each counts.
``--cnn-images N`` adds the CNN preset for one epoch on the first N images.
Target: overhead <= 5 %. Prints ONE JSON line.

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_live_weights.py [--repeats 3] [--cnn-images 0]
"""

from __future__ import annotations

import argparse
import json
import math
import time

from _common import load_mnist


def timed_fit(config, images, labels, *, with_weights: bool) -> tuple[float, float]:
    """(seconds of fastfit.fit, seconds spent copying weights) for one training."""
    from core import fastfit
    from core.callbacks import LiveHistory, WeightsSnapshot
    from core.model import build_model, model_input
    from core.preprocess import one_hot

    x, y = model_input(config, images), one_hot(labels)
    model = build_model(config)
    callbacks = [LiveHistory(steps_per_epoch=math.ceil(len(x) / config.batch_size), epochs=config.epochs)]
    weights = WeightsSnapshot() if with_weights else None
    if weights is not None:
        callbacks.append(weights)
    start = time.perf_counter()
    fastfit.fit(model, x, y, batch_size=config.batch_size, epochs=config.epochs,
                validation_split=config.validation_split, seed=config.seed, callbacks=callbacks)
    seconds = time.perf_counter() - start
    if weights is not None:
        epoch, copy = weights.latest()
        assert epoch == config.epochs and copy, "WeightsSnapshot did not copy every epoch"
    return seconds, weights.seconds if weights is not None else 0.0


def compare(config, images, labels, repeats: int) -> dict:
    without, with_ = [], []
    copy_seconds = 0.0
    for _ in range(repeats):
        without.append(timed_fit(config, images, labels, with_weights=False)[0])
        seconds, copying = timed_fit(config, images, labels, with_weights=True)
        with_.append(seconds)
        copy_seconds = copying
    best_without, best_with = min(without), min(with_)
    return {
        "without_s": round(best_without, 3), "with_s": round(best_with, 3),
        "overhead": round(best_with / best_without - 1, 4),
        "copying_s_per_run": round(copy_seconds, 4),
        "copying_share": round(copy_seconds / best_with, 4),
        "without_runs_s": [round(s, 3) for s in without], "with_runs_s": [round(s, 3) for s in with_],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cnn-images", type=int, default=0)
    args = parser.parse_args()
    from core.model import PRESETS

    (images, labels), _ = load_mnist()
    result = {"book": compare(PRESETS["Book"], images, labels, args.repeats)}
    if args.cnn_images:
        cnn = PRESETS["CNN"].replace(epochs=1)
        result["cnn_1_epoch"] = compare(cnn, images[: args.cnn_images], labels[: args.cnn_images], args.repeats)
        result["cnn_images"] = args.cnn_images
    print(json.dumps(result))


if __name__ == "__main__":
    main()
