"""Draw page speed: what every stroke costs on the server.

A few hundred synthetic drawings at canvas size (280x280 RGBA, white ink on a
transparent canvas, the digits of ``tests/strokes.py``'s ``DIGIT_STROKES`` at random
places, sizes, slants and pen widths, every point jittered) go through what
the page does after a stroke:

    stroke = decode the canvas PNG (what CanvasResult.image_data does)
    prepare = core.preprocess.prepare_drawing_stages(image)
    model = core.drawing.predict_drawing(model, stages.centred28)   # model(x, training=False)
    nearest = NearestImages.query(...)    (only with MNIST_PATH set)

The model is the CNN preset, ``core.model.build_model(PRESETS["CNN"])``; its
weights need not be trained for timing (``--weights model.keras`` to load some).
Target: prepare + model p95 <= 15 ms. Prints ONE JSON line.

``--browser``: end to end instead. Starts ``streamlit run app.py`` with one
CNN run (these weights) in a temporary PLAYGROUND_RUNS_DIR, opens the Draw
page in Chromium and draws ``--strokes`` strokes with the mouse; for each, the
time from releasing the mouse (a capture-phase ``mouseup`` listener) to the
new prediction in the page (a MutationObserver sees "after N strokes").
Target: median <= 250 ms. Also the server's CPU time per stroke (all its threads,
from /proc): what K students drawing at once cost it. Needs MNIST_PATH and /usr/bin/chromium.

    python benchmarks/bench_draw.py [--drawings 300] [--preset CNN] [--weights path]
    MNIST_PATH=... python benchmarks/bench_draw.py --browser [--strokes 20]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # core/ and tests/strokes.py (imported as tests.strokes)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from _common import process_cpu_seconds  # noqa: E402

TARGET_P95_MS = 15.0
TARGET_E2E_MEDIAN_MS = 250.0
WARMUP_CALLS = 20
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WORKSPACE = "benchdraw"
SERVER_START_S = 90.0  # ample for `streamlit run` on 2 busy cores; then fail loudly, never hang

# Resolves window.__shown with the ms from the last mouseup to the moment the
# page shows the prediction made after ``n`` strokes.
WATCH_JS = """n => {
  const want = 'after ' + n + ' stroke';
  window.__shown = new Promise(resolve => {
    const seen = () => Array.from(document.querySelectorAll('[data-testid="stMarkdown"]'))
      .some(el => el.innerText.includes(want));
    const observer = new MutationObserver(() => {
      if (seen()) { observer.disconnect(); resolve(performance.now() - window.__mouseUp); }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  });
}"""


def synthetic_drawings(count: int, *, seed: int = 0) -> list[bytes]:
    """``count`` random drawings as the PNG bytes the canvas sends."""
    from PIL import Image

    from tests.strokes import DIGIT_STROKES, DrawingSpec, render_strokes

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


def start_server(env: dict, log_path: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run app.py`` on a free port; returns once it answers its health check.

    Raises RuntimeError with the server's log when it exits or is not up within
    SERVER_START_S seconds.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_S
    while True:
        if server.poll() is not None:
            problem = f"streamlit exited with code {server.returncode}"
        elif time.monotonic() > deadline:
            problem = f"streamlit did not answer {url}/_stcore/health within {SERVER_START_S:g} s"
        else:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    return server, url
            except OSError:
                time.sleep(0.3)
                continue
        stop_server(server)
        log_tail = log_path.read_text(errors="replace")[-4000:]
        raise RuntimeError(f"{problem}; the end of its log:\n{log_tail}")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def timed_model(args):
    """The model to time: ``--weights`` (a saved .keras file), else fresh weights of ``--preset``."""
    if args.weights:
        import keras

        return keras.saving.load_model(args.weights)
    from core.model import PRESETS, build_model

    return build_model(PRESETS[args.preset])


def end_to_end(args) -> dict:
    """Mouse release to prediction on screen, in Chromium, on the real app."""
    if not os.environ.get("MNIST_PATH"):
        sys.exit("set MNIST_PATH to the real mnist.npz")
    # The runs folder and the server's log live only as long as the measurement.
    with tempfile.TemporaryDirectory(prefix="bench_draw_") as folder:
        return _end_to_end(args, Path(folder))


def _end_to_end(args, tmp: Path) -> dict:
    from playwright.sync_api import sync_playwright

    from core.model import PRESETS
    from core.runs import FINISHED, RunStore

    store = RunStore(WORKSPACE, root=tmp / "runs")
    run = store.create(PRESETS[args.preset].to_dict(), dataset="mnist", seed=0, epochs_planned=0,
                       name=f"{args.preset} for timing")
    model = timed_model(args)
    store.save_model(run.run_id, model)
    store.update_metrics(run.run_id, status=FINISHED)

    env = dict(os.environ, PLAYGROUND_RUNS_DIR=str(tmp / "runs"))
    server, url = start_server(env, tmp / "streamlit.log")
    latencies, first_stroke_ms = [], float("nan")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)  # app.py first, then the page's own URL
            page.get_by_text("MNIST Playground").first.wait_for()
            page.goto(f"{url}/draw?ws={WORKSPACE}")
            canvas = page.locator("canvas.upper-canvas").first
            canvas.wait_for()
            page.get_by_text("Draw a digit").first.wait_for()
            time.sleep(2)
            page.evaluate("() => window.addEventListener('mouseup', () => { window.__mouseUp = performance.now(); }, true)")
            box = canvas.bounding_box()
            # Warm-up stroke: the first one in a server process also builds the
            # nearest-image index (cached for every later stroke and session).
            page.mouse.move(box["x"] + 140, box["y"] + 60)
            page.mouse.down()
            page.mouse.move(box["x"] + 140, box["y"] + 220, steps=12)
            page.evaluate(WATCH_JS, 1)
            page.mouse.up()
            first_stroke_ms = page.evaluate("() => window.__shown")
            page.get_by_text("x_train[").first.wait_for()
            canvas.hover()
            page.get_by_role("button", name="Reset canvas & history").click()
            page.get_by_text("Draw a digit").first.wait_for()
            time.sleep(1)
            cpu_before = process_cpu_seconds(server.pid)
            for k in range(1, args.strokes + 1):
                # Short strokes on a 5-column grid: 20 of them never fill the canvas.
                x0 = box["x"] + 30 + ((k - 1) % 5) * 50
                y0 = box["y"] + 25 + ((k - 1) // 5 % 4) * 62
                page.mouse.move(x0, y0)
                page.mouse.down()
                for j in range(1, 9):
                    page.mouse.move(x0 + 3 * j, y0 + 5 * j)
                page.evaluate(WATCH_JS, k)
                page.mouse.up()
                latencies.append(page.evaluate("() => window.__shown"))
            cpu_per_stroke_ms = 1000 * (process_cpu_seconds(server.pid) - cpu_before) / args.strokes
            browser.close()
    finally:
        stop_server(server)
    values = np.asarray(latencies)
    return {
        "benchmark": "draw_end_to_end",
        "strokes": len(latencies),
        "model": f"{args.preset} ({'loaded ' + args.weights if args.weights else 'untrained weights'})",
        "mouse_up_to_prediction_ms": {
            "median": round(float(np.median(values)), 1), "p95": round(float(np.percentile(values, 95)), 1),
            "min": round(float(values.min()), 1), "max": round(float(values.max()), 1),
        },
        "each_ms": [round(float(v)) for v in values],
        "first_stroke_of_the_server_ms": round(float(first_stroke_ms)),
        # the server's CPU (all its threads) per stroke: 2 cores serve about 2000 / this strokes a second
        "server_cpu_ms_per_stroke": round(cpu_per_stroke_ms, 1),
        "target_median_ms": TARGET_E2E_MEDIAN_MS,
        "meets_target": float(np.median(values)) <= TARGET_E2E_MEDIAN_MS,
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawings", type=int, default=300)
    parser.add_argument("--preset", default="CNN")
    parser.add_argument("--weights", help="a saved .keras model to time instead of fresh weights")
    parser.add_argument("--browser", action="store_true", help="end to end in Chromium instead")
    parser.add_argument("--strokes", type=int, default=20)
    args = parser.parse_args()
    if args.browser:
        print(json.dumps(end_to_end(args)))
        return

    from core.drawing import NearestImages, predict_drawing
    from core.preprocess import prepare_drawing_stages

    drawings = synthetic_drawings(args.drawings)
    model = timed_model(args)
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
