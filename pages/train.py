"""Train: choose a network, watch it learn live, compare and keep the runs.

The book's ``model.compile(...)`` / ``model.fit(x_train, y_train, batch_size=100,
epochs=5)`` / ``model.evaluate(x_test, y_test)``, run for real in the background
(core.training) while this page only reads snapshots of it.
"""

from __future__ import annotations

import math

import streamlit as st

from core import downloads
from core.charts.training import compare_runs_figure, training_curves_figure
from core.export import keras_script
from core.model import (
    ACTIVATIONS,
    DEFAULT_PRESET,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_SEED,
    MAX_UNITS,
    MAX_VALIDATION_SPLIT,
    OPTIMIZERS,
    PRESETS,
    ModelConfig,
    keras_summary_text,
    summary_rows,
)
from core.runs import DIVERGED, FAILED, FINISHED, INTERRUPTED, QUEUED, STOPPED, CorruptRunError, RunInfo
from ui import runs as ui_runs
from ui.runs import escape_markdown
from ui.data import current_dataset

CUSTOM = "Custom"
K = "train_"  # prefix of this page's widget keys
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 100, 128, 200, 256, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000)
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.002, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
#: What the book chapter printed after model.evaluate (older Keras, same code).
BOOK_PRINTED_ACCURACY = 0.9018
PRESET_HELP = {
    "Book": "The chapter's network: Dense(10, sigmoid) → Dense(10, softmax), SGD.",
    "Dense": "One wide relu layer with Adam: about 98% in ten epochs.",
    "CNN": "Two convolution blocks (keras-io's mnist_convnet): about 99%, slower.",
    CUSTOM: "Build your own: 0 to 3 hidden Dense layers, your optimizer and learning rate.",
}
#: Below this test accuracy a result is called a guess (chance is 0.1 for 10 classes).
CHANCE_WARNING = 0.2
#: Runs shown in the comparison chart by default.
COMPARE_DEFAULT = 3


# -- the controls' state -------------------------------------------------------------
def _nearest(value: float, options: tuple) -> float:
    """The option closest to value on a log scale (learning rates, batch sizes)."""
    return min(options, key=lambda option: abs(math.log(option) - math.log(value)))


def _load_preset_values(config: ModelConfig) -> None:
    """Put a preset's values into the widgets (the builder starts from it too)."""
    state = st.session_state
    state[K + "epochs"] = config.epochs
    state[K + "batch"] = _nearest(config.batch_size, BATCH_SIZES)
    state[K + "val"] = config.validation_split
    state[K + "seed"] = config.seed
    state[K + "layers"] = min(len(config.hidden), MAX_HIDDEN_LAYERS)
    for i in range(MAX_HIDDEN_LAYERS):
        units, activation = config.hidden[i] if i < len(config.hidden) else (32, "relu")
        state[f"{K}units_{i}"] = units
        state[f"{K}act_{i}"] = activation
    state[K + "opt"] = config.optimizer
    state[K + "lr"] = _nearest(config.learning_rate, LEARNING_RATES)


def _on_preset_change() -> None:
    name = st.session_state[K + "preset"]
    if name != CUSTOM:
        _load_preset_values(PRESETS[name])
    # Custom keeps whatever the last preset put in place, to edit from there.


def _init_state() -> None:
    """A new session starts from the active run's settings (a refresh loses nothing), else the book's."""
    if K + "preset" in st.session_state:
        return
    config = PRESETS[DEFAULT_PRESET]
    run = ui_runs.active_run()
    if run is not None and run.config is not None:  # an old or odd config.json: the book's settings
        config = run.config
    st.session_state[K + "preset"] = _preset_of(config)
    _load_preset_values(config)


def _preset_of(config: ModelConfig) -> str:
    """The preset a configuration was made from ("Custom" when its network or optimizer differ)."""
    preset = PRESETS.get(config.name)
    schedule = dict(epochs=config.epochs, batch_size=config.batch_size,
                    validation_split=config.validation_split, seed=config.seed)
    return config.name if preset is not None and preset.replace(**schedule) == config else CUSTOM


