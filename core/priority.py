"""Background work yields to the class: trainings run at a lower CPU priority.

A server trains ``PLAYGROUND_MAX_TRAININGS`` networks at once, one per core, so two
trainings fill both cores of a 2-core classroom server, and a student's stroke, click or
page waits behind them: with 30 students drawing while two trainings ran, a stroke's
prediction took 2.6 s (median) instead of 35 ms (benchmarks/bench_classroom.py, docs/NOTES.md).
A thread with a higher nice value gets the CPU only when no normal thread wants it, so the
cores a class leaves idle still train at full speed, and interactive work goes first.

TensorFlow runs a training's ops on its own process-wide pools (threads named ``tf_*``,
created at its first op, by whichever thread that is); they are lowered too. Linux only
(threads have their own nice value there); elsewhere nothing changes.
"""

from __future__ import annotations

import os
import sys
import threading

from core import config as settings

TENSORFLOW_POOLS = "tf_"  # the prefix of the thread names TensorFlow gives its pools
LINUX = sys.platform.startswith("linux")  # where a thread has a nice value of its own


def _lower(tid: int, nice: int) -> bool:
    """Raise thread ``tid``'s nice value to ``nice`` (never lower it: that needs privileges)."""
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except OSError:  # the thread ended meanwhile, or a sandbox forbids it: priority is a nicety
        return False


def thread_names() -> dict[int, str]:
    """This process's threads: native id -> name (Linux's /proc; {} elsewhere)."""
    names = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return {}
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                names[int(tid)] = comm.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
    return names


def yield_to_the_class(*, nice: int | None = None) -> int:
    """Lower the calling thread and TensorFlow's pool threads to ``nice`` at least
    (default ``PLAYGROUND_TRAINING_NICE``, 10; 0 leaves them alone). Returns how many
    threads are now at ``nice`` or lower in priority (0 off Linux).

    Called by a training's worker (and the warm-up) before its first TensorFlow op and
    again once TensorFlow has started, so pools created in between are caught too. The
    pools are the process's: once lowered, every TensorFlow op of the server runs on
    them, a page's too (Draw's prediction does not: core/forward.py).
    """
    nice = settings.training_nice() if nice is None else int(nice)
    if nice <= 0 or not LINUX:
        return 0
    lowered = int(_lower(threading.get_native_id(), nice))
    for tid, name in thread_names().items():
        if name.startswith(TENSORFLOW_POOLS):
            lowered += _lower(tid, nice)
    return lowered
