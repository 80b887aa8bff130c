"""Step 4 · Draw: draw a digit, watch it become 784 numbers, see what the network says.

The canvas (streamlit-drawable-canvas, imported here only: it needs a running
app) sends its picture after every stroke; ``core.preprocess`` prepares it the
way MNIST's images were made and the active run's model reads it. Everything
that depends on the drawing lives in one fragment, so a stroke reruns only
that part, not the app around it.
"""

import numpy as np
import streamlit as st

from core.charts.dataset import png_data_uri, strip_figure
from core.charts.drawing import framed, pixel_picture
from core.charts.numbers import vector_text
from core.charts.probabilities import probabilities_figure
from core.data import CLASS_NAMES, TITLES, DatasetUnavailable
from core.image_input import (
    CANVAS_MAX_BYTES,
    CANVAS_MAX_SIDE,
    UPLOAD_FORMATS,
    UPLOAD_MAX_BYTES,
    UPLOAD_MAX_SIDE,
    decode_data_url,
    decode_image_bytes,
)
from core.drawing import (
    CANVAS_SIZE,
    DEFAULT_STROKE_WIDTH,
    MAX_STROKE_WIDTH,
    MIN_STROKE_WIDTH,
    UNSURE_BELOW,
    NearestImages,
    predict_drawing,
)
from core.preprocess import MNIST_BOX, prepare_drawing_stages, stage_code_lines
from ui import data as ui_data
from ui import inside as ui_inside
from ui import runs as ui_runs
from ui.a11y import chart_with_table

#: An 8x8 black PNG shown *behind* the canvas: the strokes are white on black as
#: in MNIST, and the canvas itself stays transparent, so its alpha channel is
#: exactly the ink (a background colour would be painted into the picture).
BLACK_BACKGROUND = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAADElEQVR4nGNgGB4AAADIAAGtQHYiAAAAAElFTkSuQmCC"
)
STAGE_PICTURE_PX = 150
NEIGHBOURS = 3

#: streamlit-drawable-canvas waits 200 ms after each change before it sends the
#: drawing (a fixed debounce, no option), most of the 250 ms a stroke may take to
#: reach a prediction. Its toolbar has a "send now" button; this script presses
#: it as soon as a stroke ends on the canvas (after the stroke has been added,
#: hence setTimeout 0). If the canvas ever changes its markup, nothing breaks:
#: the button is not found and the canvas's own debounce still sends.
QUICK_SEND_JS = """
export default function () {
  const SEND = 'button[aria-label="Update the app with this drawing"]';
  const onPointerUp = (event) => {
    const canvas = event.composedPath().find(
      (el) => el instanceof HTMLCanvasElement && el.classList.contains('upper-canvas'));
    if (!canvas) return;
    const root = canvas.getRootNode();
    setTimeout(() => {
      const button = root.querySelector(SEND);
      if (button && !button.disabled) button.click();
    }, 0);
  };
  if (window.__drawQuickSend) document.removeEventListener('pointerup', window.__drawQuickSend, true);
  window.__drawQuickSend = onPointerUp;
  document.addEventListener('pointerup', onPointerUp, true);
  return () => {
    document.removeEventListener('pointerup', onPointerUp, true);
    if (window.__drawQuickSend === onPointerUp) window.__drawQuickSend = undefined;
  };
}
"""
quick_send = st.components.v2.component("mnist_playground.draw_quick_send", js=QUICK_SEND_JS)


@st.cache_resource(show_spinner="Indexing the training images for the nearest-image search (once)…")
def nearest_index(dataset_name: str) -> NearestImages:
    # Shared by all sessions, which is safe: every array in a NearestImages is read-only.
    dataset = ui_data.load(dataset_name)
    return NearestImages(dataset.x_train, dataset.y_train)


def canvas_picture(image: np.ndarray, *, size: int = STAGE_PICTURE_PX) -> np.ndarray:
    """The canvas's RGBA as the student saw it, strokes over the black background, at most
    ``size`` px on its long side (the size it is shown at: no larger picture to send)."""
    from PIL import Image

    alpha = image[:, :, 3:4].astype(np.float32) / 255
    picture = Image.fromarray((image[:, :, :3].astype(np.float32) * alpha).astype(np.uint8), mode="RGB")
    picture.thumbnail((size, size), Image.Resampling.LANCZOS)  # keeps the aspect ratio, never enlarges
    return np.asarray(picture)


