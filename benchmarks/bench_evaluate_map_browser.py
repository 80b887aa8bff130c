"""How long the Evaluate page takes, in Chromium, until its test-set map is on screen (a CNN run).

A CNN (the preset's network, fitted one epoch on ``--train`` images: its forward pass
costs what a trained one costs) is saved as the only run of a fresh workspace; the
app is started on the real MNIST (``MNIST_PATH``) and, for each of ``--tabs`` new
tabs (new sessions), the script times from opening ``/evaluate`` to

- ``accuracy_s``: "Test accuracy" shown (the 10,000 test predictions are made),
- ``map_s``: the map's plotly graph drawn with its 20 traces (2,000 points);
  ``map_after_its_header_s``: from its section's header on screen to the graph drawn
  (the map's own share: the sections above it, e.g. the cell's attributions, come first),
- ``rerun_s``: from flipping the matrix's "Normalise" toggle to the normalised matrix
  drawn and the page idle again (a rerun: the map and its figure come from st.session_state).

The first tab also pays the raw-pixel PCA (cached per server) and TensorFlow's
first calls. ``--app-dir`` runs another checkout of the app (e.g. an exported older
commit) for a before/after on the same machine. Prints ONE JSON line (seconds).

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_evaluate_map_browser.py [--tabs 3] [--app-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORKSPACE = "mapbench"
MAP_DRAWN_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .some(g => g._fullData && g._fullData.length === 20 && g._fullLayout.xaxis2)"""
NORMALISED_JS = """() => { const g = document.querySelector('.js-plotly-plot');
    return g && g._fullData && g._fullData[0].texttemplate === '%{z:.2f}'; }"""


def save_cnn_run(data, root: Path, n_train: int) -> None:
    import keras

    from core import fastfit
    from core.model import PRESETS, build_model, model_input
    from helpers import save_finished_run

    config = PRESETS["CNN"]
    model = build_model(config)
    x = model_input(config, data.x_train[:n_train])
    fastfit.fit(model, x, keras.utils.to_categorical(data.y_train[:n_train], 10), batch_size=config.batch_size,
                epochs=1, seed=0)
    save_finished_run(model, root=root, workspace=WORKSPACE, config=config.to_dict(), name="bench CNN")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    import conftest
    from conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, wait_for_app
    from core.data import load_dataset

    mnist_path = os.environ.get("MNIST_PATH")
    data = load_dataset("mnist", path=mnist_path, use_keras=False)
    if data.is_standin:
        sys.exit("set MNIST_PATH to the real mnist.npz")
    tmp = Path(tempfile.mkdtemp(prefix="bench_map_"))
    save_cnn_run(data, tmp / "runs", args.train)
    env = dict(os.environ, PLAYGROUND_RUNS_DIR=str(tmp / "runs"), MNIST_PATH=mnist_path, PLAYGROUND_WARM_UP="1")
    conftest.ROOT = args.app_dir.resolve()  # StreamlitServer runs app.py from conftest.ROOT
    server = StreamlitServer(env, tmp / "streamlit.log")
    tabs = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(args.tabs):
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(300_000)
                page.goto(server.url)  # app.py first (see tests/test_evaluate_browser.py)
                page.get_by_text("MNIST Playground").first.wait_for()
                wait_for_app(page)
                started = time.perf_counter()
                page.goto(f"{server.url}/evaluate?ws={WORKSPACE}")
                page.get_by_text("Test accuracy").first.wait_for()
                accuracy = time.perf_counter() - started
                page.get_by_text("The test set as a map").first.wait_for()
                header = time.perf_counter() - started
                page.wait_for_function(MAP_DRAWN_JS, polling=20)
                drawn = time.perf_counter() - started
                wait_for_app(page)
                started = time.perf_counter()
                page.get_by_text("Normalise each row by its true class").first.click()
                page.wait_for_function(NORMALISED_JS, polling=20)  # the rerun's matrix is drawn
                wait_for_app(page)
                rerun = time.perf_counter() - started
                tabs.append({"accuracy_s": round(accuracy, 2), "map_s": round(drawn, 2),
                             "map_after_accuracy_s": round(drawn - accuracy, 2),
                             "map_after_its_header_s": round(drawn - header, 2), "rerun_s": round(rerun, 2)})
                context.close()
            browser.close()
    finally:
        server.stop()
    print(json.dumps({"app_dir": str(args.app_dir), "tabs": tabs,
                      "load_average": [round(v, 1) for v in os.getloadavg()]}))


if __name__ == "__main__":
    main()