def _controls() -> None:
    """The preset, the custom builder and the training settings (values land in session_state)."""
    st.selectbox(
        "Model", [*PRESETS, CUSTOM], key=K + "preset", on_change=_on_preset_change,
        persist_state="session", help="A preset, or Custom to build your own.",
    )
    preset = st.session_state[K + "preset"]
    st.caption(PRESET_HELP.get(preset, ""))
    if preset == CUSTOM:
        with st.container(border=True):
            st.slider("Hidden Dense layers", 0, MAX_HIDDEN_LAYERS, key=K + "layers", persist_state="session")
            for i in range(st.session_state[K + "layers"]):
                units_col, act_col = st.columns(2)
                units_col.number_input(
                    f"Layer {i + 1}: units", 1, MAX_UNITS, step=1, key=f"{K}units_{i}", persist_state="session"
                )
                act_col.selectbox(f"Layer {i + 1}: activation", ACTIVATIONS, key=f"{K}act_{i}", persist_state="session")
            opt_col, lr_col = st.columns(2)
            opt_col.selectbox("Optimizer", OPTIMIZERS, key=K + "opt", persist_state="session")
            lr_col.select_slider("Learning rate", LEARNING_RATES, key=K + "lr", persist_state="session")
    st.slider("Epochs", 1, MAX_EPOCHS, key=K + "epochs", persist_state="session",
              help="How many times the network sees all the training images (the book: 5).")
    st.select_slider("Batch size", BATCH_SIZES, key=K + "batch", persist_state="session",
                     help="Images per weight update (the book: 100, so 600 updates per epoch).")
    st.slider("Validation split", 0.0, MAX_VALIDATION_SPLIT, step=0.01, key=K + "val", format="%.2f",
              persist_state="session",
              help="Share of the training images held back (the last ones, as Keras does) to watch for overfitting.")
    st.number_input("Seed", 0, MAX_SEED, step=1, key=K + "seed", persist_state="session",
                    help="Same seed, same initial weights and batch order: the same result.")


def _current_config() -> ModelConfig:
    """The ModelConfig the controls describe (ValueError when it is invalid)."""
    state = st.session_state
    common = dict(
        epochs=int(state[K + "epochs"]), batch_size=int(state[K + "batch"]),
        validation_split=round(float(state[K + "val"]), 2), seed=int(state[K + "seed"]),
    )
    preset = state[K + "preset"]
    if preset != CUSTOM:
        return PRESETS[preset].replace(**common)
    hidden = tuple((int(state[f"{K}units_{i}"]), state[f"{K}act_{i}"]) for i in range(state[K + "layers"]))
    return ModelConfig(
        name=CUSTOM, kind="dense", hidden=hidden, optimizer=state[K + "opt"],
        learning_rate=float(state[K + "lr"]), **common,
    )


def _model_summary(config: ModelConfig, image_shape: tuple[int, int]) -> None:
    # Both are cached by architecture in core.model: a rerun (or a new seed) builds nothing.
    rows = summary_rows(config, input_shape=image_shape)
    keras_text = keras_summary_text(config, input_shape=image_shape)
    st.subheader("The network", anchor=False)
    st.caption(config.architecture_text())
    st.dataframe(
        [
            {"Layer": f"{row.name} ({row.layer_type})", "Output shape": row.output_shape,
             "Parameters": row.params, "Where they come from": row.arithmetic}
            for row in rows
        ],
        hide_index=True, width="stretch",
        column_config={"Parameters": st.column_config.NumberColumn(format="localized")},
    )
    st.markdown(f"**Total parameters: {sum(row.params for row in rows):,}** (all trainable)")
    with st.expander("Keras' own `model.summary()`"):
        st.code(keras_text, language=None)


# -- training and its live view -----------------------------------------------------------
@st.fragment(run_every=ui_runs.LIVE_REFRESH_S)
def _live_view() -> None:
    """Redrawn every ~0.75 s from a snapshot of the job; never touches the job's internals."""
    job = ui_runs.current_job()
    if job is None:
        return
    snap = job.snapshot()
    if snap.status == QUEUED:
        st.info(f"Waiting for a free training slot: place {snap.queue_place or 1} in the queue. "
                "Other trainings on this server are using the processor.", icon=":material/hourglass_top:")
    st.progress(snap.history.fraction, text=snap.progress_line)
    if snap.keras_progress:
        st.code(snap.keras_progress, language=None)
    h = snap.history
    if h.batch_steps:
        st.plotly_chart(
            training_curves_figure(
                batch_steps=h.batch_steps, batch_logs=h.batch_logs, epochs=h.epochs,
                epoch_logs=h.epoch_logs, steps_per_epoch=h.steps_per_epoch, total_epochs=h.total_epochs,
            ),
            key=K + "live_curves", config={"displayModeBar": False},
        )
    st.button("Stop", key=K + "stop", on_click=job.stop, icon=":material/stop_circle:",
              disabled=job.stop_requested or snap.done,
              help="Stops after the current batches; the weights so far are kept and evaluated.")
    ui_runs.job_finished_rerun(job)


