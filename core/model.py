"""Model configurations, the Keras models they build, and their exported scripts.

A :class:`ModelConfig` is a frozen description of one training (layers,
optimizer, batch size, epochs, seed). :func:`build_model` turns it into a
compiled ``keras.Sequential`` (a declarative list of layers, as in the book),
:func:`summary_rows` explains its parameter count line by line, and
:func:`keras_script` writes a complete Python script that trains the same
model with plain ``model.fit`` and reaches the same test accuracy.

Keras is imported inside functions: pages that only show configurations never
pay for importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from core.preprocess import IMAGE_SHAPE, NUM_CLASSES

KINDS = ("dense", "cnn")
ACTIVATIONS = ("sigmoid", "relu", "tanh")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
LOSSES = ("categorical_crossentropy",)
MAX_HIDDEN_LAYERS = 3
MAX_UNITS = 1024
MAX_BATCH_SIZE = 60_000
MAX_EPOCHS = 50
MAX_VALIDATION_SPLIT = 0.2
MAX_DROPOUT = 0.8
MAX_SEED = 2**31 - 1  # TensorFlow seeds are 32-bit
#: Keras' class for each optimizer name (its default learning rate in comments).
OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}  # 0.01, 0.001, 0.001
#: The convolutional front of the "cnn" kind (keras-io's mnist_convnet):
#: (filters, kernel size) per Conv2D, each followed by 2x2 max pooling.
CNN_BLOCKS = ((32, 3), (64, 3))
CNN_POOL = 2
#: Datasets keras_script can load, with the environment variable for an offline copy.
SCRIPT_DATASETS = {"mnist": "MNIST_PATH", "fashion_mnist": "FASHION_MNIST_PATH"}

# keras.utils.set_random_seed is process-wide: two trainings building models in
# two threads must not interleave their seeding and weight creation.
_BUILD_LOCK = threading.Lock()


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True)
class ModelConfig:
    """Everything that decides one training: the network, the optimizer, the schedule, the seed.

    ``hidden`` lists the hidden Dense layers as (units, activation); for
    ``kind="cnn"`` they come after the convolutional blocks (``CNN_BLOCKS``).
    Every model ends in Dense(10, softmax) and is trained with
    categorical cross-entropy on one-hot labels. ``dropout`` (0 = none) sits
    before the output layer. Invalid values raise ValueError when the config
    is made.
    """

    name: str = "Book"
    kind: str = "dense"
    hidden: tuple[tuple[int, str], ...] = ((10, "sigmoid"),)
    dropout: float = 0.0
    optimizer: str = "sgd"
    learning_rate: float = 0.01
    loss: str = "categorical_crossentropy"
    batch_size: int = 100
    epochs: int = 5
    validation_split: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        errors = []
        if not isinstance(self.name, str) or not self.name.strip():
            errors.append(f"name must be a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            errors.append(f"kind must be one of {KINDS}, got {self.kind!r}")
        hidden = self._check_hidden(self.hidden, errors)
        if not _is_number(self.dropout) or not 0.0 <= self.dropout <= MAX_DROPOUT:
            errors.append(f"dropout must be between 0 and {MAX_DROPOUT}, got {self.dropout!r}")
        if self.optimizer not in OPTIMIZERS:
            errors.append(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if not _is_number(self.learning_rate) or not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            errors.append(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if self.loss not in LOSSES:
            errors.append(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if not _is_int(self.batch_size) or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            errors.append(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE:,}, got {self.batch_size!r}")
        if not _is_int(self.epochs) or not 1 <= self.epochs <= MAX_EPOCHS:
            errors.append(f"epochs must be an integer from 1 to {MAX_EPOCHS}, got {self.epochs!r}")
        if not _is_number(self.validation_split) or not 0.0 <= self.validation_split <= MAX_VALIDATION_SPLIT:
            errors.append(
                f"validation_split must be between 0 and {MAX_VALIDATION_SPLIT}, got {self.validation_split!r}"
            )
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            errors.append(f"seed must be an integer from 0 to {MAX_SEED}, got {self.seed!r}")
        if errors:
            raise ValueError("invalid ModelConfig: " + "; ".join(errors))
        # Normalise types (JSON gives lists, NumPy gives np.int64) so equal configs compare equal.
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "hidden", hidden)
        for name, kind in (("dropout", float), ("learning_rate", float), ("validation_split", float),
                           ("batch_size", int), ("epochs", int), ("seed", int)):
            object.__setattr__(self, name, kind(getattr(self, name)))

    @staticmethod
    def _check_hidden(hidden: Any, errors: list[str]) -> tuple[tuple[int, str], ...]:
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__len__"):
            errors.append(f"hidden must be a sequence of (units, activation) pairs, got {hidden!r}")
            return ()
        if len(hidden) > MAX_HIDDEN_LAYERS:
            errors.append(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(hidden)}")
        layers = []
        for i, layer in enumerate(hidden, start=1):
            if isinstance(layer, Mapping):
                layer = (layer.get("units"), layer.get("activation"))
            if isinstance(layer, (str, bytes)) or not hasattr(layer, "__len__") or len(layer) != 2:
                errors.append(f"hidden layer {i} must be (units, activation), got {layer!r}")
                continue
            units, activation = layer
            if not _is_int(units) or not 1 <= units <= MAX_UNITS:
                errors.append(f"hidden layer {i}: units must be an integer from 1 to {MAX_UNITS}, got {units!r}")
            if activation not in ACTIVATIONS:
                errors.append(f"hidden layer {i}: activation must be one of {ACTIVATIONS}, got {activation!r}")
            else:
                layers.append((int(units), str(activation)))
        return tuple(layers)

    # -- presentation -----------------------------------------------------------------
    def architecture_text(self) -> str:
        """The layers in one line, e.g. ``Dense(10, sigmoid) → Dense(10, softmax)``."""
        parts = []
        if self.kind == "cnn":
            for filters, size in CNN_BLOCKS:
                parts.append(f"Conv2D({filters}, {size}×{size}, relu) → MaxPool({CNN_POOL}×{CNN_POOL})")
            parts.append("Flatten")
        parts += [f"Dense({units}, {activation})" for units, activation in self.hidden]
        if self.dropout:
            parts.append(f"Dropout({self.dropout:g})")
        parts.append(f"Dense({NUM_CLASSES}, softmax)")
        return " → ".join(parts)

    def __repr__(self) -> str:
        return (
            f"ModelConfig({self.name!r}: {self.architecture_text()}; "
            f"{self.optimizer}(learning_rate={self.learning_rate:g}), {self.loss}; "
            f"batch_size={self.batch_size}, epochs={self.epochs}, "
            f"validation_split={self.validation_split:g}, seed={self.seed})"
        )

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (hidden layers as {"units", "activation"} objects)."""
        data = dataclasses.asdict(self)
        data["hidden"] = [{"units": u, "activation": a} for u, a in self.hidden]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; missing keys take the defaults, unknown keys are an error."""
        if not isinstance(data, Mapping):
            raise ValueError(f"ModelConfig.from_dict expects a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys: {unknown} (known: {sorted(known)})")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


#: The presets, in menu order; "Book" (the chapter's model) is the default.
PRESETS: dict[str, ModelConfig] = {
    # The book's network exactly: compile(optimizer="sgd") means SGD with its default
    # learning rate 0.01; fit(batch_size=100, epochs=5).
    "Book": ModelConfig(),
    # One wide relu layer with Adam: about 98% on MNIST test in ten fast epochs.
    "Dense": ModelConfig(
        name="Dense", hidden=((256, "relu"),), optimizer="adam", learning_rate=0.001,
        batch_size=100, epochs=10,
    ),
    # keras-io's mnist_convnet with a Dense(128) head and Adam at 0.002: >= 99.0% test
    # accuracy after 4 epochs (about 25-40 s on 2 CPU cores) where keras-io's own
    # takes 15 epochs; see benchmarks/bench_training.py.
    "CNN": ModelConfig(
        name="CNN", kind="cnn", hidden=((128, "relu"),), dropout=0.25, optimizer="adam",
        learning_rate=0.002, batch_size=128, epochs=4,
    ),
}
DEFAULT_PRESET = "Book"


def input_shape_for(config: ModelConfig, image_shape: tuple[int, int] = IMAGE_SHAPE) -> tuple[int, ...]:
    """What one sample looks like to the network: (784,) for dense, (28, 28, 1) for cnn."""
    height, width = image_shape
    if config.kind == "cnn":
        return (height, width, 1)
    return (height * width,)


def model_input(config: ModelConfig, images: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 or float images -> float32 network input: (N, H*W) or (N, H, W, 1).

    uint8 pixels are scaled to [0, 1] (the book's ``astype('float32') / 255``);
    float images are taken as already scaled.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"model_input expects (N, height, width) images, got shape {images.shape}")
    if images.dtype == np.uint8:
        images = images.astype(np.float32) / np.float32(255.0)
    else:
        images = images.astype(np.float32, copy=False)
    return images.reshape((len(images), *input_shape_for(config, images.shape[1:])))


def _check_cnn_fits(image_shape: tuple[int, int]) -> None:
    size = min(image_shape)
    for _filters, kernel in CNN_BLOCKS:
        size = (size - kernel + 1) // CNN_POOL
    if size < 1:
        raise ValueError(f"the CNN needs images of at least 10×10 pixels, got {image_shape[0]}×{image_shape[1]}")


def _layer_names() -> Any:
    """Keras' default names in a fresh process: dense, dense_1, conv2d, ... (per class)."""
    counts: dict[str, int] = {}

    def name(prefix: str) -> str:
        n = counts.get(prefix, 0)
        counts[prefix] = n + 1
        return prefix if n == 0 else f"{prefix}_{n}"

    return name


