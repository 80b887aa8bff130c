"""Costs of looking inside: per drawing, per epoch, per test-set map.

On the real MNIST (``MNIST_PATH``), in one process:

- ``draw``: for one drawing on the CNN (and the Book), ``core.inside.trace`` (every
  layer's output, which includes the prediction) plus ``core.attribution``'s
  gradient x input, with the extractor and the Attributor built once (their
  one-off cost reported too), and both in one call (``DrawingExplainer.explain``);
  against ``model(x)`` alone, what the Draw page pays now.
  Targets: trace + gradient x input <= 20 ms p95 on the CNN; integrated
  gradients (50 steps, one batch) <= 150 ms p95.
- ``snapshot``: ``weights_snapshot`` against one epoch of training (fastfit): the
  Book on the 60,000 images; the CNN on ``--cnn-train`` images, scaled to 60,000.
- ``map``: ``core.maps.test_set_map`` on 2,000 test images: the raw-pixel PCA alone
  (``pixel_map``, once per dataset), the whole map, and the map given a cached
  pixel map (what a page pays per model; target: ready <= 2 s; the best of 3,
  all 3 listed). Beside it, alternating in the same run: the forward pass as
  eager calls (how maps.py ran it before) against the traced call it uses now,
  the hidden layer's PCA and building + serialising the figure (paid per rerun).

Prints ONE JSON line (milliseconds unless named otherwise).

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_inside.py [--repeats 40] [--cnn-train 6000] [--only map]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _common import call_seconds, real_mnist

WARMUP = 3


def timed(fn, repeats: int) -> dict:
    import numpy as np

    for _ in range(WARMUP):
        fn()
    ms = np.asarray(call_seconds(fn, repeats)) * 1000
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}


def once(fn) -> tuple[object, float]:
    started = time.perf_counter()
    value = fn()
    return value, round((time.perf_counter() - started) * 1000, 1)


def per_drawing(model, image, repeats: int) -> dict:
    from core import attribution, inside
    from core.preprocess import model_input as prepare_inputs

    x = prepare_inputs(image[None], input_shape=model.input_shape)
    extractor, build_ms = once(lambda: inside.layer_outputs_model(model))
    explainer, attributor_ms = once(lambda: attribution.Attributor(model))
    _, first_trace_ms = once(lambda: inside.trace(extractor, image))
    fused, explainer_ms = once(lambda: attribution.DrawingExplainer(model))
    label = int(inside.trace(extractor, image)[-1].values.argmax())

    def both():
        inside.trace(extractor, image)
        explainer.gradient_x_input(image, class_index=label)

    return {
        "build_extractor": build_ms,
        "build_attributor": attributor_ms,
        "first_trace": first_trace_ms,
        "build_drawing_explainer": explainer_ms,
        "predict_only": timed(lambda: model(x, training=False), repeats),
        "trace": timed(lambda: inside.trace(extractor, image), repeats),
        "trace_eager_call": timed(lambda: extractor([x], training=False), repeats),
        "gradient_x_input": timed(lambda: explainer.gradient_x_input(image, class_index=label), repeats),
        "trace_plus_gradient_x_input": timed(both, repeats),
        "explain_one_call": timed(lambda: fused.explain(image), repeats),
        "integrated_gradients_50": timed(
            lambda: explainer.integrated_gradients(image, class_index=label, steps=50), repeats),
    }


def snapshot_vs_epoch(config, x, y, *, scale: float) -> dict:
    import keras

    from core import fastfit, inside
    from core.model import build_model

    model = build_model(config)
    epoch_seconds, snapshot_ms = [], []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.started)
            started = time.perf_counter()
            inside.weights_snapshot(self.model)
            snapshot_ms.append((time.perf_counter() - started) * 1000)

    fastfit.fit(model, x, y, batch_size=config.batch_size, epochs=2, seed=config.seed, callbacks=[Clock()])
    epoch_ms = epoch_seconds[-1] * 1000 * scale  # the second epoch: no tracing in it
    return {
        "params": model.count_params(),
        "epoch_ms_60k": round(epoch_ms, 1),
        "epoch_scaled_from": None if scale == 1 else f"{len(x)} images x {scale:g}",
        "snapshot_ms": [round(v, 2) for v in snapshot_ms],
        "snapshot_share_of_epoch": round(min(snapshot_ms) / epoch_ms, 5),
    }


def map_cost(model, data, repeats: int = 3) -> dict:
    """The map's costs on 2,000 test images; each a fresh model build (what a page pays once per model)."""
    import numpy as np

    from core import maps
    from core.preprocess import model_input
    from core.charts.inside import pca_scatter_figure

    pixels, pixels_ms = once(lambda: maps.pixel_map(data.x_test, n=2000, seed=0))
    _, first = once(lambda: maps.test_set_map(model, data.x_test, data.y_test, n=2000, seed=0))
    x = model_input(data.x_test[pixels.indices], input_shape=model.input_shape)

    def eager_slices():  # the map's forward pass before it was traced: eager calls, 500 at a time
        both = maps.hidden_and_output_model(model)
        parts = [both([x[i : i + 500]], training=False) for i in range(0, len(x), 500)]
        return np.concatenate([np.asarray(h) for h, _ in parts])

    def traced():  # what test_set_map runs now: build, trace once, call per slice
        return maps.hidden_and_probabilities(maps.hidden_and_output_model(model), x)[0]

    # Alternating, so the two forward passes see the same load (a shared machine).
    cached, eager, compiled = [], [], []
    for _ in range(repeats):
        eager.append(once(eager_slices)[1])
        compiled.append(once(traced)[1])
        test_map, ms = once(lambda: maps.test_set_map(
            model, data.x_test, data.y_test, n=2000, seed=0, pixels=pixels))
        cached.append(ms)
    hidden = traced()
    _, pca_ms = once(lambda: maps.pca_2d(hidden))
    _, figure_ms = once(lambda: pca_scatter_figure(  # what ui.inside.map_figure builds on every rerun
        test_map.raw_xy, test_map.hidden_xy, labels=test_map.labels, predicted=test_map.predicted,
        indices=test_map.indices, class_names=[str(c) for c in range(10)],
        explained=(test_map.raw_explained, test_map.hidden_explained)).to_json())
    return {
        "pixel_map_ms": pixels_ms,
        "first_ms": first,
        "with_cached_pixels_ms": min(cached),
        "with_cached_pixels_all_ms": cached,
        "forward_eager_slices_ms": eager,
        "forward_traced_ms": compiled,
        "pca_hidden_ms": pca_ms,
        "figure_to_json_ms": figure_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--cnn-train", type=int, default=6000)
    parser.add_argument("--only", choices=("draw", "snapshot", "map"), help="one part only (quicker)")
    args = parser.parse_args()

    import numpy as np

    from core.model import PRESETS, build_model, model_input
    from core.preprocess import one_hot

    data = real_mnist()
    image = np.asarray(data.x_test[0])  # a 7, as a drawing would arrive after preparation
    drawing = image.astype(np.float32) / 255.0

    result = {"draw": {}, "snapshot": {}, "map": {}}
    for name in ("CNN", "Book"):
        config = PRESETS[name]
        model = build_model(config)
        if args.only in (None, "draw"):
            result["draw"][name] = per_drawing(model, drawing, args.repeats)
        if args.only in (None, "snapshot"):
            limit = len(data.x_train) if name == "Book" else args.cnn_train
            x = model_input(config, data.x_train[:limit])
            y = one_hot(data.y_train[:limit])
            result["snapshot"][name] = snapshot_vs_epoch(config, x, y, scale=len(data.x_train) / limit)
        if args.only in (None, "map"):
            result["map"][name] = map_cost(model, data)
    result["targets"] = {}
    if "CNN" in result["draw"]:
        cnn = result["draw"]["CNN"]
        result["targets"]["cnn_trace_plus_gxi_p95_le_20ms"] = {
            "two_calls": cnn["trace_plus_gradient_x_input"]["p95"] <= 20,
            "one_call": cnn["explain_one_call"]["p95"] <= 20,
        }
        result["targets"]["cnn_ig50_p95_le_150ms"] = cnn["integrated_gradients_50"]["p95"] <= 150
    if result["map"]:
        result["targets"]["map_le_2s"] = {name: m["with_cached_pixels_ms"] <= 2000
                                          for name, m in result["map"].items()}
    result["load_average"] = [round(v, 1) for v in os.getloadavg()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
