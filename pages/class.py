"""Class: the teacher's view of every student's runs, behind a passcode.

Shown in the navigation only when a passcode is configured (``ui.lesson``). Until
the passcode is entered, nothing of any workspace is on the page; once entered it
holds for this browser session. Students appear by display name, never by id.
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import logging

import streamlit as st

from core import class_model, classroom, lesson_links, profile
from core import config as settings
from core import passcode as teacher_passcode
from core.charts.classroom import class_scatter_figure
from core.config import runs_dir
from core.model import BATCH_SIZES, DEFAULT_PRESET, MAX_EPOCHS, PRESETS
from core.runs import CorruptRunError, RunStore
from core.queue import all_live_jobs
from ui.a11y import chart_with_table
from ui.run_list import saved_curves
from ui.runs import escape_markdown
from ui.teacher import configured_passcode

log = logging.getLogger(__name__)
K = "class_"  # prefix of this page's widget and state keys
REFRESH_S = 2.0
LEADERBOARD_SIZE = 10
FALLBACK_BASE_URL = "http://localhost:8501/train"


# -- the passcode ------------------------------------------------------------------------
def _attempts() -> teacher_passcode.Attempts:
    return teacher_passcode.Attempts(st.session_state.setdefault(K + "attempts", {}))


def _on_passcode() -> None:
    entered = st.session_state.get(K + "passcode") or ""
    # The passcode is never kept in the session (nor sent back to the browser).
    st.session_state[K + "passcode"] = ""
    if entered and not _attempts().submit(entered, configured_passcode()):
        st.session_state[K + "wrong"] = True


def _leave() -> None:
    _attempts().lock()


def passcode_section() -> bool:
    """The passcode field until the right one is entered; True once it has been (this session)."""
    attempts = _attempts()
    if attempts.unlocked:
        return True
    st.title("Class")
    st.write("The teacher's view of the class. Enter the teacher passcode to open it.")
    locked_for = attempts.locked_for()
    st.text_input("Teacher passcode", type="password", key=K + "passcode", on_change=_on_passcode,
                  disabled=locked_for > 0, autocomplete="off")
    wrong = st.session_state.pop(K + "wrong", False)
    if locked_for > 0:
        st.error(f"{attempts.max_tries} wrong passcodes: the field is locked for "
                 f"{math.ceil(locked_for)} more seconds.")
        st.button("Try again", key=K + "retry", help="Opens the field again once the minute is over.")
    elif wrong:
        st.error(f"Wrong passcode: {attempts.tries_left} tries left before the field locks for a minute.")
    return False


# -- the live class (refreshed every REFRESH_S) ---------------------------------------------
def _index() -> classroom.ClassIndex:
    index = st.session_state.get(K + "index")
    if index is None or index.root != runs_dir():  # PLAYGROUND_RUNS_DIR changed
        index = st.session_state[K + "index"] = classroom.ClassIndex(runs_dir())
    return index


def _section(title: str, items, *, empty: str) -> bool:
    """A section's heading, and ``empty`` under it when ``items`` is empty; whether there is anything to show."""
    st.subheader(title, anchor=False)
    if not items:
        st.caption(empty)
    return bool(items)


def live_section(index: classroom.ClassIndex) -> None:
    """Who trains now and who waits, with a Stop button per training."""
    names = index.display_names()
    entries = classroom.live_entries(
        all_live_jobs(), display_name=lambda ws: names.get(ws) or profile.anonymous_name(ws))
    if not _section("Training now", entries, empty="Nobody is training or waiting right now."):
        return
    for entry in entries:
        who, bar, stop = st.columns([2, 4, 1], vertical_alignment="center")
        where = "training" if entry.place is None else f"waiting, place {entry.place}"
        who.markdown(f"**{escape_markdown(entry.student)}** · {escape_markdown(entry.run)} ({where})")
        bar.progress(entry.fraction, text=escape_markdown(entry.progress))
        stop.button("Stop", key=f"{K}stop_{entry.key}", on_click=entry.job.stop,
                    disabled=entry.stop_requested, icon=":material/stop_circle:")


