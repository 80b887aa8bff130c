"""AppTest for the Draw page (no browser): with and without a trained model.

A drawing is handed to the page the way the canvas sends it (a PNG data URL
in the component's state under its key), so the whole page runs: preparation,
the model call, the probabilities chart, the X-ray and the nearest images.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from helpers import open_app, pictures, plotly_array, save_finished_run
from strokes import DrawingSpec, render_spec

DRAW = "pages/draw.py"
TRAIN_SLICE = 6000


def canvas_state(rgba: np.ndarray, strokes: int = 1) -> dict:
    """What streamlit-drawable-canvas stores for a drawing: Fabric JSON + a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}] * strokes}, "data": url}}


def save_run(root, workspace: str, preset: str, x, y, *, epochs: int = 1, dataset: str = "mnist") -> str:
    """Train the preset briefly on a slice of the digits and save it as a finished run."""
    import keras

    from core.model import PRESETS, build_model

    config = PRESETS[preset]
    model = build_model(config)
    inputs = x.astype("float32") / 255
    inputs = inputs.reshape((len(x),) + tuple(model.input_shape[1:]))
    if epochs:
        model.fit(inputs, keras.utils.to_categorical(y, 10), batch_size=64, epochs=epochs, verbose=0)
    else:  # zero weights: the softmax gives every class 0.1, a network with no idea
        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    return save_finished_run(model, root=root, workspace=workspace, config=config.to_dict(), dataset=dataset,
                             epochs=epochs, name=f"tiny {preset}")


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, digits):
    root = tmp_path_factory.mktemp("runs")
    x, y = digits.x_train[:TRAIN_SLICE], digits.y_train[:TRAIN_SLICE]
    save_run(root, "drawcnn", "CNN", x, y, epochs=2)
    save_run(root, "drawbook", "Book", x, y)
    save_run(root, "drawzeros", "Book", x[:0], y[:0], epochs=0)  # all-zero weights, below
    save_run(root, "drawfashion", "Book", x[:0], y[:0], epochs=0, dataset="fashion_mnist")
    return root


@pytest.fixture
def env(monkeypatch, digits_env, runs_root):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(runs_root))
    return runs_root


def open_draw(workspace: str, *, drawing: np.ndarray | None = None, strokes: int = 1, **state) -> AppTest:
    at = open_app(DRAW, query={"ws": workspace})
    if drawing is not None or state:
        if drawing is not None:
            at.session_state["draw_canvas"] = canvas_state(drawing, strokes)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest, kind: str = "markdown") -> list[str]:
    return [element.value for element in at.get(kind)]


def seven() -> np.ndarray:
    return render_spec(DrawingSpec(7, "plain"))


def test_without_a_model_offers_training_and_still_xrays(env):
    at = open_draw("drawnone")
    assert any("No trained model yet" in text for text in texts(at, "alert") + texts(at, "info"))
    labels = [button.label for button in at.button]
    assert any("Train the CNN model now" in label for label in labels)
    assert any("Train the Book model now" in label for label in labels)
    assert any("much weaker on drawings" in text for text in texts(at, "caption"))
    assert any("Draw a digit" in text for text in texts(at))

    at.session_state["draw_canvas"] = canvas_state(seven())
    at.run()
    assert not at.exception
    assert any("No model to ask yet" in text for text in texts(at))
    assert not at.get("plotly_chart") or all(
        "probability" not in chart.proto.spec for chart in at.get("plotly_chart")
    )
    assert any("X-ray" in text for text in texts(at, "subheader"))


def test_with_a_model_an_empty_canvas_asks_for_a_digit(env):
    at = open_draw("drawcnn")
    assert any("tiny CNN" in text for text in texts(at, "caption"))
    assert any("Draw a digit" in text for text in texts(at))
    assert not at.get("plotly_chart")
    assert not any("Train the" in button.label for button in at.button)

    at.session_state["draw_canvas"] = canvas_state(np.zeros((280, 280, 4), np.uint8), strokes=0)
    at.run()
    assert any("Draw a digit" in text for text in texts(at))
    assert not at.get("plotly_chart")