def canvas_image(canvas) -> np.ndarray | None:
    """The canvas's drawing as (H, W, 4) uint8 RGBA, None when it sent none yet.

    Read from the component's data URL with :func:`core.image_input.decode_data_url`:
    the canvas's own ``image_data`` decodes whatever size the message claims (a
    forged 9000x9000 PNG costs gigabytes). ValueError (a message) for anything else.
    """
    url = getattr(canvas, "_image_data_url", None)  # what image_data would decode, unbounded
    if url is None:
        return None
    return decode_data_url(url, max_side=CANVAS_MAX_SIDE, max_bytes=CANVAS_MAX_BYTES, formats=("PNG",))


def stroke_count(canvas) -> int:
    """Strokes in the canvas's Fabric JSON (0 for anything that is not a list of objects)."""
    json_data = canvas.json_data
    objects = json_data.get("objects") if isinstance(json_data, dict) else None
    return len(objects) if isinstance(objects, list) else 0


def uploaded_image(upload) -> np.ndarray | None:
    """An uploaded PNG or JPEG as (H, W, 4) uint8 RGBA (ValueError with a message when refused)."""
    if upload is None:
        return None
    return decode_image_bytes(upload.getvalue(), max_side=UPLOAD_MAX_SIDE, max_bytes=UPLOAD_MAX_BYTES,
                              formats=UPLOAD_FORMATS)


def training_offer_section(run) -> None:
    """No model yet (or only the weak Book model): one click trains one."""
    if run is None:
        st.info(
            "**No trained model yet.** You can draw and X-ray your digit right away; to see "
            "what a network thinks of it, train one. It becomes the active run, used here."
        )
    else:
        st.caption("The **Book** model is much weaker on drawings than the CNN: it never learned "
                   "that a stroke may sit a pixel or two away from where MNIST's strokes do.")
    if ui_runs.job_needs_live_view(ui_runs.current_job()):
        ui_runs.train_now_button("CNN", key="draw_train_cnn")  # shows the training's progress
        return
    c1, c2 = st.columns(2)
    with c1:
        ui_runs.train_now_button("CNN", key="draw_train_cnn")
        # Measured on this server (its recent CNN runs) and its queue now, not a fixed guess.
        st.caption(f"The **CNN** preset reads drawings well. {ui_runs.training_wait('CNN').text('CNN')}")
    if run is None:
        with c2:
            ui_runs.train_now_button("Book", key="draw_train_book")
            st.caption("The book's model (7,960 weights, a few seconds): much weaker on drawings.")


def prediction_section(model, stages, class_names, strokes: int) -> None:
    """The predicted class, how sure, and all probabilities as bars."""
    try:
        prediction = predict_drawing(model, stages.centred28, call=ui_inside.inference(model))
    except ValueError as error:
        st.error(f"This model cannot read a 28×28 drawing: {error}")
        return
    names = list(class_names)
    after = f"after {strokes} stroke{'s' if strokes != 1 else ''}"
    if prediction.sure:
        st.markdown(
            f"### It's a **{names[prediction.digit]}**\n"
            f"{prediction.confidence:.0%} sure · {after}",
            help="The largest of the 10 softmax outputs.",
        )
    else:
        st.markdown(
            f"### Not sure\n"
            f"maybe **{names[prediction.digit]}** ({prediction.confidence:.0%}) or "
            f"**{names[prediction.runner_up]}** "
            f"({prediction.probabilities[prediction.runner_up]:.0%}) · {after}",
            help=f"No class gets {UNSURE_BELOW:.0%} of the probability.",
        )
    chart_with_table(
        probabilities_figure(prediction.probabilities, class_names=names, sure=prediction.sure),
        key="draw_probabilities",
    )


