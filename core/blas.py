"""One BLAS thread per call on a shared server: the sessions are the parallelism.

numpy's OpenBLAS splits even one small matrix-vector product (Draw's nearest-image
query, 60,000 codes x one drawing) over every core, and its worker threads then spin
waiting for the next one. On the 2-core classroom server that spinning was most of a
stroke's cost: ``bench_draw.py --browser`` (40 strokes, CNN, same run, twice each)
measured the server's CPU per stroke at 167-174 ms with OpenBLAS's default threads and
63-67 ms with one, the stroke -> prediction time unchanged (median 122-132 ms).
"""

from __future__ import annotations


def use_one_blas_thread() -> None:
    """Limit every BLAS library loaded so far (numpy's, scipy's OpenBLAS) to one thread,
    process-wide and for good. Libraries loaded later keep their default until the next
    call, so the app calls this on every run of app.py (about 2 ms)."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    threadpool_limits(limits=1, user_api="blas")
