"""Lesson links: a URL that opens the Train page preset for everybody in a class.

``make_link("http://host:8501/train", preset="CNN", epochs=3, batch=128, lock=True)``
gives ``http://host:8501/train?preset=CNN&epochs=3&batch=128&lock=1``. The Train
page reads its query parameters with :func:`parse_lesson_params`: a value that is
unknown, malformed or out of range is dropped with a note for the page to show
(never raised, never passed on). The notes never repeat the value itself, so a
hostile link cannot put its text on the page.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core.model import MAX_BATCH_SIZE, MAX_EPOCHS, PRESETS, ModelConfig

PRESET_PARAM, EPOCHS_PARAM, BATCH_PARAM, LOCK_PARAM = "preset", "epochs", "batch", "lock"
LESSON_PARAMS = (PRESET_PARAM, EPOCHS_PARAM, BATCH_PARAM, LOCK_PARAM)
#: Parameters that tie a URL to one browser's runs: a lesson link never carries them
#: (a teacher's own ``?ws=`` would put the whole class in the teacher's workspace).
PRIVATE_PARAMS = ("ws", "run")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
# Longer than any valid value: int() is never asked to parse a huge digit string.
_MAX_VALUE_LENGTH = 8


@dataclass(frozen=True)
class LessonSettings:
    """What a lesson link sets: a preset and/or epochs and batch size, and whether the
    Train page's controls are locked to them (None: the link does not set it)."""

    preset: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lock: bool = False

    def config(self, base: ModelConfig | None = None) -> ModelConfig:
        """The ModelConfig to train: the preset's (else ``base``, else the default
        preset's) with the link's epochs and batch size."""
        if self.preset is not None:
            config = PRESETS[self.preset]
        else:
            config = base if base is not None else next(iter(PRESETS.values()))
        changes = {}
        if self.epochs is not None:
            changes["epochs"] = self.epochs
        if self.batch_size is not None:
            changes["batch_size"] = self.batch_size
        return config.replace(**changes) if changes else config


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high:,}, got {value!r}")
    return value


def make_link(base_url: str, *, preset: str | None = None, epochs: int | None = None,
              batch: int | None = None, lock: bool = False) -> str:
    """``base_url`` with the lesson's query parameters (``?preset=CNN&epochs=3&batch=128&lock=1``).

    Other parameters already in ``base_url`` are kept, except ``ws`` and ``run``.
    ValueError for an unknown preset or a value out of range, or a link that sets nothing.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ValueError("base_url must be the app's address, e.g. 'http://localhost:8501/train'")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must start with http:// or https:// and name a host, got {base_url!r}")
    lesson: list[tuple[str, str]] = []
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {list(PRESETS)}")
        lesson.append((PRESET_PARAM, preset))
    if epochs is not None:
        lesson.append((EPOCHS_PARAM, str(_check_int("epochs", epochs, 1, MAX_EPOCHS))))
    if batch is not None:
        lesson.append((BATCH_PARAM, str(_check_int("batch", batch, 1, MAX_BATCH_SIZE))))
    if not lesson:
        raise ValueError("a lesson link needs a preset, epochs or a batch size")
    if lock:
        lesson.append((LOCK_PARAM, "1"))
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in LESSON_PARAMS and k not in PRIVATE_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept + lesson), fragment=""))


def _single(params: Mapping, key: str, notes: list[str]) -> str | None:
    """The one value of ``key`` (a list of repeated values counts only when they agree)."""
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        distinct = {str(v).strip() for v in value}
        if len(distinct) != 1:
            if distinct:
                notes.append(f"The link gives “{key}” more than once with different values; it is ignored.")
            return None
        value = distinct.pop()
    return str(value).strip()


def _parse_int(key: str, text: str | None, low: int, high: int, notes: list[str],
               allowed: Collection[int] | None = None) -> int | None:
    if text is None:
        return None
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_VALUE_LENGTH else None
    if number is None or not low <= number <= high or (allowed is not None and number not in allowed):
        what = f"one of {', '.join(map(str, sorted(allowed)))}" if allowed is not None else (
            f"a whole number from {low} to {high:,}")
        notes.append(f"The link's “{key}” is not {what}; it is ignored.")
        return None
    return number


def parse_lesson_params(params: Mapping, *, batch_sizes: Collection[int] | None = None
                        ) -> tuple[LessonSettings | None, list[str]]:
    """The lesson a URL's query parameters ask for, and notes on what was ignored.

    ``params`` maps a name to its value, or to the list of its values (pass
    ``{k: st.query_params.get_all(k) for k in st.query_params}`` so repeats are seen).
    ``batch_sizes``: when given, the batch size must be one of them (the Train page's
    choices). Returns ``(None, notes)`` when the link sets no preset, epochs or batch.
    Parameters that are not lesson parameters (``ws``, ``run``) are left alone.
    """
    notes: list[str] = []
    preset_text = _single(params, PRESET_PARAM, notes)
    preset = None
    if preset_text is not None:
        # "cnn" and "CNN" both mean the CNN preset; nothing else is accepted.
        by_lower = {name.lower(): name for name in PRESETS}
        preset = by_lower.get(preset_text.lower()) if len(preset_text) <= 20 else None
        if preset is None:
            notes.append(f"The link's “preset” is not one of {', '.join(PRESETS)}; it is ignored.")
    epochs = _parse_int(EPOCHS_PARAM, _single(params, EPOCHS_PARAM, notes), 1, MAX_EPOCHS, notes)
    batch = _parse_int(BATCH_PARAM, _single(params, BATCH_PARAM, notes), 1, MAX_BATCH_SIZE, notes,
                       allowed=batch_sizes)
    lock_text = _single(params, LOCK_PARAM, notes)
    lock = False
    if lock_text is not None:
        if lock_text.lower() in _TRUE:
            lock = True
        elif lock_text.lower() not in _FALSE:
            notes.append("The link's “lock” is not 1 or 0; the settings are not locked.")
    if preset is None and epochs is None and batch is None:
        if lock:
            notes.append("The link asks to lock the settings but sets none; nothing is locked.")
        return None, notes
    return LessonSettings(preset=preset, epochs=epochs, batch_size=batch, lock=lock), notes
