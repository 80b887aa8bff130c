"""Inside the network, on the pages: weight pictures, one image through every layer, attributions, the map.

Shared by Train (weights), Draw (the drawing) and Evaluate (any test image, the
confusion-cell gallery, the test-set map). The logic is in ``core.inside``,
``core.attribution`` and ``core.maps``; the figures in ``core.charts.inside``
(each shown with its one-line ``CAPTIONS`` entry).

The traced TensorFlow functions (``attribution.DrawingExplainer``: every layer's
output and the gradients, 20-170 ms to build) are built once per model object
per session and kept in ``st.session_state``; ``ui.runs.active_model`` gives a
new object when the checkpoint changes, so a new checkpoint gets new ones.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.charts.inside import (
    CAPTIONS,
    activation_bars_figure,
    conv_filters_figure,
    feature_maps_figure,
    output_weights_figure,
    pca_scatter_figure,
    saliency_overlay_figure,
    unit_arithmetic_figure,
    weight_images_figure,
)

TOOLS_KEY = "inside_tools"  # {id(model): (model, DrawingExplainer)}
KEPT_TOOLS = 3
CALLS_KEY = "inside_calls"  # {id(model): (model, Draw's inference call: NumPy or traced)}
RESULTS_KEY = "inside_results"  # {(id(model), what, image digest): (model, result)}
KEPT_RESULTS = 12
RUN_WEIGHTS_KEY = "inside_run_weights"  # {(run id, checkpoint mtime): WeightPictures}
LIVE_FIGURES_KEY = "inside_live_figures"  # ((run id, epoch), [figures]) of the live view
SHARED_MAPS = 32  # maps (a few hundred kB each) and their figures kept for the whole server
CONFIG = {"displayModeBar": False}


def caption(figure_name: str) -> None:
    """The figure's one line on how to read it."""
    st.caption(CAPTIONS[figure_name])


# --------------------------------------------------------------------------- per-model tools


def _per_model(key: str, model, build):
    """``build(model)`` once per session and model (the last KEPT_TOOLS models)."""
    tools: dict = st.session_state.setdefault(key, {})
    entry = tools.get(id(model))
    if entry is None or entry[0] is not model:  # the model is kept with it, so its id is not reused
        for old in list(tools)[: max(0, len(tools) - KEPT_TOOLS + 1)]:
            del tools[old]
        entry = tools[id(model)] = (model, build(model))
    return entry[1]


def explainer(model):
    """The model's DrawingExplainer (every layer's output + gradients in one traced call), once per session."""
    from core.attribution import DrawingExplainer

    return _per_model(TOOLS_KEY, model, DrawingExplainer)


def inference(model):
    """What the Draw page asks after every stroke, once per session: the model in NumPy
    (core.forward: off TensorFlow's pools, which the server's trainings keep busy), else its
    traced call (core.inside.compiled_call), run once on zeros here so the graph is traced
    when the page loads, not in the first stroke."""
    from core.forward import numpy_forward
    from core.inside import compiled_call

    def warmed(model):
        call = numpy_forward(model)
        if call is not None:
            return call
        call = compiled_call(model)
        shape = tuple(model.input_shape)[1:]
        if all(isinstance(d, int) for d in shape):  # a fixed input: trace it now
            call(np.zeros((1, *shape), np.float32))
        return call

    return _per_model(CALLS_KEY, model, warmed)


def remembered(model, image: np.ndarray, what: tuple, compute):
    """``compute()`` for this model, image and ``what``, once per session: a rerun of the page (a toggle,
    another section's widget) shows the same image's layers and attributions again without their
    0.2-0.7 s of traced calls (the CNN, measured on Evaluate)."""
    import hashlib

    kept: dict = st.session_state.setdefault(RESULTS_KEY, {})
    pixels = np.ascontiguousarray(image)
    key = (id(model), what, pixels.shape, str(pixels.dtype), hashlib.blake2b(pixels.tobytes(), digest_size=16).digest())
    entry = kept.pop(key, None)
    if entry is None or entry[0] is not model:  # the model is kept with it, so its id is not reused
        # results of other models (an older checkpoint's object) go: they would keep it alive
        for old in [k for k, (m, _) in kept.items() if m is not model]:
            del kept[old]
        for old in list(kept)[: max(0, len(kept) - KEPT_RESULTS + 1)]:
            del kept[old]
        entry = (model, compute())
    kept[key] = entry  # last used last: the oldest goes first
    return entry[1]