def leaderboard_section(rows: list[classroom.ClassRow]) -> None:
    """A leaderboard per preset, large enough for a projector (names only, no ids)."""
    presets = classroom.presets_in(rows)
    boards = [(p, classroom.leaderboard(rows, preset=p, limit=LEADERBOARD_SIZE)) for p in presets]
    boards = [(p, b) for p, b in boards if b]
    if not _section("Leaderboards (test accuracy, best run per student)", boards, empty="No finished run yet."):
        return
    for column, (preset, board) in zip(st.columns(len(boards)), boards):
        with column:
            st.markdown(f"### {escape_markdown(preset)}")
            for entry in board:
                # (No medal emoji: headless classroom machines often lack an emoji font.)
                st.markdown(f"#### {entry.place}. {escape_markdown(entry.student)} · {entry.test_accuracy:.2%}")


def chart_section(rows: list[classroom.ClassRow]) -> None:
    """Test accuracy against epochs for every run; a clicked point shows that run's curves."""
    points = classroom.class_chart_points(rows)
    if not _section("The class chart", points, empty="The chart fills in as runs finish."):
        return
    event = chart_with_table(
        class_scatter_figure(points),
        [{"student": p.student, "run": p.run, "preset": p.preset, "epochs": p.epochs,
          "test accuracy": round(p.test_accuracy, 4)} for p in points],
        key=K + "chart", on_select="rerun", selection_mode="points")
    selected = [p.get("customdata") for p in (event.selection.points if event else []) if isinstance(p, dict)]
    if selected and isinstance(selected[0], (list, tuple)) and selected[0]:
        # Kept in the session: the chart is redrawn (and its selection lost) when a run changes.
        st.session_state[K + "selected"] = str(selected[0][0])
    key = st.session_state.get(K + "selected")
    row = next((r for r in rows if r.key == key), None)
    if row is None:
        st.caption("Click a point to see that run's curves.")
        return
    st.markdown(f"**{escape_markdown(row.student)}** · {escape_markdown(row.info.name)} "
                f"({escape_markdown(row.info.status_text)})")
    try:
        history = RunStore(row.workspace, root=row.info.path.parent.parent).history(row.run_id)
    except (KeyError, CorruptRunError, OSError):
        st.caption("This run's history cannot be read (deleted or still being written).")
        return
    if not history.get("batch_steps"):
        st.caption("No curves recorded for this run yet.")
        return
    saved_curves(history, key=K + "curves")


def table_section(rows: list[classroom.ClassRow]) -> None:
    """Every run of every student (by display name), and the CSV of it."""
    if not _section(f"All runs ({len(rows)})", rows, empty="No student has trained yet."):
        return
    st.dataframe(
        pd.DataFrame([row.public() for row in rows], columns=classroom.PUBLIC_COLUMNS),
        hide_index=True, width="stretch",
        column_config={"test_accuracy": st.column_config.NumberColumn("test accuracy", format="%.4f")},
    )
    st.download_button("Download the class as CSV", classroom.class_csv(rows), file_name="class-runs.csv",
                       mime="text/csv", key=K + "csv", on_click="ignore", icon=":material/download:")


@st.fragment(run_every=REFRESH_S)
def live_class() -> None:
    index = _index()
    rows = index.rows()
    live_section(index)
    leaderboard_section(rows)
    chart_section(rows)
    table_section(rows)


# -- cleaning up: the server keeps at most the quota per workspace (core.quota) ---------------
def _run_megabytes(row: classroom.ClassRow) -> float:
    total = 0
    for path in (row.info.path.iterdir() if row.info.path and row.info.path.is_dir() else ()):
        try:
            total += path.lstat().st_size
        except OSError:  # deleted meanwhile
            pass
    return total / (1024 * 1024)