def _result(run: RunInfo, job, *, active_id: str | None) -> None:
    """The outcome of a training (this session's latest, or the active run), large."""
    if run.status in (FINISHED, STOPPED) and run.test_accuracy is not None:
        st.subheader(f"Result: {escape_markdown(run.name)}", anchor=False)
        accuracy, loss, seconds = st.columns(3)
        accuracy.metric("Test accuracy", f"{run.test_accuracy:.4f}", border=True)
        loss.metric("Test loss", f"{run.test_loss:.4f}", border=True)
        seconds.metric("Training time", f"{run.train_seconds:.1f} s" if run.train_seconds else "–", border=True)
        if run.status == STOPPED:
            st.info(run.message or run.status_text)
        if run.preset == "Book" and run.test_accuracy < BOOK_PRINTED_ACCURACY:
            st.info(
                f"The book printed **Test accuracy: {BOOK_PRINTED_ACCURACY}** for this code, run with "
                f"an older Keras. Keras 3 trains the same network more slowly at first: "
                f"{run.test_accuracy:.4f} after {run.epochs_done} epochs, and the loss curve above is "
                "still falling. Give it more epochs (try 20, then 30, and compare the runs "
                "below), or try the Dense preset."
            )
        if run.test_accuracy < CHANCE_WARNING:
            st.warning(
                "The network is guessing: 10% is what picking a class at random scores. "
                "A learning rate that is too high (the weights jump past every good value) or too low "
                "(they hardly move) does this; so do too few updates. Try the Book preset's 0.01 first."
            )
        if run.run_id == active_id:  # not when another run was picked since
            st.caption("This run is now the active one: the Evaluate and Draw pages use it.")
    elif run.status == DIVERGED:
        st.error(run.message or "Training diverged.")
        st.info(run.hint, icon=":material/lightbulb:")
    elif run.status == FAILED:
        st.error(run.message or "Training failed.")
        if job is not None and job.error:
            with st.expander("Details"):
                st.code(job.error, language=None)
    elif run.status == INTERRUPTED:
        st.warning(
            f"**{escape_markdown(run.name)}** was {run.status_text}: the server stopped while it trained. "
            + ("Its checkpoint from the last full epoch is kept, so Evaluate and Draw can use it; "
               if run.has_model else "")
            + "press Train to train it again from the start."
        )


def _curves_of(store, run: RunInfo) -> None:
    try:
        history = store.history(run.run_id)
    except CorruptRunError as error:
        st.warning(f"The history of “{escape_markdown(run.name)}” cannot be read: {error}")
        return
    if not history.get("batch_steps"):
        return
    st.plotly_chart(
        training_curves_figure(
            batch_steps=history["batch_steps"], batch_logs=history.get("batch", {}),
            epochs=history.get("epochs", []), epoch_logs=history.get("epoch", {}),
            steps_per_epoch=history.get("steps_per_epoch") or 1, total_epochs=history.get("total_epochs"),
        ),
        key=K + "result_curves", config={"displayModeBar": False},
    )


# -- the run list ------------------------------------------------------------------------
def _run_table(runs: list[RunInfo], active_id: str | None) -> None:
    st.dataframe(
        [
            {
                "": "★" if run.run_id == active_id else "",
                "Name": run.name,
                "Status": run.status_text,
                "Test accuracy": run.test_accuracy,
                "Test loss": run.test_loss,
                "Model": run.preset,
                "Optimizer": f"{run.config.optimizer} {run.config.learning_rate:g}" if run.config else "?",
                "Batch": run.config.batch_size if run.config else None,
                "Epochs": f"{run.epochs_done}/{run.epochs_planned}",
                "Time (s)": run.train_seconds,
                "Started (UTC)": run.created.replace("T", " ")[:19],
            }
            for run in runs
        ],
        hide_index=True, width="stretch",
        column_config={
            "": st.column_config.TextColumn(width="small", help="★ the active run"),
            "Test accuracy": st.column_config.NumberColumn(format="%.4f"),
            "Test loss": st.column_config.NumberColumn(format="%.4f"),
            "Time (s)": st.column_config.NumberColumn(format="%.1f"),
        },
    )


