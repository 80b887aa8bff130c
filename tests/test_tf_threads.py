"""core.tf_threads: TensorFlow's intra-op pool sized by PLAYGROUND_TF_THREADS, before TensorFlow starts."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from core import tf_threads
from core.tf_threads import VARIABLE, limit_intra_op_threads


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.delenv("PLAYGROUND_TF_THREADS", raising=False)
    return monkeypatch


def test_one_thread_by_default(clean_env):
    limit_intra_op_threads()
    assert os.environ[VARIABLE] == "1"


@pytest.mark.parametrize("setting, expected", [("3", "3"), (" 2 ", "2"), ("0", None)])
def test_the_setting_chooses_the_threads_and_0_leaves_tensorflows_default(clean_env, setting, expected):
    clean_env.setenv("PLAYGROUND_TF_THREADS", setting)
    limit_intra_op_threads()
    assert os.environ.get(VARIABLE) == expected


@pytest.mark.parametrize("setting", ["-2", "many", "1.5"])
def test_a_bad_setting_means_one_thread_with_a_warning(clean_env, setting):
    clean_env.setenv("PLAYGROUND_TF_THREADS", setting)
    with pytest.warns(RuntimeWarning, match="PLAYGROUND_TF_THREADS"):
        limit_intra_op_threads()
    assert os.environ[VARIABLE] == "1"


def test_the_operators_own_variable_wins(clean_env):
    clean_env.setenv(VARIABLE, "4")
    limit_intra_op_threads()
    assert os.environ[VARIABLE] == "4"


def test_every_run_of_the_app_asks_for_it(digits_env, monkeypatch):
    from helpers import open_app

    calls = []
    monkeypatch.setattr(tf_threads, "limit_intra_op_threads", lambda: calls.append(1))
    open_app()
    assert calls


THREADS_AFTER_AN_OP = """
import os
from core.tf_threads import limit_intra_op_threads
limit_intra_op_threads()  # before TensorFlow is imported, as app.py does
import tensorflow as tf
tf.matmul(tf.ones((200, 200)), tf.ones((200, 200)))  # the runtime and its pools start here
print(len(os.listdir("/proc/self/task")))
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_tensorflow_starts_that_many_intra_op_threads():
    # More intra-op threads asked for, more threads started (the exact count is TensorFlow's).
    def threads(setting: str) -> int:
        env = {k: v for k, v in os.environ.items() if k != VARIABLE}
        env.update(PLAYGROUND_TF_THREADS=setting, TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([sys.executable, "-c", THREADS_AFTER_AN_OP], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300, check=True)
        return int(out.stdout.split()[-1])

    one, three = threads("1"), threads("3")
    assert three > one
