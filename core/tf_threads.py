"""One core per training on a shared server: TensorFlow's intra-op pool on one thread.

The server trains ``PLAYGROUND_MAX_TRAININGS`` (= cores) networks at once, so the cores
are already shared out between trainings; TensorFlow's default, every op split over
every core, only adds hand-offs between threads. For the Book's 7,960 weights those
hand-offs are most of a step: ``fastfit.fit`` (Book, 5 epochs, same run) took
1.41-1.91 s with one intra-op thread against 1.93-3.36 s with two, and two trainings at
once 1.5-2.0 s against 2.9-3.6 s. A lone CNN training pays: about 1.4x slower
(2.3-2.4 s against 1.6-1.7 s for 6,000 images), which ``PLAYGROUND_TF_THREADS=0``
(TensorFlow's own default) gives back on a server for one user.

TensorFlow reads ``TF_NUM_INTRAOP_THREADS`` once, when its runtime starts, so this sets
the variable before anything imports TensorFlow; that also keeps TensorFlow's import
(seconds) off app.py's path, which ``tf.config.threading`` would need.
"""

from __future__ import annotations

import os

from core import config as settings

VARIABLE = "TF_NUM_INTRAOP_THREADS"


def limit_intra_op_threads() -> None:
    """Ask TensorFlow for ``PLAYGROUND_TF_THREADS`` (default 1) intra-op threads.

    No effect once TensorFlow's runtime has started, when the setting is 0, or when the
    operator set ``TF_NUM_INTRAOP_THREADS`` themselves (theirs wins).
    """
    threads = settings.tf_threads()
    if threads:
        os.environ.setdefault(VARIABLE, str(threads))
