"""The teacher's view of a class: every workspace's runs, leaderboards, who trains now.

:class:`ClassIndex` scans ``<runs root>/<workspace>/<run-id>/`` on every refresh
but reads a file again only when it changed (same inode, mtime and size: the
cached copy is used), so a page refreshing every 2 s over a class of thirty
costs a few hundred ``stat`` calls, not a few hundred JSON reads.

Rows name a student by display name (``core.profile``), never by workspace id:
the id opens that student's runs to whoever sees it. :attr:`ClassRow.workspace`
and :attr:`ClassRow.run_id` are there for the page's own use (Stop, the curves
of a clicked point) and are in neither :meth:`ClassRow.public` nor the CSV; the
CSV tells two students of the same name apart by ``core.profile.short_tag``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import config as settings
from core import profile
from core.runs import (
    CONFIG_FILE,
    METRICS_FILE,
    QUEUED,
    RUNNING,
    RunInfo,
    _RUN_ID_RE,
    _WORKSPACE_RE,
    run_info,
)

#: Columns of :meth:`ClassRow.public` and of the CSV, in order.
PUBLIC_COLUMNS = (
    "student", "run", "preset", "optimizer", "learning_rate", "batch_size", "epochs",
    "test_accuracy", "status", "started",
)
CSV_COLUMNS = (
    "student", "student_tag", "run", "preset", "kind", "optimizer", "learning_rate", "batch_size",
    "epochs_done", "epochs_planned", "test_accuracy", "test_loss", "status", "created", "train_seconds",
)


@dataclass(frozen=True)
class ClassRow:
    """One run of one student, as the Class page shows it."""

    student: str  # the display name (escape it before putting it in markdown)
    student_tag: str  # core.profile.short_tag(workspace)
    info: RunInfo = field(repr=False)

    @property
    def workspace(self) -> str:
        """For the page's own use only (never shown, never exported)."""
        return self.info.workspace

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def key(self) -> str:
        """An opaque handle for widget keys and chart points (``opaque_key``)."""
        return opaque_key(self.info.workspace, self.info.run_id)

    @property
    def preset(self) -> str:
        return self.info.preset

    @property
    def optimizer(self) -> str:
        return self.info.config.optimizer if self.info.config is not None else ""

    @property
    def learning_rate(self) -> float | None:
        return float(self.info.config.learning_rate) if self.info.config is not None else None

    @property
    def batch_size(self) -> int | None:
        return int(self.info.config.batch_size) if self.info.config is not None else None

    @property
    def test_accuracy(self) -> float | None:
        return self.info.test_accuracy

    @property
    def epochs_done(self) -> int:
        return self.info.epochs_done

    @property
    def started(self) -> str:
        """Creation time as "HH:MM" (UTC), "" when unknown."""
        created = self.info.created
        return created[11:16] if len(created) >= 16 and created[10] == "T" else ""

    def public(self) -> dict[str, Any]:
        """What the projected table shows (``PUBLIC_COLUMNS``): no ids."""
        info = self.info
        return {
            "student": self.student,
            "run": info.name,
            "preset": self.preset,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "epochs": f"{info.epochs_done}/{info.epochs_planned}",
            "test_accuracy": info.test_accuracy,
            "status": info.status_text,
            "started": self.started,
        }


@dataclass(frozen=True)
class LeaderboardEntry:
    place: int  # 1 = best; equal accuracies share a place ("1, 1, 3")
    student: str
    test_accuracy: float
    epochs: int
    run: str


@dataclass(frozen=True)
class ChartPoint:
    """A run on the class chart; ``index`` is its position in the rows given, ``key`` its ClassRow.key."""

    index: int
    key: str
    epochs: int
    test_accuracy: float
    preset: str
    student: str
    run: str


@dataclass(frozen=True)
class LiveEntry:
    """A job that trains or waits now; ``job`` is for the page's Stop button."""

    student: str
    run: str
    preset: str
    status: str  # "running" | "queued"
    place: int | None  # in the queue, 1 = next; None while running
    progress: str
    fraction: float
    stop_requested: bool
    key: str  # opaque_key of the job's run, for the Stop button's widget key
    job: Any = field(repr=False, compare=False)


def opaque_key(workspace: str, run_id: str) -> str:
    """12 hex digits standing for a run in the browser (widget keys, chart points travel
    to the browser; the ids must not)."""
    return hashlib.sha256(f"{workspace}/{run_id}".encode("utf-8")).hexdigest()[:12]


