"""AppTest of "inside the network" on the pages: Draw, Evaluate and Train show real values.

A briefly trained Book network (and a CNN on Draw) saved as runs; the pages'
sums, bars and maps are checked against NumPy arithmetic on the saved weights.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from helpers import mosaic_tiles, open_app, plotly_array, save_finished_run
from strokes import DrawingSpec, render_spec
from test_draw_page import canvas_state

WORKSPACE = "insidetest"
TRAIN_SLICE = 6000


@pytest.fixture(scope="module")
def book_run(tmp_path_factory, digits):
    """The book's network trained briefly (Adam, 3 epochs) and saved with the Book preset's config."""
    import keras

    from core.model import PRESETS
    from core.preprocess import model_input
    from helpers import book_network

    root = tmp_path_factory.mktemp("runs")
    model = book_network()
    x = model_input(digits.x_train[:TRAIN_SLICE], input_shape=model.input_shape)
    model.fit(x, keras.utils.to_categorical(digits.y_train[:TRAIN_SLICE], 10), batch_size=100, epochs=3, verbose=0)
    probs = model.predict(model_input(digits.x_test, input_shape=model.input_shape), batch_size=2048, verbose=0)
    run_id = save_finished_run(model, root=root, workspace=WORKSPACE, config=PRESETS["Book"].to_dict(),
                               epochs=3, name="tiny book", test_loss=1.0,
                               test_accuracy=float(np.mean(probs.argmax(1) == digits.y_test)))
    cnn_run = save_finished_run(_tiny_cnn(digits), root=root, workspace=WORKSPACE + "cnn",
                                config=PRESETS["CNN"].to_dict(), name="tiny CNN")
    return dict(root=root, run_id=run_id, probs=probs, model=model, cnn_run=cnn_run)


def _tiny_cnn(digits):
    import keras

    from core.model import PRESETS, build_model

    model = build_model(PRESETS["CNN"])
    x = (digits.x_train[:1000].astype("float32") / 255)[..., None]
    model.fit(x, keras.utils.to_categorical(digits.y_train[:1000], 10), batch_size=100, epochs=1, verbose=0)
    return model


@pytest.fixture
def env(monkeypatch, digits_env, book_run):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(book_run["root"]))
    return book_run


def specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def texts(at, kind: str) -> list[str]:
    return [element.value for element in at.get(kind)]


def numpy_trace(model, image: np.ndarray):
    """The book's network by hand: z1 = x W1 + b1, a1 = sigmoid(z1), z2 = a1 W2 + b2, softmax."""
    (w1, b1), (w2, b2) = [(np.asarray(l.kernel, np.float64), np.asarray(l.bias, np.float64)) for l in model.layers]
    x = image.reshape(-1).astype(np.float64) / 255
    z1 = x @ w1 + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = a1 @ w2 + b2
    p = np.exp(z2 - z2.max())
    return x, z1, a1, z2, p / p.sum()


def bars(spec: dict, name: str) -> np.ndarray:
    return next(plotly_array(t["y"]) for t in spec["data"] if t.get("name") == name)


def test_draw_shows_the_drawing_through_the_book_network_and_its_saliency(env):
    at = open_app("pages/draw.py", query={"ws": WORKSPACE})
    at.session_state["draw_show_inside"] = True
    at.session_state["draw_canvas"] = canvas_state(render_spec(DrawingSpec(7, "plain")))
    at.session_state["draw_inside_unit"] = 3
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("layer by layer" in s for s in texts(at, "subheader"))
    # the prepared drawing the page fed the network: the X-ray's last stage
    from core.preprocess import prepare_drawing_stages

    drawing = prepare_drawing_stages(render_spec(DrawingSpec(7, "plain"))).centred28
    x, z1, a1, z2, p = numpy_trace(env["model"], np.asarray(drawing * 255 if drawing.max() <= 1 else drawing))
    charts = specs(at)
    hidden = next(s for s in charts if any(t.get("name") == "z" for t in s["data"]))
    np.testing.assert_allclose(bars(hidden, "z"), z1, atol=1e-4)
    np.testing.assert_allclose(bars(hidden, "a"), a1, atol=1e-5)
    # the hidden unit's sum, printed: z = ... = <z1[3]>; a = sigmoid(...) = <a1[3]>
    sums = [c for c in texts(at, "code") if c.startswith("z = ")]
    assert sums, texts(at, "code")
    assert sums[0].endswith(f"= {z1[3]:.3f};  a = sigmoid({z1[3]:.3f}) = {a1[3]:.3f}")
    assert f"sum {(env['model'].layers[0].kernel.numpy()[:, 3].astype(np.float64) * x).sum():.3f}" in sums[0]
    # saliency overlays: gradient x input and integrated gradients, non-zero where there is ink
    overlays = [s for s in charts if any(t.get("colorbar", {}).get("title", {}).get("text") == "attribution"
                                         for t in s["data"])]
    assert len(overlays) >= 2
    attribution = plotly_array(overlays[0]["data"][1]["z"])
    assert attribution.shape == (28, 28) and np.abs(attribution).sum() > 0
    assert np.all(attribution[drawing == 0] == 0)  # gradient x input: no ink, no attribution
    # "what should it have been?" adds the other class's maps
    predicted = int(np.argmax(p))
    other = (predicted + 1) % 10
    at.selectbox(key="draw_true_class").set_value(other).run()
    assert not at.exception
    assert any(f"What was missing for a {other}" in m for m in texts(at, "markdown"))


