"""AppTest for the Evaluate page (no browser): a real small Keras model saved as a run.

The run is written with core.runs.RunStore under a temporary PLAYGROUND_RUNS_DIR;
the page finds it through the workspace in the URL (``?ws=``) and
``st.session_state["active_run_id"]``, as after training in the app.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from streamlit.testing.v1 import AppTest

from helpers import open_app, plotly_array, train_and_save
from core import evaluation as ev
from core.preprocess import model_input

WORKSPACE = "evaltest"
EVALUATE = "pages/evaluate.py"
TRAIN_SLICE = 6000
FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory, digits):
    """The book's network trained briefly on the digits (real MNIST or the stand-in), saved as a run."""
    root = tmp_path_factory.mktemp("runs")
    run_id, loss, accuracy, probs = train_and_save(
        digits.x_train[:TRAIN_SLICE], digits.y_train[:TRAIN_SLICE], digits.x_test, digits.y_test,
        root=root, workspace=WORKSPACE, dataset="mnist",
    )
    return dict(root=root, run_id=run_id, loss=loss, accuracy=accuracy, probs=probs,
                y_test=np.asarray(digits.y_test), real=not digits.is_standin)


IMAGE_TAB = "One image, layer by layer"  # pages/evaluate.py's tabs


def open_evaluate(*, run_id: str | None, session: dict | None = None) -> AppTest:
    state = {"active_run_id": run_id} if run_id else {}
    return open_app(EVALUATE, query={"ws": WORKSPACE}, session={**state, **(session or {})})


def open_tab(at: AppTest, label: str) -> AppTest:
    """Switch the page's lazy tabs (what a click on the tab does) and rerun."""
    at.session_state["evaluate_tab"] = label
    return at.run()


def plotly_spec(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def code(at: AppTest) -> str:
    return "\n".join(c.value for c in at.code)


@pytest.fixture
def run_env(monkeypatch, digits_env, digits_run):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(digits_run["root"]))
    return digits_run



def report_table(at):
    """The per-class report (the charts' "Numbers behind this chart" tables come before it)."""
    return next(d.value for d in at.dataframe if "support" in d.value.columns)

def test_numbers_matrix_and_inspector(run_env):
    run = run_env
    at = open_evaluate(run_id=run["run_id"])
    assert at.title[0].value == "3 · Evaluate"

    # evaluate()'s numbers, from the run's metrics.json.
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test loss"] == f"{run['loss']:.4f}"
    assert metrics["Test accuracy"] == f"{run['accuracy']:.4f}"

    # The matrix drawn is scikit-learn's on this model's predictions.
    y_true, y_pred = run["y_test"], run["probs"].argmax(axis=1)
    expected = confusion_matrix(y_true, y_pred)
    spec = plotly_spec(at)
    heatmap, cells = spec["data"][0], spec["data"][1]
    assert heatmap["type"] == "heatmap" and heatmap["texttemplate"] == "%{z:d}"
    np.testing.assert_array_equal(plotly_array(heatmap["z"]), expected)
    assert cells["type"] == "scatter" and cells["marker"]["symbol"] == "square"
    assert "colorbar" in heatmap

    # The book's accuracy from the matrix equals evaluate()'s to 4 decimals.
    correct, n_test = int(np.trace(expected)), len(y_true)
    text = markdown(at)
    assert f"**{correct:,} / {n_test:,} = {correct / n_test:.4f}**" in text
    assert round(correct / n_test, 4) == round(run["accuracy"], 4)
    assert any("The same as" in s.value for s in at.success)

    # The matrix tab runs alone: the inspector's tab is not computed until opened.
    assert not at.get("number_input")
    # The inspector on item 11 (a 6 in the book).
    open_tab(at, IMAGE_TAB)
    assert not at.exception
    assert at.number_input(key="evaluate_item").value == 11
    label = int(y_true[11])
    if run["real"]:
        assert label == 6
    with np.printoptions(precision=2, suppress=True):
        printed = str(run["probs"][11])
    shown = code(at)
    assert f"print(predictions[11])\n# {printed}" in shown
    assert f"np.argmax(predictions[11])\n# {int(np.argmax(run['probs'][11]))}" in shown
    assert "np.sum(predictions[11])" in shown
    titles = [plotly_spec(at, i).get("layout", {}).get("title", {}).get("text") for i in
              range(len(at.get("plotly_chart")))]
    assert f"x_test[11] · label {label}" in titles


