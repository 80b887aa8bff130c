"""The Keras callbacks of a training: live history (with stop and divergence) and checkpoints.

Importing this module imports Keras: ``core.training`` imports it inside
``TrainingJob``, so pages that never train never load TensorFlow.
"""

from __future__ import annotations

import math
import threading
import time

import keras
import numpy as np

from core.runs import RUNNING, RunStore
from core.training import HistorySnapshot

#: Per-batch records kept in memory (and in history.json); past this the
#: record is thinned to every 2nd, 4th, ... batch, so a 50-epoch run with
#: batch size 1 (3 million batches) still costs a few hundred kilobytes.
MAX_BATCH_POINTS = 20_000
#: A loss this large has exploded: ten times the loss of a blind guess (ln 10 ≈ 2.3
#: for 10 classes). Keras 3 computes the softmax cross-entropy from the logits, so
#: an overshooting optimizer (sgd at learning rate 10 with relu) sends the loss to
#: 50, 100, ... long before it reaches NaN; no network improves from there.
DIVERGED_LOSS = 10 * math.log(10)
#: A checkpoint's history.json is rewritten at most this often (seconds).
HISTORY_EVERY_S = 2.0
#: ... with at most this many batch records (every k-th): all the epochs, and a batch curve
#: for a run cut off by a crash; the run's end writes them all. json's encoder holds the
#: interpreter lock every page of the class waits for: 20,000 records took tens of ms.
CHECKPOINT_BATCH_POINTS = 2_000


def checkpoint_history(history: dict, *, max_points: int = CHECKPOINT_BATCH_POINTS) -> dict:
    """``history`` (HistorySnapshot.to_dict()) with its batch records thinned to ``max_points``
    at most, the last one always kept (what the curve ended on)."""
    steps = history.get("batch_steps") or []
    if len(steps) <= max_points:
        return history
    stride = -(-len(steps) // max_points)
    keep = list(range(len(steps) - 1, -1, -stride))[::-1]
    return {**history, "batch_steps": [steps[i] for i in keep],
            "batch": {name: [values[i] for i in keep if i < len(values)]
                      for name, values in history.get("batch", {}).items()}}


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


class RunSaver(keras.callbacks.Callback):
    """After every full epoch: the weights, history.json and metrics.json of the run.

    The training thread only copies the weights (``model.get_weights()``, a few
    milliseconds even for the CNN) and the history; a writer thread of its own puts
    them on disk, so training never waits for the disk. If the writer is still busy
    when the next epoch ends, only the newest checkpoint is written. A server killed
    mid-training therefore loses at most the epoch in progress. :meth:`close`
    waits for the last write (call it before the run's final files are written).
    """

    def __init__(self, store: RunStore, run_id: str, live, clock):
        super().__init__()
        self.store, self.run_id, self.live, self.clock = store, run_id, live, clock
        self.seconds = 0.0  # time the training thread spent on checkpoints
        self.error: BaseException | None = None  # the writer's, raised by close()
        self._pending = None
        self._history_written = -math.inf
        self._changed = threading.Condition()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name=f"checkpoint-{run_id}", daemon=True)
        self._writer.start()

    def on_epoch_end(self, epoch, logs=None):
        if self.live.diverged or self.live.epochs_done != epoch + 1:
            return  # a cut-short or diverged epoch is not a checkpoint
        start = time.perf_counter()
        # The history grows with every batch and its JSON takes the interpreter lock
        # while it is written: at most every HISTORY_EVERY_S (the end writes it anyway).
        history = None
        if start - self._history_written >= HISTORY_EVERY_S:
            history, self._history_written = checkpoint_history(self.live.snapshot().to_dict()), start
        weights = self.model.get_weights()
        with self._changed:
            if history is None and self._pending is not None and self._pending[2] is not None:
                history = checkpoint_history(self.live.snapshot().to_dict())  # the one it replaces had one
            # A checkpoint not yet written is replaced by the newer one.
            self._pending = (epoch + 1, weights, history, self.clock() - self.seconds)
            self._changed.notify_all()
        self.seconds += time.perf_counter() - start

    def close(self) -> BaseException | None:
        """Write what is pending, stop the writer; returns the writer's error, if any (a
        lost checkpoint must not cost the finished training: the job logs it and goes on)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._writer.join()
        return self.error

    def _write_loop(self) -> None:
        while True:
            with self._changed:
                while self._pending is None and not self._closed:
                    self._changed.wait()
                item, self._pending = self._pending, None
                if item is None:  # closed, nothing left to write
                    return
            try:
                epochs_done, weights, history, train_seconds = item
                self.store.save_checkpoint(self.run_id, weights)
                if history is not None:
                    self.store.write_history(self.run_id, history)
                self.store.update_metrics(
                    self.run_id, status=RUNNING, epochs_done=epochs_done, train_seconds=train_seconds,
                )
            except Exception as error:  # a full disk: reported by close(), training goes on
                self.error = error


class TimeLimit(keras.callbacks.Callback):
    """Ends training once it has run ``seconds`` (the server's bound on one training's cost).

    Checked after every batch (or chunk of batches), like the stop button;
    ``reached`` tells afterwards that the limit, not the student, ended it.
    """

    def __init__(self, seconds: float, *, clock=time.perf_counter):
        super().__init__()
        if not seconds > 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        self.seconds, self.clock = float(seconds), clock
        self.reached = False
        self._start = clock()

    def on_train_begin(self, logs=None):
        self._start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() - self._start >= self.seconds:
            self.reached = True
            self.model.stop_training = True


class WeightsSnapshot(keras.callbacks.Callback):
    """At every epoch's end (and once at the start): a copy of every weight, for live pictures.

    The copy (``core.inside.weights_snapshot``: {"<layer>/<weight>": array}) is
    taken in the training thread and replaced under ``lock``; any other thread
    reads :meth:`latest`, never the live model. ``epoch`` counts the copies'
    epochs (0 = the untrained start).
    """

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self._weights: dict[str, np.ndarray] | None = None
        self._epoch = -1
        self.seconds = 0.0  # time spent copying (measured in benchmarks/bench_training.py)

    def _take(self, epoch: int) -> None:
        from core.inside import weights_snapshot

        start = time.perf_counter()
        weights = weights_snapshot(self.model)
        with self.lock:
            self._weights, self._epoch = weights, epoch
        self.seconds += time.perf_counter() - start

    def on_train_begin(self, logs=None):
        self._take(0)  # the random start: the pictures "before training"

    def on_epoch_end(self, epoch, logs=None):
        self._take(epoch + 1)

    def latest(self) -> tuple[int, dict[str, np.ndarray] | None]:
        """(epoch of the copy, the copy) — (-1, None) before training starts. The arrays are
        never changed afterwards (each epoch makes new ones), so readers need no lock."""
        with self.lock:
            return self._epoch, self._weights
