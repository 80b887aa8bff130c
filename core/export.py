"""The exported script: one runnable Python file that trains a ModelConfig with plain ``model.fit``.

Its layers are :func:`core.model.layer_specs` written as code and its data
preparation is :func:`core.preprocess.model_input_code`, so the script builds
the playground's network from the playground's input, and (same seed, same
batch order, see core/fastfit.py) reaches the same test accuracy.
"""

from __future__ import annotations

from core.model import OPTIMIZER_CLASSES, ModelConfig, input_shape_for, layer_specs
from core.preprocess import NUM_CLASSES, model_input_code

#: Datasets keras_script can load, with the environment variable for an offline copy.
SCRIPT_DATASETS = {"mnist": "MNIST_PATH", "fashion_mnist": "FASHION_MNIST_PATH"}


def keras_script(config: ModelConfig, *, dataset_name: str = "mnist") -> str:
    """One complete, runnable Python script that trains ``config`` with plain ``model.fit``.

    It loads the data (``keras.datasets.<name>.load_data()``, or the .npz named
    by ``MNIST_PATH`` / ``FASHION_MNIST_PATH`` when set, for offline machines),
    prepares it like the playground, builds the same layers after the same
    ``keras.utils.set_random_seed``, trains, evaluates and prints
    ``Test accuracy: 0.xxxx``. Run on the same data it reproduces the
    playground's test accuracy (core/fastfit.py uses ``model.fit``'s batch order).
    """
    if not isinstance(config, ModelConfig):
        raise ValueError(f"keras_script expects a ModelConfig, got {type(config).__name__}")
    if dataset_name not in SCRIPT_DATASETS:
        raise ValueError(f"dataset_name must be one of {tuple(SCRIPT_DATASETS)}, got {dataset_name!r}")
    env = SCRIPT_DATASETS[dataset_name]
    network_input = (None, *input_shape_for(config))
    # The same two steps as core.preprocess.model_input, written by its own module.
    # Step by step (both sets scaled, then both reshaped), as the book writes it.
    steps = zip(*(model_input_code(name, input_shape=network_input) for name in ("x_train", "x_test")))
    prepare = "\n".join(line for step in steps for line in step)
    layer_lines = "\n".join(f"    {spec.code()}," for spec in layer_specs(config))
    optimizer = f"keras.optimizers.{OPTIMIZER_CLASSES[config.optimizer]}(learning_rate={config.learning_rate!r})"
    book_note = ""
    if config.optimizer == "sgd" and config.learning_rate == 0.01:
        book_note = "# (the book writes optimizer=\"sgd\": the same SGD with its default learning rate 0.01)\n"
    fit_extra = f", validation_split={config.validation_split!r}" if config.validation_split else ""
    return f'''"""{config.name}: {config.architecture_text()}

Exported from MNIST Playground. Trains on {dataset_name} exactly as the playground
did: same layers, same seed ({config.seed}), same optimizer, batch size and epochs,
so the test accuracy printed at the end matches the playground's.

Run:  python this_script.py        (needs TensorFlow 2.16+ with Keras 3)
Offline? Set {env}=/path/to/{dataset_name}.npz (the Keras .npz file).
"""
import os

import numpy as np
import keras
from keras import layers

SEED = {config.seed}


def load_data():
    """(x_train, y_train), (x_test, y_test) as uint8 images and integer labels."""
    path = os.environ.get("{env}")
    if path:
        with np.load(path, allow_pickle=False) as data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])
    return keras.datasets.{dataset_name}.load_data()


# 1. The data: 28x28 grey images (uint8, 0..255) and their digits.
(x_train, y_train), (x_test, y_test) = load_data()
print("x_train:", x_train.shape, x_train.dtype, " x_test:", x_test.shape)

# 2. Prepare it: scale pixels to 0..1 floats, shape each image for the network
#    {network_input[1:]!r}, and one-hot encode the labels.
{prepare}
y_train = keras.utils.to_categorical(y_train, {NUM_CLASSES})
y_test = keras.utils.to_categorical(y_test, {NUM_CLASSES})

# 3. The model. Seeding first makes the initial weights (and fit's shuffling)
#    the same as in the playground.
keras.utils.set_random_seed(SEED)
model = keras.Sequential([
{layer_lines}
])
model.summary()

# 4. Compile and train.
{book_note}model.compile(
    loss="{config.loss}",
    optimizer={optimizer},
    metrics=["accuracy"],
)
model.fit(x_train, y_train, batch_size={config.batch_size}, epochs={config.epochs}{fit_extra})

# 5. Evaluate on the 10,000 test images the network never saw.
test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test loss: {{test_loss:.4f}}")
print(f"Test accuracy: {{test_accuracy:.4f}}")
'''
