"""What happens inside a trained network: its weights, and every layer's output for one input.

Weights come out as plain NumPy arrays shaped for pictures:

- :func:`first_layer_weight_images`: a Dense first layer's kernel (784, U), one
  (28, 28) image per hidden unit ("what pattern does this unit look for");
- :func:`output_weights`: the last Dense layer, e.g. the book's (10, 10) kernel and (10,) bias;
- :func:`conv_filters`: the first Conv2D's kernel as (F, 3, 3) pictures;
- :func:`weights_snapshot`: a copy of every weight, cheap enough for each epoch's end.

Activations: :func:`layer_outputs_model` builds, once per model, a Keras model
returning every layer's output; :func:`trace` runs it on one image and returns
a :class:`LayerTrace` per layer (with the pre-activation ``z`` for Dense layers).
:func:`dense_unit_arithmetic` writes one hidden unit's sum out term by term.

Keras is never imported at module level; the models passed in are Keras models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.forward import ACTIVATIONS
from core.preprocess import model_input
from core.preprocess import IMAGE_SHAPE

DEFAULT_MAX_UNITS = 16


# --------------------------------------------------------------------------- finding layers


def _kind(layer) -> str:
    return type(layer).__name__


def _layers_of(model, kind: str) -> list:
    layers = [layer for layer in getattr(model, "layers", ()) if _kind(layer) == kind]
    if not layers:
        kinds = [_kind(layer) for layer in getattr(model, "layers", ())]
        raise ValueError(f"the model has no {kind} layer (its layers: {kinds})")
    return layers


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _first_dense_on_pixels(model, image_shape: tuple[int, int]):
    """The first Dense layer, which must take the flattened image (H*W values)."""
    dense = _layers_of(model, "Dense")[0]
    fan_in = int(dense.kernel.shape[0])
    pixels = int(np.prod(image_shape))
    if fan_in != pixels:
        raise ValueError(
            f"the first Dense layer ({dense.name}) takes {fan_in} values, not the "
            f"{image_shape[0]}x{image_shape[1]} = {pixels} pixels (a CNN? see conv_filters)"
        )
    return dense


# --------------------------------------------------------------------------- weights


def first_layer_weight_images(
    model, *, max_units: int = DEFAULT_MAX_UNITS, image_shape: tuple[int, int] = IMAGE_SHAPE
) -> tuple[np.ndarray, np.ndarray]:
    """The first Dense layer's weights as pictures -> (images (U, H, W) float32, unit_indices (U,)).

    Unit k's image is ``kernel[:, k].reshape(H, W)``: bright where a lit pixel
    pushes the unit up, dark where it pushes it down. A layer wider than
    ``max_units`` shows the ``max_units`` units with the largest weight norm
    (listed in unit order).
    """
    if isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer)) or max_units < 1:
        raise ValueError(f"max_units must be a positive integer, got {max_units!r}")
    dense = _first_dense_on_pixels(model, image_shape)
    kernel = np.asarray(dense.kernel, dtype=np.float32)  # (H*W, U)
    units = kernel.shape[1]
    if units <= max_units:
        indices = np.arange(units)
    else:
        norms = np.linalg.norm(kernel, axis=0)
        # stable sort: equal norms keep unit order, so the choice is deterministic
        indices = np.sort(np.argsort(-norms, kind="stable")[:max_units])
    images = kernel[:, indices].T.reshape(len(indices), *image_shape).copy()
    return images, indices.astype(np.intp)


def output_weights(model) -> tuple[np.ndarray, np.ndarray]:
    """The last Dense layer -> (kernel (H, C) float32, bias (C,) float32).

    For the book's network, the (10, 10) matrix from hidden unit (row) to digit
    (column), plus each digit's bias.
    """
    dense = _layers_of(model, "Dense")[-1]
    return np.array(dense.kernel, dtype=np.float32), np.array(dense.bias, dtype=np.float32)


def conv_filters(model) -> tuple[np.ndarray, np.ndarray]:
    """The first Conv2D's filters -> (filters (F, kh, kw) float32, bias (F,) float32).

    The CNN preset gives (32, 3, 3). Only single-channel inputs (grey images)
    make one picture per filter.
    """
    conv = _layers_of(model, "Conv2D")[0]
    kernel = np.asarray(conv.kernel, dtype=np.float32)  # (kh, kw, channels, F)
    if kernel.shape[2] != 1:
        raise ValueError(f"conv_filters expects a grey (1-channel) input, {conv.name} takes {kernel.shape[2]}")
    return np.ascontiguousarray(kernel[:, :, 0, :].transpose(2, 0, 1)), np.array(conv.bias, dtype=np.float32)


def weights_snapshot(model) -> dict[str, np.ndarray]:
    """A copy of every weight: {"<layer>/<weight>": array}, e.g. "dense/kernel" (784, 10).

    Plain NumPy arrays owned by the snapshot (training on afterwards does not
    change them); taken in the training thread at an epoch's end.
    """
    snapshot = {}
    for layer in model.layers:
        for variable in layer.weights:
            snapshot[f"{layer.name}/{variable.name}"] = np.array(variable, dtype=np.float32, copy=True)
    return snapshot


# --------------------------------------------------------------------------- activations


@dataclass(frozen=True, repr=False)
class LayerTrace:
    """One layer's output for one input.

    ``values``: the output without the batch axis, e.g. (10,) for Dense(10),
    (26, 26, 32) for the first Conv2D. ``z``: for a Dense layer, its input
    times the kernel plus bias (before the activation); None otherwise.
    """

    name: str
    kind: str
    values: np.ndarray
    activation: str | None = None
    z: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"LayerTrace({self.name} ({self.kind}) {self.values.shape})"


def layer_outputs_model(model):
    """A ``keras.Model`` from the model's input to every layer's output (build it once per model).

    It shares the model's layers (and so its weights). The returned model has
    ``traced_layers``: a tuple of (name, kind) per output.
    """
    import keras

    layers = list(getattr(model, "layers", ()))
    if not layers:
        raise ValueError("layer_outputs_model expects a Keras model with layers")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if inputs:
        outputs = [layer.output for layer in layers]
    else:
        # A Sequential built without keras.Input has no symbolic input: chain its
        # layers from a fresh one (same layer objects, same weights).
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise ValueError("the model has no known input shape: build it (keras.Input) first")
        inputs = [keras.Input(shape=tuple(shape)[1:])]
        outputs, tensor = [], inputs[0]
        for layer in layers:
            tensor = layer(tensor)
            outputs.append(tensor)
    extractor = keras.Model(inputs=inputs, outputs=outputs, name="layer_outputs")
    extractor.traced_layers = tuple((layer.name, _kind(layer)) for layer in layers)
    extractor.source_layers = tuple(layers)
    extractor.compiled_call = compiled_call(extractor)
    return extractor


def compiled_call(model):
    """The Keras model's inference call as one traced graph: (B, *input) float32 -> its outputs.

    Any batch size, one trace (the signature's batch axis is None). An eager call
    walks the layers op by op in Python (measured ~5x slower on the CNN for one
    image, ~2x for the 2,000 images of a test-set map).
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None, *tuple(model.input_shape)[1:]), tf.float32)

    @tf.function(input_signature=[spec])
    def call(x):
        return model([x], training=False)

    return call


