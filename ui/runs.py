"""Runs in the browser session: the workspace in the URL, the active run, the training job.

State lives in ``st.session_state`` (never module globals):

- ``workspace_id``: this browser's workspace, mirrored in the URL as ``?ws=...``
  so a refresh or a shared link brings the same runs back;
- ``active_run_id``: the run the Evaluate and Draw pages use, mirrored in the URL
  as ``?run=...`` so a refresh or a shared link keeps the chosen model;
- ``training_job``: this session's latest :class:`core.training.TrainingJob`
  (a refreshed page re-attaches to a job still training in this server).

The *class model* (``core.class_model``) is one run the teacher shares with the whole
server: loaded once per process (``st.cache_resource``, keyed by the model file and its
mtime) and never copied into a session. A session uses it when it chooses it
(``active_run_id == CLASS_CHOICE``, ``?run=class``) or has no usable model of its own.

Keras is imported only when a model is loaded or a job starts, so the light
pages (Home, Dataset) can use these helpers without importing TensorFlow.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import class_model as class_models
from core import wait_estimate
from core.runs import (
    COMPLETED_STATUSES,
    QUEUED,
    RUNNING,
    CorruptRunError,
    RunInfo,
    RunStore,
    new_workspace_id,
    validate_run_id,
    validate_workspace,
)
from core.config import max_trainings, runs_dir, train_limit
from core.queue import ADMISSION_LOCK, admission_problem, all_live_jobs, live_jobs, training_queue
from core.quota import quota_problem
from core.training import ENDING_PHASES, TrainingJob
from core.workspace_ids import check_workspace_id

WORKSPACE_PARAM = "ws"
RUN_PARAM = "run"
WORKSPACE_KEY = "workspace_id"
ACTIVE_RUN_KEY = "active_run_id"
JOB_KEY = "training_job"
JOB_SEEN_DONE_KEY = "training_job_seen_done"
MODEL_CACHE_KEY = "active_model_cache"
#: (run id, why its saved model could not be loaded), for the pages' "no model" text.
MODEL_PROBLEM_KEY = "active_model_problem"
#: Why the URL's ?ws= was refused (shown once by sidebar_status).
WORKSPACE_PROBLEM_KEY = "workspace_problem"
#: Streamlit's XSRF cookie: set once per browser, shared by all its tabs and workspaces.
CLIENT_COOKIE = "_streamlit_xsrf"
#: The active-run choice (and ``?run=``) that means "the class model".
CLASS_CHOICE = "class"
#: A reference (never a copy) to the shared class model while this session uses it.
SHARED_MODEL_KEY = "class_model_in_use"
#: ((model path, mtime), message) of a class model file that did not load in this session.
BROKEN_CLASS_MODEL_KEY = "class_model_broken"
CLASS_MODEL_LABEL = "the class model"
#: Seconds the recent CNN training times are reused before the runs folder is scanned again.
RECENT_RUNS_TTL_S = 30
#: Seconds between two refreshes of a live view (light: it only copies a snapshot).
LIVE_REFRESH_S = 0.75
#: Seconds between two looks at a job waiting in the queue: a queue place changes slowly,
#: and 30 waiting pages refreshed every 0.75 s would take the trainings' processor.
QUEUE_REFRESH_S = 2.5
#: A live view whose job should end within this many seconds waits for it in the same tick
#: (at most this long), so the result shows when it is ready, not up to a tick later.
END_WAIT_S = LIVE_REFRESH_S
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
    remembered = st.session_state.get(WORKSPACE_KEY)
    try:
        if value is None:
            raise ValueError("no ?ws= in the URL")
        if isinstance(value, str) and value.strip().lower() == remembered:
            workspace = remembered  # checked when it was first opened (or made here)
        else:
            lowered = value.strip().lower() if isinstance(value, str) else value
            try:
                existing = RunStore(validate_workspace(lowered)).folder.is_dir()
            except ValueError:
                existing = False
            workspace = check_workspace_id(value, existing=existing)
    except ValueError as error:
        if value is not None:
            st.session_state[WORKSPACE_PROBLEM_KEY] = f"The link's workspace was not opened: {error}"
        # Switching pages drops query parameters; the session remembers the id.
        workspace = remembered or new_workspace_id()
    _set_param(WORKSPACE_PARAM, workspace)
    st.session_state[WORKSPACE_KEY] = workspace
    return workspace


def _url_run_id() -> str | None:
    """The run id in ``?run=``; an invalid one is dropped from the URL quietly."""
    value = st.query_params.get(RUN_PARAM)
    if value is None:
        return None
    if value == CLASS_CHOICE:
        return CLASS_CHOICE
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


def client_id() -> str | None:
    """This browser, as far as the server can tell cheaply: a hash of Streamlit's XSRF
    cookie (one per browser, all tabs and workspaces); None when there is none."""
    try:
        cookie = st.context.cookies.get(CLIENT_COOKIE)
    except Exception:  # no browser (AppTest, a bare script run)
        return None
    if not isinstance(cookie, str) or not cookie:
        return None
    return hashlib.sha256(cookie.encode()).hexdigest()[:16]


def start_training(model_config, *, name: str | None = None) -> TrainingJob:
    """Create, start and remember a TrainingJob on the sidebar's dataset.

    While this session's job is still queued or training, that job is returned and
    nothing new starts (a double or stale click on Train). Raises ValueError for a
    bad setting (``PLAYGROUND_TRAIN_LIMIT``, a configuration), and with the reason
    when the server refuses a new training (another one of this workspace or browser
    is live, the queue is full, the workspace's disk quota is used up:
    ``core.queue.admission_problem``, ``core.quota.quota_problem``), and OSError when
    the run folder cannot be written: the caller shows them.
    """
    from ui.data import current_dataset

    job = current_job()
    if job is not None and not job.done:
        return job
    dataset = current_dataset()
    store, client = run_store(), client_id()
    with ADMISSION_LOCK:  # two tabs pressing Train at once: only one passes the check
        problem = admission_problem(store.workspace, client=client) or quota_problem(store)
        if problem is not None:
            raise ValueError(problem)
        job = TrainingJob(model_config, dataset, store=store, name=name, limit=train_limit(),
                          client=client).start()
    st.session_state[JOB_KEY] = job
    return job


def set_active_run(run_id: str | None) -> None:
    """Make a run the one the Evaluate and Draw pages use (None: no active run); the
    URL's ``?run=`` follows, so a refresh or a shared link keeps it."""
    st.session_state[ACTIVE_RUN_KEY] = run_id
    _set_param(RUN_PARAM, run_id)


