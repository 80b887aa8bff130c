"""What it takes the book's network to reach 0.90 test accuracy (recorded in core/book.py).

The Book preset (Dense(10, sigmoid) -> Dense(10, softmax), SGD, batch 100, seed 0)
trained with core.fastfit on the real MNIST (``MNIST_PATH``), the test set passed as
validation data so every epoch's test accuracy is known:

(a) learning rate 0.01 (the book's), up to ``--max-epochs`` epochs: the first epoch
    whose test accuracy reaches 0.90;
(b) the book's 5 epochs at larger learning rates: test accuracy after epoch 5;
(c) the book's settings with other seeds: how far its printed log may lie from seed 0's.

Prints ONE JSON line.

    MNIST_PATH=/path/mnist.npz python benchmarks/book_to_90.py [--max-epochs 80]
"""

from __future__ import annotations

import argparse
import json
import time

from _common import real_mnist

TARGET = 0.90
RATES = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)
SEEDS = (1, 2, 3, 4)


def train(config, x, y, x_test, y_test, *, epochs=None):
    from core import fastfit
    from core.model import build_model

    import keras

    class TestAccuracy(keras.callbacks.Callback):
        """The test set's accuracy after every epoch, as val_accuracy (fastfit.evaluate)."""

        def on_epoch_end(self, epoch, logs=None):
            scores = fastfit.evaluate(self.model, x_test, y_test)
            logs["val_loss"], logs["val_accuracy"] = scores["loss"], scores["accuracy"]

    model = build_model(config)
    started = time.perf_counter()
    # epochs may exceed ModelConfig's 50: fastfit takes any number.
    history = fastfit.fit(
        model, x, y, batch_size=config.batch_size, epochs=epochs or config.epochs, seed=config.seed,
        callbacks=[TestAccuracy()],
    )
    return history.history, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-epochs", type=int, default=80)
    args = parser.parse_args()

    from core.model import PRESETS, model_input
    from core.preprocess import one_hot

    data = real_mnist()
    book = PRESETS["Book"]
    x, y = model_input(book, data.x_train), one_hot(data.y_train)
    x_test, y_test = model_input(book, data.x_test), one_hot(data.y_test)

    result = {}
    logs, seconds = train(book, x, y, x_test, y_test, epochs=args.max_epochs)
    acc = [round(a, 4) for a in logs["val_accuracy"]]
    first = next((i + 1 for i, a in enumerate(acc) if a >= TARGET), None)
    result["lr0.01"] = {"test_accuracy_by_epoch": acc, "first_epoch_at_0.90": first,
                        "seconds": round(seconds, 1)}
    result["five_epochs"] = {}
    for rate in RATES:
        logs, seconds = train(book.replace(learning_rate=rate), x, y, x_test, y_test)
        result["five_epochs"][str(rate)] = {
            "test_accuracy_by_epoch": [round(a, 4) for a in logs["val_accuracy"]],
            "loss_by_epoch": [round(v, 4) for v in logs["loss"]],
            "accuracy_by_epoch": [round(v, 4) for v in logs["accuracy"]],
            "seconds": round(seconds, 1),
        }
    result["seeds"] = {}
    for seed in SEEDS:
        logs, seconds = train(book.replace(seed=seed), x, y, x_test, y_test)
        result["seeds"][str(seed)] = {
            "loss_by_epoch": [round(v, 4) for v in logs["loss"]],
            "accuracy_by_epoch": [round(v, 4) for v in logs["accuracy"]],
            "test_accuracy": round(logs["val_accuracy"][-1], 4),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
