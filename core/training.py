"""Training in the background: a worker thread per run, live history, stop, queue.

The page creates a :class:`TrainingJob` and keeps it in ``st.session_state``;
the job's thread waits for a free slot of the server-wide queue, builds the
model, trains it with ``core.fastfit.fit``, evaluates it on the test set and
saves everything through :class:`core.runs.RunStore` after every epoch. The
page only ever reads ``job.snapshot()``: the worker never touches Streamlit.

:class:`LiveHistory` is Keras' own ``History`` callback plus a lock, per-batch
logs, a stop flag and a divergence check. It subclasses
``keras.callbacks.Callback``, so it is created on first use (``from
core.training import LiveHistory`` imports Keras then, not before): pages that
never train must not pay for importing TensorFlow.
"""

from __future__ import annotations

import functools
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import config as settings
from core import fastfit
from core.preprocess import one_hot
from core.runs import DIVERGED, FAILED, FINAL_STATUSES, FINISHED, QUEUED, RUNNING, STOPPED, RunStore

#: Per-batch records kept in memory (and in history.json); past this the
#: record is thinned to every 2nd, 4th, ... batch, so a 50-epoch run with
#: batch size 1 (3 million batches) still costs a few hundred kilobytes.
MAX_BATCH_POINTS = 20_000
#: Batch size of the final test-set evaluation (it only affects speed).
EVALUATE_BATCH_SIZE = 1000
#: How often a queued job re-checks its place and the stop button.
QUEUE_POLL_S = 0.2
#: Characters in the Keras-style progress bar (Keras' own is 20 wide).
PROGRESS_BAR_WIDTH = 20

DIVERGED_HINT = "Lower the learning rate (for example divide it by 10) and train again."
#: A loss this large has exploded: ten times the loss of a blind guess (ln 10 ≈ 2.3
#: for 10 classes). Keras 3 computes the softmax cross-entropy from the logits, so
#: an overshooting optimizer (sgd at learning rate 10 with relu) sends the loss to
#: 50, 100, ... long before it reaches NaN; no network improves from there.
DIVERGED_LOSS = 10 * math.log(10)


def _format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


# ---------------------------------------------------------------------------
# Snapshots: plain copies the page may read without any lock.
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class HistorySnapshot:
    """A copy of a LiveHistory at one moment.

    ``epoch_logs[key][i]`` belongs to epoch ``epochs[i]`` (0-based, full epochs only);
    ``batch_logs[key][i]`` to global step ``batch_steps[i]`` (1-based). Per-batch
    values are Keras' running means since the start of that epoch.
    """

    epochs: tuple[int, ...] = ()
    epoch_logs: dict[str, list[float]] = field(default_factory=dict)
    batch_steps: tuple[int, ...] = ()
    batch_logs: dict[str, list[float]] = field(default_factory=dict)
    epoch: int = 0  # current epoch, 1-based (0 before the first one starts)
    total_epochs: int = 0
    step: int = 0  # steps done in the current epoch
    steps_per_epoch: int = 0
    seconds_per_step: float | None = None
    eta_seconds: float | None = None  # to the end of training
    elapsed_seconds: float = 0.0

    @property
    def fraction(self) -> float:
        """Share of all planned steps done, 0..1."""
        total = self.total_epochs * self.steps_per_epoch
        if total <= 0:
            return 0.0
        done = max(0, self.epoch - 1) * self.steps_per_epoch + self.step
        return min(1.0, done / total)

    def last(self, key: str) -> float | None:
        values = self.batch_logs.get(key) or []
        return values[-1] if values else None

    def to_dict(self) -> dict:
        """What history.json holds."""
        return {
            "epochs": list(self.epochs),
            "epoch": self.epoch_logs,
            "batch_steps": list(self.batch_steps),
            "batch": self.batch_logs,
            "steps_per_epoch": self.steps_per_epoch,
            "total_epochs": self.total_epochs,
        }