# -- the class model (one per server, shared read-only) ------------------------------------
@dataclass(frozen=True)
class SharedModel:
    """The class model as loaded for the whole process: its run and its keras.Model."""

    run: class_models.ClassModelRun
    model: object

    @property
    def info(self) -> RunInfo:
        return self.run.info


@st.cache_resource(show_spinner="Loading the class model (once for the whole server)…", max_entries=4)
def _shared_model(model_path: str, mtime_ns: int):
    # Shared by every session, which is safe for this model only: it is made non-trainable,
    # never compiled or fitted, and only called (model(x, training=False) reads the weights).
    # A new checkpoint (another mtime) is another entry. A file that does not load is kept
    # as its message, so it is not retried on every rerun of every session.
    try:
        return class_models.load_shared(model_path)
    except class_models.ClassModelProblem as error:
        return str(error)


@st.cache_resource(show_spinner="Predicting the test set once for the class model…", max_entries=4)
def _shared_predictions(model_path: str, mtime_ns: int, dataset_name: str, _model) -> np.ndarray:
    # Keyed by the model file and the dataset (``_model`` is that file's model, not hashed);
    # the array is read-only, so every session may slice it.
    from ui.data import load

    return class_models.shared_predictions(_model, load(dataset_name).x_test)


def _resolved() -> tuple[class_models.ClassModelRun | None, str | None]:
    try:
        resolved = class_models.resolve(runs_dir())
    except class_models.ClassModelProblem as error:
        return None, str(error)
    if resolved is None:
        return None, None
    broken = st.session_state.get(BROKEN_CLASS_MODEL_KEY)
    if broken is not None and broken[0] == (str(resolved.model_path), resolved.mtime_ns):
        return None, broken[1]  # this file did not load (the page said so): not offered again
    return resolved, None