def _sequential(config: ModelConfig, image_shape: tuple[int, int]):
    """The uncompiled keras.Sequential for a config (weights drawn from Keras' global seed).

    Call it holding ``_BUILD_LOCK``: making layers draws from Python's global
    ``random`` (Keras' default initializer seeds), which a build in another
    thread relies on.
    """
    import keras
    from keras import layers

    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise ValueError(f"input_shape must be (height, width), got {image_shape!r}")
    # Explicit names equal to what Keras calls them in a fresh process (the exported
    # script), so the summary here reads like the book's however many models were built.
    name = _layer_names()
    stack: list[Any] = [keras.Input(shape=input_shape_for(config, image_shape))]
    if config.kind == "cnn":
        _check_cnn_fits(image_shape)
        for filters, kernel in CNN_BLOCKS:
            stack.append(layers.Conv2D(filters, kernel_size=(kernel, kernel), activation="relu", name=name("conv2d")))
            stack.append(layers.MaxPooling2D(pool_size=(CNN_POOL, CNN_POOL), name=name("max_pooling2d")))
        stack.append(layers.Flatten(name=name("flatten")))
    for units, activation in config.hidden:
        stack.append(layers.Dense(units, activation=activation, name=name("dense")))
    if config.dropout:
        stack.append(layers.Dropout(config.dropout, name=name("dropout")))
    stack.append(layers.Dense(NUM_CLASSES, activation="softmax", name=name("dense")))
    return keras.Sequential(stack, name="sequential")


