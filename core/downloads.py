"""The files a run can be downloaded as: its history as CSV, its Keras script, its model.

Each function reads a run through a :class:`core.runs.RunStore` and returns the
file's contents, ready for a download button.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from core.runs import MODEL_FILE, RunStore

HISTORY_LEVELS = ("epoch", "batch")
#: The columns model.fit's History lists first.
KERAS_ORDER = ("loss", "accuracy", "val_loss", "val_accuracy", "batch_loss", "batch_accuracy")


def history_csv(store: RunStore, run_id: str, *, level: str = "epoch") -> str:
    """The per-epoch (or per-batch) logs as CSV text, one row per epoch (or batch)."""
    if level not in HISTORY_LEVELS:
        raise ValueError(f"level must be 'epoch' or 'batch', got {level!r}")
    history = store.history(run_id)
    logs = history.get(level) or {}
    if level == "epoch":
        index_name, index = "epoch", [e + 1 for e in history.get("epochs", [])]
    else:
        index_name, index = "step", list(history.get("batch_steps", []))
    # model.fit's order (loss, accuracy, then validation), whatever order the file kept.
    keys = sorted(logs, key=lambda k: (KERAS_ORDER.index(k) if k in KERAS_ORDER else len(KERAS_ORDER), k))
    rows = max([len(index)] + [len(v) for v in logs.values()])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([index_name, *keys])
    for i in range(rows):
        row = [index[i] if i < len(index) else i + 1]
        for key in keys:
            values = logs[key]
            value = values[i] if i < len(values) else None
            row.append("" if value is None else repr(float(value)))
        writer.writerow(row)
    return out.getvalue()


def model_bytes(store: RunStore, run_id: str) -> bytes:
    """The run's .keras file (FileNotFoundError when no epoch was saved).

    A run cut off while training has only its last epoch's weights: the model is
    rebuilt from them and written as a .keras file, so every download is one.
    """
    path = store.model_path(run_id)
    if path.name == MODEL_FILE:
        return path.read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / MODEL_FILE
        store.load_model(run_id).save(target)
        return target.read_bytes()


def script(store: RunStore, run_id: str) -> str:
    """The complete Keras script that trains this run's configuration (a .py text).

    ValueError when the run's settings do not parse (``RunInfo.config_problem`` says why).
    """
    from core.export import keras_script

    info = store.get(run_id)
    if info.config is None:
        raise ValueError(f"run {run_id} has no script: {info.config_problem}")
    return keras_script(info.config, dataset_name=info.dataset)
