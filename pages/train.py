"""Train: choose a network, watch it learn live, compare and keep the runs.

The book's ``model.compile(...)`` / ``model.fit(x_train, y_train, batch_size=100,
epochs=5)`` / ``model.evaluate(x_test, y_test)``, run for real in the background
(core.training) while this page only reads snapshots of it.
"""

from __future__ import annotations

import streamlit as st

from core import config as settings
from core import book
from core.charts.numbers import epoch_rows
from core.charts.training import training_curves_figure
from core.export import keras_script
from core.model import ModelConfig, keras_summary_text, summary_rows
from core.runs import COMPLETED_STATUSES, DIVERGED, FAILED, INTERRUPTED, STOPPED, RunInfo
from core.training import limit_text
from ui import inside as ui_inside
from ui import runs as ui_runs
from ui.a11y import chart_with_table
from ui.controls import controls, current_config, init_state
from ui.data import current_dataset
from ui.run_list import history_or_warning, runs_section, saved_curves, shown_run
from ui.runs import escape_markdown

K = "train_"  # prefix of this page's widget keys
BOOK_PRESET = "Book"
#: Below this test accuracy a result is called a guess (chance is 0.1 for 10 classes).
CHANCE_WARNING = 0.2


def summary_table(rows) -> str:
    """The layers as a Markdown table: layer, output shape, parameters, where they come from."""
    lines = ["| Layer | Output shape | Parameters | Where they come from |", "|---|---|--:|---|"]
    lines += [f"| {row.name} ({row.layer_type}) | {row.output_shape} | {row.params:,} | {row.arithmetic} |"
              for row in rows]
    return "\n".join(lines)


def network_section(config: ModelConfig, image_shape: tuple[int, int]) -> None:
    """The layers, their parameters and where they come from, and Keras' own summary."""
    # The table is arithmetic (no TensorFlow: it shows at once on a fresh server); both
    # are cached by architecture in core.model, so a rerun (or a new seed) builds nothing.
    rows = summary_rows(config, input_shape=image_shape)
    st.subheader("The network", anchor=False)
    st.caption(config.architecture_text())
    # A Markdown table, not st.dataframe: that would import pandas (1-2 s on a fresh
    # server) before the page's first table could show.
    st.markdown(summary_table(rows))
    st.markdown(f"**Total parameters: {sum(row.params for row in rows):,}** (all trainable)")
    # Keras' own table needs TensorFlow (seconds to import on a fresh server): on request.
    if st.toggle("Show Keras' own `model.summary()`", key=K + "keras_summary"):
        with st.spinner("Building the model in Keras…"):
            st.code(keras_summary_text(config, input_shape=image_shape), language=None)


# -- training and its live view -----------------------------------------------------------
@st.fragment(run_every=ui_runs.LIVE_REFRESH_S)
def _live_view() -> None:
    """Redrawn every ~0.75 s from a snapshot of the job; never touches the job's internals."""
    job, snap = ui_runs.job_and_snapshot()
    if job is None:
        return
    st.progress(snap.history.fraction, text=snap.progress_line)
    if snap.keras_progress:
        st.code(snap.keras_progress, language=None)
    h = snap.history
    if h.batch_steps:
        chart_with_table(
            training_curves_figure(
                batch_steps=h.batch_steps, batch_logs=h.batch_logs, epochs=h.epochs,
                epoch_logs=h.epoch_logs, steps_per_epoch=h.steps_per_epoch, total_epochs=h.total_epochs,
                reference=_reference(job.config.name),
            ),
            epoch_rows(h.epochs, h.epoch_logs), key=K + "live_curves",
        )
    ui_inside.live_weights(snap, key=K + "live_weights")
    st.button("Stop", key=K + "stop", on_click=job.stop, icon=":material/stop_circle:",
              disabled=job.stop_requested or snap.done,
              help="Stops after the current batches; the weights so far are kept and evaluated.")
    ui_runs.job_finished_rerun(job)


def _result(run: RunInfo, job, *, active_id: str | None) -> None:
    """The outcome of a training (this session's latest, or the active run), large."""
    if run.status in COMPLETED_STATUSES and run.test_accuracy is not None:
        st.subheader(f"Result: {escape_markdown(run.name)}", anchor=False)
        accuracy, loss, seconds = st.columns(3)
        accuracy.metric("Test accuracy", f"{run.test_accuracy:.4f}", border=True)
        loss.metric("Test loss", f"{run.test_loss:.4f}", border=True)
        seconds.metric("Training time", f"{run.train_seconds:.1f} s" if run.train_seconds else "–", border=True)
        if run.status == STOPPED:
            st.info(run.message or run.status_text)
        if run.preset == BOOK_PRESET:
            book_section(run)
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
        # The traceback (with the server's paths) goes to the server's log, not to the page.
        st.error(run.message or "Training failed.")
    elif run.status == INTERRUPTED:
        st.warning(
            f"**{escape_markdown(run.name)}** was {run.status_text}: the server stopped while it trained. "
            + ("Its checkpoint from the last full epoch is kept, so Evaluate and Draw can use it; "
               if run.has_model else "")
            + "press Train to train it again from the start."
        )