def class_model_run() -> class_models.ClassModelRun | None:
    """The server's class model run, without loading it (no Keras: the sidebar of the light
    pages asks too); None when none is named or it cannot be used."""
    return _resolved()[0]


def class_model() -> SharedModel | None:
    """The server's class model, loaded once per process; None when none is named or it
    cannot be used (:func:`class_model_problem` says why)."""
    resolved = class_model_run()
    if resolved is None:
        return None
    loaded = _shared_model(str(resolved.model_path), resolved.mtime_ns)
    if isinstance(loaded, str):
        st.session_state[BROKEN_CLASS_MODEL_KEY] = ((str(resolved.model_path), resolved.mtime_ns), loaded)
        return None
    return SharedModel(resolved, loaded)


def class_model_problem() -> str | None:
    """Why the named class model cannot be used (deleted, broken), else None."""
    return _resolved()[1]


def is_class_model(run: RunInfo | None) -> bool:
    """Whether ``run`` is the server's class model (then the shared model and predictions serve it)."""
    resolved = class_model_run()
    return resolved is not None and resolved.is_run(run)


def class_model_predictions(dataset) -> np.ndarray:
    """(N, n_classes) read-only test-set probabilities of the class model, computed once per process."""
    shared = class_model()
    if shared is None:
        raise ValueError("there is no class model on this server")
    return _shared_predictions(str(shared.run.model_path), shared.run.mtime_ns, dataset.name, shared.model)


def model_label(run: RunInfo) -> str:
    """A run's name for the pages, "the class model · name" for the class model (markdown-escaped)."""
    name = escape_markdown(run.name)
    return f"{CLASS_MODEL_LABEL} · {name}" if is_class_model(run) else name


def model_run() -> RunInfo | None:
    """The run whose model Draw and Evaluate use: the active run of this workspace (the
    session's own choice comes first), else the class model (chosen, or as the fallback
    for a workspace without a usable model)."""
    run = active_run()
    if run is not None:
        return run
    resolved = class_model_run()
    return resolved.info if resolved is not None else None


def _drop_choice(*, from_url: bool) -> None:
    """Forget a run choice that no longer resolves: the URL's ``?run=``, or the session's."""
    if from_url:
        _set_param(RUN_PARAM, None)
    else:
        st.session_state[ACTIVE_RUN_KEY] = None


def active_run() -> RunInfo | None:
    """The active run of this workspace: this session's choice, else the URL's ``?run=`` (a
    refresh, a shared link), else the newest run of the workspace with a saved model. A
    deleted or broken one is dropped quietly. None while the class model is chosen (it
    belongs to another workspace: :func:`model_run` returns it)."""
    store = run_store()
    url_run_id = _url_run_id()
    chosen = st.session_state.get(ACTIVE_RUN_KEY)
    for run_id, from_url in ((chosen, False), (url_run_id, True)):
        if not run_id:
            continue
        if run_id == CLASS_CHOICE:
            if class_model_run() is not None:
                set_active_run(CLASS_CHOICE)
                return None
            _drop_choice(from_url=from_url)  # gone (deleted, broken); the sidebar says why
            continue
        try:
            run = store.get(run_id)
        except (KeyError, CorruptRunError, ValueError):  # deleted, broken, or not a run id
            run = None
        if run is not None and (run.is_usable or not from_url):
            set_active_run(run.run_id)  # also puts it back in the URL after a page switch
            return run
        _drop_choice(from_url=from_url)
    for run in store.list_runs():
        if run.is_usable:
            set_active_run(run.run_id)
            return run
    set_active_run(None)
    return None