def xray_section(image, stages, dataset_name: str) -> None:
    """Every stage side by side, each with the line of code that makes it."""
    st.subheader("X-ray: from your strokes to 784 numbers")
    lines = stage_code_lines()
    height, width = stages.grey.shape
    com = stages.centre_of_mass()
    fitted_h, fitted_w = stages.fitted20.shape
    panels = [
        ("canvas", canvas_picture(image), f"{height}×{width}×4 RGBA", "image = decode_data_url(canvas_url)"),
        ("grey", pixel_picture(stages.grey, size=STAGE_PICTURE_PX),
         f"{height}×{width} ink in [0, 1] ({stages.ink_source}"
         f"{', inverted' if stages.inverted else ''})", lines["grey"]),
        ("cropped to the ink" if stages.crop else "not cropped",
         pixel_picture(framed(stages.cropped), size=STAGE_PICTURE_PX),
         f"{stages.cropped.shape[0]}×{stages.cropped.shape[1]}", lines["cropped"]),
        (f"fitted in {MNIST_BOX}×{MNIST_BOX}" if stages.scale else "canvas scale",
         pixel_picture(framed(stages.fitted20, height=max(MNIST_BOX, fitted_h), width=max(MNIST_BOX, fitted_w)),
                       size=STAGE_PICTURE_PX),
         f"{fitted_h}×{fitted_w}, anti-aliased", lines["fitted20"]),
        ("centred by mass" if stages.centre else "box centred",
         pixel_picture(stages.centred28, size=STAGE_PICTURE_PX),
         "28×28, centre of mass " + (f"({com[0]:.1f}, {com[1]:.1f})" if com else "-"),
         lines["centred28"]),
    ]
    # One element for the five pictures (a row that wraps), not five columns of three:
    # every element is a message to the browser after every stroke of every student.
    st.image([png_data_uri(picture) for _, picture, _, _ in panels], width=STAGE_PICTURE_PX,
             caption=[f"**{title}**  \n{shape}  \n`{code}`" for title, _, shape, code in panels],
             alt=[f"{title}: {shape}" for title, _, shape, _ in panels])
    chart_with_table(
        strip_figure(stages.vector784, title="The 784 numbers the network receives, row after row"),
        vector_text(stages.vector784), key="draw_strip",
    )
    st.caption(f"`{lines['vector784']}`: a Dense network gets this vector; a CNN gets the same "
               "numbers as a 28×28×1 image.")

    st.markdown("**The three training images nearest to your prepared drawing** "
                "(straight-line distance over the 784 pixels)")
    index = nearest_index(dataset_name)
    neighbours = index.query(stages.centred28, k=NEIGHBOURS)
    names = ui_data.load(dataset_name).class_names
    st.image([png_data_uri(pixel_picture(index.images[n.index] / 255.0, size=112)) for n in neighbours],
             width=112,
             caption=[f"**{names[n.label]}** · x_train[{n.index}] · distance {n.distance:.1f}" for n in neighbours],
             alt=[f"training image x_train[{n.index}], a {names[n.label]}" for n in neighbours])


@st.fragment
def canvas_section(model, class_names, dataset_name: str) -> None:
    """The canvas and all that depends on it: a stroke reruns only this."""
    left, right = st.columns([5, 6], gap="large")
    with left:
        from streamlit_drawable_canvas import st_canvas  # needs a running app: import here only

        pen = st.slider(
            "Pen width", MIN_STROKE_WIDTH, MAX_STROKE_WIDTH, DEFAULT_STROKE_WIDTH, key="draw_pen",
            help=f"{DEFAULT_STROKE_WIDTH} px on a digit drawn about 200 px tall becomes a 2–3 px "
                 "stroke in 28×28: MNIST's own thickness.",
        )
        canvas = st_canvas(
            stroke_width=pen, stroke_color="#ffffff", background_image=BLACK_BACKGROUND,
            height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
            return_image_data=True, key="draw_canvas",
        )
        st.caption("Draw one digit, large, in the middle. **Undo** and **clear** (the bin) are in "
                   "the canvas's toolbar, top right, when the mouse is over it.")
        st.markdown("**Preparation steps** (turn one off and watch the prediction)")
        t1, t2, t3 = st.columns(3)
        crop = t1.toggle("crop", value=True, key="draw_crop", help="Cut the canvas to the ink's bounding box.")
        scale = t2.toggle("scale", value=True, key="draw_scale",
                          help=f"Fit the ink's longest side into {MNIST_BOX} px, aspect ratio kept.")
        centre = t3.toggle("centre", value=True, key="draw_centre",
                           help="Move the centre of mass to the middle of the 28×28 field.")
        upload = st.file_uploader(
            "Or upload a picture of one digit (PNG or JPEG, at most 1 MB)", type=["png", "jpg", "jpeg"],
            key="draw_upload",
            help="Drawing needs a mouse, pen or finger; the upload is the keyboard's way in. "
                 "It is prepared and read exactly like a drawing.",
        )
        st.caption("Drawing needs a pointer (mouse, pen or finger); with a keyboard only, "
                   "upload a picture of a digit instead.")

    image, strokes, problem = None, 0, None
    try:
        if upload is not None:
            image, strokes = uploaded_image(upload), 1
        else:
            image, strokes = canvas_image(canvas), stroke_count(canvas)
    except ValueError as error:  # anything a browser may send: too big, damaged, not an image
        problem = ("The uploaded file cannot be used" if upload is not None
                   else "The drawing could not be read") + f": {error}."
        image = None
    stages = prepare_drawing_stages(image, crop=crop, scale=scale, centre=centre) if image is not None else None

    with right:
        if problem is not None:
            st.warning(problem, icon=":material/warning:")
        elif upload is not None:
            st.caption("Reading your uploaded picture (remove it to use the canvas again).")
        if stages is None or stages.empty:
            st.markdown("### Draw a digit ✏️")
            st.caption("The canvas is empty: draw a digit from 0 to 9 and the network will read it "
                       "after every stroke.")
        else:
            if stages.too_full:  # no verdict: any answer about a filled canvas would be made up
                st.warning(f"The canvas is mostly ink ({stages.ink_fraction:.0%} covered): that is not "
                           "one digit, so there is no prediction. Clear it (the bin in the toolbar) "
                           "and draw a single digit.")
            elif model is None:
                st.markdown("### No model to ask yet")
                st.caption("Train one above; the X-ray below works without one.")
            else:
                prediction_section(model, stages, class_names, strokes)

    if stages is not None and not stages.empty:
        xray_section(image, stages, dataset_name)
        if model is not None and not stages.too_full:
            # Off until asked for: its charts (every layer, two attribution maps) would
            # otherwise be computed and drawn again after every stroke.
            if st.toggle("Look inside the network: every layer, and which pixels decided",
                         key="draw_show_inside"):
                inside_section(model, stages.centred28, class_names)


