"""Models kept between trainings of one architecture, so their traced functions are reused.

``core.fastfit`` traces its training function for each model object (a few tenths
of a second, more under load). A class trains the same few networks again and
again, so a finished training hands its model back here, and the next training of
the same architecture takes it out with every variable reset to what a freshly
built model would hold: the weights ``core.model.build_model`` gives for that seed,
a fresh optimizer state. The result is the same training, bit for bit, without the
trace (tests/test_model_pool.py checks the weights against a fresh model's).

A model is out of the pool while one training uses it; a pooled model belongs to
no session (the pages load their models from the run's files), so nothing a page
holds is ever reset under it. Process-wide on purpose, like the training queue.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from core.model import ModelConfig, build_model

#: Idle models kept per architecture (as many as trainings run at once, typically).
MAX_IDLE_PER_ARCHITECTURE = 2
#: Architectures remembered (least recently used ones are dropped).
MAX_ARCHITECTURES = 8


def architecture_key(config: ModelConfig, input_shape: tuple[int, ...]) -> tuple:
    """What a model object's variables and traced functions depend on (not the schedule)."""
    return (config.kind, config.hidden, config.dropout, config.optimizer, config.learning_rate,
            config.loss, tuple(input_shape))


class ModelPool:
    """Idle compiled models by architecture, and their initial state by seed."""

    def __init__(self, *, max_idle: int = MAX_IDLE_PER_ARCHITECTURE, max_architectures: int = MAX_ARCHITECTURES):
        if max_idle < 0 or max_architectures < 1:
            raise ValueError(f"max_idle must be >= 0 and max_architectures >= 1, got {max_idle}, {max_architectures}")
        self.max_idle, self.max_architectures = max_idle, max_architectures
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple, list] = OrderedDict()
        self._initial: dict[tuple, list] = {}  # (architecture, seed) -> the variables' starting values
        self.reused = 0  # how many trainings got a pooled model (tests, benchmarks)

    def take(self, config: ModelConfig, *, input_shape: tuple[int, ...]):
        """A compiled model for ``config`` in the state ``build_model`` would give it."""
        key = architecture_key(config, input_shape)
        with self._lock:
            idle = self._idle.get(key)
            model = idle.pop() if idle else None
            initial = self._initial.get((key, config.seed))
        if model is None:
            model = build_model(config, input_shape=input_shape)
            model.optimizer.build(model.trainable_variables)
            self._remember(key, config.seed, model)
            return model
        if initial is None:  # this architecture, another seed: its starting values, once
            fresh = build_model(config, input_shape=input_shape)
            fresh.optimizer.build(fresh.trainable_variables)
            initial = self._remember(key, config.seed, fresh)
        for variable, value in zip(_state(model), initial):
            variable.assign(value)
        with self._lock:
            self.reused += 1
        return model

    def give_back(self, config: ModelConfig, model, *, input_shape: tuple[int, ...]) -> None:
        """A training is done with ``model`` (never give back a model anyone still uses)."""
        key = architecture_key(config, input_shape)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < self.max_idle:
                idle.append(model)
            while len(self._idle) > self.max_architectures:
                old, _ = self._idle.popitem(last=False)
                for stale in [k for k in self._initial if k[0] == old]:
                    del self._initial[stale]

    def _remember(self, key: tuple, seed: int, model) -> list:
        values = [variable.numpy().copy() for variable in _state(model)]
        with self._lock:
            self._initial[(key, seed)] = values
        return values


def _state(model) -> list:
    """Every variable a training reads or changes: weights, random-seed states, optimizer."""
    return [*model.variables, *model.optimizer.variables]


_POOL_LOCK = threading.Lock()
_POOL: ModelPool | None = None


def model_pool() -> ModelPool:
    """The server process's one pool."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ModelPool()
        return _POOL