def make_optimizer(config: ModelConfig):
    """A fresh Keras optimizer for the config."""
    import keras

    return getattr(keras.optimizers, OPTIMIZER_CLASSES[config.optimizer])(learning_rate=config.learning_rate)


def build_model(config: ModelConfig, *, input_shape: tuple[int, int] = IMAGE_SHAPE):
    """A compiled ``keras.Sequential`` for the config, seeded with ``config.seed``.

    input_shape is the (height, width) of the images: dense models take the
    flattened (height*width,) vector, the CNN (height, width, 1). Compiled with
    the config's loss and optimizer and ``metrics=["accuracy"]``. Same seed,
    same initial weights (also in the exported script).
    """
    import keras

    if not isinstance(config, ModelConfig):
        raise ValueError(f"build_model expects a ModelConfig, got {type(config).__name__}")
    with _BUILD_LOCK:
        keras.utils.set_random_seed(config.seed)
        model = _sequential(config, input_shape)
        model.compile(loss=config.loss, optimizer=make_optimizer(config), metrics=["accuracy"])
    return model


@dataclass(frozen=True)
class LayerRow:
    """One line of the model summary, with where its parameter count comes from."""

    name: str            # "dense"
    layer_type: str      # "Dense"
    output_shape: str    # "(None, 10)"
    params: int          # 7850
    arithmetic: str      # "784 × 10 weights + 10 biases = 7,850"

    def __repr__(self) -> str:
        return f"LayerRow({self.name} ({self.layer_type}) {self.output_shape}: {self.arithmetic})"


def _arithmetic(layer) -> str:
    kind = type(layer).__name__
    params = layer.count_params()
    if kind == "Dense":
        fan_in, units = layer.kernel.shape
        return f"{fan_in:,} × {units:,} weights + {units:,} biases = {params:,}"
    if kind == "Conv2D":
        height, width, channels, filters = layer.kernel.shape
        return (
            f"{height} × {width} × {channels} × {filters} weights + {filters} biases = {params:,}"
        )
    if params == 0:
        return "no weights"
    return f"{params:,} weights"