def test_cell_gallery_follows_the_selectboxes_and_pairs(run_env):
    run = run_env
    y_true, probs = run["y_test"], run["probs"]
    counts = ev.confusion(y_true, probs.argmax(axis=1))
    top = ev.most_confused_pairs(counts, top=1)[0]
    at = open_evaluate(run_id=run["run_id"])
    # By default the most confused cell is selected and outlined.
    assert (at.selectbox(key="evaluate_true").value, at.selectbox(key="evaluate_pred").value) == (
        top.true_class, top.pred_class)
    assert f"**{top.count:,}** test images of a **{top.true_class}** predicted as " in markdown(at)
    shape = plotly_spec(at)["layout"]["shapes"][0]
    assert (shape["x0"] + 0.5, shape["y0"] + 0.5) == (top.pred_class, top.true_class)

    # The keyboard way: choose the diagonal cell of the 3s (on the stand-in, where this
    # briefly trained network may get no 3 right, of the class it gets right most often).
    c = 3 if run["real"] else int(np.argmax(np.diag(counts)))
    at.selectbox(key="evaluate_true").set_value(c).run()
    at.selectbox(key="evaluate_pred").set_value(c).run()
    gallery = ev.cell_gallery(y_true, probs, true_class=c, pred_class=c, limit=18)
    assert gallery.count > 0
    assert f"**{gallery.count:,}** test images of a **{c}** predicted as **{c}**" in markdown(at)
    assert "least confident first" in markdown(at)
    gallery_titles = [a["text"] for a in plotly_spec(at, 1)["layout"]["annotations"]]
    assert gallery_titles[0] == f"x_test[{gallery.indices[0]}]<br>{c} {gallery.confidence[0]:.2f}"
    assert len(gallery_titles) == len(gallery)
    shape = plotly_spec(at)["layout"]["shapes"][0]
    assert (shape["x0"] + 0.5, shape["y0"] + 0.5) == (c, c)

    # A "most confused" line is a shortcut to its cell.
    label = str(top)
    next(b for b in at.button if b.label == label).click().run()
    assert at.selectbox(key="evaluate_true").value == top.true_class
    assert at.selectbox(key="evaluate_pred").value == top.pred_class


def test_normalised_matrix_one_vs_rest_and_report(run_env):
    run = run_env
    y_true, y_pred = run["y_test"], run["probs"].argmax(axis=1)
    at = open_evaluate(run_id=run["run_id"])
    at.toggle(key="evaluate_normalize").set_value(True).run()
    heatmap = plotly_spec(at)["data"][0]
    assert heatmap["texttemplate"] == "%{z:.2f}" and heatmap["zmax"] == 1.0

    at.selectbox(key="evaluate_one_vs_rest").set_value(6).run()
    m = confusion_matrix(y_true, y_pred)
    tp = int(m[6, 6])
    fn = int(m[6].sum()) - tp
    fp = int(m[:, 6].sum()) - tp
    tn = len(y_true) - tp - fn - fp
    text = markdown(at)
    assert f"| **true 6** | TP = {tp:,} | FN = {fn:,} |" in text
    assert f"| **true not 6** | FP = {fp:,} | TN = {tn:,} |" in text
    assert f"= **{(tp + tn) / len(y_true):.4f}**" in text
    assert f"sensitivity = TP / (TP + FN) = {tp:,} / {tp + fn:,} = **{tp / (tp + fn):.4f}**" in text
    assert "mushroom" in text

    table = report_table(at)
    assert list(table["support"]) == list(np.bincount(y_true, minlength=10))
    assert table["recall (sensitivity)"][6] == pytest.approx(tp / (tp + fn))


def test_predictions_are_computed_once_per_model(run_env, monkeypatch):
    run = run_env
    at = open_evaluate(run_id=run["run_id"])
    kept = at.session_state["evaluate_predictions"]
    assert len(kept) == 1 and next(iter(kept)).startswith(run["run_id"] + ":")
    np.testing.assert_allclose(next(iter(kept.values())), run["probs"], atol=1e-6)
    calls = []
    real = ev.predict_probabilities
    monkeypatch.setattr(ev, "predict_probabilities", lambda *a, **k: calls.append(1) or real(*a, **k))
    at.selectbox(key="evaluate_true").set_value(1).run()
    open_tab(at, IMAGE_TAB)
    at.number_input(key="evaluate_item").set_value(0).run()
    assert not at.exception
    assert calls == []  # later reruns only slice the kept predictions
    assert "print(predictions[0])" in code(at)


def test_without_a_model_offers_training(monkeypatch, tmp_path, digits_env):
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    at = open_evaluate(run_id=None)
    assert any("no trained model" in i.value for i in at.info)
    links = at.get("page_link")
    assert any(link.proto.page == "pages/train.py" or "train" in link.proto.page for link in links)
    assert any(b.label.startswith("Train the Book model now") for b in at.button)
    assert not at.metric  # nothing evaluated


