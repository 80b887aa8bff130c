"""Saved training runs: one folder per run, every write atomic.

Layout (root from ``core.config.runs_dir()``)::

    <root>/<workspace>/<run-id>/config.json    ModelConfig.to_dict() + dataset + seed + name
                                history.json   per-batch and per-epoch logs
                                metrics.json   status, epochs done, test loss/accuracy, timings
                                model.keras    the weights after the last completed epoch

A *workspace* is the id a browser carries in its URL (``?ws=...``): everybody
with the same id sees the same runs. Workspace and run ids are validated before
they are ever joined to a path, so a URL cannot reach outside the runs folder.

Every file is written to a temporary name in the same folder and then moved
into place with ``os.replace``, so a reader (or a crash) never sees half a file.
A run whose metrics still say "queued"/"running" but whose writing process is
gone (``core.liveness``) is reported as *interrupted after epoch N*; its last
checkpoint is usable. The download files (CSV, script, model) are made by
``core.downloads``.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import string
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from core import config as settings
from core.liveness import WRITER, writer_alive
from core.model import ModelConfig
from core.text import clean_name

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
#: The weights after the last full epoch while a run trains (NumPy arrays in
#: ``model.get_weights()`` order); model.keras is written once, at the end.
CHECKPOINT_FILE = "checkpoint.weights.npz"

WORKSPACE_ALPHABET = string.ascii_lowercase + string.digits
WORKSPACE_MAX_LENGTH = 40
NEW_WORKSPACE_LENGTH = 10
# Lower case only: on a case-insensitive file system (macOS, Windows) "ABC" and
# "abc" would share one folder while the app took them for two workspaces.
_WORKSPACE_RE = re.compile(rf"[a-z0-9]{{1,{WORKSPACE_MAX_LENGTH}}}")
# "20251126-001530-123-a1b2c3": UTC time to the millisecond, then 24 random bits,
# so names sort by creation time and two runs started together never collide.
_RUN_ID_RE = re.compile(r"\d{8}-\d{6}-\d{3}-[0-9a-f]{6}")
NAME_MAX_LENGTH = 80

QUEUED, RUNNING = "queued", "running"
FINISHED, STOPPED, DIVERGED, FAILED = "finished", "stopped", "diverged", "failed"
INTERRUPTED = "interrupted"
ACTIVE_STATUSES = frozenset({QUEUED, RUNNING})
FINAL_STATUSES = frozenset({FINISHED, STOPPED, DIVERGED, FAILED})
#: Ended as asked (every epoch, or stopped on request), not by an error: a run with results to show.
COMPLETED_STATUSES = frozenset({FINISHED, STOPPED})


class CorruptRunError(ValueError):
    """A run folder whose files cannot be read (``str()`` says which and why)."""


def validate_workspace(workspace: str) -> str:
    """The workspace id itself when it is 1..40 lower-case ASCII letters and digits, else ValueError.

    Callers that take an id from a person (a URL typed in capitals) lower-case it first.
    """
    if not isinstance(workspace, str) or not _WORKSPACE_RE.fullmatch(workspace):
        raise ValueError(
            f"workspace id must be 1 to {WORKSPACE_MAX_LENGTH} lower-case letters and digits, got {workspace!r}"
        )
    return workspace


def validate_run_id(run_id: str) -> str:
    """The run id itself when it has the shape ``new_run_id()`` makes, else ValueError."""
    if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r} (expected e.g. '20251126-001530-123-a1b2c3')")
    return run_id


def new_workspace_id() -> str:
    """A fresh random workspace id: 10 lowercase letters and digits (~51 bits)."""
    return "".join(secrets.choice(WORKSPACE_ALPHABET) for _ in range(NEW_WORKSPACE_LENGTH))


def new_run_id(now: float | None = None) -> str:
    """A time-sortable unique run id, e.g. ``20251126-001530-123-a1b2c3`` (UTC)."""
    now = time.time() if now is None else now
    stamp = datetime.fromtimestamp(now, timezone.utc)
    return f"{stamp:%Y%m%d-%H%M%S}-{stamp.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become None (JSON has no such numbers), numpy scalars plain."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(type(v) is float for v in value):  # a history's long columns: the common case, fast
            return [v if math.isfinite(v) else None for v in value]
        return [_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu":
        return int(value)
    return number if math.isfinite(number) else None


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, payload: dict, *, indent: int | None = 1) -> None:
    """``atomic_write_bytes`` of standard JSON (non-finite numbers as null), pretty unless
    ``indent`` is None (then json's C encoder: the indented one is pure Python)."""
    text = json.dumps(_clean(payload), indent=indent, allow_nan=False)
    atomic_write_bytes(path, text.encode("utf-8"))


def _read_json(path: Path) -> dict:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptRunError(f"{path.name} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptRunError(f"{path.name} is unreadable ({error})") from None
    if not isinstance(payload, dict):
        raise CorruptRunError(f"{path.name} does not hold a JSON object")
    return payload


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@dataclass(frozen=True)
class RunInfo:
    """What the run list shows about one run (read from config.json and metrics.json)."""

    run_id: str
    workspace: str
    name: str
    status: str  # queued | running | finished | stopped | diverged | failed | interrupted
    config: ModelConfig | None = field(repr=False)  # None when config.json's model does not parse
    dataset: str = "mnist"
    epochs_done: int = 0
    epochs_planned: int = 0
    test_loss: float | None = None
    test_accuracy: float | None = None
    train_seconds: float | None = None
    created: str = ""
    message: str = ""
    hint: str = ""
    has_model: bool = False
    path: Path | None = field(default=None, repr=False, compare=False)
    config_problem: str = ""  # why ``config`` is None, in words

    @property
    def preset(self) -> str:
        """The ModelConfig's name ("Book", "Dense", "CNN" or "Custom"); "?" when it does not parse."""
        return self.config.name if self.config is not None else "?"

    @property
    def is_active(self) -> bool:
        """Still queued or training in a live process."""
        return self.status in ACTIVE_STATUSES

    @property
    def is_usable(self) -> bool:
        """Has a saved model and no longer trains: it can be the active run."""
        return self.has_model and not self.is_active

    @property
    def status_text(self) -> str:
        """The status in words: "finished 5 epochs", "interrupted after epoch 2", ..."""
        n = self.epochs_done
        if self.status == QUEUED:
            return "queued"
        if self.status == RUNNING:
            return f"running (epoch {min(n + 1, max(self.epochs_planned, 1))}/{self.epochs_planned})"
        if self.status == FINISHED:
            return f"finished {_plural(n, 'epoch')}"
        if self.status == STOPPED:
            return f"stopped after {_plural(n, 'epoch')}"
        if self.status == DIVERGED:
            return f"diverged in epoch {n + 1}"
        if self.status == INTERRUPTED:
            return f"interrupted after epoch {n}" if n else "interrupted before the first epoch ended"
        return self.status

    @property
    def label(self) -> str:
        """One line for pickers: name, status and test accuracy."""
        accuracy = f" · test accuracy {self.test_accuracy:.4f}" if self.test_accuracy is not None else ""
        return f"{self.name} · {self.status_text}{accuracy}"


@dataclass(frozen=True)
class RunListing:
    """``RunStore.list_runs()``: the readable runs (newest first) and what was skipped."""

    runs: tuple[RunInfo, ...]
    warnings: tuple[str, ...] = ()

    def __iter__(self):
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)


def run_info(workspace: str, run_id: str, path: Path, cfg: dict, metrics: dict) -> RunInfo:
    """A RunInfo from a run's parsed config.json and metrics.json (CorruptRunError when bad).

    The one reading of a run's record: ``RunStore.get`` and the Class page's index
    (which caches the parsed files) both use it.
    """
    try:
        status = str(metrics.get("status", ""))
        if status not in ACTIVE_STATUSES | FINAL_STATUSES:
            raise CorruptRunError(f"{METRICS_FILE} has an unknown status {status!r}")
        if status in ACTIVE_STATUSES and not writer_alive(
            metrics.get("writer"), float(metrics.get("updated_at") or 0)
        ):
            status = INTERRUPTED
        model_config = cfg.get("model")
        if not isinstance(model_config, dict):
            raise CorruptRunError(f"{CONFIG_FILE} has no model configuration")
        # Parsed once here; a configuration of an older or newer app version
        # still lists (and its model still loads), with the reason shown.
        config, config_problem = None, ""
        try:
            config = ModelConfig.from_dict(model_config)
        except (TypeError, ValueError) as error:
            config_problem = f"its settings in {CONFIG_FILE} cannot be read ({error})"

        def number(key: str) -> float | None:
            value = metrics.get(key)
            return None if value is None else float(value)

        return RunInfo(
            run_id=run_id,
            workspace=workspace,
            # Cleaned on display too: a name written by hand or an older version (bidi controls).
            name=clean_name(str(cfg.get("name") or run_id), max_len=NAME_MAX_LENGTH) or run_id,
            status=status,
            config=config,
            config_problem=config_problem,
            dataset=str(cfg.get("dataset", "mnist")),
            epochs_done=int(metrics.get("epochs_done") or 0),
            epochs_planned=int(metrics.get("epochs_planned") or 0),
            test_loss=number("test_loss"),
            test_accuracy=number("test_accuracy"),
            train_seconds=number("train_seconds"),
            created=str(cfg.get("created", "")),
            message=str(metrics.get("message") or ""),
            hint=str(metrics.get("hint") or ""),
            has_model=(path / MODEL_FILE).is_file() or (path / CHECKPOINT_FILE).is_file(),
            path=path,
        )
    except (TypeError, ValueError) as error:
        if isinstance(error, CorruptRunError):
            raise
        raise CorruptRunError(f"{METRICS_FILE} or {CONFIG_FILE} has a bad value ({error})") from None


def _number_list(history: dict, key: str, *, whole: bool = False) -> list:
    """``history[key]`` when it is a list of numbers (metrics may hold None: a NaN saved as JSON)."""
    values = history.get(key, [])
    kinds = (int,) if whole else (int, float, type(None))
    if not isinstance(values, list) or not all(isinstance(v, kinds) and not isinstance(v, bool) for v in values):
        raise CorruptRunError(f"{HISTORY_FILE}: {str(key)[:40]!r} is not a list of {'whole ' if whole else ''}numbers")
    return values


def _checked_history(history: dict) -> dict:
    """history.json's dict when every field has the type and length the pages expect, else CorruptRunError.

    The one guard for a hand-edited or damaged file (``"batch_steps": "ab"``): the
    pages read the result without further checks.
    """
    for steps_key, logs_key in (("epochs", "epoch"), ("batch_steps", "batch")):
        _number_list(history, steps_key, whole=True)
        logs = history.get(logs_key, {})
        if not isinstance(logs, dict):
            raise CorruptRunError(f"{HISTORY_FILE}: {logs_key!r} is not a mapping of metric names to values")
        for name in logs:
            _number_list(logs, name)
    for key in ("steps_per_epoch", "total_epochs"):
        value = history.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise CorruptRunError(f"{HISTORY_FILE}: {key!r} is not a whole number")
    return history


class RunStore:
    """The runs of one workspace, as folders under ``root/<workspace>/``.

    >>> store = RunStore("abc123", root=tmp_path)        # doctest: +SKIP
    >>> run = store.create(config.to_dict(), dataset="mnist", seed=0, epochs_planned=5)
    """

    def __init__(self, workspace: str, *, root: str | Path | None = None):
        self.workspace = validate_workspace(workspace)
        self.root = Path(root) if root is not None else settings.runs_dir()
        self.folder = self.root / self.workspace

    def __repr__(self) -> str:
        return f"RunStore(workspace={self.workspace!r}, root={str(self.root)!r})"

    # -- paths ---------------------------------------------------------------
    def run_path(self, run_id: str) -> Path:
        """The folder of a run (the id is validated first; the folder may not exist)."""
        return self.folder / validate_run_id(run_id)

    def _existing(self, run_id: str) -> Path:
        path = self.run_path(run_id)
        if not path.is_dir():
            raise KeyError(f"no run {run_id!r} in workspace {self.workspace!r}")
        return path

    # -- writing (the training worker) ---------------------------------------
    def create(
        self,
        model_config: dict,
        *,
        dataset: str,
        seed: int,
        epochs_planned: int,
        name: str | None = None,
        extra: dict | None = None,
    ) -> RunInfo:
        """A new run folder with config.json and metrics.json (status "queued")."""
        if not isinstance(model_config, dict):
            raise ValueError(f"model_config must be a dict (ModelConfig.to_dict()), got {type(model_config).__name__}")
        # Everything that can be refused is checked before the folder exists.
        name = self._valid_name(name) if name is not None else None
        seed, epochs_planned = int(seed), int(epochs_planned)
        run_id = new_run_id()
        path = self.run_path(run_id)
        path.mkdir(parents=True, exist_ok=False)
        created = _now_iso()
        try:
            atomic_write_json(path / CONFIG_FILE, {
                "run_id": run_id,
                "name": name if name is not None else run_id,
                "model": model_config,
                "dataset": str(dataset),
                "seed": seed,
                "created": created,
                **(extra or {}),
            })
            atomic_write_json(path / METRICS_FILE, {
                "status": QUEUED,
                "epochs_done": 0,
                "epochs_planned": epochs_planned,
                "created": created,
                "updated": created,
                "updated_at": time.time(),
                "writer": WRITER,
            })
            return self.get(run_id)
        except BaseException:
            # No half-made run folder (it would list as broken, forever).
            shutil.rmtree(path, ignore_errors=True)
            raise

    def update_metrics(self, run_id: str, **fields: Any) -> dict:
        """Merge ``fields`` into metrics.json (atomically) and return the new contents."""
        path = self._existing(run_id) / METRICS_FILE
        metrics = _read_json(path)
        metrics.update(fields)
        metrics.update(updated=_now_iso(), updated_at=time.time(), writer=WRITER)
        atomic_write_json(path, metrics)
        return metrics

    def write_history(self, run_id: str, history: dict) -> None:
        """Replace history.json (``{"epoch": {...}, "batch": {...}, ...}``)."""
        # Compact (json's C encoder): the indented one is pure Python and holds the interpreter
        # lock every page of the class needs; a run's final history has up to 20,000 batch records.
        atomic_write_json(self._existing(run_id) / HISTORY_FILE, history, indent=None)

    def save_checkpoint(self, run_id: str, weights) -> None:
        """Save an epoch's weights (``model.get_weights()``, a list of arrays) atomically.

        A few milliseconds, and safe from any thread: the arrays are copies, so a
        background writer can save them while the model trains on.
        """
        path = self._existing(run_id)
        tmp = path / f".checkpoint-{secrets.token_hex(4)}.tmp.npz"
        try:
            with open(tmp, "wb") as handle:
                np.savez(handle, *weights)
            os.replace(tmp, path / CHECKPOINT_FILE)
        finally:
            with suppress(FileNotFoundError):
                tmp.unlink()

    def save_model(self, run_id: str, model) -> None:
        """Save a keras.Model as model.keras, atomically (Keras wants a ``.keras`` name)."""
        path = self._existing(run_id)
        tmp = path / f".model-{secrets.token_hex(4)}.tmp.keras"
        try:
            model.save(tmp)
            os.replace(tmp, path / MODEL_FILE)
        finally:
            with suppress(FileNotFoundError):
                tmp.unlink()

    # -- reading -------------------------------------------------------------
    def get(self, run_id: str) -> RunInfo:
        """One run (KeyError when absent, CorruptRunError when its files are unreadable)."""
        path = self._existing(run_id)
        cfg = _read_json(path / CONFIG_FILE)
        metrics = _read_json(path / METRICS_FILE)
        return run_info(self.workspace, run_id, path, cfg, metrics)

    def list_runs(self) -> RunListing:
        """All runs of the workspace, newest first; unreadable ones are skipped with a warning."""
        if not self.folder.is_dir():
            return RunListing(())
        runs, warnings = [], []
        for entry in sorted(self.folder.iterdir(), key=lambda p: p.name, reverse=True):
            if not entry.is_dir() or not _RUN_ID_RE.fullmatch(entry.name):
                continue  # temporary files and anything that is not a run folder
            try:
                runs.append(self.get(entry.name))
            except (CorruptRunError, KeyError, OSError) as error:
                warnings.append(f"Skipped run {entry.name}: {error}")
        return RunListing(tuple(runs), tuple(warnings))

    def history(self, run_id: str) -> dict:
        """history.json as a dict (empty logs when the run has not finished an epoch yet)."""
        path = self._existing(run_id) / HISTORY_FILE
        if not path.exists():
            return {"epoch": {}, "epochs": [], "batch": {}, "batch_steps": [], "steps_per_epoch": None}
        return _checked_history(_read_json(path))

    def model_path(self, run_id: str) -> Path:
        """The file holding a run's model: model.keras, else the last epoch's checkpoint
        (a run cut off while training); FileNotFoundError when no epoch was saved."""
        folder = self._existing(run_id)
        for name in (MODEL_FILE, CHECKPOINT_FILE):
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(f"run {run_id} has no saved model yet")

    def load_model(self, run_id: str):
        """The saved keras.Model (``safe_mode=True``: no arbitrary code from the file).

        A checkpoint holds only weights: the network is rebuilt from the run's own
        config.json (core.model.build_model) and the weights are set into it.
        """
        import keras

        path = self.model_path(run_id)
        if path.name == MODEL_FILE:
            return keras.saving.load_model(path, safe_mode=True)
        from core.model import build_model
        from core.preprocess import IMAGE_SHAPE

        info = self.get(run_id)
        if info.config is None:
            raise CorruptRunError(f"the checkpoint of run {run_id} cannot be used: {info.config_problem}")
        model = build_model(info.config, input_shape=IMAGE_SHAPE)
        try:
            with np.load(path, allow_pickle=False) as arrays:
                weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
            model.set_weights(weights)
        except (OSError, KeyError, ValueError) as error:
            raise CorruptRunError(f"{CHECKPOINT_FILE} of run {run_id} cannot be read ({error})") from None
        return model

    # -- editing -------------------------------------------------------------
    @staticmethod
    def _valid_name(name: str) -> str:
        if not isinstance(name, str):
            raise ValueError(f"a run name must be text, got {type(name).__name__}")
        if len(name) > NAME_MAX_LENGTH * 4:  # far too long to be a name; shorter ones are cut below
            raise ValueError(f"a run name has at most {NAME_MAX_LENGTH} characters, got {len(name)}")
        # Without control, bidi-override and zero-width characters (core.text.clean_name).
        cleaned = clean_name(name, max_len=NAME_MAX_LENGTH + 1)
        if not cleaned:
            raise ValueError("a run name cannot be empty (or only invisible characters)")
        if len(cleaned) > NAME_MAX_LENGTH:
            raise ValueError(f"a run name has at most {NAME_MAX_LENGTH} characters, got {len(cleaned)}")
        return cleaned

    def rename(self, run_id: str, name: str) -> RunInfo:
        """Give a run a new display name (spaces collapsed; 1..80 characters)."""
        path = self._existing(run_id) / CONFIG_FILE
        cfg = _read_json(path)
        cfg["name"] = self._valid_name(name)
        atomic_write_json(path, cfg)
        return self.get(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run folder (ValueError while it is still training)."""
        path = self._existing(run_id)
        with suppress(CorruptRunError):
            if self.get(run_id).is_active:
                raise ValueError(f"run {run_id} is still training; stop it before deleting it")
        shutil.rmtree(path)
