"""core.blas: the server's BLAS on one thread, checked against threadpoolctl's own report."""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from core.blas import use_one_blas_thread


def blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_every_loaded_blas_is_left_on_one_thread():
    import scipy.linalg  # noqa: F401  (a second OpenBLAS, loaded after numpy's)

    with threadpool_limits(limits=2, user_api="blas"):  # as a 2-core server starts; restored after
        if (os.cpu_count() or 1) > 1:
            assert max(blas_threads()) == 2
        use_one_blas_thread()
        assert set(blas_threads()) == {1}
        a = np.arange(12, dtype=np.float64).reshape(3, 4)
        np.testing.assert_allclose(a @ a.T, np.einsum("ij,kj->ik", a, a))  # results unchanged


def test_every_run_of_the_app_asks_for_it(digits_env, monkeypatch):
    # The call's effect is the test above; in a server started the README's way it took a
    # Draw stroke's CPU from 167-174 ms to 59-67 ms (bench_draw.py --browser, core/blas.py).
    from core import blas
    from helpers import open_app

    calls = []
    monkeypatch.setattr(blas, "use_one_blas_thread", lambda: calls.append(1))
    open_app()
    assert calls
