"""Evaluate: the book's evaluation of the trained network, live.

Test loss and accuracy, the confusion matrix (click a cell to see its
images), accuracy as diagonal / total, per-class scores, one class against
the rest as the book's 2x2 table, and ``model.predict`` on one test image.

The test set is predicted once per model (kept in st.session_state under the
run id); every widget on this page then only slices those arrays.

Three tabs that run lazily (``st.tabs(on_change="rerun")``): only the open one's
sections are computed and drawn, so the map or the layer-by-layer inspector does
not wait for (nor slow) the matrix's gallery and attributions. The open tab is in
the URL (``bind="query-params"``), so a refresh keeps it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import evaluation as ev
from core.charts.dataset import digit_figure
from core.charts.evaluation import (
    MATRIX_TRACE,
    confusion_figure,
    gallery_figure,
    per_class_figure,
)
from core.charts.probabilities import probabilities_figure
from core.data import DatasetUnavailable
from core.model import PRESETS
from ui import data as ui_data
from ui import inside as ui_inside
from ui import runs as ui_runs
from ui.a11y import chart_with_table

PREDICTIONS_KEY = "evaluate_predictions"  # {"run id:checkpoint:dataset": (N, n_classes) float32}
KEPT_PREDICTIONS = 4  # runs whose predictions a session keeps (0.4 MB each)
MATRIX_KEY = "evaluate_matrix"
NORMALIZE_KEY = "evaluate_normalize"
TRUE_KEY = "evaluate_true"
PRED_KEY = "evaluate_pred"
ONE_VS_REST_KEY = "evaluate_one_vs_rest"
ITEM_KEY = "evaluate_item"
GALLERY_LIMIT = 18
GALLERY_PER_ROW = 6
CONFUSED_PAIRS_SHOWN = 6
TRAIN_PAGE = "pages/train.py"
BOOK_PRESET = "Book"
BOOK_TEST_ITEM = 11  # x_test[11] is a 6 in the book
CELL_ITEM_KEY = "evaluate_cell_item"
MAP_KEY = "evaluate_map"
MAP_STAGE_KEY = "evaluate_map_stage"
MAP_N = 2000
AFTER, BEFORE = "after training", "before training (the same network, untrained)"
TAB_KEY = "evaluate_tab"
#: The tabs run lazily, so a tab's widgets are not drawn while another is open; Streamlit would
#: then forget them (the cell, the test item, the toggle...). persist_state keeps them for the session.
SESSION = "session"
SCORES_TAB, MAP_TAB, IMAGE_TAB = "Scores and mistakes", "The test set as a map", "One image, layer by layer"


def _select_cell(true_class: int, pred_class: int) -> None:
    st.session_state[TRUE_KEY] = int(true_class)
    st.session_state[PRED_KEY] = int(pred_class)


def _on_matrix_select() -> None:
    """A click on the matrix selects the scatter point of that cell: copy it to the selectboxes."""
    state = st.session_state.get(MATRIX_KEY)
    points = state["selection"]["points"] if state else []
    for point in points:
        if point.get("curve_number") == MATRIX_TRACE:
            # The scatter's points sit on the cell centres: x = predicted, y = true class.
            _select_cell(round(point["y"]), round(point["x"]))
            return


def _clamp(key: str, last: int) -> None:
    """Keep a widget's remembered value within 0..last before the widget is made: another
    run's dataset may have fewer images or classes (Streamlit resets or raises otherwise)."""
    if key in st.session_state:  # written only when out of range: the widget stays the student's
        value = int(st.session_state[key])
        if not 0 <= value <= last:
            st.session_state[key] = min(max(value, 0), last)


