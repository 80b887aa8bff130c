"""TensorFlow off the critical path: loaded and traced in a background thread, once per server.

Importing TensorFlow takes several seconds of CPU on a classroom server, and the
first training of a network pays a few tenths more to trace its functions. The
first page any visitor opens calls :func:`start`; a daemon thread then imports
Keras, trains the Book model on a handful of blank images (tracing core.fastfit's
functions) and hands that model to core.model_pool, reset to fresh weights when the
first real Book training takes it out; then it prepares the first visitor's dataset as
network input (core.prepared). Pages that need Keras simply find it loaded.
"""

from __future__ import annotations

import logging
import threading

from core import config as settings

_LOCK = threading.Lock()
_STARTED: list[threading.Thread] = []  # the one warm-up thread of this process, once started
log = logging.getLogger(__name__)


def start(*, dataset=None) -> threading.Thread | None:
    """Start the warm-up once per process (None when ``PLAYGROUND_WARM_UP=0``).

    ``dataset``: a core.data.Dataset whose training and test splits are then prepared
    as the Book network's input (core.prepared), as the first training would.
    """
    if not settings.warm_up():
        return None
    with _LOCK:
        if not _STARTED:
            thread = threading.Thread(target=_warm_up, args=(dataset,), name="tensorflow-warm-up", daemon=True)
            thread.start()
            _STARTED.append(thread)
        return _STARTED[0]


def _warm_up(dataset) -> None:
    try:
        import numpy as np

        from core import fastfit
        from core.model import DEFAULT_PRESET, PRESETS
        from core.model_pool import model_pool
        from core.preprocess import IMAGE_SHAPE, NUM_CLASSES

        from core.priority import yield_to_the_class

        # Before TensorFlow's import (seconds of CPU, in pool.take): the first visitors' pages
        # go first. A page that imports Keras meanwhile waits for the import either way.
        yield_to_the_class()
        config = PRESETS[DEFAULT_PRESET]
        pool = model_pool()
        model = pool.take(config, input_shape=IMAGE_SHAPE)
        x = np.zeros((2 * config.batch_size, int(np.prod(IMAGE_SHAPE))), np.float32)
        y = np.eye(NUM_CLASSES, dtype=np.float32)[np.arange(len(x)) % NUM_CLASSES]
        fastfit.fit(model, x, y, batch_size=config.batch_size, epochs=1, seed=config.seed)
        fastfit.evaluate(model, x, y)
        pool.give_back(config, model, input_shape=IMAGE_SHAPE)  # take() resets it for a real training
        if dataset is not None and tuple(dataset.x_train.shape[1:]) == IMAGE_SHAPE:
            from core.prepared import prepared_splits

            limit = settings.train_limit()  # what the trainings will ask for
            for images, labels in ((dataset.x_train, dataset.y_train), (dataset.x_test, dataset.y_test)):
                prepared_splits().get(images, labels, limit=limit, input_shape=(None, int(np.prod(IMAGE_SHAPE))))
    except Exception:  # a warm-up must never break the app: the first training just pays
        log.warning("the TensorFlow warm-up failed", exc_info=True)
