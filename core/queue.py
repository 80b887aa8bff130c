"""The server-wide training queue and the registry of jobs still training in this process.

The CPU cores are shared by every session, so at most ``PLAYGROUND_MAX_TRAININGS``
trainings run at once (:func:`training_queue`); the others wait in order. A
refreshed page (a new session with the same ``?ws=``) finds its job again
through :func:`live_jobs`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from core import config as settings

if TYPE_CHECKING:
    from core.training import TrainingJob

#: How often a queued job re-checks its place and the stop button.
QUEUE_POLL_S = 0.2


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


# Jobs still training in this server, by workspace, so that a refreshed page
# (a new session with the same ?ws=) finds its live view again.
_LIVE_LOCK = threading.Lock()
_LIVE_JOBS: dict[str, list[TrainingJob]] = {}


def all_live_jobs() -> list[TrainingJob]:
    """Every job queued or training in this process, all workspaces, oldest run first (the Class page)."""
    with _LIVE_LOCK:
        jobs = [job for jobs in _LIVE_JOBS.values() for job in jobs if not job.done]
    return sorted(jobs, key=lambda job: job.run_id)  # run ids sort by creation time


def live_jobs(workspace: str) -> list[TrainingJob]:
    """The jobs of a workspace that are queued or training in this process, oldest first."""
    with _LIVE_LOCK:
        return [job for job in _LIVE_JOBS.get(workspace, []) if not job.done]


def register(job: TrainingJob) -> None:
    """Record a job that starts (it leaves with :func:`unregister` when its thread ends)."""
    with _LIVE_LOCK:
        _LIVE_JOBS.setdefault(job.workspace, []).append(job)


def unregister(job: TrainingJob) -> None:
    with _LIVE_LOCK:
        jobs = _LIVE_JOBS.get(job.workspace, [])
        if job in jobs:
            jobs.remove(job)
        if not jobs:
            _LIVE_JOBS.pop(job.workspace, None)


# -- fairness: who may add a training to the queue (docs/NOTES.md, "Limits") -------------------
#: Live trainings (queued or running) one workspace, or one browser, may have at once.
JOBS_PER_WORKSPACE = 1
JOBS_PER_CLIENT = 1
#: Held by a page while it checks :func:`admission_problem` and starts the job, so two
#: tabs pressing Train at the same moment cannot both pass the check.
ADMISSION_LOCK = threading.Lock()


def admission_problem(workspace: str, *, client: str | None = None, max_queue: int | None = None) -> str | None:
    """Why a new training of ``workspace`` (asked for by browser ``client``) may not start now; None when it may.

    One live training per workspace and per browser (several tabs, several fresh
    workspaces), and at most ``max_queue`` (default ``PLAYGROUND_MAX_QUEUE``)
    trainings waiting for a slot server-wide. The waiting ones start first come,
    first served (:class:`TrainingQueue`).
    """
    from core.runs import QUEUED

    jobs = all_live_jobs()
    own = [job for job in jobs if job.workspace == workspace]
    if len(own) >= JOBS_PER_WORKSPACE:
        job = own[0]
        state = "waiting in the queue" if job.status == QUEUED else "training"
        return (f"This workspace already has a training {state} (“{job.name}”, perhaps in another tab). "
                "One training per workspace at a time, so that every student gets a turn: wait for it "
                "to end, or stop it first.")
    if client is not None:
        theirs = [job for job in jobs if getattr(job, "client", None) == client]
        if len(theirs) >= JOBS_PER_CLIENT:
            return ("This browser already has a training going in another workspace "
                    f"(“{theirs[0].name}”). One training per browser at a time, so that every student "
                    "gets a turn: wait for it to end, or stop it first.")
    limit = settings.max_queue() if max_queue is None else int(max_queue)
    waiting = sum(1 for job in jobs if job.status == QUEUED)
    if waiting >= limit:
        return (f"The server's training queue is full: {waiting} trainings are already waiting "
                f"(at most {limit}). Try again in a few minutes, when some have finished.")
    return None
