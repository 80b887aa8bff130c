"""core.lesson_links: building a lesson link and reading one, hostile values included."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.lesson_links import LessonSettings, make_link, parse_lesson_params
from core.model import MAX_BATCH_SIZE, MAX_EPOCHS, PRESETS


def test_make_link():
    link = make_link("http://localhost:8501/train", preset="CNN", epochs=3, batch=128, lock=True)
    assert link == "http://localhost:8501/train?preset=CNN&epochs=3&batch=128&lock=1"
    assert make_link("https://x.org/train", preset="Book") == "https://x.org/train?preset=Book"


def test_make_link_drops_the_workspace_and_run_but_keeps_other_params():
    link = make_link("http://h/train?ws=teacher1&run=20251126-001530-123-a1b2c3&x=1&epochs=9#frag", epochs=2)
    query = parse_qs(urlsplit(link).query)
    assert query == {"x": ["1"], "epochs": ["2"]}
    assert "teacher1" not in link and "frag" not in link


@pytest.mark.parametrize("kwargs, message", [
    (dict(preset="Resnet"), "unknown preset"),
    (dict(epochs=0), "epochs"),
    (dict(epochs=MAX_EPOCHS + 1), "epochs"),
    (dict(epochs=True), "epochs"),
    (dict(batch=MAX_BATCH_SIZE + 1), "batch"),
    (dict(batch=2.5), "batch"),
    (dict(lock=True), "needs a preset"),
])
def test_make_link_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_link("http://h/train", **kwargs)


@pytest.mark.parametrize("base", ["", "javascript:alert(1)", "/train", "ftp://h/train"])
def test_make_link_refuses_bad_base_urls(base):
    with pytest.raises(ValueError, match="base_url"):
        make_link(base, preset="Book")


def test_round_trip():
    link = make_link("http://h/train", preset="Dense", epochs=7, batch=256, lock=True)
    params = {k: v for k, v in parse_qs(urlsplit(link).query).items()}
    settings, notes = parse_lesson_params(params)
    assert notes == []
    assert settings == LessonSettings(preset="Dense", epochs=7, batch_size=256, lock=True)
    config = settings.config()
    assert (config.name, config.epochs, config.batch_size) == ("Dense", 7, 256)
    assert config.optimizer == PRESETS["Dense"].optimizer


def test_no_lesson_params_is_none_without_notes():
    assert parse_lesson_params({}) == (None, [])
    assert parse_lesson_params({"ws": "abc", "run": "x"}) == (None, [])


@pytest.mark.parametrize("params, field", [
    ({"epochs": "9" * 5000}, "epochs"),  # would take int() 4300-digit limit
    ({"epochs": "1e3"}, "epochs"),
    ({"epochs": "-1"}, "epochs"),
    ({"epochs": "0"}, "epochs"),
    ({"epochs": "٣"}, "epochs"),  # an Arabic-Indic digit: isdigit() but not ASCII
    ({"batch": "60001"}, "batch"),
    ({"batch": "<script>alert(1)</script>"}, "batch"),
    ({"preset": "![x](http://evil/)"}, "preset"),
    ({"preset": "Resnet"}, "preset"),
    ({"preset": "CNN" * 1000}, "preset"),
])
def test_hostile_values_are_ignored_with_a_note_that_does_not_repeat_them(params, field):
    settings, notes = parse_lesson_params(params)
    assert settings is None
    assert len(notes) == 1 and f"“{field}”" in notes[0]
    value = next(iter(params.values()))
    if len(value) > 3:  # ("0" is in "from 1 to 50" by chance)
        assert value[:12] not in notes[0]


def test_good_values_survive_next_to_bad_ones():
    settings, notes = parse_lesson_params({"preset": "cnn", "epochs": "999999999999", "batch": "64",
                                           "lock": "maybe"})
    assert settings == LessonSettings(preset="CNN", epochs=None, batch_size=64, lock=False)
    assert len(notes) == 2 and any("epochs" in n for n in notes) and any("lock" in n for n in notes)
    assert settings.config().epochs == PRESETS["CNN"].epochs


def test_repeated_keys():
    # The same value twice is fine; two different values are ignored.
    settings, notes = parse_lesson_params({"epochs": ["3", "3"], "batch": ["64", "128"]})
    assert settings == LessonSettings(epochs=3) and len(notes) == 1 and "more than once" in notes[0]


def test_lock_without_settings_locks_nothing():
    settings, notes = parse_lesson_params({"lock": "1"})
    assert settings is None and "nothing is locked" in notes[0]


def test_batch_sizes_restrict_the_choices():
    settings, notes = parse_lesson_params({"batch": "129"}, batch_sizes=(64, 128))
    assert settings is None and "one of 64, 128" in notes[0]
    assert parse_lesson_params({"batch": "128"}, batch_sizes=(64, 128))[0].batch_size == 128
