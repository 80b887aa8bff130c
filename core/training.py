"""Training in the background: a worker thread per run, its snapshots and the stop.

The page creates a :class:`TrainingJob` and keeps it in ``st.session_state``;
the job's thread waits for a free slot of the server-wide queue
(``core.queue``), builds the model, trains it with ``core.fastfit.fit``,
evaluates it on the test set and saves everything through
:class:`core.runs.RunStore` after every epoch. The page only ever reads
``job.snapshot()`` (a :class:`JobSnapshot`): the worker never touches Streamlit.

The Keras callbacks live in ``core.callbacks``; the job imports that module (and
so Keras) when it is created: pages that never train never import TensorFlow.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import config as settings
from core import fastfit
from core.queue import TrainingQueue, register, training_queue, unregister
from core.runs import DIVERGED, FAILED, FINAL_STATUSES, FINISHED, QUEUED, RUNNING, STOPPED, RunStore

log = logging.getLogger(__name__)

#: Batch size of the final test-set evaluation (it only affects speed).
EVALUATE_BATCH_SIZE = 1000
#: Characters in the Keras-style progress bar (Keras' own is 20 wide).
PROGRESS_BAR_WIDTH = 20

DIVERGED_HINT = "Lower the learning rate (for example divide it by 10) and train again."

#: The worker's phases (``JobSnapshot.phase``); the page waits for a job in one of the
#: ENDING_PHASES, after the last step.
TRAINING = "Training…"
EVALUATING = "Evaluating on the test set…"
SAVING = "Saving…"
ENDING_PHASES = (EVALUATING, SAVING)


def limit_text(seconds: float) -> str:
    """The server's time limit in words: "10-minute", "90-second"."""
    seconds = max(1, round(seconds))
    if seconds % 60 == 0:
        return f"{seconds // 60}-minute"
    return f"{seconds}-second"


