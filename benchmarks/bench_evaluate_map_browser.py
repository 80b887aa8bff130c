"""How long the Evaluate page takes, in Chromium, until its test-set map is on screen (a CNN run).

A CNN (the preset's network, fitted one epoch on ``--train`` images: its forward pass
costs what a trained one costs) is saved as the only run of a fresh workspace; the
app is started on the real MNIST (``MNIST_PATH``) and, for each of ``--tabs`` new
tabs (new sessions), the script times from opening ``/evaluate`` to

- ``map_s``: opening ``/evaluate`` on its map tab (``?evaluate_tab=...``, as a bookmark or
  a refresh of that tab does) to the map's plotly graph drawn with its 20 traces (2,000 points),
- ``accuracy_s``: opening ``/evaluate`` (its first tab) to "Test accuracy" shown (the
  10,000 test predictions are made) and the page idle,
- ``tab_click_s``: from a click on the map's tab to the map drawn (this session has the
  model; the map is computed for it),
- ``rerun_s``: back on the first tab, from flipping the matrix's "Normalise" toggle to the
  normalised matrix drawn and the page idle again.

The first tab also pays the raw-pixel PCA (cached per server) and TensorFlow's
first calls. ``opened_s``: to the page's title on screen (the page has opened);
``map_after_open_s``: from there to the map drawn. ``floor_s``: the same map figure (computed here, saved as JSON) on a bare
Streamlit page (``st.plotly_chart`` and nothing else) opened the same way in the same
run: what this browser and machine need to fetch plotly.js and draw 2,000 x 2 points;
``floor_after_open_s``: on that page, from its header on screen to the figure drawn.
``--app-dir`` runs another checkout of the app (one with the tabbed Evaluate page, from
22b6b5c on) for a before/after on the same machine. Prints ONE JSON line (seconds).

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_evaluate_map_browser.py [--tabs 3] [--app-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORKSPACE = "mapbench"
MAP_TAB = "The test set as a map"  # pages/evaluate.py (the tab, and its header)
EVALUATE_TITLE = "3 · Evaluate"
MAP_DRAWN_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
    .some(g => g._fullData && g._fullData.length === 20 && g._fullLayout.xaxis2)"""
NORMALISED_JS = """() => { const g = document.querySelector('.js-plotly-plot');
    return g && g._fullData && g._fullData[0].texttemplate === '%{z:.2f}'; }"""


BARE_APP = """
import streamlit as st
st.set_page_config(page_title="bare", layout="wide")
home = st.Page(lambda: st.title("A bare Streamlit app"), title="Home", url_path="home", default=True)
st.navigation([home, st.Page("pages/map.py", title="Map")], position="hidden").run()
"""
BARE_MAP_PAGE = """
import plotly.io as pio
import streamlit as st
st.header("The test set as a map")
st.plotly_chart(pio.from_json(open({path!r}).read()), config={{"displayModeBar": False}})
"""


def map_figure_json(model, data) -> str:
    """The Evaluate page's map figure for ``model`` (the same builders), as plotly JSON."""
    from core.charts.inside import pca_scatter_figure
    from core.maps import test_set_map

    m = test_set_map(model, data.x_test, data.y_test, n=2000)
    return pca_scatter_figure(m.raw_xy, m.hidden_xy, labels=m.labels, predicted=m.predicted, indices=m.indices,
                              class_names=[str(c) for c in range(10)],
                              explained=(m.raw_explained, m.hidden_explained)).to_json()


def bare_map_server(tmp: Path, figure_json: str):
    from conftest import StreamlitServer

    root = tmp / "bare"
    (root / "pages").mkdir(parents=True)
    (tmp / "map.json").write_text(figure_json)
    (root / "app.py").write_text(BARE_APP)
    (root / "pages" / "map.py").write_text(BARE_MAP_PAGE.format(path=str(tmp / "map.json")))
    shutil.copytree(ROOT / ".streamlit", root / ".streamlit")
    return StreamlitServer(dict(os.environ), tmp / "bare.log", cwd=root)