def active_model():
    """The keras.Model of :func:`model_run`: the workspace's own one loaded once per session
    per run (and reloaded when its checkpoint changes), the class model shared by the whole
    process; None when there is no usable run."""
    run = model_run()
    if is_class_model(run):
        shared = class_model()
        if shared is not None:
            st.session_state[SHARED_MODEL_KEY] = shared.model  # a reference, for tests and the pages
            return shared.model
        # The file did not load: say so here (the sidebar ran before) and fall back.
        st.warning(f"The class model cannot be used: {escape_markdown(class_model_problem() or '')}. "
                   "Your own models are used instead.")
        run = model_run()
    st.session_state.pop(SHARED_MODEL_KEY, None)
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
        reason = (f"Keras refused it as unsafe: it holds code (a Lambda layer), which this app never runs"
                  if "safe_mode" in str(error) else f"{type(error).__name__}: {error}")
        st.session_state[MODEL_PROBLEM_KEY] = (run.run_id, reason)
        st.warning(f"The model of run “{escape_markdown(run.name)}” could not be loaded: {reason}")
        return None
    st.session_state[MODEL_CACHE_KEY] = (key, model)
    return model


def active_model_and_run():
    """(:func:`active_model`, :func:`model_run`) for the pages that use a model: the run is
    read after the model, because a class model that does not load falls back to the
    workspace's own run. Returns (keras.Model or None, RunInfo or None)."""
    model = active_model()
    return model, model_run()


def model_problem(run: RunInfo | None) -> str | None:
    """Why ``run``'s saved model could not be loaded in this session (None: it was not refused)."""
    problem = st.session_state.get(MODEL_PROBLEM_KEY)
    if run is None or not problem or problem[0] != run.run_id or not run.has_model:
        return None
    return problem[1]


def job_finished_rerun(job: TrainingJob) -> None:
    """Once per job, when it has ended: make its run active (only when it finished or
    was stopped *and* saved a model: a job stopped while queued has none) and rerun
    the whole page so everything shows the result. Call from a live fragment.

    A job about to end (its last steps, its evaluation or its save) is waited for, at
    most ``END_WAIT_S``: a Book training of about 2 s otherwise showed its result up to
    one tick (0.75 s) after it was saved."""
    if not job.done and job_ends_soon(job.snapshot()):
        job.join(END_WAIT_S)
    if not job.done or st.session_state.get(JOB_SEEN_DONE_KEY) == job.run_id:
        return
    st.session_state[JOB_SEEN_DONE_KEY] = job.run_id
    if job.status in COMPLETED_STATUSES:
        try:
            usable = job.store.get(job.run_id).is_usable
        except (KeyError, CorruptRunError):  # deleted or broken meanwhile
            usable = False
        if usable:
            set_active_run(job.run_id)
    st.rerun()


def job_ends_soon(snap) -> bool:
    """Whether a running job's snapshot says it ends within ``END_WAIT_S``: the training's
    ETA is shorter, every step is done, or it is evaluating or saving (also a training
    stopped by its student or by the server's time limit)."""
    h = snap.history
    if snap.status != RUNNING:
        return False
    if snap.phase in ENDING_PHASES:
        return True
    if h.epoch and h.eta_seconds is not None and h.eta_seconds < END_WAIT_S:
        return True
    return bool(h.epoch) and h.fraction >= 1.0


def job_needs_live_view(job: TrainingJob | None) -> bool:
    """Whether a live view should run: the job is going on, or has ended but the page
    has not yet done its one full rerun for it."""
    return job is not None and (not job.done or st.session_state.get(JOB_SEEN_DONE_KEY) != job.run_id)


def job_and_snapshot():
    """This session's job and a snapshot of it, or ``(None, None)``: what a live view reads."""
    job = current_job()
    return (job, job.snapshot()) if job is not None else (None, None)