def _extractor(model_or_cached):
    if hasattr(model_or_cached, "traced_layers"):
        return model_or_cached
    return layer_outputs_model(model_or_cached)


def trace(model_or_cached, x) -> list[LayerTrace]:
    """Every layer's output for one image x ((H, W) uint8, or floats in [0, 1]).

    ``model_or_cached``: the model, or (faster, for every stroke) what
    :func:`layer_outputs_model` returned for it. Inference mode (dropout off).
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"trace expects one (height, width) image, got shape {x.shape}")
    extractor = _extractor(model_or_cached)
    batch = model_input(x[np.newaxis], input_shape=extractor.input_shape)
    return layer_traces(extractor, batch, extractor.compiled_call(batch))


def layer_traces(extractor, batch: np.ndarray, outputs) -> list[LayerTrace]:
    """LayerTrace objects from the extractor's outputs for a (1, *input) batch."""
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    traces = []
    previous = batch[0].reshape(-1)
    for (name, kind), layer, out in zip(extractor.traced_layers, extractor.source_layers, outputs):
        values = np.asarray(out, dtype=np.float32)[0]
        activation = z = None
        if kind == "Dense":
            activation = _activation_name(layer)
            # float64 so z is the exact sum the page prints next to it
            z = (previous.astype(np.float64) @ np.asarray(layer.kernel, dtype=np.float64)
                 + np.asarray(layer.bias, dtype=np.float64))
        traces.append(LayerTrace(name, kind, values, activation, z))
        previous = values.reshape(-1)
    return traces


# --------------------------------------------------------------------------- one unit, written out


class UnitArithmetic(NamedTuple):
    """One hidden unit's sum: z = w·x + b = sum(product) + b, then a = activation(z).

    w, x, product: (H*W,) float64; b, z, a: floats.
    """

    w: np.ndarray
    x: np.ndarray
    product: np.ndarray
    b: float
    z: float
    a: float
    activation: str = "sigmoid"

    def largest_terms(self, k: int = 5) -> list[tuple[int, float, float, float]]:
        """The k terms with the largest |w_i x_i|: (pixel index, w_i, x_i, w_i x_i)."""
        order = np.argsort(-np.abs(self.product), kind="stable")[:k]
        return [(int(i), float(self.w[i]), float(self.x[i]), float(self.product[i])) for i in order]

    def text(self, k: int = 3) -> str:
        """The sum printed with its numbers, e.g.
        ``z = (0.31 × 1.00) + (-0.12 × 0.98) + … (784 terms) + b(0.05) = 1.27;  a = sigmoid(1.27) = 0.781``."""
        terms = " + ".join(f"({w:.2f} × {x:.2f})" for _, w, x, _ in self.largest_terms(k))
        lit = int(np.count_nonzero(self.x))
        return (
            f"z = {terms} + … ({len(self.x)} terms, {lit} non-zero pixels; sum {self.product.sum():.3f})"
            f" + b ({self.b:.3f}) = {self.z:.3f};  a = {self.activation}({self.z:.3f}) = {self.a:.3f}"
        )