@dataclass(frozen=True)
class JobSnapshot:
    """Everything the live view shows about a TrainingJob at one moment."""

    run_id: str
    status: str  # queued | running | finished | stopped | diverged | failed
    history: HistorySnapshot
    queue_place: int | None = None  # 1 = next to start; None when not waiting
    epochs_done: int = 0
    message: str = ""
    hint: str = ""
    test_loss: float | None = None
    test_accuracy: float | None = None
    train_seconds: float | None = None
    error: str | None = None  # traceback text of a failure
    phase: str = ""  # what the worker does right now, in words

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def progress_line(self) -> str:
        """A line like Keras' progress bar: ``Epoch 2/5 · step 300/600 · 2ms/step · ETA 3s``."""
        h = self.history
        if self.status == QUEUED:
            return f"Waiting for a free training slot: place {self.queue_place or 1} in the queue"
        if not h.epoch:
            return self.phase or "Starting…"
        parts = [f"Epoch {h.epoch}/{h.total_epochs}", f"step {h.step}/{h.steps_per_epoch}"]
        if h.seconds_per_step is not None:
            ms = h.seconds_per_step * 1000
            parts.append(f"{ms:.0f}ms/step" if ms >= 1 else f"{ms * 1000:.0f}µs/step")
        if not self.done:
            parts.append(f"ETA {_format_duration(h.eta_seconds)}")
        for key in ("loss", "accuracy"):
            value = h.last(key)
            if value is not None:
                parts.append(f"{key}: {value:.4f}")
        return " · ".join(parts)

    @property
    def keras_progress(self) -> str:
        """What ``model.fit(verbose=1)`` would print now, e.g.::

            Epoch 2/5
            300/600 ━━━━━━━━━━────────── 0s 1ms/step - accuracy: 0.8123 - loss: 0.7021
        """
        h = self.history
        if not h.epoch or not h.steps_per_epoch:
            return ""
        steps = h.steps_per_epoch
        filled = int(PROGRESS_BAR_WIDTH * min(h.step, steps) / steps)
        bar = "━" * filled + "─" * (PROGRESS_BAR_WIDTH - filled)
        line = f"{h.step:>{len(str(steps))}}/{steps} {bar}"
        if h.seconds_per_step is not None:
            # Keras shows the epoch's ETA while it runs and its duration at the end.
            seconds = h.seconds_per_step * (h.step if h.step >= steps else steps - h.step)
            ms = h.seconds_per_step * 1000
            per_step = f"{ms:.0f}ms/step" if ms >= 1 else f"{ms * 1000:.0f}us/step"
            line += f" {seconds:.0f}s {per_step}"
        for key in ("accuracy", "loss"):
            value = h.last(key)
            if value is not None:
                line += f" - {key}: {value:.4f}"
        return f"Epoch {h.epoch}/{h.total_epochs}\n{line}"


