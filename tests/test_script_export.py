"""The exported Keras script, run for real, reproduces the playground's test accuracy.

The playground trains with ``build_model`` + ``core.fastfit.fit``; the script
with plain ``model.fit``. Both run here on the same real MNIST (the script gets
it through ``MNIST_PATH``) and must end within 0.002 of each other. The Book
preset runs in full; the other configurations use a slice of the training set
and fewer epochs (written to a temporary .npz the script loads) to stay quick.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from core import fastfit
from core.export import keras_script
from core.model import PRESETS, ModelConfig, build_model, model_input
from core.preprocess import one_hot

TOLERANCE = 0.002
SCRIPT_TIMEOUT = 600


def playground_test_accuracy(config: ModelConfig, x_train, y_train, x_test, y_test) -> float:
    model = build_model(config)
    fastfit.fit(
        model, model_input(config, x_train), one_hot(y_train), batch_size=config.batch_size,
        epochs=config.epochs, validation_split=config.validation_split, seed=config.seed,
    )
    _, accuracy = model.evaluate(model_input(config, x_test), one_hot(y_test), batch_size=1000, verbose=0)
    return float(accuracy)


def script_test_accuracy(config: ModelConfig, npz_path, tmp_path) -> float:
    script = tmp_path / "exported.py"
    script.write_text(keras_script(config))
    env = {**os.environ, "MNIST_PATH": str(npz_path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.findall(r"^Test accuracy: ([0-9.]+)$", done.stdout, flags=re.MULTILINE)
    assert found, done.stdout[-3000:]
    return float(found[-1])


CASES = {
    # name: (config, training images used)
    "Book": (PRESETS["Book"], None),
    "CNN-1-epoch": (PRESETS["CNN"].replace(epochs=1, validation_split=0.1), 6_000),
    "custom": (
        ModelConfig(name="Custom", hidden=((64, "tanh"), (32, "relu")), dropout=0.2, optimizer="rmsprop",
                    learning_rate=0.002, batch_size=64, epochs=2, validation_split=0.1, seed=11),
        12_000,
    ),
}


@pytest.mark.slow  # trains each case twice, once in a subprocess script
@pytest.mark.parametrize("case", list(CASES))
def test_exported_script_reproduces_playground_accuracy(case, mnist, tmp_path):
    config, limit = CASES[case]
    x_train, y_train = mnist.x_train[:limit], mnist.y_train[:limit]
    npz_path = tmp_path / "mnist.npz"
    np.savez(npz_path, x_train=x_train, y_train=y_train, x_test=mnist.x_test, y_test=mnist.y_test)

    playground = playground_test_accuracy(config, x_train, y_train, mnist.x_test, mnist.y_test)
    script = script_test_accuracy(config, npz_path, tmp_path)
    assert abs(playground - script) <= TOLERANCE, (case, playground, script)
    assert playground > 0.5  # it really trained