def _reference(preset: str):
    """The book's printed log as a reference line on a Book run's curves (None for other presets)."""
    return book.reference_curves() if preset == BOOK_PRESET else None


def book_section(run: RunInfo) -> None:
    """The book's printed numbers against this run and a re-run of its script, told as they are."""
    by_epochs = book.ACCURACY_BY_EPOCHS_AT_LR_001
    st.info(
        f"This run: test accuracy **{run.test_accuracy:.4f}** after {run.epochs_done} epoch"
        f"{'s' if run.epochs_done != 1 else ''}. The book printed **Test accuracy: {book.BOOK.test_accuracy}**; "
        f"its epoch log is the dotted line on the curves below (\"{book.REFERENCE_NAME}\").\n\n"
        + "\n\n".join(book.comparison_text())
        + f"\n\n**To reach 0.90:** give it more epochs ({book.EPOCHS_TO_90_AT_LR_001} at learning rate 0.01; "
        + ", ".join(f"{e} epochs: {a:.4f}" for e, a in by_epochs.items() if e in (10, 20, 30, 36))
        + f") or raise the learning rate to {book.LR_TO_90_IN_5_EPOCHS:g} for the book's 5 epochs "
        f"({book.ACCURACY_AFTER_5_EPOCHS_BY_LR[book.LR_TO_90_IN_5_EPOCHS]:.4f}), and compare the runs below.",
        icon=":material/menu_book:",
    )


def _curves_of(store, run: RunInfo) -> None:
    history = history_or_warning(store, run)
    if not history or not history.get("batch_steps"):
        return
    saved_curves(history, key=K + "result_curves", reference=_reference(run.preset))


# -- the page ---------------------------------------------------------------------------
def _start(store) -> None:
    """Train's on_click: start a job for the configuration the controls show."""
    try:
        config = current_config()
    except ValueError:
        return  # the button is disabled then; a stale click does nothing
    # A double or stale click while a job trains gets that job back (start_training).
    runs_so_far = len(store.list_runs())
    try:
        ui_runs.start_training(config, name=f"{config.name} #{runs_so_far + 1}")
    except (OSError, ValueError) as error:  # a bad setting, an unwritable runs folder
        st.session_state[K + "start_error"] = f"Training could not start: {error}"


def controls_section(store, job) -> ModelConfig | None:
    """The controls and the Train button; returns the configuration they show (None when invalid)."""
    controls()
    try:
        config = current_config()
    except ValueError as error:
        st.error(str(error))
        config = None
    busy = job is not None and not job.done
    # Started in the click's callback, so the one rerun after the click already
    # shows the job (Train disabled, live view): no second full run while it trains.
    st.button("Train", type="primary", icon=":material/play_arrow:", key=K + "train",
              disabled=busy or config is None, width="stretch", on_click=_start, args=(store,),
              help="Train this configuration now (in the background; you can stop it).")
    start_error = st.session_state.pop(K + "start_error", None)
    if start_error:
        st.error(start_error)
    st.caption(f"Fair shares on a shared server: one training per workspace at a time, and each stops "
               f"itself at the server's {limit_text(settings.max_train_seconds())} limit (what it learnt "
               "so far is evaluated and kept).")
    return config


def script_section(config: ModelConfig, dataset_name: str) -> None:
    st.markdown("**The same in Keras** — a complete script for this configuration:")
    script = keras_script(config, dataset_name=dataset_name)
    st.code(script, language="python", height=460, wrap_lines=True)
    st.download_button(
        "Download the script (.py)", script, file_name=f"mnist_{config.name.lower()}.py",
        mime="text/x-python", on_click="ignore", icon=":material/download:", key=K + "script_dl",
    )


def training_section(store, job) -> None:
    """The live view while this session's job trains, else the result of the run to show."""
    if ui_runs.job_needs_live_view(job):
        st.subheader("Training", anchor=False)
        ui_runs.job_view(_live_view, key=K + "queue")
        return
    run = shown_run(store, job)
    if run is not None:
        active = ui_runs.active_run()
        _result(run, job if job is not None and job.run_id == run.run_id else None,
                active_id=active.run_id if active is not None else None)
        _curves_of(store, run)
        weights_section(store, run)


def weights_section(store, run: RunInfo) -> None:
    """The run's weights as pictures, from its saved model: the live view's last picture, after a refresh too."""
    ui_inside.run_weights_section(store, run, key=K + "run_weights")


def main() -> None:
    init_state()
    dataset = current_dataset()
    store = ui_runs.run_store()
    job = ui_runs.current_job()

    st.title("Train the network", anchor=False)
    st.markdown(
        f"Pick a network, press **Train**, and watch `model.fit` learn from the {len(dataset.x_train):,} "
        f"training images of {dataset.title}; then `model.evaluate` scores it on the "
        f"{len(dataset.x_test):,} test images it never saw."
    )
    controls_col, script_col = st.columns([2, 3], gap="large")
    with controls_col:
        config = controls_section(store, job)
    if config is not None:
        with script_col:
            script_section(config, dataset.name)
    training_section(store, job)
    if config is not None:
        network_section(config, tuple(dataset.x_train.shape[1:]))
    runs_section(store)


main()