def job_is_queued(job: TrainingJob | None) -> bool:
    """Waiting in line for a slot (a job that has just started, before its worker asked for
    one, has no place yet: it gets the live view, which moves on within 0.75 s)."""
    if job is None:
        return False
    snap = job.snapshot()
    return snap.status == QUEUED and snap.queue_place is not None


@st.fragment(run_every=QUEUE_REFRESH_S)
def queued_view(*, key: str) -> None:
    """This session's job waits for a free slot: its place and Stop, looked at every
    ``QUEUE_REFRESH_S``; when its turn comes (or it was stopped) the whole page reruns
    into the live view."""
    job, snap = job_and_snapshot()
    if job is None:
        return
    if snap.status != QUEUED:
        st.rerun()
    st.info(f"Waiting for a free training slot: place {snap.queue_place or 1} in the queue. "
            f"The server trains at most {max_trainings()} network{'s' if max_trainings() != 1 else ''} at once (they share its "
            "processor); the others wait their turn, first come, first served.",
            icon=":material/hourglass_top:")
    st.button("Stop", key=f"{key}_stop", on_click=job.stop, icon=":material/stop_circle:",
              disabled=job.stop_requested, help="Leave the queue; nothing is trained (the run is listed as stopped).")


def job_view(live_view, *, key: str) -> None:
    """The view of a job that needs one: the queue's while it waits, else ``live_view``."""
    if job_is_queued(current_job()):
        queued_view(key=key)
    else:
        live_view()


@st.fragment(run_every=LIVE_REFRESH_S)
def _compact_live(key: str) -> None:
    job, snap = job_and_snapshot()
    if job is None:
        return
    st.progress(snap.history.fraction, text=snap.progress_line)
    st.button("Stop", key=f"{key}_stop", on_click=job.stop, disabled=job.stop_requested or snap.done)
    job_finished_rerun(job)


def _compact_progress(key: str) -> None:
    job_view(lambda: _compact_live(key), key=key)


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


@st.cache_data(ttl=RECENT_RUNS_TTL_S, show_spinner=False)
def _recent_seconds(root: str, preset: str, epochs: int) -> list[float]:
    # One scan of every workspace's metrics.json per TTL for the whole server, not per rerun.
    return wait_estimate.scan_recent_seconds(root, preset=preset, epochs=epochs)


def training_wait(preset_name: str = "CNN") -> wait_estimate.WaitEstimate:
    """How long ``preset_name`` would take on this server now: its recent runs here (any
    workspace) and the training queue (running, waiting, slots)."""
    from core.model import PRESETS

    recent = _recent_seconds(str(runs_dir()), preset_name, PRESETS[preset_name].epochs)
    statuses = [job.status for job in all_live_jobs()]
    return wait_estimate.estimate(recent, running=statuses.count(RUNNING), waiting=statuses.count(QUEUED),
                                  slots=training_queue().slots)


def sidebar_status(*, show_workspace: bool = True) -> None:
    """Sidebar: this browser's workspace (its link brings the runs back) and the active run."""
    workspace = workspace_id()
    run = model_run()
    job = current_job()
    if problem := st.session_state.pop(WORKSPACE_PROBLEM_KEY, None):
        st.sidebar.warning(problem + " This is a new workspace.")
    lines = [f"Workspace **{workspace}**: bookmark or share this page's link to come back to its runs."
             if show_workspace else "Your runs are kept in this browser's workspace."]
    if job is not None and not job.done:
        lines.append(f"Training **{escape_markdown(job.name)}** now…")
    if run is None:
        lines.append("No trained model yet.")
    else:
        score = f" · test accuracy {run.test_accuracy:.4f}" if run.test_accuracy is not None else ""
        lines.append(f"Active model: **{model_label(run)}** ({run.status_text}{score})")
    st.sidebar.caption("  \n".join(lines))
    problem = class_model_problem()
    if problem is not None:
        st.sidebar.warning(f"No class model: {escape_markdown(problem)}. Each student uses their own models.")