def save_cnn_run(data, root: Path, n_train: int):
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
    return model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tabs", type=int, default=3)
    parser.add_argument("--train", type=int, default=3000)
    parser.add_argument("--app-dir", type=Path, default=ROOT)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, wait_for_app
    from core.data import load_dataset

    mnist_path = os.environ.get("MNIST_PATH")
    data = load_dataset("mnist", path=mnist_path, use_keras=False)
    if data.is_standin:
        sys.exit("set MNIST_PATH to the real mnist.npz")
    tmp = Path(tempfile.mkdtemp(prefix="bench_map_"))
    model = save_cnn_run(data, tmp / "runs", args.train)
    figure_json = map_figure_json(model, data)
    env = dict(os.environ, PLAYGROUND_RUNS_DIR=str(tmp / "runs"), MNIST_PATH=mnist_path, PLAYGROUND_WARM_UP="1")
    server = StreamlitServer(env, tmp / "streamlit.log", cwd=args.app_dir.resolve())
    tabs, floor, floor_after_open = [], [], []
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
                page.goto(f"{server.url}/evaluate?ws={WORKSPACE}&evaluate_tab={quote_plus(MAP_TAB)}")
                page.get_by_text(EVALUATE_TITLE).first.wait_for()
                opened = time.perf_counter() - started
                page.wait_for_function(MAP_DRAWN_JS, polling=20)
                drawn = time.perf_counter() - started
                wait_for_app(page)
                context.close()  # a new session for the first tab: no model or map in it yet
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                page = context.new_page()
                page.set_default_timeout(300_000)
                started = time.perf_counter()
                page.goto(f"{server.url}/evaluate?ws={WORKSPACE}")
                page.get_by_text("Test accuracy").first.wait_for()
                wait_for_app(page)
                accuracy = time.perf_counter() - started
                started = time.perf_counter()
                page.get_by_role("tab", name=MAP_TAB).click()
                page.wait_for_function(MAP_DRAWN_JS, polling=20)
                tab_click = time.perf_counter() - started
                wait_for_app(page)
                page.get_by_role("tab", name="Scores and mistakes").click()
                page.get_by_text("Test accuracy").first.wait_for()
                wait_for_app(page)
                started = time.perf_counter()
                page.get_by_text("Normalise each row by its true class").first.click()
                page.wait_for_function(NORMALISED_JS, polling=20)  # the rerun's matrix is drawn
                wait_for_app(page)
                rerun = time.perf_counter() - started
                tabs.append({"map_s": round(drawn, 2), "opened_s": round(opened, 2),
                             "map_after_open_s": round(drawn - opened, 2), "accuracy_s": round(accuracy, 2),
                             "tab_click_s": round(tab_click, 2), "rerun_s": round(rerun, 2)})
                context.close()
            server.stop()
            bare = bare_map_server(tmp, figure_json)
            try:
                for _ in range(args.tabs):
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    page.set_default_timeout(300_000)
                    page.goto(bare.url)
                    page.get_by_text("A bare Streamlit app").first.wait_for()
                    wait_for_app(page)
                    started = time.perf_counter()
                    page.goto(f"{bare.url}/map")
                    page.get_by_text(MAP_TAB).first.wait_for()
                    opened = time.perf_counter() - started
                    page.wait_for_function(MAP_DRAWN_JS, polling=20)
                    drawn = time.perf_counter() - started
                    floor.append(round(drawn, 2))
                    floor_after_open.append(round(drawn - opened, 2))
                    context.close()
            finally:
                bare.stop()
            browser.close()
    finally:
        server.stop()
    print(json.dumps({"app_dir": str(args.app_dir), "tabs": tabs, "floor_s": floor,
                      "floor_after_open_s": floor_after_open,
                      "load_average": [round(v, 1) for v in os.getloadavg()]}))


if __name__ == "__main__":
    main()