#: Summaries kept per architecture (pages redraw them on every rerun).
SUMMARY_CACHE_SIZE = 64


def _architecture(config: ModelConfig, input_shape: tuple[int, int], caller: str) -> tuple:
    """The cache key of a summary: what decides the layers, not epochs, seed or optimizer."""
    if not isinstance(config, ModelConfig):
        raise ValueError(f"{caller} expects a ModelConfig, got {type(config).__name__}")
    return config.kind, config.hidden, config.dropout, tuple(int(s) for s in input_shape)


def _uncompiled(kind: str, hidden: tuple, dropout: float, input_shape: tuple[int, ...]):
    """The uncompiled model of an architecture (the other fields do not change it)."""
    with _BUILD_LOCK:
        return _sequential(ModelConfig(kind=kind, hidden=hidden, dropout=dropout), input_shape)


def summary_rows(config: ModelConfig, *, input_shape: tuple[int, int] = IMAGE_SHAPE) -> list[LayerRow]:
    """The model's layers with output shapes and parameter arithmetic; params sum to count_params()."""
    return list(_summary_rows(*_architecture(config, input_shape, "summary_rows")))


@functools.lru_cache(maxsize=SUMMARY_CACHE_SIZE)
def _summary_rows(kind: str, hidden: tuple, dropout: float, input_shape: tuple[int, ...]) -> tuple[LayerRow, ...]:
    # Cached by architecture: changing epochs, seed or the learning rate builds nothing.
    model = _uncompiled(kind, hidden, dropout, input_shape)
    rows = []
    for layer in model.layers:
        shape = tuple(layer.output.shape)
        rows.append(
            LayerRow(
                name=layer.name,
                layer_type=type(layer).__name__,
                output_shape="(" + ", ".join("None" if s is None else str(s) for s in shape) + ")",
                params=int(layer.count_params()),
                arithmetic=_arithmetic(layer),
            )
        )
    return tuple(rows)


def count_params(config: ModelConfig, *, input_shape: tuple[int, int] = IMAGE_SHAPE) -> int:
    """Total trainable weights and biases (7,960 for the Book preset)."""
    return sum(row.params for row in summary_rows(config, input_shape=input_shape))


def keras_summary_text(config: ModelConfig, *, input_shape: tuple[int, int] = IMAGE_SHAPE) -> str:
    """Keras' own ``model.summary()`` table as plain text."""
    return _keras_summary_text(*_architecture(config, input_shape, "keras_summary_text"))


@functools.lru_cache(maxsize=SUMMARY_CACHE_SIZE)
def _keras_summary_text(kind: str, hidden: tuple, dropout: float, input_shape: tuple[int, ...]) -> str:
    model = _uncompiled(kind, hidden, dropout, input_shape)
    lines: list[str] = []
    model.summary(print_fn=lambda text, *args, **kwargs: lines.append(text))
    return "\n".join(lines).rstrip() + "\n"


# -- the exported script ------------------------------------------------------------

def _script_layers(config: ModelConfig) -> list[str]:
    shape = input_shape_for(config)
    lines = [f"keras.Input(shape={shape!r}),"]
    if config.kind == "cnn":
        for filters, kernel in CNN_BLOCKS:
            lines.append(f'layers.Conv2D({filters}, kernel_size=({kernel}, {kernel}), activation="relu"),')
            lines.append(f"layers.MaxPooling2D(pool_size=({CNN_POOL}, {CNN_POOL})),")
        lines.append("layers.Flatten(),")
    for units, activation in config.hidden:
        lines.append(f'layers.Dense({units}, activation="{activation}"),')
    if config.dropout:
        lines.append(f"layers.Dropout({config.dropout!r}),")
    lines.append(f'layers.Dense({NUM_CLASSES}, activation="softmax"),')
    return lines


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
    shape = input_shape_for(config)
    reshape = "(-1, 784)" if config.kind == "dense" else "(-1, 28, 28, 1)"
    layer_lines = "\n".join("    " + line for line in _script_layers(config))
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
#    {shape!r}, and one-hot encode the labels.
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = x_train.reshape{reshape}
x_test = x_test.reshape{reshape}
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