def _test_predictions(run, model, dataset) -> np.ndarray:
    """(N, n_classes) probabilities for the whole test set, computed once per run (the
    class model's once per process, shared read-only by every session)."""
    if ui_runs.is_class_model(run):
        return ui_runs.class_model_predictions(dataset)
    kept: dict = st.session_state.setdefault(PREDICTIONS_KEY, {})
    try:  # a run still training rewrites its checkpoint each epoch: predict again then
        checkpoint = ui_runs.run_store().model_path(run.run_id).stat().st_mtime_ns
    except (OSError, TypeError):
        checkpoint = 0
    key = f"{run.run_id}:{checkpoint}:{dataset.name}"
    if key not in kept:
        with st.spinner(f"Predicting all {len(dataset.x_test):,} test images once for this model…"):
            probs = ev.predict_probabilities(model, dataset.x_test)
        for old in list(kept)[: max(0, len(kept) - KEPT_PREDICTIONS + 1)]:
            del kept[old]
        kept[key] = probs
    return kept[key]


def _no_model(run) -> None:
    book = PRESETS[BOOK_PRESET]
    if run is None:
        st.info(
            "There is no trained model to evaluate yet. Train one on the **Train** page, "
            "or train the book's network right here with its defaults "
            f"({book.batch_size} images a batch, {book.epochs} epochs)."
        )
    elif (problem := ui_runs.model_problem(run)) is not None:
        st.info(
            f"The active run **{ui_runs.escape_markdown(run.name)}** has a saved model, but it cannot be "
            f"used: {ui_runs.escape_markdown(problem)}. Pick another run on the Train page, or train the "
            "book's network here."
        )
    else:
        st.info(
            f"The active run **{ui_runs.escape_markdown(run.name)}** ({run.status_text}) has no saved model yet. "
            "Its first checkpoint is written when its first epoch ends; or train the book's "
            "network here."
        )
    st.caption(f"The book's model: `{book!r}`")
    try:
        st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/model_training:")
    except StreamlitPageNotFoundError:  # run outside app.py's navigation
        st.caption("Open the Train page from the navigation.")
    ui_runs.train_now_button(BOOK_PRESET, key="evaluate_train_book")


def _dataset_of(run):
    """The run's dataset, or None after an error message (a dataset this server cannot load)."""
    try:
        return ui_data.load(run.dataset)
    except (DatasetUnavailable, ValueError) as error:  # ValueError: a name core.data does not know
        st.error(f"The run was trained on {run.dataset}, which cannot be loaded here: {error}")
        return None


def _probabilities(run, model, ds) -> np.ndarray | None:
    """(N, n_classes) test-set probabilities, or None after an error message (a model for other data)."""
    n_classes = len(ds.class_names)
    try:
        probs = _test_predictions(run, model, ds)
        if probs.shape[1] != n_classes:
            raise ValueError(f"the model gives {probs.shape[1]} outputs but {ds.title} has {n_classes} classes")
    except ValueError as error:
        st.error(f"This model cannot be evaluated on {ds.title}: {error}")
        return None
    return probs


def about_section(run, ds) -> None:
    st.caption(
        f"Run **{ui_runs.model_label(run)}** · {run.preset} · {run.status_text} · tested on the "
        f"{len(ds.y_test):,} {ds.title} test images ({ds.provenance})."
    )
    if ds.is_standin:
        st.warning(ds.provenance)
    if run.is_active:
        st.info(
            f"This run is still training: what you see is its checkpoint after epoch "
            f"{run.epochs_done}. The page predicts again when a newer checkpoint is saved."
        )


def evaluate_section(run, y_test: np.ndarray, probs: np.ndarray) -> float:
    """1. ``model.evaluate``'s numbers; returns the test accuracy shown."""
    st.header("Test loss and accuracy")
    st.code(
        "score = model.evaluate(x_test, y_test, verbose=0)\n"
        "print('Test loss:', score[0])\n"
        "print('Test accuracy:', score[1])",
        language="python",
    )
    if run.test_loss is not None and run.test_accuracy is not None:
        test_loss, test_accuracy = run.test_loss, run.test_accuracy
        source = "from `model.evaluate` when training ended (the run's metrics.json)"
    else:
        test_loss, test_accuracy = ev.loss_and_accuracy(y_test, probs)
        source = (
            "computed here from the predictions with `evaluate()`'s own formulas "
            "(this run has no stored test score)"
        )
    c1, c2 = st.columns(2)
    c1.metric("Test loss", f"{test_loss:.4f}")
    c2.metric("Test accuracy", f"{test_accuracy:.4f}")
    st.caption(f"Numbers {source}.")
    return test_accuracy


