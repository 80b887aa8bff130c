"""Which pixels made the network say what it said: gradient × input and integrated gradients.

Both explain one class's *probability* (the softmax output) for one image
x ((H, W) uint8, or floats in [0, 1]) and return an (H, W) float32 map:
positive where a pixel's ink raised that probability, negative where it
lowered it.

- gradient × input: ``x * d p_class / d x`` (one backward pass);
- integrated gradients (Sundararajan et al. 2017, as in keras-io's
  ``integrated_gradients.py``): ``(x - baseline) * mean of the gradients along
  the straight path from baseline to x`` (trapezoidal rule over ``steps``
  intervals, all steps in one batch). Its pixels add up to
  ``p_class(x) - p_class(baseline)`` ("completeness"), up to the rule's error.

An :class:`Attributor` traces its TensorFlow function once per model; pages
keep one per model (building it per call re-traces, ~0.1-0.3 s).
:class:`DrawingExplainer` adds every layer's output (core.inside's traces) to
the same call, for a page that redraws on every stroke.
TensorFlow is imported lazily.
"""

from __future__ import annotations

import numpy as np

from core.preprocess import model_input

DEFAULT_STEPS = 50
MAX_STEPS = 1000


def _image(x, *, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be one (height, width) image, got shape {x.shape}")
    return x


class Attributor:
    """The model's class-probability gradients as one traced ``tf.function``.

    ``gradients(batch, class_index)``: batch (N, *input) float32 -> (gradients
    (N, *input), probabilities of class_index (N,)).
    """

    def __init__(self, model):
        import tensorflow as tf

        input_shape = getattr(model, "input_shape", None)
        if input_shape is None or isinstance(input_shape, list):
            raise ValueError(f"Attributor expects a Keras model with one input, got input shape {input_shape}")
        self.model = model
        self.input_shape = tuple(input_shape)
        probabilities = model(np.zeros((1, *self.input_shape[1:]), np.float32), training=False)
        self.n_classes = int(probabilities.shape[-1])
        spec = tf.TensorSpec((None, *self.input_shape[1:]), tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32)])
        def gradients(batch, class_index):
            with tf.GradientTape() as tape:
                tape.watch(batch)
                target = model(batch, training=False)[:, class_index]
            # samples are independent in inference, so the gradient of the sum is each one's own
            return tape.gradient(target, batch), target

        self._gradients = gradients

    def _class(self, class_index) -> int:
        if isinstance(class_index, bool) or not isinstance(class_index, (int, np.integer)):
            raise ValueError(f"class_index must be an integer, got {class_index!r}")
        if not 0 <= int(class_index) < self.n_classes:
            raise ValueError(f"class_index must be in 0..{self.n_classes - 1}, got {class_index}")
        return int(class_index)

    def _inputs(self, image: np.ndarray) -> np.ndarray:
        return model_input(image[np.newaxis], input_shape=self.input_shape)

    def gradients(self, batch: np.ndarray, class_index: int) -> tuple[np.ndarray, np.ndarray]:
        grads, target = self._gradients(np.asarray(batch, np.float32), np.int32(self._class(class_index)))
        return grads.numpy(), target.numpy()

    def gradient_x_input(self, x, *, class_index: int) -> np.ndarray:
        """x * d p_class / d x as an (H, W) float32 map."""
        image = _image(x, name="x")
        batch = self._inputs(image)
        grads, _ = self.gradients(batch, class_index)
        return (grads[0] * batch[0]).reshape(image.shape).astype(np.float32)

    def integrated_gradients(
        self, x, *, class_index: int, baseline=None, steps: int = DEFAULT_STEPS
    ) -> np.ndarray:
        """Integrated gradients from ``baseline`` (default: a black image) to x, an (H, W) float32 map."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")
        image = _image(x, name="x")
        start = self._inputs(image)[0]
        if baseline is None:
            base = np.zeros_like(start)
        else:
            baseline = _image(baseline, name="baseline")
            if baseline.shape != image.shape:
                raise ValueError(f"baseline shape {baseline.shape} differs from x's {image.shape}")
            base = self._inputs(baseline)[0]
        alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32).reshape(-1, *([1] * start.ndim))
        path = base[np.newaxis] + alphas * (start - base)[np.newaxis]  # (steps + 1, *input)
        grads, _ = self.gradients(path, class_index)
        average = ((grads[:-1] + grads[1:]) / 2.0).mean(axis=0)  # trapezoidal rule
        return ((start - base) * average).reshape(image.shape).astype(np.float32)


class DrawingExplainer(Attributor):
    """An Attributor that also returns every layer's output, in one traced call per drawing.

    One TensorFlow call instead of two (:func:`core.inside.trace`, then
    gradient × input) for the page that redraws on every stroke.
    """

    def __init__(self, model):
        import tensorflow as tf

        from core.inside import layer_outputs_model

        super().__init__(model)
        self.extractor = layer_outputs_model(model)
        extractor = self.extractor
        spec = tf.TensorSpec((None, *self.input_shape[1:]), tf.float32)

        @tf.function(input_signature=[spec, tf.TensorSpec([], tf.int32)])
        def explain(batch, class_index):
            with tf.GradientTape() as tape:
                tape.watch(batch)
                outputs = extractor([batch], training=False)
                probabilities = outputs[-1]
                # class_index < 0: explain the predicted class
                chosen = tf.where(class_index < 0, tf.cast(tf.argmax(probabilities[0]), tf.int32), class_index)
                target = probabilities[:, chosen]
            return outputs, tape.gradient(target, batch), chosen

        self._explain = explain

    def explain(self, x, *, class_index: int | None = None):
        """One image -> (list[LayerTrace], gradient × input (H, W) float32, the class explained).

        class_index None explains the predicted class.
        """
        from core.inside import layer_traces

        image = _image(x, name="x")
        batch = self._inputs(image)
        wanted = -1 if class_index is None else self._class(class_index)
        outputs, grads, chosen = self._explain(batch, np.int32(wanted))
        traces = layer_traces(self.extractor, batch, outputs)
        saliency = (grads.numpy()[0] * batch[0]).reshape(image.shape).astype(np.float32)
        return traces, saliency, int(chosen.numpy())


def _attributor(model_or_cached) -> Attributor:
    return model_or_cached if isinstance(model_or_cached, Attributor) else Attributor(model_or_cached)


def gradient_x_input(model_or_cached, x, *, class_index: int) -> np.ndarray:
    """Gradient × input of class ``class_index``'s probability -> (H, W) float32.

    ``model_or_cached``: a Keras model, or (no re-tracing) an :class:`Attributor` of it.
    """
    return _attributor(model_or_cached).gradient_x_input(x, class_index=class_index)


def integrated_gradients(
    model_or_cached, x, *, class_index: int, baseline=None, steps: int = DEFAULT_STEPS
) -> np.ndarray:
    """Integrated gradients of class ``class_index``'s probability -> (H, W) float32.

    ``baseline``: an (H, W) image like x (default all zeros); ``steps`` intervals,
    evaluated in one batch of steps + 1 images.
    """
    return _attributor(model_or_cached).integrated_gradients(
        x, class_index=class_index, baseline=baseline, steps=steps
    )