def test_draw_shows_a_cnns_feature_maps(env):
    at = open_app("pages/draw.py", query={"ws": WORKSPACE + "cnn"})
    at.session_state["draw_show_inside"] = True
    at.session_state["draw_canvas"] = canvas_state(render_spec(DrawingSpec(7, "plain")))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    markdown = "\n".join(texts(at, "markdown"))
    assert re.search(r"\(Conv2D\): 32 maps of 26×26", markdown), markdown
    assert "(MaxPooling2D)" in markdown


MAP_TAB, IMAGE_TAB = "The test set as a map", "One image, layer by layer"  # pages/evaluate.py's tabs


def test_evaluate_shows_the_map_the_inspector_layers_and_the_cell_saliency(env):
    # the first tab: the confusion-cell gallery explains its chosen image; the map is not computed
    at = open_app("pages/evaluate.py", query={"ws": WORKSPACE}, session={"active_run_id": env["run_id"]})
    assert at.selectbox(key="evaluate_cell_item").value is not None
    assert any("What made it say" in m for m in texts(at, "markdown"))
    assert not any("The test set as a map" in h for h in texts(at, "header"))
    # the map's tab
    at.session_state["evaluate_tab"] = MAP_TAB
    at.run()
    assert any("The test set as a map" in h for h in texts(at, "header"))
    scatter = next(s for s in specs(at) if any(t.get("customdata") is not None and t.get("type") == "scatter"
                                               and "test image" in t.get("hovertemplate", "") for t in s["data"]))
    points = sum(len(plotly_array(t["x"])) for t in scatter["data"]) // 2
    assert points == min(2000, len(env["probs"]))
    # before training: the untrained twin's map
    at.radio(key="evaluate_map_stage").set_value(at.radio(key="evaluate_map_stage").options[1]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.startswith("Before training") for c in texts(at, "caption"))
    # the inspector's image (x_test[11]) through the network
    at.session_state["evaluate_tab"] = IMAGE_TAB
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    hidden = next(s for s in specs(at) if any(t.get("name") == "z" for t in s["data"]) and
                  len(bars(s, "z")) == 10 and "hidden unit" in json.dumps(s["layout"]))
    assert hidden is not None
    sums = [c for c in texts(at, "code") if c.startswith("z = ")]
    assert sums


def test_evaluate_inspector_sum_equals_numpy(env, digits):
    i = 5
    at = open_app("pages/evaluate.py", query={"ws": WORKSPACE},
                  session={"active_run_id": env["run_id"], "evaluate_item": i, "evaluate_inside_unit": 7,
                           "evaluate_tab": IMAGE_TAB})
    x, z1, a1, _, _ = numpy_trace(env["model"], np.asarray(digits.x_test[i]))
    sums = [c for c in texts(at, "code") if c.startswith("z = ")]
    assert sums[0].endswith(f"= {z1[7]:.3f};  a = sigmoid({z1[7]:.3f}) = {a1[7]:.3f}")


def test_a_runs_map_is_computed_once_for_the_whole_server(env, monkeypatch):
    """A second session (a refresh, another tab) of the same run gets the same read-only map:
    no second forward pass or PCA; the untrained twin is built only for its first map."""
    import core.maps
    import ui.inside

    computed = []
    real = core.maps.test_set_map
    monkeypatch.setattr(core.maps, "test_set_map", lambda *a, **k: computed.append(1) or real(*a, **k))
    built = []
    real_untrained = ui.inside.untrained_model
    monkeypatch.setattr(ui.inside, "untrained_model", lambda *a: built.append(1) or real_untrained(*a))
    ui.inside._shared_test_set_map.clear()
    session = {"active_run_id": env["run_id"], "evaluate_tab": MAP_TAB}
    first = open_app("pages/evaluate.py", query={"ws": WORKSPACE}, session=dict(session))
    second = open_app("pages/evaluate.py", query={"ws": WORKSPACE}, session=dict(session))
    assert not first.exception and not second.exception
    shown = first.session_state["evaluate_map_shown"]
    assert second.session_state["evaluate_map_shown"] is shown and computed == [1]
    assert not any(getattr(shown, f).flags.writeable for f in ("indices", "raw_xy", "hidden_xy", "labels", "predicted"))
    for at in (first, second):  # before training: the twin is built and mapped once
        at.radio(key="evaluate_map_stage").set_value(at.radio(key="evaluate_map_stage").options[1]).run()
        assert not at.exception, [e.value for e in at.exception]
    assert computed == [1, 1] and built == [1]


