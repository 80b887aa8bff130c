"""What the benchmark scripts share: the repository on ``sys.path``, quiet TensorFlow, the real
MNIST, and TensorFlow's thread options.

A script imports it before anything from the repository (``python benchmarks/x.py`` puts
``benchmarks/`` on ``sys.path``, so ``import _common`` finds it).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def real_mnist():
    """``core.data``'s MNIST from ``MNIST_PATH`` (a Dataset); exits when that is unset or not the real one."""
    path = os.environ.get("MNIST_PATH")
    if not path:
        sys.exit("set MNIST_PATH to the real mnist.npz")
    from core.data import load_dataset

    data = load_dataset("mnist", path=path, use_keras=False)
    if data.is_standin:
        sys.exit(f"MNIST_PATH={path} did not load the real MNIST: {data.warnings}")
    return data


def load_mnist():
    """The real MNIST as the book's ``mnist.load_data()`` returns it: ((x_train, y_train), (x_test, y_test))."""
    import numpy as np

    data = real_mnist()
    return (np.asarray(data.x_train), np.asarray(data.y_train)), (np.asarray(data.x_test), np.asarray(data.y_test))


def call_seconds(fn, repeats: int) -> list[float]:
    """How long each of ``repeats`` calls of ``fn()`` took, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def add_thread_options(parser: argparse.ArgumentParser) -> None:
    """``--intra N`` and ``--inter N``: TensorFlow's thread pools (see :func:`apply_thread_options`)."""
    parser.add_argument("--intra", type=int, default=None, help="tf intra-op threads")
    parser.add_argument("--inter", type=int, default=None, help="tf inter-op threads")


def apply_thread_options(args: argparse.Namespace) -> None:
    """Set the thread pools ``--intra`` / ``--inter`` asked for; call before TensorFlow runs its first op."""
    import tensorflow as tf

    if args.intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(args.intra)
    if args.inter is not None:
        tf.config.threading.set_inter_op_parallelism_threads(args.inter)