def _delete_run(key: str) -> None:
    row = next((r for r in _index().rows() if r.key == key), None)
    if row is None:  # deleted meanwhile, or a forged key
        st.session_state[K + "flash"] = ("warning", "That run no longer exists.")
        return
    try:
        RunStore(row.workspace, root=row.info.path.parent.parent).delete(row.run_id)
    except ValueError:  # still training
        st.session_state[K + "flash"] = ("error", "Could not delete the run: it is still training; stop it first.")
        return
    except (KeyError, OSError) as error:  # the details name the workspace and the server's paths
        log.warning("deleting a run failed: %s", error)
        st.session_state[K + "flash"] = ("error", "Could not delete the run (it may be gone already).")
        return
    st.session_state[K + "flash"] = ("success", f"Deleted “{row.info.name}” of {row.student}.")


def cleanup_section() -> None:
    """Delete any student's run (largest first), e.g. when a workspace's quota is reached."""
    if flash := st.session_state.pop(K + "flash", None):
        getattr(st, flash[0])(escape_markdown(flash[1]))
    rows = _index().rows()
    if not rows:
        st.caption("No runs to clean up.")
        return
    sizes = {row.key: _run_megabytes(row) for row in rows}
    rows = sorted(rows, key=lambda row: -sizes[row.key])
    labels = {row.key: f"{row.student} · {row.info.name} · {row.info.status_text} · {sizes[row.key]:.1f} MB"
              for row in rows}
    picked = st.session_state.get(K + "delete_pick")
    if not isinstance(picked, str) or picked not in labels:  # deleted meanwhile, or forged
        st.session_state[K + "delete_pick"] = rows[0].key
    st.caption(f"Each workspace may keep {settings.max_runs_per_workspace()} runs and "
               f"{settings.max_workspace_mb()} MB; past that its student cannot train until runs are deleted.")
    key = st.selectbox("Run (largest first)", list(labels), key=K + "delete_pick",
                       format_func=lambda k: labels.get(k, "?"))
    row = next(r for r in rows if r.key == key)
    with st.popover("Delete this run", icon=":material/delete:", disabled=row.info.is_active):
        st.write(f"Delete “{escape_markdown(row.info.name)}” of {escape_markdown(row.student)} and its "
                 "saved model for good?")
        st.button("Yes, delete it", key=K + "delete_yes", type="primary", on_click=_delete_run, args=(key,))


# -- the class model ------------------------------------------------------------------------
SHARE_LIMIT = 20  # runs offered, best first


def _share(workspace: str, run_id: str) -> None:
    try:
        shared = class_model.write_choice(workspace, run_id, root=runs_dir())
    except (ValueError, class_model.ClassModelProblem, OSError) as error:
        st.session_state[K + "share_flash"] = ("error", f"That run cannot be shared: {error}")
        return
    st.session_state[K + "share_flash"] = ("success", f"“{escape_markdown(shared.info.name)}” is now the "
                                                      "class model: every student can draw with it.")


def _unshare() -> None:
    try:
        class_model.clear_choice(root=runs_dir())
    except OSError as error:
        st.session_state[K + "share_flash"] = ("error", f"Could not stop sharing: {error}")


