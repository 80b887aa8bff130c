"""The workspace's run list: a table, the active-run picker, the comparison chart,
and rename / delete / downloads. Any page can show it with :func:`runs_section`."""

from __future__ import annotations

import streamlit as st

from core import downloads
from core.charts.numbers import compare_rows, epoch_rows
from core.charts.training import compare_runs_figure, training_curves_figure
from core.runs import CorruptRunError, RunInfo, RunStore
from ui import runs as ui_runs
from ui.a11y import chart_with_table
from ui.runs import escape_markdown

K = "train_"  # prefix of the list's widget keys (it began on the Train page; tests know them)
#: Runs shown in the comparison chart by default.
COMPARE_DEFAULT = 3


def history_or_warning(store: RunStore, run: RunInfo) -> dict | None:
    """A run's history.json, or None after a warning that names the run when it cannot be read."""
    try:
        return store.history(run.run_id)
    except (CorruptRunError, OSError) as error:  # damaged, hand-edited (wrong types), unreadable
        st.warning(f"The history of “{escape_markdown(run.name)}” cannot be read: {error}")
        return None
    except KeyError:  # deleted in another tab meanwhile
        return None


def shown_run(store: RunStore, job) -> RunInfo | None:
    """This session's latest training, or (after a refresh, or on a shared link) the
    workspace's active run: a result and its curves are never lost."""
    if job is not None:
        try:
            return store.get(job.run_id)
        except (KeyError, CorruptRunError):
            pass  # deleted since
    return ui_runs.active_run()


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


def _on_pick_active(labels: dict) -> None:
    picked = st.session_state[K + "active_pick"]
    if isinstance(picked, str) and picked in labels:  # only a listed run (a forged value is ignored)
        ui_runs.set_active_run(picked)


def _pick_active(runs: list[RunInfo], active: RunInfo | None) -> None:
    usable = [run for run in runs if run.is_usable]
    if not usable:
        return  # no own model: the class model (if any) is used anyway
    labels = {run.run_id: run.label for run in usable}
    shared = ui_runs.class_model_run()
    if shared is not None and not any(shared.is_run(run) for run in usable):
        labels[ui_runs.CLASS_CHOICE] = f"{ui_runs.CLASS_MODEL_LABEL}: {shared.info.label}"
    ids = list(labels)
    chosen_class = st.session_state.get(ui_runs.ACTIVE_RUN_KEY) == ui_runs.CLASS_CHOICE and ui_runs.CLASS_CHOICE in labels
    # The widget shows the active run, also when another page (Train now) changed it.
    st.session_state[K + "active_pick"] = (
        active.run_id if active and active.run_id in labels else ui_runs.CLASS_CHOICE if chosen_class else ids[0])
    st.selectbox(
        "Active run (used by Evaluate and Draw)", ids, key=K + "active_pick",
        format_func=lambda r: labels.get(r, str(r)),
        on_change=_on_pick_active, args=(labels,),
    )


def _compare(store: RunStore, runs: list[RunInfo]) -> None:
    with_epochs = [run for run in runs if run.epochs_done > 0]
    if len(with_epochs) < 2:
        return
    labels = {run.run_id: run.label for run in with_epochs}
    key = K + "compare"
    if key in st.session_state:  # only ids of runs listed here (a forged or deleted one is dropped)
        kept = st.session_state[key]
        st.session_state[key] = [r for r in kept if isinstance(r, str) and r in labels] if isinstance(kept, (list, tuple)) else []
    chosen = st.multiselect(
        "Compare runs", list(labels), default=None if key in st.session_state else list(labels)[:COMPARE_DEFAULT],
        format_func=lambda run_id: labels.get(run_id, str(run_id)),
        key=key, help="Loss and accuracy per epoch, overlaid (validation dashed).",
    )
    series = []
    for run_id in chosen:
        run = next((r for r in with_epochs if r.run_id == run_id), None)
        if run is None:
            continue
        history = history_or_warning(store, run)
        if history is not None:
            series.append((run.name, history.get("epochs", []), history.get("epoch", {})))
    if series:
        chart_with_table(compare_runs_figure(series), compare_rows(series), key=K + "compare_chart")


def _rename(store: RunStore, run_id: str) -> None:
    name = st.session_state.get(f"{K}rename_{run_id}", "")
    try:
        store.rename(run_id, name)
    except ValueError as error:
        st.session_state[K + "flash"] = ("error", str(error))
    except KeyError:  # deleted in another tab
        st.session_state[K + "flash"] = ("warning", "That run no longer exists (deleted in another tab?).")
    except OSError as error:
        st.session_state[K + "flash"] = ("error", f"Could not rename the run: {error}")


def _delete(store: RunStore, run_id: str) -> None:
    try:
        store.delete(run_id)
    except (ValueError, KeyError, OSError) as error:
        st.session_state[K + "flash"] = ("error", f"Could not delete the run: {error}")
        return
    if st.session_state.get(ui_runs.ACTIVE_RUN_KEY) == run_id:
        ui_runs.set_active_run(None)
    st.session_state[K + "flash"] = ("success", "Run deleted.")


def _history_csv(store: RunStore, run_id: str) -> str:
    """The download's CSV; a damaged history.json gives a one-line explanation instead of an error."""
    try:
        return downloads.history_csv(store, run_id)
    except (CorruptRunError, KeyError, OSError) as error:
        return f"# the history of run {run_id} cannot be read: {error}\n"


def _manage(store: RunStore, runs: list[RunInfo]) -> None:
    labels = {run.run_id: run.label for run in runs}
    picked = st.session_state.get(K + "manage_pick", runs[0].run_id)
    if not isinstance(picked, str) or picked not in labels:  # forged or deleted
        st.session_state[K + "manage_pick"] = runs[0].run_id
    run_id = st.selectbox("Run", list(labels), format_func=lambda r: labels.get(r, str(r)), key=K + "manage_pick")
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
        "History (.csv)", data=lambda: _history_csv(store, run.run_id), file_name=f"{stem}-history.csv",
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


def runs_section(store: RunStore) -> None:
    """"Your runs": the table, the active-run picker, the comparison, and a manage expander."""
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


def saved_curves(history: dict, *, key: str, reference=None) -> None:
    """A saved run's loss and accuracy curves (history.json as RunStore.history gives it),
    with the numbers behind them; ``reference`` is an optional line to compare with."""
    chart_with_table(
        training_curves_figure(
            batch_steps=history["batch_steps"], batch_logs=history.get("batch", {}),
            epochs=history.get("epochs", []), epoch_logs=history.get("epoch", {}),
            steps_per_epoch=history.get("steps_per_epoch") or 1, total_epochs=history.get("total_epochs"),
            reference=reference,
        ),
        epoch_rows(history.get("epochs", []), history.get("epoch", {})), key=key,
    )