def matrix_section(y_test: np.ndarray, y_pred: np.ndarray, counts: np.ndarray, names: list,
                   test_accuracy: float) -> None:
    """2. The confusion matrix (a click selects a cell), accuracy from it, the most confused pairs."""
    n_classes = len(names)
    book = ev.accuracy_from_matrix(counts)
    pairs = ev.most_confused_pairs(counts, top=CONFUSED_PAIRS_SHOWN, class_names=names)
    st.header("The confusion matrix")
    st.markdown(
        "Each row is a **true** class, each column the class the network **predicted**. The "
        "diagonal holds the right answers; everything off it is a mistake. **Click a cell** "
        "(or use the two boxes) to see its images."
    )
    st.code(
        "from sklearn.metrics import confusion_matrix\n"
        "predictions = model.predict(x_test)\n"
        "cm = confusion_matrix(y_test, np.argmax(predictions, axis=1))",
        language="python",
    )

    default_cell = (pairs[0].true_class, pairs[0].pred_class) if pairs else (0, 0)
    st.session_state.setdefault(TRUE_KEY, default_cell[0])
    st.session_state.setdefault(PRED_KEY, default_cell[1])
    for key in (TRUE_KEY, PRED_KEY, ONE_VS_REST_KEY):
        _clamp(key, n_classes - 1)

    left, right = st.columns([1.5, 1])
    with right:
        normalized = st.toggle(
            "Normalise each row by its true class", key=NORMALIZE_KEY, persist_state=SESSION,
            help="Shares instead of counts: each row then sums to 1 and the diagonal is each class's recall.",
        )
        st.subheader("Accuracy from the matrix")
        diagonal = " + ".join(str(int(v)) for v in np.diag(counts))
        st.markdown(
            f"Accuracy = sum of the diagonal / all items  \n"
            f"= ({diagonal}) / {book.total:,}  \n"
            f"= **{book.correct:,} / {book.total:,} = {book.accuracy:.4f}**"
        )
        st.code("accuracy = np.trace(cm) / np.sum(cm)", language="python")
        if round(book.accuracy, 4) == round(test_accuracy, 4):
            st.success(f"The same as `evaluate()`'s test accuracy, {test_accuracy:.4f}.")
        else:
            st.warning(
                f"`evaluate()` reported {test_accuracy:.4f}: the stored score belongs to a later "
                "state of the model than its last saved checkpoint."
            )
        st.subheader("Most confused")
        if not pairs:
            st.write("No mistakes at all.")
        for pair in pairs:
            st.button(
                str(pair), key=f"evaluate_pair_{pair.true_class}_{pair.pred_class}",
                on_click=_select_cell, args=(pair.true_class, pair.pred_class),
                help="Show these images below", type="tertiary",
            )

    with left:
        shown = ev.confusion(y_test, y_pred, n_classes=n_classes, normalize="true") if normalized else counts
        fig = confusion_figure(
            shown, class_names=names, counts=counts, normalized=normalized,
            selected=(st.session_state[TRUE_KEY], st.session_state[PRED_KEY]),
        )
        chart_with_table(fig, key=MATRIX_KEY, on_select=_on_matrix_select, selection_mode="points",
                         width="content")