def _pick_active(runs: list[RunInfo], active: RunInfo | None) -> None:
    usable = [run for run in runs if run.is_usable]
    if not usable:
        return
    labels = {run.run_id: run.label for run in usable}
    ids = list(labels)
    # The widget shows the active run, also when another page (Train now) changed it.
    st.session_state[K + "active_pick"] = active.run_id if active and active.run_id in labels else ids[0]
    st.selectbox(
        "Active run (used by Evaluate and Draw)", ids, key=K + "active_pick", format_func=labels.get,
        on_change=lambda: ui_runs.set_active_run(st.session_state[K + "active_pick"]),
    )


def _compare(store, runs: list[RunInfo]) -> None:
    with_epochs = [run for run in runs if run.epochs_done > 0]
    if len(with_epochs) < 2:
        return
    labels = {run.run_id: run.label for run in with_epochs}
    chosen = st.multiselect(
        "Compare runs", list(labels), default=list(labels)[:COMPARE_DEFAULT], format_func=labels.get,
        key=K + "compare", help="Loss and accuracy per epoch, overlaid (validation dashed).",
    )
    series = []
    for run_id in chosen:
        run = next(r for r in with_epochs if r.run_id == run_id)
        try:
            history = store.history(run_id)
        except CorruptRunError as error:
            st.warning(f"The history of “{escape_markdown(run.name)}” cannot be read: {error}")
            continue
        series.append((run.name, history.get("epochs", []), history.get("epoch", {})))
    if series:
        st.plotly_chart(compare_runs_figure(series), key=K + "compare_chart", config={"displayModeBar": False})


def _rename(store, run_id: str) -> None:
    name = st.session_state.get(f"{K}rename_{run_id}", "")
    try:
        store.rename(run_id, name)
    except ValueError as error:
        st.session_state[K + "flash"] = ("error", str(error))
    except KeyError:  # deleted in another tab
        st.session_state[K + "flash"] = ("warning", "That run no longer exists (deleted in another tab?).")
    except OSError as error:
        st.session_state[K + "flash"] = ("error", f"Could not rename the run: {error}")


def _delete(store, run_id: str) -> None:
    try:
        store.delete(run_id)
    except (ValueError, KeyError, OSError) as error:
        st.session_state[K + "flash"] = ("error", f"Could not delete the run: {error}")
        return
    if st.session_state.get(ui_runs.ACTIVE_RUN_KEY) == run_id:
        ui_runs.set_active_run(None)
    st.session_state[K + "flash"] = ("success", "Run deleted.")


def _manage(store, runs: list[RunInfo]) -> None:
    labels = {run.run_id: run.label for run in runs}
    run_id = st.selectbox("Run", list(labels), format_func=labels.get, key=K + "manage_pick")
    run = next((r for r in runs if r.run_id == run_id), None)
    if run is None:
        return
    rename_col, delete_col = st.columns([3, 1], vertical_alignment="bottom")
    rename_col.text_input("New name", value=run.name, key=f"{K}rename_{run.run_id}", max_chars=80,
                          on_change=_rename, args=(store, run.run_id))
    with delete_col.popover("Delete", icon=":material/delete:", disabled=run.is_active, width="stretch"):
        st.write(f"Delete “{escape_markdown(run.name)}” and its saved model for good?")
        st.button("Yes, delete it", key=f"{K}delete_{run.run_id}", type="primary",
                  on_click=_delete, args=(store, run.run_id))
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in run.name)[:40] or run.run_id
    model_col, history_col, script_col = st.columns(3)
    model_col.download_button(
        "Model (.keras)", data=lambda: downloads.model_bytes(store, run.run_id), file_name=f"{stem}.keras",
        mime="application/zip", disabled=not run.has_model or run.is_active, on_click="ignore",
        icon=":material/download:", key=f"{K}dl_model_{run.run_id}", width="stretch",
        help="Load it with keras.saving.load_model(path).",
    )
    history_col.download_button(
        "History (.csv)", data=lambda: downloads.history_csv(store, run.run_id), file_name=f"{stem}-history.csv",
        mime="text/csv", on_click="ignore", icon=":material/download:", key=f"{K}dl_csv_{run.run_id}",
        width="stretch", help="Loss and accuracy per epoch.",
    )
    script_col.download_button(
        "Script (.py)", data=lambda: downloads.script(store, run.run_id), file_name=f"{stem}.py",
        mime="text/x-python", on_click="ignore", icon=":material/download:", key=f"{K}dl_py_{run.run_id}",
        width="stretch", help="The complete Keras script that trains this run's model.",
        disabled=run.config is None,
    )
    if run.config_problem:
        st.caption(f"No script for this run: {escape_markdown(run.config_problem)}")