def test_clicking_a_map_point_opens_it_in_the_inspector(env):
    from ui.inside import selected_test_index

    at = open_app("pages/evaluate.py", query={"ws": WORKSPACE},
                  session={"active_run_id": env["run_id"], "evaluate_tab": MAP_TAB})
    test_map = at.session_state["evaluate_map_shown"]
    chosen = int(test_map.indices[42])
    event = {"selection": {"points": [{"curve_number": 0, "point_index": 0, "customdata": [chosen, 0, 0]}]}}
    assert selected_test_index(event, test_map) == chosen
    # without customdata: trace c is class c, point_index its place among that class's points
    c = int(test_map.labels[42])
    place = int(np.flatnonzero(test_map.indices[test_map.labels == c] == chosen)[0])
    assert selected_test_index({"selection": {"points": [{"curve_number": 10 + c, "point_index": place}]}},
                               test_map) == chosen


# -- Train: the weights as pictures, live and after a refresh ---------------------------------------------
def test_a_training_job_snapshot_carries_a_copy_of_the_weights_of_its_last_epoch(monkeypatch, tmp_path, digits):
    from core.model import PRESETS
    from core.runs import RunStore
    from core.training import TrainingJob

    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    store = RunStore("weightsjob", root=tmp_path / "runs")
    job = TrainingJob(PRESETS["Book"].replace(epochs=2), digits, store=store, limit=1000).start()
    assert job.join(120) and job.status == "finished", job.error
    snap = job.snapshot()
    assert snap.weights_epoch == 2
    saved = store.load_model(job.run_id)
    np.testing.assert_array_equal(snap.weights["dense/kernel"], saved.layers[0].kernel.numpy())
    from core.inside import weight_pictures

    pictures = weight_pictures(snap.weights)
    assert pictures.kind == "dense" and pictures.images.shape == (10, 28, 28)
    np.testing.assert_array_equal(pictures.images[4], saved.layers[0].kernel.numpy()[:, 4].reshape(28, 28))


def test_the_train_page_shows_a_finished_runs_weights_and_the_books_log_after_a_refresh(env):
    at = open_app("pages/train.py", query={"ws": WORKSPACE, "run": env["run_id"]})
    assert not at.exception, [e.value for e in at.exception]
    charts = specs(at)
    kernel = env["model"].layers[0].kernel.numpy()
    weights = next(s for s in charts if any("unit 0" in str(a.get("text")) for a in s["layout"].get("annotations", [])))
    np.testing.assert_allclose(mosaic_tiles(plotly_array(weights["data"][0]["z"]))[2], kernel[:, 2].reshape(28, 28),
                               atol=1e-6)
    output = next(s for s in charts if any(t.get("y") and "bias" in list(t.get("y")) for t in s["data"]))
    assert plotly_array(output["data"][0]["z"]).shape == (11, 10)
    captions = texts(at, "caption")
    assert any("784 weights laid out as the image" in c for c in captions)
    assert any("does not fit its own log" in i for i in texts(at, "info"))


def test_the_books_printed_log_is_a_reference_line_on_the_curves():
    from core import book
    from core.charts.training import training_curves_figure

    fig = training_curves_figure(batch_steps=[1, 2], batch_logs={"loss": [2.3, 2.2], "accuracy": [0.1, 0.2]},
                                 epochs=[0], epoch_logs={"loss": [2.2], "accuracy": [0.2]}, steps_per_epoch=2,
                                 reference=book.reference_curves())
    reference = [t for t in fig.data if t.name == book.REFERENCE_NAME]
    assert [list(t.y) for t in reference] == [list(book.BOOK.loss), list(book.BOOK.accuracy)]
    assert list(reference[0].x) == [1, 2, 3, 4, 5]


def test_a_rerun_shows_the_same_images_layers_without_computing_them_again(env, monkeypatch):
    from core.attribution import DrawingExplainer

    calls = []
    real = DrawingExplainer.explain
    monkeypatch.setattr(DrawingExplainer, "explain", lambda self, image: calls.append(1) or real(self, image))
    at = open_app("pages/evaluate.py", query={"ws": WORKSPACE},
                  session={"active_run_id": env["run_id"], "evaluate_tab": IMAGE_TAB})
    assert len(calls) == 1
    first = [c for c in texts(at, "code") if c.startswith("z = ")]
    at.selectbox(key="evaluate_inside_unit").set_value(3).run()  # another unit of the same image
    assert not at.exception, [e.value for e in at.exception]
    assert len(calls) == 1  # remembered for this model, image and session
    assert [c for c in texts(at, "code") if c.startswith("z = ")] != first
    at.number_input(key="evaluate_item").set_value(12).run()  # another image: computed
    assert len(calls) == 2
