"""core.priority: trainings (and TensorFlow's pools) yield the CPU to the class's pages."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from core import config, priority
from core.priority import thread_names, yield_to_the_class

def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def _can_lower_a_thread() -> bool:
    out = []

    def probe():
        tid = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, tid, min(19, nice_of(tid) + 1))
            out.append(True)
        except OSError:  # a sandbox that forbids it
            out.append(False)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(10)
    return bool(out and out[0])


linux = pytest.mark.skipif(not (sys.platform.startswith("linux") and _can_lower_a_thread()),
                           reason="per-thread nice values are Linux's, and this process may not lower a thread")
BASE = nice_of(threading.get_native_id())  # the test process's own (pytest may run under nice)


def at_least(nice: int) -> int:
    """What a thread lowered to ``nice`` reads: its own value when that was lower already."""
    return max(BASE, nice)


def in_a_thread(work, *, name: str | None = None):
    """Run ``work()`` in a new thread (its OS name set to ``name``); (its native id, its result)."""
    out = {}

    def run():
        out["tid"] = threading.get_native_id()
        if name:  # the name the kernel shows, as TensorFlow's own pool threads have
            with open(f"/proc/self/task/{out['tid']}/comm", "w") as comm:
                comm.write(name)
        out["result"] = work()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return out["tid"], out.get("result")


@pytest.mark.parametrize("setting, expected", [("", 10), ("0", 0), ("5", 5), ("40", 19)])
def test_the_setting(monkeypatch, setting, expected):
    monkeypatch.setenv("PLAYGROUND_TRAINING_NICE", setting)
    assert config.training_nice() == expected


@pytest.mark.parametrize("setting", ["-3", "low", "2.5"])
def test_a_bad_setting_means_10_with_a_warning(monkeypatch, setting):
    monkeypatch.setenv("PLAYGROUND_TRAINING_NICE", setting)
    with pytest.warns(RuntimeWarning, match="PLAYGROUND_TRAINING_NICE"):
        assert config.training_nice() == 10


@linux
def test_the_calling_thread_is_lowered_and_the_others_are_not():
    main_before = nice_of(threading.get_native_id())
    tid, lowered = in_a_thread(lambda: (yield_to_the_class(nice=7), nice_of(threading.get_native_id())))
    assert lowered[0] >= 1 and lowered[1] == at_least(7)
    assert nice_of(threading.get_native_id()) == main_before


@linux
def test_tensorflow_pool_threads_are_lowered_by_name(monkeypatch):
    monkeypatch.setattr(priority, "TENSORFLOW_POOLS", "tftest_")  # not this process's real pools
    release = threading.Event()
    ready = threading.Event()
    tids = {}

    def pool_thread(name):
        tids[name] = threading.get_native_id()
        with open(f"/proc/self/task/{tids[name]}/comm", "w") as comm:
            comm.write(name)
        ready.set()
        release.wait(30)

    threads = []
    for name in ("tftest_Compute", "not_tensorflow"):
        ready.clear()
        threads.append(threading.Thread(target=pool_thread, args=(name,)))
        threads[-1].start()
        assert ready.wait(10)
    try:
        assert thread_names()[tids["tftest_Compute"]] == "tftest_Compute"
        in_a_thread(lambda: yield_to_the_class(nice=9))
        assert nice_of(tids["tftest_Compute"]) == at_least(9)
        assert nice_of(tids["not_tensorflow"]) == nice_of(threading.get_native_id())  # as its creator
    finally:
        release.set()
        for thread in threads:
            thread.join(10)


@linux
def test_a_thread_is_never_raised_back_and_0_changes_nothing():
    def work():
        yield_to_the_class(nice=12)
        yield_to_the_class(nice=4)  # lowering it again would need privileges: it stays at 12
        after_lower = nice_of(threading.get_native_id())
        return after_lower, yield_to_the_class(nice=0)

    _, (after, lowered) = in_a_thread(work)
    assert after == at_least(12) and lowered == 0


def test_off_linux_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(priority, "LINUX", False)
    assert yield_to_the_class(nice=10) == 0


@linux
def test_a_training_runs_lowered_and_leaves_the_callers_thread_alone(tmp_path, monkeypatch):
    from core.queue import TrainingQueue
    from core.runs import RunStore
    from core.training import TrainingJob
    from test_training import book, random_digits

    seen = []
    real = priority.yield_to_the_class

    def spy(**kwargs):
        lowered = real(**kwargs)
        seen.append((threading.current_thread().name, nice_of(threading.get_native_id())))
        return lowered

    monkeypatch.setattr(priority, "yield_to_the_class", spy)
    monkeypatch.setattr(priority, "TENSORFLOW_POOLS", "tftest_")  # leave this process's real pools alone
    monkeypatch.delenv("PLAYGROUND_TRAINING_NICE", raising=False)  # the default, 10 (conftest sets 0)
    caller = nice_of(threading.get_native_id())
    job = TrainingJob(book(epochs=1), random_digits(), store=RunStore("nice", root=tmp_path),
                      queue=TrainingQueue(1)).start()
    assert job.join(120) and job.error is None, job.error
    assert seen and all(name.startswith("train-") and nice == at_least(10) for name, nice in seen), seen
    # The name the real server lowers by: TensorFlow's pools must still be called so.
    assert any(name.startswith("tf_") for name in thread_names().values()), thread_names()
    assert nice_of(threading.get_native_id()) == caller