def _runs_section(store) -> None:
    st.header("Your runs", anchor=False)
    flash = st.session_state.pop(K + "flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    listing = store.list_runs()
    for warning in listing.warnings:
        st.warning(warning)
    runs = list(listing.runs)
    if not runs:
        st.info("No runs yet: press **Train** above.")
        return
    active = ui_runs.active_run()
    st.caption(
        f"Saved in workspace `{store.workspace}` on this server. Bookmark this page's address "
        "(it ends in `?ws=…`) to find them again."
    )
    _run_table(runs, active.run_id if active else None)
    _pick_active(runs, active)
    _compare(store, runs)
    with st.expander("Rename, delete, download", icon=":material/folder_open:"):
        _manage(store, runs)


# -- the page ---------------------------------------------------------------------------
def _start(store) -> None:
    """Train's on_click: start a job for the configuration the controls show."""
    try:
        config = _current_config()
    except ValueError:
        return  # the button is disabled then; a stale click does nothing
    # A double or stale click while a job trains gets that job back (start_training).
    runs_so_far = len(store.list_runs())
    try:
        ui_runs.start_training(config, name=f"{config.name} #{runs_so_far + 1}")
    except (OSError, ValueError) as error:  # a bad setting, an unwritable runs folder
        st.session_state[K + "start_error"] = f"Training could not start: {error}"


def main() -> None:
    _init_state()
    dataset = current_dataset()
    store = ui_runs.run_store()
    image_shape = tuple(dataset.x_train.shape[1:])

    st.title("Train the network", anchor=False)
    st.markdown(
        f"Pick a network, press **Train**, and watch `model.fit` learn from the {len(dataset.x_train):,} "
        f"training images of {dataset.title}; then `model.evaluate` scores it on the "
        f"{len(dataset.x_test):,} test images it never saw."
    )
    controls_col, script_col = st.columns([2, 3], gap="large")
    with controls_col:
        _controls()
        try:
            config = _current_config()
        except ValueError as error:
            st.error(str(error))
            config = None
        job = ui_runs.current_job()
        busy = job is not None and not job.done
        # Started in the click's callback, so the one rerun after the click already
        # shows the job (Train disabled, live view): no second full run while it trains.
        st.button("Train", type="primary", icon=":material/play_arrow:", key=K + "train",
                  disabled=busy or config is None, width="stretch", on_click=_start, args=(store,),
                  help="Train this configuration now (in the background; you can stop it).")
        start_error = st.session_state.pop(K + "start_error", None)
        if start_error:
            st.error(start_error)
    with script_col:
        if config is not None:
            st.markdown("**The same in Keras** — a complete script for this configuration:")
            script = keras_script(config, dataset_name=dataset.name)
            st.code(script, language="python", height=460, wrap_lines=True)
            st.download_button(
                "Download the script (.py)", script, file_name=f"mnist_{config.name.lower()}.py",
                mime="text/x-python", on_click="ignore", icon=":material/download:", key=K + "script_dl",
            )

    if ui_runs.job_needs_live_view(job):
        st.subheader("Training", anchor=False)
        _live_view()
    else:
        # This session's latest training, or (after a refresh, or on a shared link)
        # the workspace's active run: its result and curves are never lost.
        run = None
        if job is not None:
            try:
                run = store.get(job.run_id)
            except (KeyError, CorruptRunError):
                run = None  # deleted since
        active = ui_runs.active_run()
        if run is None:
            run = active
        if run is not None:
            _result(run, job if job is not None and job.run_id == run.run_id else None,
                    active_id=active.run_id if active is not None else None)
            _curves_of(store, run)

    if config is not None:
        _model_summary(config, image_shape)
    _runs_section(store)


main()