# ---------------------------------------------------------------------------
# LiveHistory (a keras.callbacks.Callback, built on first use)
# ---------------------------------------------------------------------------
@functools.cache
def _live_history_class():
    import keras

    class LiveHistory(keras.callbacks.Callback):
        """Keras' ``History`` plus per-batch logs, a lock, a stop flag and a NaN check.

        Like ``keras.callbacks.History``: ``history`` maps each metric to its
        per-epoch values and ``epoch`` lists the epochs. Besides, ``batch_history``
        and ``batch_steps`` hold the per-batch logs. The training thread appends
        under ``lock``; any other thread calls :meth:`snapshot` for a copy.

        Setting ``stop_event`` ends training after the current batch (or chunk of
        batches); a loss that is not finite, or above ``DIVERGED_LOSS``, ends it too,
        with ``diverged`` set and the offending value in ``diverged_loss``.
        """

        def __init__(
            self,
            *,
            stop_event: threading.Event | None = None,
            steps_per_epoch: int | None = None,
            epochs: int | None = None,
            max_batch_points: int = MAX_BATCH_POINTS,
        ):
            super().__init__()
            if max_batch_points < 2:
                raise ValueError(f"max_batch_points must be at least 2, got {max_batch_points}")
            self.lock = threading.Lock()
            self.stop_event = stop_event or threading.Event()
            self.max_batch_points = max_batch_points
            self.history: dict[str, list[float]] = {}
            self.epoch: list[int] = []
            self.batch_history: dict[str, list[float]] = {}
            self.batch_steps: list[int] = []
            self.stopped = False
            self.diverged = False
            self.diverged_at: tuple[int, int] | None = None  # (epoch, step), 1-based
            self.diverged_loss: float | None = None
            self._steps_hint, self._epochs_hint = steps_per_epoch, epochs
            self._stride = 1  # keep every n-th batch record (doubles when thinning)
            self._calls = 0
            self._current_epoch = 0
            self._step = 0
            self._epoch_start = self._train_start = time.perf_counter()
            self._seconds_per_step: float | None = None
            self._train_end: float | None = None

        def __repr__(self) -> str:
            return (
                f"LiveHistory(epochs_done={len(self.epoch)}, batch_points={len(self.batch_steps)}, "
                f"stopped={self.stopped}, diverged={self.diverged})"
            )

        # -- sizes, from Keras' params when it gives them -------------------
        @property
        def steps_per_epoch(self) -> int:
            steps = (self.params or {}).get("steps") or self._steps_hint
            return int(steps or 0)

        @property
        def total_epochs(self) -> int:
            return int((self.params or {}).get("epochs") or self._epochs_hint or 0)

        # -- Keras hooks (training thread) ------------------------------------
        def on_train_begin(self, logs=None):
            with self.lock:
                self._train_start = time.perf_counter()
                self._train_end = None

        def on_epoch_begin(self, epoch, logs=None):
            with self.lock:
                self._current_epoch = epoch + 1
                self._step = 0
                self._epoch_start = time.perf_counter()
            self._check_stop()

        def on_train_batch_end(self, batch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}
            now = time.perf_counter()
            with self.lock:
                self._step = batch + 1
                self._seconds_per_step = (now - self._epoch_start) / self._step
                global_step = (self._current_epoch - 1) * self.steps_per_epoch + self._step
                if self._calls % self._stride == 0:
                    self.batch_steps.append(global_step)
                    for key, value in logs.items():
                        self.batch_history.setdefault(key, []).append(value)
                    if len(self.batch_steps) > self.max_batch_points:
                        self._thin()
                self._calls += 1
            loss = logs.get("loss")
            if loss is not None and not self.diverged and not (loss <= DIVERGED_LOSS):
                self.diverged = True  # NaN fails every comparison, so it lands here too
                self.diverged_at = (self._current_epoch, self._step)
                self.diverged_loss = loss
            if self.diverged:
                self.model.stop_training = True
            self._check_stop()

        def on_epoch_end(self, epoch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}
            with self.lock:
                complete = self.steps_per_epoch == 0 or self._step >= self.steps_per_epoch
                # Keras also calls this for an epoch cut short by stop_training;
                # only full epochs belong in the per-epoch history.
                if complete and not self.diverged:
                    self.epoch.append(epoch)
                    for key, value in logs.items():
                        self.history.setdefault(key, []).append(value)

        def on_train_end(self, logs=None):
            with self.lock:
                self._train_end = time.perf_counter()

        # -- helpers -----------------------------------------------------------
        def _check_stop(self):
            if self.stop_event.is_set() and self.model is not None:
                self.stopped = True
                self.model.stop_training = True

        def _thin(self):
            self.batch_steps = self.batch_steps[::2]
            for key in self.batch_history:
                self.batch_history[key] = self.batch_history[key][::2]
            self._stride *= 2

        @property
        def epochs_done(self) -> int:
            with self.lock:
                return len(self.epoch)

        def snapshot(self) -> HistorySnapshot:
            """A consistent copy of everything recorded so far, plus progress and ETA."""
            with self.lock:
                steps, epochs = self.steps_per_epoch, self.total_epochs
                end = self._train_end or time.perf_counter()
                eta = None
                if self._seconds_per_step is not None and steps:
                    left = (epochs - self._current_epoch) * steps + (steps - self._step)
                    eta = max(0, left) * self._seconds_per_step
                return HistorySnapshot(
                    epochs=tuple(self.epoch),
                    epoch_logs={k: list(v) for k, v in self.history.items()},
                    batch_steps=tuple(self.batch_steps),
                    batch_logs={k: list(v) for k, v in self.batch_history.items()},
                    epoch=self._current_epoch,
                    total_epochs=epochs,
                    step=self._step,
                    steps_per_epoch=steps,
                    seconds_per_step=self._seconds_per_step,
                    eta_seconds=eta,
                    elapsed_seconds=end - self._train_start,
                )

    return LiveHistory


