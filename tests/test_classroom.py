"""core.classroom on real run folders (RunStore writes them in tmp_path)."""

from __future__ import annotations

import csv
import io
import threading

import numpy as np
import pytest

from core import classroom, profile
from core.charts.classroom import class_scatter_figure
from core.model import PRESETS
from core.runs import RunStore


def add_run(root, workspace, preset, *, accuracy=None, epochs=None, status="finished", name=None):
    """A run folder as a training leaves it (config.json and metrics.json)."""
    store = RunStore(workspace, root=root)
    config = PRESETS[preset] if epochs is None else PRESETS[preset].replace(epochs=epochs)
    run = store.create(config.to_dict(), dataset="mnist", seed=0, epochs_planned=config.epochs, name=name or preset)
    if status != "queued":
        store.update_metrics(run.run_id, status=status, epochs_done=config.epochs, test_accuracy=accuracy,
                             test_loss=None if accuracy is None else 1 - accuracy, train_seconds=3.5)
    return run


@pytest.fixture
def class_root(tmp_path):
    """Three students: Ana (two CNN runs, one Book), Ben (a Book run), and an unnamed one."""
    root = tmp_path / "runs"
    profile.set_display_name("anaws1", "Ana", root=root)
    profile.set_display_name("benws2", "Ben", root=root)
    add_run(root, "anaws1", "CNN", accuracy=0.985)
    add_run(root, "anaws1", "CNN", accuracy=0.991, epochs=6)
    add_run(root, "anaws1", "Book", accuracy=0.90)
    add_run(root, "benws2", "Book", accuracy=0.91)
    add_run(root, "noname3", "CNN", accuracy=0.991, epochs=2)
    add_run(root, "noname3", "Dense", status="queued")
    return root


def test_rows_name_students_by_display_name(class_root):
    rows = classroom.ClassIndex(class_root).rows()
    assert len(rows) == 6
    assert {row.student for row in rows} == {"Ana", "Ben", profile.anonymous_name("noname3")}
    assert [row.run_id for row in rows] == sorted((row.run_id for row in rows), reverse=True)  # newest first
    public = [row.public() for row in rows]
    assert all(list(p) == list(classroom.PUBLIC_COLUMNS) for p in public)
    text = repr(public)
    for workspace in ("anaws1", "benws2", "noname3"):
        assert workspace not in text
    assert not any(row.run_id in text for row in rows)
    cnn6 = next(p for p in public if p["epochs"] == "6/6")
    assert (cnn6["student"], cnn6["preset"], cnn6["optimizer"], cnn6["test_accuracy"]) == ("Ana", "CNN", "adam", 0.991)
    assert cnn6["status"] == "finished 6 epochs" and len(cnn6["started"]) == 5
    queued = next(row for row in rows if row.preset == "Dense")
    # Created by this process, which is alive: still queued.
    assert queued.info.status == "queued" and queued.test_accuracy is None


def test_unchanged_files_are_not_read_again_and_changed_ones_are(class_root):
    index = classroom.ClassIndex(class_root)
    index.rows()
    assert index.reads == 6 * 2 + 2  # config + metrics per run, two profiles
    index.rows()
    index.rows()
    assert index.reads == 14  # nothing changed: nothing read
    ben = RunStore("benws2", root=class_root)
    run_id = ben.list_runs().runs[0].run_id
    ben.update_metrics(run_id, test_accuracy=0.95)
    rows = index.rows()
    assert index.reads == 15  # only Ben's metrics.json
    assert next(r for r in rows if r.run_id == run_id).test_accuracy == 0.95
    profile.set_display_name("benws2", "Benjamin", root=class_root)
    assert {r.student for r in index.rows() if r.workspace == "benws2"} == {"Benjamin"}
    assert index.reads == 16
    # A new run: its two files; a deleted run drops out (and out of the cache).
    new = add_run(class_root, "benws2", "Dense", accuracy=0.97)
    assert len(index.rows()) == 7 and index.reads == 18
    RunStore("benws2", root=class_root).delete(new.run_id)
    assert len(index.rows()) == 6 and index.reads == 18


def test_broken_and_half_made_runs_are_skipped(class_root):
    store = RunStore("benws2", root=class_root)
    run_id = store.list_runs().runs[0].run_id
    (store.run_path(run_id) / "metrics.json").write_text("{broken")
    (class_root / "benws2" / "20250101-000000-000-abcdef").mkdir()  # no files yet
    (class_root / "Not-A-Workspace").mkdir()
    index = classroom.ClassIndex(class_root)
    rows = index.rows()
    assert len(rows) == 5 and index.skipped == 2
    assert classroom.ClassIndex(class_root / "missing").rows() == []


