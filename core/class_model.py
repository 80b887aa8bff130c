"""The class model: one finished run the teacher shares with every session of the server.

The teacher's choice is ``<runs root>/class_model.json`` (``{"workspace": ..., "run_id": ...}``,
written atomically, ids validated before they touch a path); without that file the
setting ``PLAYGROUND_CLASS_MODEL=<workspace>/<run-id>`` names it (servers without a
Class page). :func:`resolve` turns the choice into a :class:`ClassModelRun` or raises
:class:`ClassModelProblem` with a sentence for the page (deleted, broken, no model).

The model itself is loaded by :func:`load_shared` once per process (``ui.runs`` caches
it with ``st.cache_resource``) and made read-only: its weights are set non-trainable
and nothing ever compiles or fits it, so every session may call it
(``model(x, training=False)`` only reads the weights).
"""

from __future__ import annotations

import os
import zipfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import config as settings
from core.runs import (
    COMPLETED_STATUSES,
    MODEL_FILE,
    CorruptRunError,
    RunInfo,
    RunStore,
    _read_json,
    atomic_write_json,
    validate_run_id,
    validate_workspace,
)

CHOICE_FILE = "class_model.json"
ENV_VAR = "PLAYGROUND_CLASS_MODEL"


class ClassModelProblem(Exception):
    """A class model is named but cannot be used (``str()``: why, for the page)."""


@dataclass(frozen=True)
class ClassModelRef:
    """Which run is the class model, and who said so ("teacher": the file; "setting": the env)."""

    workspace: str
    run_id: str
    source: str = "teacher"

    def __post_init__(self):
        validate_workspace(self.workspace)
        validate_run_id(self.run_id)

    def __str__(self) -> str:
        return f"{self.workspace}/{self.run_id}"


@dataclass(frozen=True)
class ClassModelRun:
    """A resolved class model: the run, its model file and that file's mtime (the cache key)."""

    ref: ClassModelRef
    info: RunInfo
    model_path: Path
    mtime_ns: int

    def is_run(self, run: RunInfo | None) -> bool:
        """Whether ``run`` is this class model's run."""
        return run is not None and (run.workspace, run.run_id) == (self.ref.workspace, self.ref.run_id)


def parse_ref(text: str, *, source: str = "setting") -> ClassModelRef:
    """``"<workspace>/<run-id>"`` -> ClassModelRef (ValueError naming the problem)."""
    if not isinstance(text, str) or text.count("/") != 1:
        raise ValueError(f"{ENV_VAR} must be <workspace>/<run-id>")
    workspace, run_id = text.strip().split("/")
    try:
        return ClassModelRef(workspace.lower(), run_id, source=source)
    except ValueError:  # the ids are not repeated: a workspace id opens its runs to whoever reads it
        raise ValueError(f"{ENV_VAR} must be <workspace>/<run-id>, with a valid workspace and run id") from None


def choice_path(root: str | Path | None = None) -> Path:
    return (Path(root) if root is not None else settings.runs_dir()) / CHOICE_FILE


def read_choice(root: str | Path | None = None) -> ClassModelRef | None:
    """The teacher's choice (the file), else the setting; None when neither names a run.

    A broken file or setting raises ClassModelProblem (the page says so and goes on
    without a class model)."""
    path = choice_path(root)
    if path.is_file():
        try:
            payload = _read_json(path)
            return ClassModelRef(str(payload.get("workspace")), str(payload.get("run_id")), source="teacher")
        except (CorruptRunError, ValueError):  # no detail: it would name the workspace
            raise ClassModelProblem(f"the teacher's choice ({CHOICE_FILE}) cannot be read") from None
    text = settings.class_model()
    if text is None:
        return None
    try:
        return parse_ref(text, source="setting")
    except ValueError as error:
        raise ClassModelProblem(str(error)) from None


def write_choice(workspace: str, run_id: str, *, root: str | Path | None = None) -> ClassModelRun:
    """Make a usable run the class model for the whole server (survives restarts)."""
    ref = ClassModelRef(validate_workspace(workspace), validate_run_id(run_id), source="teacher")
    resolved = _resolve(ref, root)  # refuse a run that cannot be used, before writing
    path = choice_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"workspace": ref.workspace, "run_id": ref.run_id})
    return resolved


def clear_choice(*, root: str | Path | None = None) -> None:
    """Stop sharing the teacher's choice (``PLAYGROUND_CLASS_MODEL`` applies again, when set)."""
    with suppress(FileNotFoundError):
        os.unlink(choice_path(root))


def _resolve(ref: ClassModelRef, root) -> ClassModelRun:
    store = RunStore(ref.workspace, root=root)
    try:
        info = store.get(ref.run_id)
    # The messages never name the workspace: every student reads them.
    except KeyError:
        raise ClassModelProblem("the class model's run no longer exists (deleted?)") from None
    except CorruptRunError:  # (its detail may hold a path, hence the workspace)
        raise ClassModelProblem("the class model's run cannot be read (its files are broken)") from None
    if info.is_active:
        raise ClassModelProblem(f"the class model's run “{info.name}” is still training")
    if info.status not in COMPLETED_STATUSES:
        raise ClassModelProblem(f"the class model's run “{info.name}” did not finish ({info.status_text})")
    try:
        model_path = store.model_path(ref.run_id)
        mtime_ns = model_path.stat().st_mtime_ns
    except OSError:
        raise ClassModelProblem(f"the class model's run “{info.name}” has no saved model") from None
    # A .keras file is a zip: a file that is none is known broken without importing Keras
    # (the sidebar of the light pages resolves the class model too).
    if model_path.name != MODEL_FILE or not zipfile.is_zipfile(model_path):
        raise ClassModelProblem(f"the class model's file is corrupt (run “{info.name}”: not a .keras file)")
    return ClassModelRun(ref=ref, info=info, model_path=model_path, mtime_ns=mtime_ns)


def resolve(root: str | Path | None = None) -> ClassModelRun | None:
    """The class model's run now (None when none is named; ClassModelProblem when it cannot be used)."""
    ref = read_choice(root)
    return None if ref is None else _resolve(ref, root)


def load_shared(model_path: str | Path):
    """The model of ``model_path`` made read-only for sharing: every weight non-trainable,
    never compiled for training here. Raises ClassModelProblem when the file does not load."""
    import keras

    try:
        model = keras.saving.load_model(Path(model_path), safe_mode=True, compile=False)
    except Exception as error:  # a corrupt zip, a foreign file: the page says so (not the path)
        raise ClassModelProblem(
            f"the class model's file could not be loaded ({type(error).__name__}; corrupt?)") from None
    # Freezing documents (and enforces for fit) that nobody trains the shared copy.
    model.trainable = False
    return model


#: Test images per model call when predicting for the whole class.
PREDICT_BATCH = 2048


def shared_predictions(model, images: np.ndarray) -> np.ndarray:
    """(N, n_classes) float32 test-set probabilities, read-only (shared by every session)."""
    from core.preprocess import model_input

    # model(x, training=False) in batches, never model.predict: predict builds and keeps a
    # predict_function on the model object, and this one object is every session's.
    x = model_input(images, input_shape=model.input_shape)
    probs = np.concatenate([np.asarray(model(x[i:i + PREDICT_BATCH], training=False), np.float32)
                            for i in range(0, len(x), PREDICT_BATCH)])
    probs.setflags(write=False)
    return probs
