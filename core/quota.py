"""How much disk one workspace's runs take, and whether it may save another run.

Every training leaves a run folder (a Custom 3x1024 model is 33 MB), so a
workspace may hold at most ``PLAYGROUND_MAX_RUNS_PER_WORKSPACE`` runs and
``PLAYGROUND_MAX_WORKSPACE_MB`` megabytes; past either, new trainings are
refused with a message until runs are deleted (by the student on the Train
page, or by the teacher on the Class page).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core import config as settings
from core.runs import RunStore

MB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """A workspace's runs on disk: how many run folders, and their bytes."""

    runs: int
    bytes: int

    @property
    def megabytes(self) -> float:
        return self.bytes / MB


def workspace_usage(store: RunStore) -> Usage:
    """Run folders and bytes under the workspace's folder (files that vanish meanwhile are skipped)."""
    runs = size = 0
    if not store.folder.is_dir():
        return Usage(0, 0)
    for entry in store.folder.iterdir():
        if entry.is_symlink():
            continue  # a link cannot make another folder count here
        if entry.is_dir():
            runs += 1
            paths = [os.path.join(folder, name) for folder, _dirs, files in os.walk(entry) for name in files]
        else:
            paths = [entry]
        for path in paths:
            try:
                size += os.lstat(path).st_size
            except OSError:  # deleted meanwhile
                pass
    return Usage(runs, size)


def quota_problem(store: RunStore, *, max_runs: int | None = None, max_mb: int | None = None) -> str | None:
    """Why the workspace may not start another run (its quota is used up); None when it may."""
    max_runs = settings.max_runs_per_workspace() if max_runs is None else int(max_runs)
    max_mb = settings.max_workspace_mb() if max_mb is None else int(max_mb)
    usage = workspace_usage(store)
    if usage.runs >= max_runs:
        return (f"This workspace holds {usage.runs} runs, the most this server keeps for one workspace "
                f"({max_runs}). Delete runs you no longer need (“Rename, delete, download” below) "
                "to train again.")
    if usage.bytes >= max_mb * MB:
        return (f"This workspace's runs take {usage.megabytes:.0f} MB, the most this server keeps for "
                f"one workspace ({max_mb} MB). Delete runs you no longer need (large Custom models "
                "first; “Rename, delete, download” below) to train again.")
    return None
