"""core.priority: trainings (and TensorFlow's pools) yield the CPU to the class's pages."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from core import config, priority
from core.priority import thread_names, yield_to_the_class

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


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
    assert lowered[0] >= 1 and lowered[1] == 7
    assert nice_of(threading.get_native_id()) == main_before


@linux
def test_tensorflow_pool_threads_are_lowered_by_name():
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
    for name in ("tf_Compute", "not_tensorflow"):
        ready.clear()
        threads.append(threading.Thread(target=pool_thread, args=(name,)))
        threads[-1].start()
        assert ready.wait(10)
    try:
        assert thread_names()[tids["tf_Compute"]] == "tf_Compute"
        in_a_thread(lambda: yield_to_the_class(nice=9))
        assert nice_of(tids["tf_Compute"]) == 9
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
    assert after == 12 and lowered == 0


def test_off_linux_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(priority.sys, "platform", "darwin")
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
    monkeypatch.delenv("PLAYGROUND_TRAINING_NICE", raising=False)
    caller = nice_of(threading.get_native_id())
    job = TrainingJob(book(epochs=1), random_digits(), store=RunStore("nice", root=tmp_path),
                      queue=TrainingQueue(1)).start()
    assert job.join(120) and job.error is None, job.error
    assert seen and all(name.startswith("train-") and nice == 10 for name, nice in seen), seen
    pools = [tid for tid, name in thread_names().items() if name.startswith("tf_")]
    assert pools, "TensorFlow started no pool threads"
    assert all(nice_of(tid) >= 10 for tid in pools)
    assert nice_of(threading.get_native_id()) == caller
