"""Model configurations and the Keras models they build.

A :class:`ModelConfig` is a frozen description of one training (layers,
optimizer, batch size, epochs, seed). :func:`layer_specs` states its network
once, as a declarative list of :class:`LayerSpec` (as keras-io's
``keras.Sequential([keras.Input(...), layers.Conv2D(...), ...])``): from it
:func:`build_model` makes a compiled ``keras.Sequential``,
:meth:`ModelConfig.architecture_text` its one-line description and
core/export.py the layer lines of the exported script. :func:`summary_rows`
explains the parameter count line by line.

Keras is imported inside functions: pages that only show configurations never
pay for importing TensorFlow.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from core import preprocess
from core.preprocess import IMAGE_SHAPE, NUM_CLASSES

KINDS = ("dense", "cnn")
ACTIVATIONS = ("sigmoid", "relu", "tanh")
OPTIMIZERS = ("sgd", "adam", "rmsprop")
LOSSES = ("categorical_crossentropy",)
MAX_HIDDEN_LAYERS = 3
MAX_UNITS = 1024
MAX_BATCH_SIZE = 60_000
#: The batch sizes the Train page offers (and a lesson link may set): one list for both.
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 100, 128, 200, 256, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000)
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
        return " → ".join(spec.describe() for spec in layer_specs(self) if spec.kind != "Input")

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
    """(N, H, W) uint8 or [0, 1] float images -> float32 input for config's network:
    (N, H*W) or (N, H, W, 1), by :func:`core.preprocess.model_input`."""
    images = np.asarray(images)
    # A wrong number of dimensions is reported by preprocess.model_input itself.
    image_shape = images.shape[1:] if images.ndim == 3 else IMAGE_SHAPE
    return preprocess.model_input(images, input_shape=(None, *input_shape_for(config, image_shape)))


def _check_cnn_fits(image_shape: tuple[int, int]) -> None:
    size = min(image_shape)
    for _filters, kernel in CNN_BLOCKS:
        size = (size - kernel + 1) // CNN_POOL
    if size < 1:
        raise ValueError(f"the CNN needs images of at least 10×10 pixels, got {image_shape[0]}×{image_shape[1]}")


def _code_value(value: Any) -> str:
    """A literal as the book writes it: strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _pair(value: tuple[int, int]) -> str:
    return f"{value[0]}×{value[1]}"


#: How each layer kind reads in the one-line description (architecture_text).
_DESCRIPTIONS = {
    "Input": lambda spec: f"Input(shape={spec.options['shape']!r})",
    "Conv2D": lambda spec: f"Conv2D({spec.args[0]}, {_pair(spec.options['kernel_size'])}, {spec.options['activation']})",
    "MaxPooling2D": lambda spec: f"MaxPool({_pair(spec.options['pool_size'])})",
    "Flatten": lambda spec: "Flatten",
    "Dense": lambda spec: f"Dense({spec.args[0]}, {spec.options['activation']})",
    "Dropout": lambda spec: f"Dropout({spec.args[0]:g})",
}


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a network, declared once: the Keras layer, its script line and its description.

    ``kind`` is the Keras class (``"Dense"``; ``"Input"`` for ``keras.Input``),
    ``args`` its positional arguments, ``keywords`` its keyword arguments as
    (name, value) pairs, in the order the script writes them.
    """

    kind: str
    args: tuple = ()
    keywords: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _DESCRIPTIONS:
            raise ValueError(f"LayerSpec kind must be one of {tuple(_DESCRIPTIONS)}, got {self.kind!r}")

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.keywords)

    @property
    def default_name(self) -> str:
        """Keras' name prefix for the class: Dense -> dense, MaxPooling2D -> max_pooling2d."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", self.kind).lower()

    def build(self, *, name: str | None = None):
        """The Keras object: ``keras.Input(...)`` or ``layers.<kind>(..., name=name)``."""
        import keras
        from keras import layers

        if self.kind == "Input":
            return keras.Input(*self.args, **self.options)
        return getattr(layers, self.kind)(*self.args, **self.options, name=name)

    def code(self) -> str:
        """The script's line for it, e.g. ``layers.Dense(10, activation="sigmoid")``."""
        module = "keras" if self.kind == "Input" else "layers"
        arguments = [_code_value(a) for a in self.args] + [f"{k}={_code_value(v)}" for k, v in self.keywords]
        return f"{module}.{self.kind}({', '.join(arguments)})"

    def describe(self) -> str:
        """Its short description, e.g. ``Dense(10, sigmoid)``."""
        return _DESCRIPTIONS[self.kind](self)