class _Status:
    """``done`` for anything with a ``status`` (a job and its snapshots)."""

    status: str

    @property
    def done(self) -> bool:
        """The status is final: finished, stopped, diverged or failed."""
        return self.status in FINAL_STATUSES


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
    """A copy of a ``core.callbacks.LiveHistory`` at one moment.

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
class JobSnapshot(_Status):
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
    #: The latest copy of the model's weights ({"<layer>/<weight>": array}, core.inside.weights_snapshot),
    #: taken in the training thread after each epoch (None before training starts).
    weights: dict | None = field(default=None, repr=False, compare=False)
    weights_epoch: int = -1  # the epoch that copy belongs to (0 = before the first)

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
# TrainingJob
# ---------------------------------------------------------------------------
class TrainingJob(_Status):
    """One training run in a background thread.

    ``TrainingJob(config, dataset, store=store).start()`` creates the run folder
    at once (status "queued"), then the thread waits for a slot of the queue,
    builds ``core.model.build_model(config)``, trains on the dataset's training
    images, evaluates on its test images and saves the run. :meth:`stop` ends
    training at the next batch, keeps the weights and still evaluates them.
    Errors are recorded (``status == "failed"``, ``error``), never raised.
    ``client`` names the browser that asked (for the queue's fairness rules).
    ``time_limit`` (seconds; default ``PLAYGROUND_MAX_TRAIN_SECONDS``) bounds one
    training: at that time it stops itself, evaluates and saves what it has.

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
        time_limit: float | None = None,
        client: str | None = None,
    ):
        for attr in ("batch_size", "epochs", "validation_split", "seed", "to_dict"):
            if not hasattr(model_config, attr):
                raise ValueError(f"model_config must be a core.model.ModelConfig, got {model_config!r}")
        if limit is not None and int(limit) < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        time_limit = settings.max_train_seconds() if time_limit is None else float(time_limit)
        if not time_limit > 0:
            raise ValueError(f"time_limit must be positive, got {time_limit}")
        self.time_limit = time_limit
        self.client = client  # who asked (a browser, see core.queue.admission_problem); None: unknown
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
        from core.callbacks import LiveHistory, WeightsSnapshot  # imports Keras: only a page that trains pays

        self._live = LiveHistory(stop_event=self._stop, steps_per_epoch=steps, epochs=epochs)
        self._weights = WeightsSnapshot()
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
            register(self)
            try:
                self._thread.start()
            except BaseException as error:
                unregister(self)
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
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error

    def snapshot(self) -> JobSnapshot:
        """A copy of the job's state for the page (cheap; safe from any thread)."""
        history = self._live.snapshot()
        weights_epoch, weights = self._weights.latest()
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
            weights=weights,
            weights_epoch=weights_epoch,
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
            unregister(self)

    def _prepare(self, images: np.ndarray, labels: np.ndarray):
        """(x, y) tensors for this network, shared with every training of the same split (core.prepared)."""
        from core.model import input_shape_for
        from core.prepared import prepared_splits

        input_shape = (None, *input_shape_for(self.config, tuple(images.shape[1:])))
        return prepared_splits().get(images, labels, limit=self.limit, input_shape=input_shape)

    def _train(self) -> None:
        from core.model_pool import model_pool
        from core.priority import yield_to_the_class

        yield_to_the_class()  # a training takes the cores the class leaves idle
        self._set(status=RUNNING, phase="Preparing the data…")
        self.store.update_metrics(self.run_id, status=RUNNING, started=time.time())
        x, y = self._prepare(self.dataset.x_train, self.dataset.y_train)
        x_test, y_test = self._prepare(self.dataset.x_test, self.dataset.y_test)
        self._set(phase="Building the model…")
        # A model of the same architecture that an earlier training traced, reset to
        # this seed's initial weights (the same training, without the trace).
        input_shape = tuple(self.dataset.x_train.shape[1:])
        pool = model_pool()
        model = pool.take(self.config, input_shape=input_shape)
        yield_to_the_class()  # again: TensorFlow's pools exist now, whichever thread made them
        self._fit_and_save(model, x, y, x_test, y_test)
        pool.give_back(self.config, model, input_shape=input_shape)  # not after an error: its state is unknown

    def _fit_and_save(self, model, x, y, x_test, y_test) -> None:
        from core.callbacks import RunSaver, TimeLimit

        config, live = self.config, self._live
        start = time.perf_counter()
        saver = RunSaver(self.store, self.run_id, live, lambda: time.perf_counter() - start)
        time_limit = TimeLimit(self.time_limit)
        self._set(phase=TRAINING)
        try:
            fastfit.fit(
                model, x, y, batch_size=int(config.batch_size), epochs=int(config.epochs),
                validation_split=float(config.validation_split), seed=int(config.seed),
                callbacks=[live, saver, time_limit, self._weights],
            )
        finally:
            # The last checkpoint is on disk before the final files are written.
            if (error := saver.close()) is not None:
                log.warning("run %s: a checkpoint could not be written (%s)", self.run_id, error)
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

        stopped = live.stopped or time_limit.reached
        limit_note = (f" at the server's {limit_text(self.time_limit)} limit for one training"
                      if time_limit.reached and not live.stopped else "")
        if stopped and epochs_done == 0:
            # Not one full epoch: no model is kept (it would take disk space for weights
            # that learnt next to nothing), so the run cannot become the active one.
            self.store.write_history(self.run_id, live.snapshot().to_dict())
            self._finish(
                STOPPED, epochs_done=0, train_seconds=train_seconds,
                message=f"Stopped{limit_note} before the first epoch ended: no model is kept.",
            )
            return
        self._set(phase=EVALUATING)
        # The numbers of model.evaluate, in one call of a traced function (Keras' own
        # evaluate builds a data pipeline and traces anew each time: 1-2 s here).
        scores = fastfit.evaluate(model, x_test, y_test, batch_size=EVALUATE_BATCH_SIZE)
        self._set(phase=SAVING)
        self.store.save_model(self.run_id, model)
        self.store.write_history(self.run_id, live.snapshot().to_dict())
        partial = live.snapshot()
        message = ""
        if stopped:
            message = f"Stopped{limit_note} after {epochs_done} epoch{'s' if epochs_done != 1 else ''}"
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
        log.error("run %s failed:\n%s", self.run_id, text)  # the page shows only the message
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
