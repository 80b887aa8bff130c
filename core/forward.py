"""A trained network's forward pass in NumPy, for one drawing at a time.

Draw asks the network after every stroke of every student. In TensorFlow that call
runs on TensorFlow's process-wide thread pools, the very threads the server's trainings
keep busy (and lower in priority, core/priority.py): with two trainings running, a
7,960-weight network took 34 ms for one image (p95 130-160 ms, max 0.3-0.7 s) instead of
well under 1 ms. Here the same arithmetic runs in NumPy on the page's own thread.

Only the layers this app builds are known (core/model.py: Dense, Conv2D, MaxPooling2D,
Flatten, Dropout; sigmoid, relu, tanh, softmax, linear); for any other model
:func:`numpy_forward` returns None and the caller keeps TensorFlow. Checked against
Keras' own outputs in tests/test_forward.py.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

import numpy as np
from scipy.special import expit, softmax

# One NumPy function per model object for the whole server (a class model is one object
# shared by every session): its arrays are never written after it is made.
_MADE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0),
    "sigmoid": expit,
    "tanh": np.tanh,
    "softmax": lambda z: softmax(z, axis=-1),
}


def _dense(kernel: np.ndarray, bias: np.ndarray | None, activation):
    def step(x):
        z = x @ kernel
        return activation(z + bias if bias is not None else z)

    return step


def _conv2d(kernel: np.ndarray, bias: np.ndarray | None, activation):
    """'valid' padding, stride 1 (Keras' defaults), channels last: one matrix product."""
    kh, kw, channels, filters = kernel.shape
    flat = kernel.transpose(2, 0, 1, 3).reshape(channels * kh * kw, filters)  # windows' (C, kh, kw) order

    def step(x):
        n, h, w, _ = x.shape
        windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))  # (N, oh, ow, C, kh, kw)
        oh, ow = h - kh + 1, w - kw + 1
        z = windows.reshape(n * oh * ow, channels * kh * kw) @ flat
        if bias is not None:
            z = z + bias
        return activation(z).reshape(n, oh, ow, filters)

    return step


def _max_pool(ph: int, pw: int):
    """'valid' padding, strides equal to the pool (Keras' defaults)."""

    def step(x):
        n, h, w, c = x.shape
        oh, ow = h // ph, w // pw
        return x[:, : oh * ph, : ow * pw].reshape(n, oh, ph, ow, pw, c).max(axis=(2, 4))

    return step


def _layer_step(layer):
    """One Keras layer as a NumPy function, or None when it is not one this module knows."""
    kind = type(layer).__name__
    config = layer.get_config()
    if not isinstance(config.get("activation", "linear"), str):  # a custom activation's config
        return None
    if kind in ("InputLayer", "Dropout"):  # Dropout is the identity at inference
        return lambda x: x
    if kind == "Flatten":
        return lambda x: x.reshape(len(x), -1)
    if kind == "MaxPooling2D":
        pool = tuple(config["pool_size"])
        if config.get("padding") != "valid" or tuple(config.get("strides") or pool) != pool \
                or config.get("data_format", "channels_last") != "channels_last":
            return None
        return _max_pool(*pool)
    if kind not in ("Dense", "Conv2D"):
        return None
    activation = ACTIVATIONS.get(config.get("activation"))
    if activation is None:
        return None
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]  # get_weights copies
    if len(weights) != (2 if config.get("use_bias", True) else 1):  # quantized, LoRA, ...: not plain
        return None
    kernel, bias = weights[0], (weights[1] if config.get("use_bias", True) else None)
    if kind == "Dense":
        return _dense(kernel, bias, activation)
    if (config.get("padding") != "valid" or tuple(config.get("strides", (1, 1))) != (1, 1)
            or tuple(config.get("dilation_rate", (1, 1))) != (1, 1) or config.get("groups", 1) != 1
            or config.get("data_format", "channels_last") != "channels_last"):
        return None
    return _conv2d(kernel, bias, activation)


def numpy_forward(model) -> Callable[[np.ndarray], np.ndarray] | None:
    """The model's inference as a NumPy function ((N, *input) float32 -> (N, classes)),
    with a copy of its weights as they are when first asked (made once per model object);
    None for anything but a ``keras.Sequential`` of the layers this module knows.
    """
    import keras

    if not isinstance(model, keras.Sequential):  # a straight chain of layers, nothing else
        return None
    with _LOCK:
        if model in _MADE:
            return _MADE[model]
    steps = [_layer_step(layer) for layer in model.layers]
    call = None if any(step is None for step in steps) else _chain(steps)
    with _LOCK:
        return _MADE.setdefault(model, call)


def _chain(steps):
    def call(x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32)
        for step in steps:
            out = step(out)
        return out

    return call