def class_model_section(index: classroom.ClassIndex) -> None:
    """The run every student may draw and evaluate with; a button per finished run makes one so."""
    flash = st.session_state.pop(K + "share_flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    try:
        current = class_model.resolve(runs_dir())
        problem = None
    except class_model.ClassModelProblem as error:
        current, problem = None, str(error)
    if problem:
        st.warning(f"The class model cannot be used: {escape_markdown(problem)}.")
    rows = [row for row in index.rows() if row.info.is_usable and row.info.status == "finished"]
    rows.sort(key=lambda row: (-(row.test_accuracy or 0), row.run_id))
    if current is not None:
        row = next((r for r in rows if current.is_run(r.info)), None)
        who = f"{escape_markdown(row.student)} · " if row is not None else ""
        origin = "chosen here" if current.ref.source == "teacher" else f"set by `{class_model.ENV_VAR}`"
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**The class model:** {who}{escape_markdown(current.info.label)} ({origin})")
        if current.ref.source == "teacher":
            right.button("Stop sharing", key=K + "unshare", on_click=_unshare, icon=":material/block:")
    else:
        st.caption("No class model yet: students without a model of their own have none to draw with.")
    if not rows:
        st.caption("No finished run to share yet.")
        return
    for row in rows[:SHARE_LIMIT]:
        text, button = st.columns([4, 1], vertical_alignment="center")
        accuracy = f" · {row.test_accuracy:.2%}" if row.test_accuracy is not None else ""
        text.markdown(f"{escape_markdown(row.student)} · {escape_markdown(row.info.name)} ({row.preset}){accuracy}")
        is_current = current is not None and current.is_run(row.info)
        button.button("The class model" if is_current else "Make this the class model", key=f"{K}share_{row.key}",
                      on_click=_share, args=(row.workspace, row.run_id), disabled=is_current)


# -- lesson links ------------------------------------------------------------------------
def _train_url() -> str:
    """The Train page's address as the browser sees this app."""
    url = st.context.url
    if not url:
        return FALLBACK_BASE_URL
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    head = path.rsplit("/", 1)[0] if path.endswith("/class") else path
    return urlunsplit(parts._replace(path=f"{head}/train", query="", fragment=""))


def lesson_link_section() -> None:
    """Build a link that opens the Train page with a preset, epochs and batch size."""
    preset = st.selectbox("Preset", list(PRESETS), index=list(PRESETS).index(DEFAULT_PRESET), key=K + "l_preset")
    config = PRESETS[preset]
    epochs_col, batch_col = st.columns(2)
    epochs = epochs_col.slider("Epochs", 1, MAX_EPOCHS, value=config.epochs, key=f"{K}l_epochs_{preset}")
    # The Train page's choices (core.model.BATCH_SIZES): a link never asks for one it lacks.
    batch = batch_col.select_slider("Batch size", BATCH_SIZES, key=f"{K}l_batch_{preset}",
                                    value=min(BATCH_SIZES, key=lambda size: abs(size - config.batch_size)))
    lock = st.checkbox("Lock these settings on the Train page", key=K + "l_lock")
    base = st.text_input("App address", value=_train_url(), key=K + "l_base",
                         help="Where students open the app (the Train page).")
    try:
        link = lesson_links.make_link(base, preset=preset, epochs=int(epochs), batch=int(batch), lock=lock)
    except ValueError:  # the widgets only allow valid settings: the address is wrong
        st.error(f"The app address must be a full link, such as {FALLBACK_BASE_URL}")
        return
    st.code(link, language=None)
    st.caption("Students who open this link start a new run with these settings"
               + (", and cannot change them." if lock else "; they can still change them."))


def main() -> None:
    if configured_passcode() is None:
        st.title("Class")
        st.info("The Class page is off: no teacher passcode is configured "
                f"(`{teacher_passcode.ENV_VAR}` or `{teacher_passcode.SECRET_KEY}` in `.streamlit/secrets.toml`).")
        return
    if not passcode_section():
        return
    title, leave = st.columns([5, 1], vertical_alignment="bottom")
    title.title("Class")
    leave.button("Lock", key=K + "leave", on_click=_leave, icon=":material/lock:",
                 help="Close the page again: the passcode is asked for next time.")
    live_class()
    with st.expander("The class model", expanded=False, icon=":material/share:"):
        class_model_section(_index())
    with st.expander("Lesson link", expanded=False, icon=":material/link:"):
        lesson_link_section()
    with st.expander("Clean up: delete runs", expanded=False, icon=":material/delete_sweep:"):
        cleanup_section()


main()