def checkpoint_stamp(run) -> int:
    """When the run's weights last changed (mtime ns of model.keras or the epoch checkpoint); 0 if none."""
    from core.runs import CHECKPOINT_FILE, MODEL_FILE

    stamps = []
    for name in (MODEL_FILE, CHECKPOINT_FILE):
        try:
            stamps.append((run.path / name).stat().st_mtime_ns)
        except (OSError, TypeError):
            pass
    return max(stamps, default=0)


# --------------------------------------------------------------------------- weights


def weight_figures(pictures, *, class_names=None) -> list[tuple[str, object]]:
    """(figure name, figure) for a core.inside.WeightPictures: first layer, then the output layer."""
    figures = []
    if pictures.kind == "conv":
        figures.append(("conv_filters_figure", conv_filters_figure(pictures.filters)))
    else:
        figures.append(("weight_images_figure", weight_images_figure(pictures.images, pictures.unit_indices)))
    names = list(class_names) if class_names is not None and len(class_names) == pictures.output_kernel.shape[1] \
        else None
    figures.append(("output_weights_figure",
                    output_weights_figure(pictures.output_kernel, pictures.output_bias, class_names=names)))
    return figures


def show_weight_figures(figures, *, key: str, title: str) -> None:
    st.markdown(f"**{title}**")
    for i, (name, figure) in enumerate(figures):
        st.plotly_chart(figure, key=f"{key}_{i}", config=CONFIG)
        caption(name)


def live_weights(snapshot, *, key: str) -> None:
    """The weights of a training job's latest copy (JobSnapshot.weights), redrawn once per epoch."""
    from core.inside import weight_pictures

    if snapshot.weights is None:
        return
    ident = (snapshot.run_id, snapshot.weights_epoch)
    cached = st.session_state.get(LIVE_FIGURES_KEY)
    if cached is None or cached[0] != ident:  # building the figures costs; a live refresh reuses them
        try:
            figures = weight_figures(weight_pictures(snapshot.weights))
        except ValueError:  # a network without pixel-sized first layer: nothing to picture
            figures = []
        cached = st.session_state[LIVE_FIGURES_KEY] = (ident, figures)
    if cached[1]:
        epoch = snapshot.weights_epoch
        show_weight_figures(cached[1], key=key, title=(
            "The weights before training (random)" if epoch == 0 else f"The weights after epoch {epoch}"))


def run_weights_section(store, run, *, key: str) -> None:
    """The weights of a run's saved model (its last checkpoint): what the live view showed last."""
    from core.inside import weight_pictures, weights_snapshot
    from ui.runs import escape_markdown

    checkpoint = checkpoint_stamp(run)
    if not run.has_model or not checkpoint:
        return
    kept: dict = st.session_state.setdefault(RUN_WEIGHTS_KEY, {})
    ident = (run.run_id, checkpoint)
    if ident not in kept:
        try:
            model = store.load_model(run.run_id)
            pictures = weight_pictures(weights_snapshot(model))
        except Exception:  # noqa: BLE001 - a broken or unusual model: no pictures, the page stays up
            return
        kept.clear()
        kept[ident] = pictures
    show_weight_figures(weight_figures(kept[ident]), key=key,
                        title=f"The weights of {escape_markdown(run.name)} after epoch {run.epochs_done}")


# --------------------------------------------------------------------------- one image through the network


