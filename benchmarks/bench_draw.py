"""Draw page speed: what every stroke costs on the server.

A few hundred synthetic drawings at canvas size (280x280 RGBA, white ink on a
transparent canvas, the digits of ``core.drawing.DIGIT_STROKES`` at random
places, sizes, slants and pen widths, every point jittered) go through what
the page does after a stroke:

    stroke = decode the canvas PNG (what CanvasResult.image_data does)
    prepare = core.preprocess.prepare_drawing_stages(image)
    model = core.drawing.predict_drawing(model, stages.centred28)   # model(x, training=False)
    nearest = NearestImages.query(...)    (only with MNIST_PATH set)

The model is the CNN preset, ``core.model.build_model(PRESETS["CNN"])``; its
weights need not be trained for timing (``--weights model.keras`` to load some).
Target: prepare + model p95 <= 15 ms. Prints ONE JSON line.

    python benchmarks/bench_draw.py [--drawings 300] [--preset CNN] [--weights path]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TARGET_P95_MS = 15.0
WARMUP_CALLS = 20


def synthetic_drawings(count: int, *, seed: int = 0) -> list[bytes]:
    """``count`` random drawings as the PNG bytes the canvas sends."""
    from PIL import Image

    from core.drawing import DIGIT_STROKES, DrawingSpec, render_strokes

    rng = np.random.default_rng(seed)
    drawings = []
    for i in range(count):
        digit = i % 10
        style = list(DIGIT_STROKES[digit])[rng.integers(len(DIGIT_STROKES[digit]))]
        height = float(rng.uniform(0.35, 0.9))
        spec = DrawingSpec(
            digit, style, height=height,
            centre=(float(rng.uniform(0.35 * height + 0.03, 1 - 0.35 * height - 0.03)),
                    float(rng.uniform(height / 2 + 0.03, 1 - height / 2 - 0.03))),
            stroke_width=int(rng.integers(10, 40)), slant=float(rng.uniform(-0.2, 0.3)),
        )
        paths = [path + rng.normal(0, 2.0, path.shape) for path in spec.paths()]
        rgba = render_strokes(paths, stroke_width=spec.stroke_width)
        buffer = io.BytesIO()
        Image.fromarray(rgba).save(buffer, format="PNG")
        drawings.append(buffer.getvalue())
    return drawings


def decode(png: bytes) -> np.ndarray:
    """What CanvasResult.image_data does with the data URL the canvas sends."""
    from PIL import Image

    url = "data:image/png;base64," + base64.b64encode(png).decode()
    _, encoded = url.split(";base64,", 1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded))))


def stats(values_ms: list[float]) -> dict:
    values = np.asarray(values_ms)
    return {"median": round(float(np.median(values)), 3), "p95": round(float(np.percentile(values, 95)), 3),
            "max": round(float(values.max()), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--preset", default="CNN")
    parser.add_argument("--weights", help="a saved .keras model to time instead of fresh weights")
    args = parser.parse_args()

    from core.drawing import NearestImages, predict_drawing
    from core.model import PRESETS, build_model
    from core.preprocess import prepare_drawing_stages

    drawings = synthetic_drawings(args.drawings)
    if args.weights:
        import keras

        model = keras.saving.load_model(args.weights)
    else:
        model = build_model(PRESETS[args.preset])
    first = prepare_drawing_stages(decode(drawings[0]))
    for _ in range(WARMUP_CALLS):  # Keras builds its call path on the first calls
        predict_drawing(model, first.centred28)

    nearest = None
    if os.environ.get("MNIST_PATH"):
        from core.data import load_dataset

        data = load_dataset("mnist", path=os.environ["MNIST_PATH"], use_keras=False)
        started = time.perf_counter()
        nearest = NearestImages(data.x_train, data.y_train)
        index_build_s = time.perf_counter() - started

    decode_ms, prepare_ms, model_ms, total_ms, nearest_ms, empty = [], [], [], [], [], 0
    for png in drawings:
        t0 = time.perf_counter()
        image = decode(png)
        t1 = time.perf_counter()
        stages = prepare_drawing_stages(image)
        t2 = time.perf_counter()
        predict_drawing(model, stages.centred28)
        t3 = time.perf_counter()
        if nearest is not None:
            nearest.query(stages.centred28, k=3)
            nearest_ms.append((time.perf_counter() - t3) * 1000)
        empty += stages.empty
        decode_ms.append((t1 - t0) * 1000)
        prepare_ms.append((t2 - t1) * 1000)
        model_ms.append((t3 - t2) * 1000)
        total_ms.append((t3 - t1) * 1000)

    total = stats(total_ms)
    result = {
        "benchmark": "draw_stroke",
        "drawings": len(drawings),
        "canvas": "280x280 RGBA",
        "model": f"{args.preset} ({'loaded ' + args.weights if args.weights else 'untrained weights'})",
        "input_shape": list(model.input_shape[1:]),
        "prepare_plus_model_ms": total,
        "prepare_ms": stats(prepare_ms),
        "model_call_ms": stats(model_ms),
        "png_decode_ms": stats(decode_ms),
        "nearest_3_of_60000_ms": stats(nearest_ms) if nearest_ms else None,
        "nearest_index_build_s": round(index_build_s, 2) if nearest is not None else None,
        "empty_drawings": int(empty),
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": total["p95"] <= TARGET_P95_MS,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