class ClassIndex:
    """Every workspace's runs under ``root``, re-reading only files that changed.

    ``reads`` counts the files actually read (the cache's tests use it). Keep one
    index per page session (``st.session_state``); it holds only parsed JSON.
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else settings.runs_dir()
        self.reads = 0
        self.skipped = 0  # unreadable runs in the last scan
        self._files: dict[Path, tuple[tuple[int, int, int], Any]] = {}

    def __repr__(self) -> str:
        return f"ClassIndex(root={str(self.root)!r}, cached_files={len(self._files)})"

    def _json(self, path: Path, seen: set[Path]) -> Any:
        """The parsed file (cached by inode, mtime and size); None when missing or unreadable."""
        try:
            stat = path.stat()
        except OSError:
            return None
        seen.add(path)
        # os.replace gives a rewritten file a new inode, so even a same-size rewrite
        # within one mtime tick is noticed.
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        self.reads += 1
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            value = None
        self._files[path] = (key, value)
        return value

    @staticmethod
    def _dirs(folder: Path, pattern) -> list[str]:
        try:
            with os.scandir(folder) as entries:
                return sorted(e.name for e in entries if pattern.fullmatch(e.name) and e.is_dir())
        except OSError:
            return []

    def _name(self, workspace: str, seen: set[Path]) -> str:
        payload = self._json(self.root / workspace / profile.PROFILE_FILE, seen)
        name = profile.clean_display_name(payload.get("display_name")) if isinstance(payload, dict) else ""
        return name or profile.anonymous_name(workspace)

    def display_names(self) -> dict[str, str]:
        """workspace id -> display name, for every workspace folder (for the live list)."""
        seen: set[Path] = set()
        return {ws: self._name(ws, seen) for ws in self._dirs(self.root, _WORKSPACE_RE)}

    def rows(self) -> list[ClassRow]:
        """Every readable run of every workspace, newest first."""
        seen: set[Path] = set()
        rows, skipped = [], 0
        for workspace in self._dirs(self.root, _WORKSPACE_RE):
            student, tag = self._name(workspace, seen), profile.short_tag(workspace)
            folder = self.root / workspace
            for run_id in self._dirs(folder, _RUN_ID_RE):
                path = folder / run_id
                cfg, metrics = self._json(path / CONFIG_FILE, seen), self._json(path / METRICS_FILE, seen)
                if not isinstance(cfg, dict) or not isinstance(metrics, dict):
                    skipped += 1  # being created, or broken: the student's own page explains it
                    continue
                try:
                    info = run_info(workspace, run_id, path, cfg, metrics)
                except (TypeError, ValueError):
                    skipped += 1
                    continue
                rows.append(ClassRow(student=student, student_tag=tag, info=info))
        # Forget deleted runs, so the cache never outgrows what is on disk.
        for path in [p for p in self._files if p not in seen]:
            del self._files[path]
        self.skipped = skipped
        rows.sort(key=lambda row: row.run_id, reverse=True)
        return rows


def leaderboard(rows: Iterable[ClassRow], *, preset: str, per_student: bool = True,
                limit: int | None = None) -> list[LeaderboardEntry]:
    """The runs of ``preset`` that have a test accuracy, best first.

    ``per_student``: only each student's best run (so one student cannot fill the
    board). Ties keep the earlier run first and share its place.
    """
    if limit is not None and int(limit) < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    scored = sorted(
        (row for row in rows if row.preset == preset and row.test_accuracy is not None),
        key=lambda row: (-row.test_accuracy, row.run_id),
    )
    if per_student:
        best: dict[str, ClassRow] = {}
        for row in scored:
            best.setdefault(row.workspace, row)
        scored = list(best.values())  # dicts keep insertion order: still best first
    entries: list[LeaderboardEntry] = []
    for i, row in enumerate(scored[:limit] if limit is not None else scored):
        tied = entries and entries[-1].test_accuracy == row.test_accuracy
        entries.append(LeaderboardEntry(
            place=entries[-1].place if tied else i + 1, student=row.student,
            test_accuracy=row.test_accuracy, epochs=row.epochs_done, run=row.info.name,
        ))
    return entries


def presets_in(rows: Iterable[ClassRow]) -> list[str]:
    """The presets the rows use, the built-in ones first in menu order, then "Custom"."""
    from core.model import PRESETS

    used = {row.preset for row in rows}
    return [name for name in PRESETS if name in used] + sorted(used - set(PRESETS))


def class_chart_points(rows: Sequence[ClassRow]) -> list[ChartPoint]:
    """A point per run with a test accuracy: x = epochs trained, y = test accuracy."""
    return [
        ChartPoint(index=i, key=row.key, epochs=row.epochs_done, test_accuracy=row.test_accuracy, preset=row.preset,
                   student=row.student, run=row.info.name)
        for i, row in enumerate(rows) if row.test_accuracy is not None
    ]


def class_csv(rows: Iterable[ClassRow]) -> str:
    """The rows as CSV text (``CSV_COLUMNS``; no workspace or run ids)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        info = row.info
        values = [
            row.student, row.student_tag, info.name, row.preset, info.config.kind if info.config is not None else "",
            row.optimizer, row.learning_rate, row.batch_size, info.epochs_done, info.epochs_planned,
            info.test_accuracy, info.test_loss, info.status, info.created, info.train_seconds,
        ]
        writer.writerow([_csv_safe(v) for v in values])
    return out.getvalue()


def _csv_safe(value: Any) -> str:
    """A cell as text; a leading = + - @ is quoted with ' so a spreadsheet never runs it as a formula."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def live_entries(jobs: Iterable[Any], *, display_name: Callable[[str], str]) -> list[LiveEntry]:
    """Who trains now and who waits (with their place): running first, then the queue in order.

    ``jobs``: ``core.queue.all_live_jobs()``; ``display_name(workspace)`` names a student.
    """
    entries = []
    for job in jobs:
        snap = job.snapshot()
        if snap.status not in (RUNNING, QUEUED):
            continue
        entries.append(LiveEntry(
            student=display_name(job.workspace), run=job.name, preset=str(getattr(job.config, "name", "")),
            status=snap.status, place=snap.queue_place if snap.status == QUEUED else None,
            progress=snap.progress_line, fraction=snap.history.fraction,
            stop_requested=job.stop_requested, key=opaque_key(job.workspace, job.run_id), job=job,
        ))
    entries.sort(key=lambda e: (e.status != RUNNING, e.place or 0))
    return entries