def network_trace_section(model, image: np.ndarray, *, key: str, class_names):
    """Input 784 -> every layer (bars for Dense, feature maps for Conv/Pool) -> logits -> softmax.

    ``image``: (28, 28) uint8 or [0, 1] floats. Returns (traces, gradient × input of the
    predicted class, the predicted class): one traced call gives all three.
    """
    from core.inside import dense_unit_arithmetic

    explained = traces, _, predicted = remembered(model, image, ("explain",), lambda: explainer(model).explain(image))
    names = [str(c) for c in class_names]
    pixels = np.asarray(image, dtype=np.float32).reshape(-1)
    st.markdown(f"**Input:** {pixels.size} numbers, {int(np.count_nonzero(pixels))} of them inked.")
    dense = [t for t in traces if t.kind == "Dense"]
    for trace in traces:
        if trace.kind in ("Conv2D", "MaxPooling2D"):
            h, w, c = trace.values.shape
            st.markdown(f"**{trace.name}** ({trace.kind}): {c} maps of {h}×{w}")
            st.plotly_chart(feature_maps_figure(trace.values), key=f"{key}_{trace.name}", config=CONFIG)
            caption("feature_maps_figure")
        elif trace.kind == "Dense" and trace is not dense[-1]:
            st.markdown(f"**{trace.name}**: {trace.values.size} units, each z = w·x + b, "
                        f"then a = {trace.activation}(z)")
            st.plotly_chart(activation_bars_figure(trace.z, trace.values, activation=trace.activation or "linear"),
                            key=f"{key}_{trace.name}", config=CONFIG)
            caption("activation_bars_figure")
    output = dense[-1]
    st.markdown(f"**{output.name}** (the output): the logits z, then softmax turns them into probabilities "
                f"that sum to 1; the largest is **{names[predicted]}** ({output.values[predicted]:.1%}).")
    st.plotly_chart(activation_bars_figure(output.z, output.values, activation="softmax"),
                    key=f"{key}_output", config=CONFIG)
    st.caption("Top: each digit's logit z (the weighted sum of the hidden layer's outputs plus bias); "
               "bottom: softmax(z), the probability of each digit (x axis: the digit).")

    first = dense[0]
    try:  # a Dense layer straight on the pixels (the book's): its sums can be written out
        dense_unit_arithmetic(model, image, 0)
    except ValueError:  # a CNN: its first Dense layer reads feature maps, not pixels
        return explained
    unit = st.selectbox(f"Open one hidden unit of {first.name}", range(int(first.values.size)), key=f"{key}_unit",
                        persist_state="session",  # kept while Evaluate's inspector tab is closed
                        help="Its 784 weights, the input, their product and the sum, written out.")
    arithmetic = dense_unit_arithmetic(model, image, int(unit))
    st.plotly_chart(unit_arithmetic_figure(arithmetic.w, arithmetic.x, arithmetic.product,
                                           image_shape=np.asarray(image).shape),
                    key=f"{key}_arithmetic", config=CONFIG)
    caption("unit_arithmetic_figure")
    st.code(arithmetic.text(), language=None)
    return explained


# --------------------------------------------------------------------------- attributions


def attribution_section(model, image: np.ndarray, *, predicted: int, true_class: int | None, key: str,
                        class_names, ig_steps: int = 50, predicted_gxi: np.ndarray | None = None) -> None:
    """Gradient × input and integrated gradients over the digit, for the predicted and the true class.

    ``predicted_gxi``: the predicted class's gradient × input when already computed (network_trace_section's).
    """
    tool = explainer(model)
    names = [str(c) for c in class_names]
    classes = [(predicted, f"what made it say {names[predicted]}")]
    if true_class is not None and true_class != predicted:
        classes.append((int(true_class), f"what was missing for a {names[true_class]}"))
    for class_index, question in classes:
        st.markdown(f"**{question.capitalize()}** (attributions for class {names[class_index]})")
        left, right = st.columns(2)
        if class_index == predicted and predicted_gxi is not None:
            gxi = predicted_gxi
        else:
            gxi = remembered(model, image, ("gxi", class_index),
                             lambda: tool.gradient_x_input(image, class_index=class_index))
        ig = remembered(model, image, ("ig", class_index, ig_steps),
                        lambda: tool.integrated_gradients(image, class_index=class_index, steps=ig_steps))
        for column, (label, values, suffix) in zip(
            (left, right), (("gradient × input", gxi, "gxi"), (f"integrated gradients ({ig_steps} steps)", ig, "ig"))
        ):
            with column:
                st.plotly_chart(saliency_overlay_figure(image, values, title=label, size=300),
                                key=f"{key}_{suffix}_{class_index}", config=CONFIG)
        caption("saliency_overlay_figure")