def cell_section(ds, y_test: np.ndarray, probs: np.ndarray, names: list):
    """3. The images of one cell of the matrix; returns its gallery (None when the cell is empty)."""
    n_classes = len(names)
    st.subheader("The images in one cell")
    c1, c2 = st.columns(2)
    true_class = c1.selectbox("True class", range(n_classes), format_func=names.__getitem__, key=TRUE_KEY,
                              persist_state=SESSION)
    pred_class = c2.selectbox("Predicted class", range(n_classes), format_func=names.__getitem__, key=PRED_KEY,
                              persist_state=SESSION)
    gallery = ev.cell_gallery(y_test, probs, true_class=true_class, pred_class=pred_class, limit=GALLERY_LIMIT)
    if gallery.count == 0:
        st.info(f"No test image of a **{names[true_class]}** was predicted as **{names[pred_class]}**.")
        return None
    order = (
        "least confident first: the correct answers it nearly got wrong"
        if gallery.is_correct
        else f"most confident in the wrong class ({names[pred_class]}) first"
    )
    st.markdown(
        f"**{gallery.count:,}** test images of a **{names[true_class]}** predicted as "
        f"**{names[pred_class]}** — showing {len(gallery)}, {order}. Green bar: the true class; "
        "red: the wrong prediction."
    )
    chart_with_table(
        gallery_figure(
            ds.x_test[gallery.indices], probs[gallery.indices], gallery.indices,
            class_names=names, true_class=true_class, per_row=GALLERY_PER_ROW,
        ),
        [{"test image": int(i), "true class": names[true_class], "predicted": names[pred_class],
          "probability given": round(float(c), 4)} for i, c in zip(gallery.indices, gallery.confidence)],
        key="evaluate_gallery",
    )
    return gallery


def cell_attribution_section(model, ds, y_test: np.ndarray, probs: np.ndarray, names: list, gallery) -> None:
    """3b. For one image of the cell: which pixels made the prediction, and what was missing for the truth."""
    if gallery is None:
        return
    indices = [int(i) for i in gallery.indices]
    if st.session_state.get(CELL_ITEM_KEY) not in indices:  # another cell was picked
        st.session_state[CELL_ITEM_KEY] = indices[0]
    i = st.selectbox("Explain one image of this cell", indices, key=CELL_ITEM_KEY, persist_state=SESSION,
                     format_func=lambda k: f"x_test[{k}]")
    predicted, true_class = int(np.argmax(probs[i])), int(y_test[i])
    ui_inside.attribution_section(model, ds.x_test[i], predicted=predicted, true_class=true_class,
                                  key="evaluate_cell_saliency", class_names=names)


