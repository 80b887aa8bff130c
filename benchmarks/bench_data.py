"""Loading MNIST: core.data.load_dataset vs a bare np.load of the same file.

``load_dataset`` adds validation (shapes, dtypes, label range) and read-only
flags; this shows what that costs next to reading the arrays at all. Prints one
JSON line; the target is a load under 1 s for the local npz.

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_data.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import call_seconds  # first: it puts the repository on sys.path

from core import config
from core.data import NPZ_KEYS, load_dataset


def best_of(repeats: int, work) -> float:
    return min(call_seconds(work, repeats))


def bare_load(path: Path) -> None:
    with np.load(path, allow_pickle=False) as data:
        for key in NPZ_KEYS:
            data[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    path = config.mnist_path()
    if path is None or not path.is_file():
        raise SystemExit("set MNIST_PATH to the real mnist.npz")
    bare = best_of(args.repeats, lambda: bare_load(path))
    ours = best_of(args.repeats, lambda: load_dataset("mnist", path=path))
    print(json.dumps({
        "benchmark": "load_mnist_npz", "bare_np_load_s": round(bare, 3), "load_dataset_s": round(ours, 3),
        "overhead_ratio": round(ours / bare, 2), "target_s": 1.0, "meets_target": ours < 1.0,
    }))


if __name__ == "__main__":
    main()