def dense_unit_arithmetic(
    model, x, unit: int, *, image_shape: tuple[int, int] = IMAGE_SHAPE
) -> UnitArithmetic:
    """Hidden unit ``unit`` of the first Dense layer on image x ((H, W) uint8 or [0, 1] floats).

    Returns (w (H*W,), x (H*W,), w*x, b, z, a) with z = w·x + b and a the
    layer's activation of z (sigmoid for the book).
    """
    dense = _first_dense_on_pixels(model, image_shape)
    units = int(dense.kernel.shape[1])
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < units:
        raise ValueError(f"unit must be an integer in 0..{units - 1}, got {unit!r}")
    image = np.asarray(x)
    if image.shape != tuple(image_shape):
        raise ValueError(f"dense_unit_arithmetic expects one {image_shape} image, got shape {image.shape}")
    pixels = model_input(image[np.newaxis], input_shape=(None, image.size))[0].astype(np.float64)
    w = np.asarray(dense.kernel, dtype=np.float64)[:, unit]
    b = float(np.asarray(dense.bias, dtype=np.float64)[unit])
    product = w * pixels
    z = float(product.sum() + b)
    name = _activation_name(dense)
    if name in ACTIVATIONS and name != "softmax":  # softmax needs the whole layer, not one unit
        a = float(ACTIVATIONS[name](np.float64(z)))
    else:  # any other Keras activation: let Keras compute it
        a = float(np.asarray(dense.activation(np.array([z], dtype=np.float32)))[0])
    return UnitArithmetic(w, pixels, product, b, z, a, name)


# --------------------------------------------------------------------------- pictures from a copy


class WeightPictures(NamedTuple):
    """What the live weight pictures show, from a :func:`weights_snapshot` (no model needed).

    kind "dense": ``images`` (U, H, W) and ``unit_indices`` (U,) of the first Dense layer
    (as :func:`first_layer_weight_images`); kind "conv": ``filters`` (F, kh, kw) of the first
    Conv2D (as :func:`conv_filters`). ``output_kernel`` (H, C) and ``output_bias`` (C,): the
    last Dense layer (as :func:`output_weights`).
    """

    kind: str
    images: np.ndarray | None
    unit_indices: np.ndarray | None
    filters: np.ndarray | None
    output_kernel: np.ndarray
    output_bias: np.ndarray


def weight_pictures(
    snapshot: dict[str, np.ndarray], *, max_units: int = DEFAULT_MAX_UNITS, image_shape: tuple[int, int] = IMAGE_SHAPE
) -> WeightPictures:
    """The pictures of a weights copy ({"<layer>/<weight>": array}, layers in model order)."""
    kernels = [(key.rsplit("/", 1)[0], array) for key, array in snapshot.items() if key.endswith("/kernel")]
    if not kernels:
        raise ValueError(f"the snapshot has no kernel (its keys: {list(snapshot)[:6]})")
    dense = [(layer, k) for layer, k in kernels if k.ndim == 2]
    if not dense:
        raise ValueError("the snapshot has no Dense kernel")
    last_layer, last_kernel = dense[-1]
    bias = snapshot.get(f"{last_layer}/bias", np.zeros(last_kernel.shape[1], np.float32))
    output = (np.array(last_kernel, np.float32), np.array(bias, np.float32))
    first_layer, first = kernels[0]
    if first.ndim == 4:  # Conv2D (kh, kw, channels, F)
        if first.shape[2] != 1:
            raise ValueError(f"{first_layer} takes {first.shape[2]} channels, not a grey image")
        return WeightPictures("conv", None, None, np.ascontiguousarray(first[:, :, 0, :].transpose(2, 0, 1)), *output)
    pixels = int(np.prod(image_shape))
    if first.ndim != 2 or first.shape[0] != pixels:
        raise ValueError(f"the first kernel ({first_layer}, {first.shape}) does not take the {pixels} pixels")
    units = first.shape[1]
    if units <= max_units:
        indices = np.arange(units)
    else:  # the same choice as first_layer_weight_images
        indices = np.sort(np.argsort(-np.linalg.norm(first, axis=0), kind="stable")[:max_units])
    images = np.asarray(first, np.float32)[:, indices].T.reshape(len(indices), *image_shape).copy()
    return WeightPictures("dense", images, indices.astype(np.intp), None, *output)