def per_class_section(y_test: np.ndarray, y_pred: np.ndarray, names: list) -> None:
    """4. Precision, recall and F1 per class."""
    st.header("Precision, recall and F1 per class")
    st.markdown(
        "**Recall** is the book's *sensitivity*: of all the test images of a class, the share "
        "the network gave that class. **Precision**: of everything it called that class, the "
        "share that really was. "
        "**F1** is their harmonic mean; **support** is how many test images the class has."
    )
    st.code(
        "from sklearn.metrics import classification_report\n"
        "print(classification_report(y_test, np.argmax(predictions, axis=1)))",
        language="python",
    )
    scores = ev.per_class_report(y_test, y_pred, class_names=names, n_classes=len(names))
    c1, c2 = st.columns([1, 1.3])
    c1.dataframe(
        {
            "class": [s.name for s in scores],
            "precision": [s.precision for s in scores],
            "recall (sensitivity)": [s.recall for s in scores],
            "F1": [s.f1 for s in scores],
            "support": [s.support for s in scores],
        },
        hide_index=True,
        column_config={
            "precision": st.column_config.NumberColumn(format="%.3f"),
            "recall (sensitivity)": st.column_config.NumberColumn(format="%.3f"),
            "F1": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    c2.plotly_chart(  # its numbers are the table beside it
        per_class_figure(
            names, [s.precision for s in scores], [s.recall for s in scores], [s.f1 for s in scores]
        ),
        key="evaluate_per_class",
    )


def one_vs_rest_section(counts: np.ndarray, names: list) -> None:
    """5. One class against the rest: the book's 2x2 table."""
    st.header("One class against the rest")
    st.markdown(
        "Pick a class and call it *positive*; every other class is *negative*. The 10×10 matrix "
        "then folds into the book's 2×2 table."
    )
    positive = st.selectbox(
        "Positive class", range(len(names)), format_func=names.__getitem__, key=ONE_VS_REST_KEY,
        persist_state=SESSION,
    )
    t = ev.one_vs_rest(counts, positive)
    p = names[positive]
    left, right = st.columns([1, 1.2])
    left.markdown(
        f"| | predicted {p} | predicted not {p} |\n"
        f"|---|---:|---:|\n"
        f"| **true {p}** | TP = {t.tp:,} | FN = {t.fn:,} |\n"
        f"| **true not {p}** | FP = {t.fp:,} | TN = {t.tn:,} |"
    )
    right.markdown(
        f"accuracy = (TP + TN) / total = ({t.tp:,} + {t.tn:,}) / {t.total:,} = **{t.accuracy:.4f}**  \n"
        f"sensitivity = TP / (TP + FN) = {t.tp:,} / {t.tp + t.fn:,} = **{t.sensitivity:.4f}**  \n"
        f"specificity = TN / (TN + FP) = {t.tn:,} / {t.tn + t.fp:,} = **{t.specificity:.4f}**"
    )
    st.markdown(
        f"A **false negative** (a {p} the network missed) and a **false positive** (something "
        f"else it called {p}) need not cost the same. The book's example: a classifier that "
        "calls a *poisonous* mushroom *edible* can kill someone, while calling an edible one "
        "poisonous only loses a meal. With costs that unequal, accuracy alone says too little: "
        "the sensitivity for the dangerous class matters most."
    )


def prediction_section(ds, y_test: np.ndarray, probs: np.ndarray, names: list) -> None:
    """6. ``model.predict`` on one test image, printed as the book prints it."""
    n_test = len(y_test)
    st.header("One prediction, up close")
    st.session_state.setdefault(ITEM_KEY, BOOK_TEST_ITEM)
    _clamp(ITEM_KEY, n_test - 1)  # e.g. item 5000 of MNIST, then a run with 360 test images
    i = int(st.columns([1, 3])[0].number_input(
        "Test item i", min_value=0, max_value=n_test - 1, step=1, key=ITEM_KEY, persist_state=SESSION,
        help=f"Any index into x_test (0 … {n_test - 1}); the book looks at item {BOOK_TEST_ITEM}.",
    ))
    vector = probs[i]
    left, right = st.columns([1, 1.6])
    with left:
        chart_with_table(
            digit_figure(ds.x_test[i], title=f"x_test[{i}] · label {names[int(y_test[i])]}"),
            key="evaluate_item_image",
        )
    with right:
        with np.printoptions(precision=2, suppress=True):
            printed = str(vector)
        total = np.sum(vector)  # float32: printed as Python prints it, e.g. 1.0 or 0.99999994
        st.code(
            f"predictions = model.predict(x_test)\n"
            f"np.set_printoptions(precision=2, suppress=True)\n"
            f"print(predictions[{i}])\n"
            f"# {printed}\n"
            f"np.argmax(predictions[{i}])\n"
            f"# {int(np.argmax(vector))}\n"
            f"np.sum(predictions[{i}])\n"
            f"# {total!s}",
            language="python",
        )
        predicted = int(np.argmax(vector))
        verdict = "right" if predicted == int(y_test[i]) else "wrong"
        st.markdown(
            f"The network says **{names[predicted]}** with probability {vector[predicted]:.2f} "
            f"(true label {names[int(y_test[i])]}: {verdict}). The ten probabilities come from the "
            f"softmax layer, so they sum to 1 (here {total!s}: 1 up to float32 rounding)."
        )
        chart_with_table(
            probabilities_figure(vector, class_names=names, true_class=int(y_test[i])),
            key="evaluate_item_probs",
        )


def _open_map_point() -> None:
    """A click on the map opens that test image in the inspector below."""
    test_map = st.session_state.get(MAP_KEY + "_shown")
    index = ui_inside.selected_test_index(st.session_state.get(MAP_KEY), test_map) if test_map else None
    if index is not None:
        st.session_state[ITEM_KEY] = index
        st.session_state[TAB_KEY] = IMAGE_TAB  # the inspector is in its own tab


def map_section(run, model, ds, names: list) -> None:
    """7. The test set as a map: PCA of 2,000 test images, raw pixels beside the hidden layer."""
    st.header("The test set as a map")
    st.markdown(
        f"{MAP_N:,} test images, each a point: on the left placed by its raw pixels, on the right by what "
        "the network's first hidden layer makes of it. Training pulls the classes apart on the right; "
        "compare with the same network before training. **Click a point** to open that image in "
        f"*{IMAGE_TAB}*."
    )
    stage = st.radio("Network", (AFTER, BEFORE), key=MAP_STAGE_KEY, persist_state=SESSION, horizontal=True)
    checkpoint = ui_inside.checkpoint_stamp(run)
    try:
        if stage == AFTER:
            ident = (run.run_id, checkpoint, ds.name, "trained")
            test_map = ui_inside.test_set_map(ds, ident=ident, n=MAP_N, build=lambda: model)
        else:
            ident = (run.run_id, ds.name, "untrained")
            # built only when this map is not known yet
            test_map = ui_inside.test_set_map(ds, ident=ident, n=MAP_N, build=lambda: ui_inside.untrained_model(
                run, tuple(ds.x_test.shape[1:])))
    except ValueError as error:
        st.info(f"No map for this model: {error}")
        return
    st.session_state[MAP_KEY + "_shown"] = test_map
    mistakes = int(test_map.mistakes.sum())
    st.plotly_chart(ui_inside.map_figure(test_map, ident=ident, class_names=names), key=MAP_KEY, on_select=_open_map_point,
                    selection_mode="points", config={"displayModeBar": False})
    ui_inside.caption("pca_scatter_figure")
    st.caption(f"{stage.capitalize()}: {mistakes} of {len(test_map.indices):,} mapped images are mistakes (×); "
               f"the right panel shows layer {test_map.hidden_layer}.")


def inside_section(model, ds, names: list) -> None:
    """6b. The inspector's image through every layer of the network."""
    i = int(st.session_state.get(ITEM_KEY, BOOK_TEST_ITEM))
    st.subheader(f"x_test[{i}] through the network, layer by layer")
    try:
        ui_inside.network_trace_section(model, ds.x_test[i], key="evaluate_inside", class_names=names)
    except ValueError as error:
        st.caption(f"The layers cannot be shown for this model: {error}")


# --------------------------------------------------------------------------- the page
def main() -> None:
    st.title("3 · Evaluate")
    model, run = ui_runs.active_model_and_run()  # the workspace's own run, else the class model
    if run is None or model is None:
        _no_model(run)
        return
    ds = _dataset_of(run)
    if ds is None:
        return
    names = list(ds.class_names)
    about_section(run, ds)
    scores, map_tab, one_image = st.tabs([SCORES_TAB, MAP_TAB, IMAGE_TAB], key=TAB_KEY, on_change="rerun",
                                          bind="query-params")
    if map_tab.open:
        with map_tab:  # needs no predictions of the whole test set: its own forward pass on 2,000
            map_section(run, model, ds, names)
        return
    probs = _probabilities(run, model, ds)
    if probs is None:
        return
    y_test = np.asarray(ds.y_test)
    if one_image.open:
        with one_image:
            prediction_section(ds, y_test, probs, names)
            inside_section(model, ds, names)
        return
    y_pred = probs.argmax(axis=1)
    counts = ev.confusion(y_test, y_pred, n_classes=len(names))
    with scores:
        test_accuracy = evaluate_section(run, y_test, probs)
        matrix_section(y_test, y_pred, counts, names, test_accuracy)
        gallery = cell_section(ds, y_test, probs, names)
        cell_attribution_section(model, ds, y_test, probs, names, gallery)
        per_class_section(y_test, y_pred, names)
        one_vs_rest_section(counts, names)


main()
