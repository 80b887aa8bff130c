"""How long a CNN training would take on this server now: recent runs and the queue.

``recent_seconds`` reads the CNN runs this server finished (``train_seconds`` in their
metrics.json, scaled to the preset's epochs); ``estimate`` adds the trainings that run
or wait for the queue's slots. A guess in whole rounds, said as one: trainings that
share the cores are already slower in the recorded times.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.runs import FINISHED, RunInfo

#: Recent runs the typical time is the median of.
RECENT_RUNS = 5


@dataclass(frozen=True)
class WaitEstimate:
    """The figures behind the Draw page's sentence."""

    seconds_per_training: float | None  # median of the recent runs; None when none finished here
    recent_runs: int  # how many runs that median is of
    running: int
    waiting: int
    slots: int

    @property
    def rounds_before(self) -> int:
        """Whole trainings' time a new one waits for a slot (0: it starts at once)."""
        ahead = self.running + self.waiting + 1 - self.slots
        return max(0, math.ceil(ahead / self.slots))

    @property
    def seconds(self) -> float | None:
        """From the press of Train to a model, None without a recent run to go by."""
        if self.seconds_per_training is None:
            return None
        return self.seconds_per_training * (1 + self.rounds_before)

    def text(self, preset: str = "CNN") -> str:
        """One sentence for the page."""
        queue = (f"{self.running} training{'s' if self.running != 1 else ''} running and {self.waiting} "
                 f"waiting for {self.slots} slot{'s' if self.slots != 1 else ''}")
        if self.seconds is None:
            return (f"No {preset} run has finished on this server yet, so its time here is unknown "
                    f"(now: {queue}).")
        runs = f"the median of the last {self.recent_runs} {preset} run{'s' if self.recent_runs != 1 else ''} here"
        if self.rounds_before == 0:
            return f"About {duration(self.seconds)} on this server now ({runs}; {queue})."
        return (f"About {duration(self.seconds)} on this server now: {duration(self.seconds_per_training)} to train "
                f"({runs}) after a wait in the queue ({queue}).")


def duration(seconds: float) -> str:
    """``95`` -> ``"1 min 35 s"``; under a minute ``"40 s"``; from an hour ``"1 h 5 min"``."""
    total = max(1, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def recent_seconds(runs: Iterable[RunInfo], *, preset: str = "CNN", epochs: int | None = None,
                   limit: int = RECENT_RUNS) -> list[float]:
    """Training seconds of the newest finished runs of ``preset`` (newest first), each scaled
    to ``epochs`` epochs when given (a student may have trained 2 or 8)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    done = [run for run in runs if run.preset == preset and run.status == FINISHED
            and run.train_seconds and run.epochs_done > 0]
    done.sort(key=lambda run: run.run_id, reverse=True)  # run ids sort by creation time
    return [run.train_seconds * (epochs / run.epochs_done if epochs else 1.0) for run in done[:limit]]


def scan_recent_seconds(root: str | Path | None = None, *, preset: str = "CNN", epochs: int | None = None,
                        limit: int = RECENT_RUNS) -> list[float]:
    """:func:`recent_seconds` over every workspace of the runs folder (one scan)."""
    from core.classroom import ClassIndex

    return recent_seconds((row.info for row in ClassIndex(root).rows()), preset=preset, epochs=epochs, limit=limit)


def estimate(recent: list[float], *, running: int, waiting: int, slots: int) -> WaitEstimate:
    """A WaitEstimate from recent training seconds and the queue's state now."""
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    return WaitEstimate(
        seconds_per_training=statistics.median(recent) if recent else None, recent_runs=len(recent),
        running=max(0, int(running)), waiting=max(0, int(waiting)), slots=int(slots),
    )