def test_a_drawing_gets_a_prediction_the_xray_and_neighbours(env, digits):
    at = open_draw("drawcnn", drawing=seven(), strokes=2)
    verdict = [text for text in texts(at) if "after 2 strokes" in text]
    assert len(verdict) == 1 and ("It's a **7**" in verdict[0] or "Not sure" in verdict[0]), verdict
    bars = plotly_array(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"])
    assert bars.shape == (10,) and abs(bars.sum() - 1) < 1e-3
    if not digits.is_standin:  # a CNN trained on 1,400 stand-in digits need not read it
        assert int(np.argmax(bars)) == 7
    # The X-ray: each stage with the line of code that makes it, and the 784 numbers.
    stages, nearest = pictures(at)  # two rows of pictures: five stages, three neighbours
    assert [caption.split("**")[1] for caption, _ in stages] == [
        "canvas", "grey", "cropped to the ink", "fitted in 20×20", "centred by mass"]
    assert all(url.startswith("data:image/png;base64,") for _, url in stages + nearest)
    captions = " ".join(caption for caption, _ in stages) + " ".join(texts(at, "caption"))
    for code in ("ink_image(pixels)", "fit_in_box(cropped", "centre_like_mnist(fitted", "reshape(MNIST_SIZE * MNIST_SIZE)"):
        assert code in captions
    strip = plotly_array(json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]["z"])
    assert strip.size == 784
    neighbours = [caption for caption, _ in nearest]
    assert len(neighbours) == 3 and all("x_train[" in text for text in neighbours)
    if not digits.is_standin:
        assert sum("**7**" in text for text in neighbours) >= 2


def test_switches_change_the_stages(env):
    at = open_draw("drawcnn", drawing=render_spec(DrawingSpec(1, "plain", centre=(0.3, 0.3), height=0.35)),
                   draw_crop=False, draw_scale=False, draw_centre=False)
    stages, _ = pictures(at)
    captions = [caption for caption, _ in stages]
    for title in ("**not cropped**", "**canvas scale**", "**box centred**"):
        assert any(caption.startswith(title) for caption in captions), captions
    assert any("280×280" in caption for caption in captions)


def test_a_full_canvas_warns_instead_of_crashing(env):
    at = open_draw("drawcnn", drawing=np.full((280, 280, 4), 255, np.uint8))
    assert any("mostly ink" in text and "no prediction" in text for text in texts(at, "warning"))
    assert not any("stroke" in text and ("It's a" in text or "Not sure" in text) for text in texts(at))
    assert any("X-ray" in text for text in texts(at, "subheader"))


def test_the_book_model_is_said_to_be_weaker(env):
    at = open_draw("drawbook", drawing=seven())
    assert any("Book" in text and "much weaker on drawings" in text for text in texts(at, "caption"))
    assert any("Train the CNN model now" in button.label for button in at.button)
    assert any("after 1 stroke" in text for text in texts(at))


def test_an_undecided_model_says_not_sure(env):
    at = open_draw("drawzeros", drawing=seven())
    verdict = [text for text in texts(at) if "after 1 stroke" in text]
    assert len(verdict) == 1 and verdict[0].startswith("### Not sure"), verdict
    assert "10%" in verdict[0]


def test_a_run_whose_dataset_cannot_be_loaded_still_reads_drawings(env, monkeypatch, tmp_path):
    """A Fashion-MNIST run on a machine without Fashion-MNIST: a clear warning, no traceback;
    the model still answers (with Fashion-MNIST's class names), the X-ray uses MNIST."""
    import streamlit as st

    from core.data import CLASS_NAMES

    monkeypatch.setenv("FASHION_MNIST_PATH", str(tmp_path / "no-such-folder"))
    monkeypatch.setenv("PLAYGROUND_KERAS_DATASETS", "0")
    st.cache_resource.clear()  # forget a Fashion-MNIST loaded (or refused) by another test
    try:
        at = open_draw("drawfashion", drawing=seven())
        warnings = texts(at, "warning")
        assert any("trained on Fashion-MNIST" in text and "cannot be loaded here" in text
                   and "nearest images below come from MNIST" in text for text in warnings), warnings
        verdict = [text for text in texts(at) if "after 1 stroke" in text]
        assert len(verdict) == 1 and verdict[0].startswith("### Not sure"), verdict
        assert any(name in verdict[0] for name in CLASS_NAMES["fashion_mnist"]), verdict
        assert len([caption for caption, _ in pictures(at)[1] if "x_train[" in caption]) == 3
    finally:
        st.cache_resource.clear()
