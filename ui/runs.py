"""Runs in the browser session: the workspace in the URL, the active run, the training job.

State lives in ``st.session_state`` (never module globals):

- ``workspace_id``: this browser's workspace, mirrored in the URL as ``?ws=...``
  so a refresh or a shared link brings the same runs back;
- ``active_run_id``: the run the Evaluate and Draw pages use, mirrored in the URL
  as ``?run=...`` so a refresh or a shared link keeps the chosen model;
- ``training_job``: this session's latest :class:`core.training.TrainingJob`
  (a refreshed page re-attaches to a job still training in this server).

Keras is imported only when a model is loaded or a job starts, so the light
pages (Home, Dataset) can use these helpers without importing TensorFlow.
"""

from __future__ import annotations

import re

import streamlit as st

from core.runs import (
    FINISHED,
    STOPPED,
    CorruptRunError,
    RunInfo,
    RunStore,
    new_workspace_id,
    validate_run_id,
    validate_workspace,
)
from core.config import train_limit
from core.queue import live_jobs
from core.training import TrainingJob

WORKSPACE_PARAM = "ws"
RUN_PARAM = "run"
WORKSPACE_KEY = "workspace_id"
ACTIVE_RUN_KEY = "active_run_id"
JOB_KEY = "training_job"
JOB_SEEN_DONE_KEY = "training_job_seen_done"
MODEL_CACHE_KEY = "active_model_cache"
#: Seconds between two refreshes of a live view (light: it only copies a snapshot).
LIVE_REFRESH_S = 0.75
# CommonMark lets a backslash escape any ASCII punctuation character.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
# GFM turns bare "http://...", "www...." and "a@b.c" into links even when escaped;
# an invisible WORD JOINER inside each pattern keeps them plain text.
_WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?i)(?<=:)(?=//)|(?<=w)(?=ww\.)|(?<=@)")


def escape_markdown(text: str) -> str:
    """``text`` shown literally inside markdown (a user-given run name): every markdown
    character escaped and bare links broken, so ``![](http://x)`` never loads an image
    and ``http://x`` is no link."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _AUTOLINKS.sub(_WORD_JOINER, str(text)))


def _set_param(key: str, value: str | None) -> None:
    """Write (or with None remove) a query parameter, only when it changes."""
    if value is None:
        st.query_params.pop(key, None)
    elif st.query_params.get(key) != value:
        st.query_params[key] = value


def workspace_id() -> str:
    """This browser's workspace id, from ``?ws=`` (a fresh random one written there if missing/invalid).

    An id typed in capitals is taken in lower case (workspace ids are lower case).
    """
    value = st.query_params.get(WORKSPACE_PARAM)
    try:
        workspace = validate_workspace(value.lower() if isinstance(value, str) else value)
    except ValueError:
        # Switching pages drops query parameters; the session remembers the id.
        workspace = st.session_state.get(WORKSPACE_KEY) or new_workspace_id()
    _set_param(WORKSPACE_PARAM, workspace)
    st.session_state[WORKSPACE_KEY] = workspace
    return workspace


def _url_run_id() -> str | None:
    """The run id in ``?run=``; an invalid one is dropped from the URL quietly."""
    value = st.query_params.get(RUN_PARAM)
    if value is None:
        return None
    try:
        return validate_run_id(value)
    except ValueError:
        _set_param(RUN_PARAM, None)
        return None


def run_store() -> RunStore:
    """The RunStore of this browser's workspace."""
    return RunStore(workspace_id())


def current_job() -> TrainingJob | None:
    """This session's latest training job; after a page refresh, the workspace's live one."""
    job = st.session_state.get(JOB_KEY)
    if job is None:
        running = live_jobs(workspace_id())
        if running:
            # Several live jobs (two tabs): the one of the URL's run, else the newest.
            wanted = _url_run_id()
            job = next((j for j in running if j.run_id == wanted), running[-1])
            st.session_state[JOB_KEY] = job
    return job


def start_training(model_config, *, name: str | None = None) -> TrainingJob:
    """Create, start and remember a TrainingJob on the sidebar's dataset.

    While this session's job is still queued or training, that job is returned and
    nothing new starts (a double or stale click on Train). Raises ValueError for a
    bad setting (``PLAYGROUND_TRAIN_LIMIT``, a configuration) and OSError when the
    run folder cannot be written: the caller shows them.
    """
    from ui.data import current_dataset

    job = current_job()
    if job is not None and not job.done:
        return job
    dataset = current_dataset()
    job = TrainingJob(model_config, dataset, store=run_store(), name=name, limit=train_limit()).start()
    st.session_state[JOB_KEY] = job
    return job


def set_active_run(run_id: str | None) -> None:
    """Make a run the one the Evaluate and Draw pages use (None: no active run); the
    URL's ``?run=`` follows, so a refresh or a shared link keeps it."""
    st.session_state[ACTIVE_RUN_KEY] = run_id
    _set_param(RUN_PARAM, run_id)


def active_run() -> RunInfo | None:
    """The active run: this session's choice, else the URL's ``?run=`` (a refresh, a shared
    link), else the newest run of the workspace with a saved model. A deleted or broken
    one is dropped quietly."""
    store = run_store()
    url_run_id = _url_run_id()
    chosen = st.session_state.get(ACTIVE_RUN_KEY)
    for run_id, from_url in ((chosen, False), (url_run_id, True)):
        if not run_id:
            continue
        try:
            run = store.get(run_id)
        except (KeyError, CorruptRunError, ValueError):  # deleted, broken, or not a run id
            run = None
        if run is not None and (run.is_usable or not from_url):
            set_active_run(run.run_id)  # also puts it back in the URL after a page switch
            return run
        if from_url:
            _set_param(RUN_PARAM, None)
        else:
            st.session_state[ACTIVE_RUN_KEY] = None
    for run in store.list_runs():
        if run.is_usable:
            set_active_run(run.run_id)
            return run
    set_active_run(None)
    return None


def active_model():
    """The active run's keras.Model, loaded once per session per run (and reloaded when
    its checkpoint changes); None when there is no usable run."""
    run = active_run()
    if run is None or not run.has_model:
        return None
    store = run_store()
    try:
        path = store.model_path(run.run_id)
        key = (run.run_id, path.stat().st_mtime_ns)
    except FileNotFoundError:
        return None
    cached = st.session_state.get(MODEL_CACHE_KEY)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        model = store.load_model(run.run_id)
    except Exception as error:  # a broken file must not break the page
        st.warning(f"The model of run “{escape_markdown(run.name)}” could not be loaded: {error}")
        return None
    st.session_state[MODEL_CACHE_KEY] = (key, model)
    return model


def job_finished_rerun(job: TrainingJob) -> None:
    """Once per job, when it has ended: make its run active (only when it finished or
    was stopped *and* saved a model: a job stopped while queued has none) and rerun
    the whole page so everything shows the result. Call from a live fragment."""
    if not job.done or st.session_state.get(JOB_SEEN_DONE_KEY) == job.run_id:
        return
    st.session_state[JOB_SEEN_DONE_KEY] = job.run_id
    if job.status in (FINISHED, STOPPED):
        try:
            usable = job.store.get(job.run_id).is_usable
        except (KeyError, CorruptRunError):  # deleted or broken meanwhile
            usable = False
        if usable:
            set_active_run(job.run_id)
    st.rerun()


def job_needs_live_view(job: TrainingJob | None) -> bool:
    """Whether a live view should run: the job is going on, or has ended but the page
    has not yet done its one full rerun for it."""
    return job is not None and (not job.done or st.session_state.get(JOB_SEEN_DONE_KEY) != job.run_id)


@st.fragment(run_every=LIVE_REFRESH_S)
def _compact_progress(key: str) -> None:
    job = current_job()
    if job is None:
        return
    snap = job.snapshot()
    st.progress(snap.history.fraction, text=snap.progress_line)
    st.button("Stop", key=f"{key}_stop", on_click=job.stop, disabled=job.stop_requested or snap.done)
    job_finished_rerun(job)


def train_now_button(preset_name: str, *, key: str) -> None:
    """One click trains the preset with its defaults, shows the progress live, and makes
    the new run active when it ends (the page then reruns and finds ``active_model()``)."""
    from core.model import PRESETS

    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; choose one of {sorted(PRESETS)}")
    job = current_job()
    if job_needs_live_view(job):
        _compact_progress(key)
        return
    config = PRESETS[preset_name]
    if st.button(f"Train the {preset_name} model now ({config.epochs} epochs)", key=key, type="primary"):
        try:
            start_training(config, name=preset_name)
        except (OSError, ValueError) as error:
            st.error(f"Training could not start: {error}")
            return
        _compact_progress(key)


def sidebar_status(*, show_workspace: bool = True) -> None:
    """Sidebar: this browser's workspace (its link brings the runs back) and the active run."""
    workspace = workspace_id()
    run = active_run()
    job = current_job()
    lines = [f"Workspace **{workspace}**: bookmark or share this page's link to come back to its runs."
             if show_workspace else "Your runs are kept in this browser's workspace."]
    if job is not None and not job.done:
        lines.append(f"Training **{escape_markdown(job.name)}** now…")
    if run is None:
        lines.append("No trained model yet.")
    else:
        score = f" · test accuracy {run.test_accuracy:.4f}" if run.test_accuracy is not None else ""
        lines.append(f"Active model: **{escape_markdown(run.name)}** ({run.status_text}{score})")
    st.sidebar.caption("  \n".join(lines))