def inside_section(model, drawing: np.ndarray, class_names) -> None:
    """The prepared (28, 28) drawing through every layer of the model, and which pixels decided."""
    names = list(class_names)
    st.subheader("Inside the network: your drawing, layer by layer")
    try:
        _, gxi, predicted = ui_inside.network_trace_section(model, drawing, key="draw_inside", class_names=names)
    except ValueError as error:  # a model that does not take 28x28 images (prediction_section says so too)
        st.caption(f"The layers cannot be shown for this model: {error}")
        return
    st.subheader("Why this answer: which pixels decided")
    wanted = st.selectbox(
        "What should it have been?", range(len(names)), index=predicted, format_func=names.__getitem__,
        key="draw_true_class", help="Shows what was missing for that digit, next to what made it say its answer.",
    )
    ui_inside.attribution_section(model, drawing, predicted=predicted, true_class=int(wanted),
                                  key="draw_saliency", class_names=names, predicted_gxi=gxi)


def model_section():
    """Which model reads the drawings (or an offer to train one); returns (model or None,
    its class names, the dataset whose training images are the nearest-image search's)."""
    model, run = ui_runs.active_model_and_run()  # the workspace's own run, else the class model
    if run is None or model is None:
        training_offer_section(None)
        dataset = ui_data.current_dataset()
        return model, dataset.class_names, dataset
    try:
        dataset = ui_data.load(run.dataset)
        class_names = dataset.class_names
    except (DatasetUnavailable, ValueError) as error:  # ValueError: a name core.data does not know
        # The model still reads drawings; only the nearest images need its training set.
        dataset = ui_data.current_dataset()
        class_names = CLASS_NAMES.get(run.dataset, dataset.class_names)
        st.warning(f"The active run was trained on {TITLES.get(run.dataset, run.dataset)}, which "
                   f"cannot be loaded here, so the nearest images below come from "
                   f"{dataset.title}. {error}")
    shared = " · shared by the teacher with the whole class" if ui_runs.is_class_model(run) else ""
    st.caption(f"Model: **{ui_runs.model_label(run)}** ({run.preset}) · {run.status_text}"
               + (f" · test accuracy {run.test_accuracy:.2%}" if run.test_accuracy is not None else "")
               + shared + " · change it on the Train page")
    if run.preset == "Book":
        training_offer_section(run)
    return model, class_names, dataset


def main() -> None:
    st.title("4 · Draw a digit")
    st.caption("Your drawing is prepared exactly like MNIST's images (LeCun: fitted in a 20×20 box, "
               "anti-aliased, centred by its centre of mass in 28×28), then the active model reads it.")
    model, class_names, dataset = model_section()
    quick_send(key="draw_quick_send")
    canvas_section(model, tuple(class_names), dataset.name)
    # Built once per dataset for the whole server (seconds: a PCA of 10,000 images), after the
    # canvas is on screen: not in the first stroke's rerun, where a class drawing at once waited.
    nearest_index(dataset.name)
    if model is not None:  # the inference call is built (a traced one traced) once, here, not in the first stroke
        try:
            ui_inside.inference(model)
        except ValueError:  # a model that cannot read drawings: the canvas section says so
            pass


main()