def layer_specs(config: ModelConfig, *, input_shape: tuple[int, int] = IMAGE_SHAPE) -> list[LayerSpec]:
    """The network of a config as a declarative list, first ``Input``, last ``Dense(10, softmax)``.

    input_shape is the (height, width) of the images (the Input layer gets
    :func:`input_shape_for`). :func:`build_model`, the exported script and
    :meth:`ModelConfig.architecture_text` are all made from this list.
    """
    image_shape = tuple(int(s) for s in input_shape)
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise ValueError(f"input_shape must be (height, width), got {image_shape!r}")
    specs = [LayerSpec("Input", keywords=(("shape", input_shape_for(config, image_shape)),))]
    if config.kind == "cnn":
        _check_cnn_fits(image_shape)
        for filters, kernel in CNN_BLOCKS:
            specs.append(LayerSpec("Conv2D", (filters,), (("kernel_size", (kernel, kernel)), ("activation", "relu"))))
            specs.append(LayerSpec("MaxPooling2D", keywords=(("pool_size", (CNN_POOL, CNN_POOL)),)))
        specs.append(LayerSpec("Flatten"))
    for units, activation in config.hidden:
        specs.append(LayerSpec("Dense", (units,), (("activation", activation),)))
    if config.dropout:
        specs.append(LayerSpec("Dropout", (config.dropout,)))
    specs.append(LayerSpec("Dense", (NUM_CLASSES,), (("activation", "softmax"),)))
    return specs


def _sequential(config: ModelConfig, image_shape: tuple[int, int]):
    """The uncompiled keras.Sequential of :func:`layer_specs` (weights drawn from Keras' global seed).

    Call it holding ``_BUILD_LOCK``: making layers draws from Python's global
    ``random`` (Keras' default initializer seeds), which a build in another
    thread relies on.
    """
    import keras

    specs = layer_specs(config, input_shape=image_shape)
    # Explicit names equal to what Keras calls them in a fresh process (the exported
    # script), so the summary here reads like the book's however many models were built.
    counts: dict[str, int] = {}
    stack = []
    for spec in specs:
        n = counts.get(spec.default_name, 0)
        counts[spec.default_name] = n + 1
        stack.append(spec.build(name=spec.default_name if n == 0 else f"{spec.default_name}_{n}"))
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
    """The layers of :func:`layer_specs` with Keras' names, output shapes and parameter counts,
    by arithmetic alone: no TensorFlow import, so the Train page shows its table at once
    (tests/test_model.py checks every row against the Keras model built from the same specs).
    """
    specs = layer_specs(ModelConfig(kind=kind, hidden=hidden, dropout=dropout), input_shape=input_shape)
    shape = tuple(specs[0].options["shape"])  # without the batch dimension
    counts: dict[str, int] = {}
    rows = []
    for spec in specs[1:]:
        n = counts.get(spec.default_name, 0)
        counts[spec.default_name] = n + 1
        shape, params, arithmetic = _layer_arithmetic(spec, shape)
        rows.append(LayerRow(
            name=spec.default_name if n == 0 else f"{spec.default_name}_{n}",
            layer_type=spec.kind,
            output_shape="(" + ", ".join(["None", *map(str, shape)]) + ")",
            params=params,
            arithmetic=arithmetic,
        ))
    return tuple(rows)


def _layer_arithmetic(spec: LayerSpec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, str]:
    """(output shape, parameters, where they come from) of one layer given its input shape."""
    if spec.kind == "Dense":
        (fan_in,), (units,) = shape[-1:], spec.args
        params = fan_in * units + units
        return (*shape[:-1], units), params, f"{fan_in:,} × {units:,} weights + {units:,} biases = {params:,}"
    if spec.kind == "Conv2D":  # 'valid' padding, stride 1: the kernel fits (h - k + 1) times
        (filters,), (kh, kw), (h, w, channels) = spec.args, spec.options["kernel_size"], shape
        params = kh * kw * channels * filters + filters
        return ((h - kh + 1, w - kw + 1, filters), params,
                f"{kh} × {kw} × {channels} × {filters} weights + {filters} biases = {params:,}")
    if spec.kind == "MaxPooling2D":  # stride = pool size, 'valid' padding
        (ph, pw), (h, w, channels) = spec.options["pool_size"], shape
        return ((h - ph) // ph + 1, (w - pw) // pw + 1, channels), 0, "no weights"
    if spec.kind == "Flatten":
        return (math.prod(shape),), 0, "no weights"
    if spec.kind == "Dropout":
        return shape, 0, "no weights"
    raise ValueError(f"no parameter arithmetic for a {spec.kind} layer")


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