@functools.cache
def _run_saver_class():
    import keras

    class RunSaver(keras.callbacks.Callback):
        """After every full epoch: model.keras, history.json and metrics.json of the run."""

        def __init__(self, store: RunStore, run_id: str, live, clock):
            super().__init__()
            self.store, self.run_id, self.live, self.clock = store, run_id, live, clock
            self.seconds = 0.0  # time spent saving (not training)

        def on_epoch_end(self, epoch, logs=None):
            if self.live.diverged or self.live.epochs_done != epoch + 1:
                return  # a cut-short or diverged epoch is not a checkpoint
            start = time.perf_counter()
            self.store.save_model(self.run_id, self.model)
            self.store.write_history(self.run_id, self.live.snapshot().to_dict())
            self.store.update_metrics(
                self.run_id, status=RUNNING, epochs_done=epoch + 1, train_seconds=self.clock() - self.seconds,
            )
            self.seconds += time.perf_counter() - start

    return RunSaver


def __getattr__(name: str):
    # PEP 562: ``core.training.LiveHistory`` imports Keras only when first asked for.
    if name == "LiveHistory":
        return _live_history_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------
# The server-wide queue
# ---------------------------------------------------------------------------
class TrainingQueue:
    """A first-come-first-served queue in front of a ``threading.BoundedSemaphore``.

    At most ``slots`` trainings run at once (each one keeps the CPU cores busy);
    the others wait in order and can tell their place (1 = next).
    """

    def __init__(self, slots: int):
        if int(slots) < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = int(slots)
        self._semaphore = threading.BoundedSemaphore(self.slots)
        self._changed = threading.Condition()
        self._waiting: list[object] = []

    def __repr__(self) -> str:
        return f"TrainingQueue(slots={self.slots}, waiting={len(self._waiting)})"

    def place(self, who: object) -> int | None:
        """1-based place of a waiting job, None when it is not waiting."""
        with self._changed:
            for i, waiting in enumerate(self._waiting):
                if waiting is who:
                    return i + 1
        return None

    def acquire(self, who: object, *, cancel: threading.Event) -> bool:
        """Wait for a slot in turn; False (and out of the queue) when ``cancel`` is set first."""
        with self._changed:
            self._waiting.append(who)
            try:
                while True:
                    if self._waiting[0] is who and self._semaphore.acquire(blocking=False):
                        return True
                    if cancel.is_set():
                        return False
                    self._changed.wait(QUEUE_POLL_S)
            finally:
                self._waiting.remove(who)
                self._changed.notify_all()

    def release(self) -> None:
        with self._changed:
            self._semaphore.release()
            self._changed.notify_all()


_QUEUE_LOCK = threading.Lock()
_QUEUE: TrainingQueue | None = None


def training_queue() -> TrainingQueue:
    """The one queue of this server process (``PLAYGROUND_MAX_TRAININGS`` slots).

    A process-wide object on purpose: the CPU cores are shared by every session.
    """
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = TrainingQueue(settings.max_trainings())
        return _QUEUE


# ---------------------------------------------------------------------------
# Jobs still training in this server, by workspace, so that a refreshed page
# (a new session with the same ?ws=) finds its live view again.
# ---------------------------------------------------------------------------
_LIVE_LOCK = threading.Lock()
_LIVE_JOBS: dict[str, list[TrainingJob]] = {}


def live_jobs(workspace: str) -> list[TrainingJob]:
    """The jobs of a workspace that are queued or training in this process, oldest first."""
    with _LIVE_LOCK:
        return [job for job in _LIVE_JOBS.get(workspace, []) if not job.done]


def all_live_jobs() -> list[TrainingJob]:
    """Every job queued or training in this process, all workspaces, oldest run first."""
    with _LIVE_LOCK:
        jobs = [job for jobs in _LIVE_JOBS.values() for job in jobs if not job.done]
    return sorted(jobs, key=lambda job: job.run_id)  # run ids sort by creation time


def _register(job: TrainingJob) -> None:
    with _LIVE_LOCK:
        _LIVE_JOBS.setdefault(job.workspace, []).append(job)