def test_fashion_mnist_class_names(monkeypatch, tmp_path):
    # A small Fashion-MNIST-shaped set: ten noisy templates, so the model learns something.
    rng = np.random.default_rng(0)
    templates = rng.integers(0, 256, size=(10, 28, 28))

    def make(n):
        y = (np.arange(n) % 10).astype(np.uint8)
        x = np.clip(templates[y] + rng.normal(0, 60, size=(n, 28, 28)), 0, 255).astype(np.uint8)
        return x, y

    x_train, y_train = make(600)
    x_test, y_test = make(200)
    path = tmp_path / "fashion.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setenv("FASHION_MNIST_PATH", str(path))
    monkeypatch.setenv("PLAYGROUND_KERAS_DATASETS", "0")
    monkeypatch.setenv("PLAYGROUND_RUNS_DIR", str(tmp_path / "runs"))
    run_id, _, accuracy, probs = train_and_save(
        x_train, y_train, x_test, y_test, root=tmp_path / "runs", workspace=WORKSPACE, dataset="fashion_mnist",
        epochs=5,
    )
    import streamlit as st

    st.cache_resource.clear()
    try:
        # Item 5000 was chosen for an MNIST run earlier in the session: this test set has
        # only 200 images, so the inspector clamps it instead of raising (a regression).
        # Item 5000 was chosen for an MNIST run earlier in the session; this test set has
        # only 200 images, so the inspector shows the last one (Streamlit 1.67 would reset
        # an out-of-range value to 0, older versions raise StreamlitValueAboveMaxError).
        at = open_evaluate(run_id=run_id, session={"evaluate_true": 9, "evaluate_pred": 9,
                                                   "evaluate_item": 5000})
        assert not at.exception
        spec = plotly_spec(at)
        assert spec["layout"]["xaxis"]["ticktext"] == list(FASHION_NAMES)
        assert spec["layout"]["yaxis"]["ticktext"] == list(FASHION_NAMES)
        assert {m.label: m.value for m in at.metric}["Test accuracy"] == f"{accuracy:.4f}"
        correct = int(np.sum(probs.argmax(axis=1) == y_test))
        assert f"**{correct:,} / 200 = {correct / 200:.4f}**" in markdown(at)
        assert "predicted as **Ankle boot**" in markdown(at) or "No test image of a **Ankle boot**" in " ".join(
            i.value for i in at.info)
        assert list(report_table(at)["class"]) == list(FASHION_NAMES)
        open_tab(at, IMAGE_TAB)
        assert not at.exception
        assert at.number_input(key="evaluate_item").value == 199
        assert "print(predictions[199])" in code(at)
    finally:
        st.cache_resource.clear()


def test_run_without_stored_scores_is_scored_from_predictions(run_env):
    """A stopped run has no test score in metrics.json: the page computes evaluate()'s
    numbers from the predictions, with the same formulas."""
    import shutil

    from core.runs import MODEL_FILE, STOPPED, RunStore

    run = run_env
    store = RunStore(WORKSPACE, root=run["root"])
    stopped = store.create({"preset": "Book"}, dataset="mnist", seed=0, epochs_planned=5, name="stopped")
    shutil.copy(store.model_path(run["run_id"]), store.run_path(stopped.run_id) / MODEL_FILE)
    store.update_metrics(stopped.run_id, status=STOPPED, epochs_done=3)
    at = open_evaluate(run_id=stopped.run_id)
    metrics = {m.label: float(m.value) for m in at.metric}
    assert metrics["Test loss"] == pytest.approx(run["loss"], abs=1.5e-4)
    assert metrics["Test accuracy"] == pytest.approx(run["accuracy"], abs=1.5e-4)
    assert any("computed here from the predictions" in c.value for c in at.caption)
    assert any("The same as" in s.value for s in at.success)


@pytest.mark.parametrize("tab", ["<b>nope</b>", "x" * 5000, ""])
def test_a_tab_the_page_does_not_have_opens_the_first(run_env, tab):
    """?evaluate_tab= is the client's to send: a hostile or stale value opens the first tab, no error."""
    at = open_app(EVALUATE, query={"ws": WORKSPACE, "evaluate_tab": tab},
                  session={"active_run_id": run_env["run_id"]})
    assert {m.label for m in at.metric} >= {"Test loss", "Test accuracy"}


def test_a_students_choices_survive_switching_tabs(run_env):
    """The tabs run lazily (a closed tab's widgets are not drawn): the choices are kept anyway."""
    at = open_evaluate(run_id=run_env["run_id"])
    at.selectbox(key="evaluate_true").set_value(4).run()
    at.selectbox(key="evaluate_pred").set_value(9).run()
    at.toggle(key="evaluate_normalize").set_value(True).run()
    open_tab(at, IMAGE_TAB)
    at.number_input(key="evaluate_item").set_value(42).run()
    open_tab(at, "The test set as a map")
    open_tab(at, IMAGE_TAB)
    assert not at.exception
    assert at.number_input(key="evaluate_item").value == 42
    assert "print(predictions[42])" in code(at)
    # and the first tab's choices, in a session that opens it again
    assert (at.session_state["evaluate_true"], at.session_state["evaluate_pred"]) == (4, 9)
    assert at.session_state["evaluate_normalize"] is True