# --------------------------------------------------------------------------- the test-set map


@st.cache_resource(show_spinner=False)
def pixel_map(dataset_name: str, n: int):
    """The raw-pixel PCA of the dataset's test sample, once per server (read-only arrays)."""
    from core.maps import pixel_map as compute
    from ui import data as ui_data

    return compute(ui_data.load(dataset_name).x_test, n=n)


def test_set_map(ds, *, ident: tuple, n: int, build):
    """The TestSetMap of ds's test images, once per server per ``ident``.

    ``build``: a zero-argument callable that gives the keras.Model, called only when the map
    is not known yet. ``ident`` names the weights: (run id, checkpoint stamp, dataset,
    "trained") or (run id, dataset, "untrained") (the untrained twin is built from the run's
    config and seed, the same network every time). A map is read-only arrays, so sessions
    share it: a refresh or a second tab of the same run shows the map without a forward pass
    or a PCA.
    """
    return _shared_test_set_map(ident, n, ds.name, _build=build, _ds=ds)


@st.cache_resource(show_spinner=False, max_entries=SHARED_MAPS)
def _shared_test_set_map(ident: tuple, n: int, dataset_name: str, *, _build, _ds):
    from core.maps import test_set_map as compute

    return compute(_build(), _ds.x_test, _ds.y_test, n=n, pixels=pixel_map(dataset_name, n))


def untrained_model(run, image_shape: tuple[int, int]):
    """A fresh, untrained network of the run's architecture (its config and seed), built here."""
    from core.model import build_model

    if run.config is None:
        raise ValueError(run.config_problem or "the run's configuration cannot be read")
    return build_model(run.config, input_shape=image_shape)


def map_figure(test_map, *, ident: tuple, class_names):
    """The figure of the map named ``ident`` (as in :func:`test_set_map`), once per server: building
    its 2,000 points costs 0.35-0.5 s, paid otherwise on every rerun of the page. Shared, so never
    changed: st.plotly_chart serializes it, a copy is made before any change."""
    return _shared_map_figure(ident, tuple(str(c) for c in class_names), _test_map=test_map)


@st.cache_resource(show_spinner=False, max_entries=SHARED_MAPS)
def _shared_map_figure(ident: tuple, class_names: tuple, *, _test_map):
    return build_map_figure(_test_map, class_names=class_names)


def build_map_figure(test_map, *, class_names):
    return pca_scatter_figure(
        test_map.raw_xy, test_map.hidden_xy, labels=test_map.labels, predicted=test_map.predicted,
        indices=test_map.indices, class_names=[str(c) for c in class_names],
        explained=(test_map.raw_explained, test_map.hidden_explained),
    )


def selected_test_index(selection_state, test_map) -> int | None:
    """The test-set index of the first point of a plotly selection event on map_figure, or None."""
    points = (selection_state or {}).get("selection", {}).get("points", []) if selection_state else []
    for point in points:
        data = point.get("customdata")
        if data:
            return int(data[0])
        # Without customdata: trace c % 10 is class c, point_index its position among that class's points.
        curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if curve is None or index is None:
            continue
        members = test_map.indices[test_map.labels == int(curve) % 10]
        if 0 <= int(index) < len(members):
            return int(members[int(index)])
    return None