def test_leaderboard_per_preset_best_run_per_student(class_root):
    rows = classroom.ClassIndex(class_root).rows()
    board = classroom.leaderboard(rows, preset="CNN")
    # Ana's 0.991 (6 epochs) and the unnamed student's 0.991 tie; Ana's run came first.
    assert [(e.place, e.student, e.test_accuracy, e.epochs) for e in board] == [
        (1, "Ana", 0.991, 6), (1, profile.anonymous_name("noname3"), 0.991, 2),
    ]
    every_run = classroom.leaderboard(rows, preset="CNN", per_student=False)
    assert [e.place for e in every_run] == [1, 1, 3]
    book = classroom.leaderboard(rows, preset="Book")
    assert [(e.place, e.student) for e in book] == [(1, "Ben"), (2, "Ana")]
    assert classroom.leaderboard(rows, preset="Dense") == []  # queued: no accuracy yet
    assert len(classroom.leaderboard(rows, preset="CNN", limit=1)) == 1
    with pytest.raises(ValueError, match="limit"):
        classroom.leaderboard(rows, preset="CNN", limit=0)
    assert classroom.presets_in(rows) == ["Book", "Dense", "CNN"]


def test_chart_points_and_figure(class_root):
    rows = classroom.ClassIndex(class_root).rows()
    points = classroom.class_chart_points(rows)
    assert len(points) == 5
    for point in points:
        assert rows[point.index].key == point.key and rows[point.index].test_accuracy == point.test_accuracy
    figure = class_scatter_figure(points)
    assert [trace.name for trace in figure.data] == ["Book", "CNN"]  # menu order
    cnn = next(t for t in figure.data if t.name == "CNN")
    assert sorted(cnn.x) == [2, 4, 6] and max(cnn.y) == 0.991
    keys = {row.key for row in rows}
    assert all(c[0] in keys for t in figure.data for c in t.customdata)
    spec = figure.to_json()
    assert "anaws1" not in spec and not any(row.run_id in spec for row in rows)


def test_chart_escapes_student_names(tmp_path):
    profile.set_display_name("evilws", "<a href='x'>%{y}</a>", root=tmp_path)
    add_run(tmp_path, "evilws", "Book", accuracy=0.5)
    figure = class_scatter_figure(classroom.class_chart_points(classroom.ClassIndex(tmp_path).rows()))
    student = figure.data[0].customdata[0][1]
    assert "<a" not in student and "%{" not in student


def test_csv_has_no_ids_and_defuses_formulas(class_root):
    profile.set_display_name("benws2", "=HYPERLINK(\"http://x\")", root=class_root)
    rows = classroom.ClassIndex(class_root).rows()
    text = classroom.class_csv(rows)
    table = list(csv.DictReader(io.StringIO(text)))
    assert list(table[0]) == list(classroom.CSV_COLUMNS) and len(table) == 6
    for workspace in ("anaws1", "benws2", "noname3"):
        assert workspace not in text
    assert not any(row.run_id in text for row in rows)
    ben = [r for r in table if r["student_tag"] == profile.short_tag("benws2")]
    assert ben and all(r["student"].startswith("'=") for r in ben)
    ana_cnn = sorted(float(r["test_accuracy"]) for r in table if r["student"] == "Ana" and r["preset"] == "CNN")
    assert ana_cnn == [0.985, 0.991]
    queued = next(r for r in table if r["preset"] == "Dense")
    assert queued["test_accuracy"] == "" and queued["status"] == "queued"


def test_who_trains_and_who_waits_with_places(tmp_path):
    from core.data import Dataset
    from core.queue import TrainingQueue, all_live_jobs
    from core.training import TrainingJob

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 200).astype(np.uint8)
    dataset = Dataset("mnist", "MNIST", images, labels, images[:50], labels[:50], tuple("0123456789"), "random")
    profile.set_display_name("queuews1", "Cleo", root=tmp_path)
    queue = TrainingQueue(1)
    blocker = object()  # holds the only slot, so both jobs wait in line
    assert queue.acquire(blocker, cancel=threading.Event())
    first = second = None
    try:
        first = TrainingJob(PRESETS["Book"], dataset, store=RunStore("queuews1", root=tmp_path), queue=queue).start()
        second = TrainingJob(PRESETS["Book"], dataset, store=RunStore("queuews2", root=tmp_path), queue=queue,
                             name="second").start()
        live = [job for job in all_live_jobs() if job.workspace in ("queuews1", "queuews2")]
        assert [job.run_id for job in live] == [first.run_id, second.run_id]  # oldest first
        deadline = threading.Event()
        for _ in range(500):  # until both threads have joined the queue
            if queue.place(first) and queue.place(second):
                break
            deadline.wait(0.02)
        names = classroom.ClassIndex(tmp_path).display_names()
        entries = classroom.live_entries(live, display_name=lambda ws: names.get(ws) or profile.anonymous_name(ws))
        assert [(e.student, e.status, e.place) for e in entries] == [
            ("Cleo", "queued", 1), (profile.anonymous_name("queuews2"), "queued", 2),
        ]
        assert entries[1].run == "second" and "place 2" in entries[1].progress
        assert entries[0].key == classroom.opaque_key("queuews1", first.run_id)
        entries[0].job.stop()
        assert first.join(30) and first.status == "stopped"
        assert [job.run_id for job in all_live_jobs() if job.workspace.startswith("queuews")] == [second.run_id]
    finally:
        for job in (first, second):
            if job is not None:
                job.stop()
                job.join(30)
        queue.release()