def _unregister(job: TrainingJob) -> None:
    with _LIVE_LOCK:
        jobs = _LIVE_JOBS.get(job.workspace, [])
        if job in jobs:
            jobs.remove(job)
        if not jobs:
            _LIVE_JOBS.pop(job.workspace, None)


# ---------------------------------------------------------------------------
# TrainingJob
# ---------------------------------------------------------------------------
class TrainingJob:
    """One training run in a background thread.

    ``TrainingJob(config, dataset, store=store).start()`` creates the run folder
    at once (status "queued"), then the thread waits for a slot of the queue,
    builds ``core.model.build_model(config)``, trains on the dataset's training
    images, evaluates on its test images and saves the run. :meth:`stop` ends
    training at the next batch, keeps the weights and still evaluates them.
    Errors are recorded (``status == "failed"``, ``error``), never raised.

    ``dataset`` is a ``core.data.Dataset`` (uint8 images (N, 28, 28), labels (N,)).
    """

    def __init__(
        self,
        model_config,
        dataset,
        *,
        store: RunStore,
        name: str | None = None,
        limit: int | None = None,
        queue: TrainingQueue | None = None,
    ):
        for attr in ("batch_size", "epochs", "validation_split", "seed", "to_dict"):
            if not hasattr(model_config, attr):
                raise ValueError(f"model_config must be a core.model.ModelConfig, got {model_config!r}")
        if limit is not None and int(limit) < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        # Everything that can fail comes before store.create: a run folder made by a
        # job that then never starts would read "queued" for good (and could not be deleted).
        self.config = model_config
        self.dataset = dataset
        self.store = store
        self.workspace = store.workspace
        self.limit = None if limit is None else int(limit)
        self.queue = queue or training_queue()
        n_train = len(dataset.x_train) if self.limit is None else min(self.limit, len(dataset.x_train))
        n_fit = fastfit.train_count(n_train, float(model_config.validation_split))  # the split fit() makes
        epochs = int(model_config.epochs)
        steps = max(1, math.ceil(n_fit / int(model_config.batch_size)))
        config_dict = model_config.to_dict()
        extra = {"train_limit": self.limit} if self.limit else None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._status = QUEUED
        self._phase = ""
        self._result: dict[str, Any] = {}
        self._error: str | None = None
        self._live = _live_history_class()(stop_event=self._stop, steps_per_epoch=steps, epochs=epochs)
        self._thread = threading.Thread(target=self._work, daemon=True)
        run = store.create(
            config_dict, dataset=dataset.name, seed=int(model_config.seed),
            epochs_planned=epochs, name=name, extra=extra,
        )
        self.run_id = run.run_id
        self.name = run.name
        self._thread.name = f"train-{self.run_id}"

    def __repr__(self) -> str:
        return f"TrainingJob(run_id={self.run_id!r}, status={self.status!r}, config={self.config!r})"

    # -- control (page thread) -------------------------------------------------
    def start(self) -> TrainingJob:
        """Start the worker thread (once); returns the job.

        When the thread cannot start (the process is out of threads), the job and its
        run are marked failed, like any error of the worker, instead of staying queued.
        """
        if not self._thread.is_alive() and self._thread.ident is None and self.status == QUEUED:
            _register(self)
            try:
                self._thread.start()
            except BaseException as error:
                _unregister(self)
                self._fail(error)
        return self

    def stop(self) -> None:
        """Ask the worker to stop at the next batch (or leave the queue)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error

    def snapshot(self) -> JobSnapshot:
        """A copy of the job's state for the page (cheap; safe from any thread)."""
        history = self._live.snapshot()
        with self._lock:
            status, result, error, phase = self._status, dict(self._result), self._error, self._phase
        return JobSnapshot(
            run_id=self.run_id,
            status=status,
            history=history,
            queue_place=self.queue.place(self) if status == QUEUED else None,
            epochs_done=len(history.epochs),
            message=result.get("message", ""),
            hint=result.get("hint", ""),
            test_loss=result.get("test_loss"),
            test_accuracy=result.get("test_accuracy"),
            train_seconds=result.get("train_seconds"),
            error=error,
            phase=phase,
        )

    # -- the worker thread -------------------------------------------------------
    def _set(self, **fields) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(self, f"_{key}", value)

    def _work(self) -> None:
        try:
            if not self.queue.acquire(self, cancel=self._stop):
                self._finish(STOPPED, message="Stopped before training started.")
                return
            try:
                self._train()
            finally:
                self.queue.release()
        except BaseException as error:  # recorded for the page, never raised
            self._fail(error)
        finally:
            _unregister(self)

    def _prepare(self, images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from core.model import model_input

        if self.limit is not None:
            images, labels = images[: self.limit], labels[: self.limit]
        return model_input(self.config, images), one_hot(labels)

    def _train(self) -> None:
        from core.model import build_model

        config, live = self.config, self._live
        self._set(status=RUNNING, phase="Preparing the data…")
        self.store.update_metrics(self.run_id, status=RUNNING, started=time.time())
        x, y = self._prepare(self.dataset.x_train, self.dataset.y_train)
        x_test, y_test = self._prepare(self.dataset.x_test, self.dataset.y_test)
        self._set(phase="Building the model…")
        model = build_model(config, input_shape=tuple(self.dataset.x_train.shape[1:]))

        start = time.perf_counter()
        saver = _run_saver_class()(self.store, self.run_id, live, lambda: time.perf_counter() - start)
        self._set(phase="Training…")
        fastfit.fit(
            model, x, y, batch_size=int(config.batch_size), epochs=int(config.epochs),
            validation_split=float(config.validation_split), seed=int(config.seed),
            callbacks=[live, saver],
        )
        # The training wall time: fit() without the checkpoint writes.
        train_seconds = time.perf_counter() - start - saver.seconds
        epochs_done = live.epochs_done

        if live.diverged:
            epoch, step = live.diverged_at or (epochs_done + 1, 0)
            self.store.write_history(self.run_id, live.snapshot().to_dict())
            self._finish(
                DIVERGED, epochs_done=epochs_done, train_seconds=train_seconds,
                message=(
                    f"Training diverged in epoch {epoch}, step {step}: the loss "
                    + (
                        f"exploded to {live.diverged_loss:,.1f}, ten times worse than blind guessing "
                        f"({math.log(10):.2f}). "
                        if live.diverged_loss is not None and math.isfinite(live.diverged_loss)
                        else "became NaN (not a number). "
                    )
                    + "The steps the optimizer took were so big that they overshot every "
                    "valley of the loss, and training cannot recover from that."
                    + (f" The checkpoint of epoch {epochs_done} is kept." if epochs_done else "")
                ),
                hint=DIVERGED_HINT,
            )
            return

        self._set(phase="Evaluating on the test set…")
        scores = model.evaluate(x_test, y_test, batch_size=EVALUATE_BATCH_SIZE, verbose=0, return_dict=True)
        self._set(phase="Saving…")
        self.store.save_model(self.run_id, model)
        self.store.write_history(self.run_id, live.snapshot().to_dict())
        stopped = live.stopped
        partial = live.snapshot()
        message = ""
        if stopped:
            message = f"Stopped after {epochs_done} epoch{'s' if epochs_done != 1 else ''}"
            if partial.step and partial.step < partial.steps_per_epoch and partial.epoch > epochs_done:
                message += f" and {partial.step}/{partial.steps_per_epoch} steps of epoch {partial.epoch}"
            message += "; the weights at that moment are kept and were evaluated."
        self._finish(
            STOPPED if stopped else FINISHED, epochs_done=epochs_done, train_seconds=train_seconds,
            test_loss=float(scores["loss"]), test_accuracy=float(scores["accuracy"]), message=message,
        )

    def _finish(self, status: str, **result: Any) -> None:
        self.store.update_metrics(self.run_id, status=status, finished=time.time(), **result)
        with self._lock:
            self._result = result
            self._status = status
            self._phase = ""

    def _fail(self, error: BaseException) -> None:
        text = "".join(traceback.format_exception(error))
        message = f"Training failed: {type(error).__name__}: {error}"
        try:
            self.store.update_metrics(
                self.run_id, status=FAILED, finished=time.time(), message=message,
                epochs_done=self._live.epochs_done,
            )
        except Exception as save_error:  # the folder may be gone; the page still shows why
            message += f" (and the run could not be saved: {save_error})"
        with self._lock:
            self._result = {"message": message}
            self._error = text
            self._status = FAILED
            self._phase = ""
