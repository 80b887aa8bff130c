"""The Train page in Chromium: live curves, Stop, the run list across a reload.

Full-size trainings on the real MNIST (no PLAYGROUND_TRAIN_LIMIT here). How fast a run
is with the live view open is measured by benchmarks/bench_app_training.py, not here
(timed assertions in the test suite fail on a busy machine).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import wait_for_app

pytestmark = pytest.mark.browser

# How far (in epochs) the live "per batch" curve reaches, read from the chart plotly.js drew.
LIVE_REACH_JS = """() => {
    // The live curves are the chart whose first trace has x values (the live weight
    // pictures beside them are heatmaps).
    for (const plot of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
        const trace = plot._fullData && plot._fullData[0];
        if (trace && trace.x && trace.x.length) return trace.x[trace.x.length - 1];
    }
    return 0;
}"""


def open_train_page(page, url: str) -> None:
    page.goto(url)
    wait_for_app(page)
    page.get_by_role("heading", name="Train the network").wait_for()


def slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).get_by_role("slider")


def runs_table_text(page) -> str:
    # The grid is drawn on a canvas; its cells are also in the DOM for screen readers.
    return page.locator('[data-testid="stDataFrame"]').last.text_content()


def wait_for_run_listed(page, *texts: str) -> str:
    """Wait until the run list (the last table) holds all the texts; return its text."""
    deadline = time.monotonic() + 120
    while True:
        table = runs_table_text(page) if page.locator('[data-testid="stDataFrame"]').count() else ""
        if all(text in table for text in texts):
            return table
        assert time.monotonic() < deadline, f"run list never showed {texts}: {table!r}"
        time.sleep(0.3)


def wait_for_result(page) -> str:
    """Wait for the large test accuracy of the finished run; return it."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy")
    metric.wait_for(timeout=120_000)
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def wait_for_growing_curve(page) -> None:
    """The live chart is there and its curve reaches further (it keeps at most a few
    hundred points, so its length alone stops growing)."""
    page.wait_for_function(f"() => ({LIVE_REACH_JS})() > 0", timeout=60_000)
    first = page.evaluate(LIVE_REACH_JS)
    page.wait_for_function(f"() => ({LIVE_REACH_JS})() > {first}", timeout=30_000)


# A download's bytes are made on the server when clicked (a callable `data=`): on a loaded
# machine that can take longer than Playwright's default 30 s.
DOWNLOAD_MS = 120_000


def enabled_button(page, name: str):
    """The button, once it is enabled (the model's download is disabled until the run has ended
    and the page has rerun)."""
    button = page.get_by_role("button", name=name, exact=True)
    expect(button).to_be_enabled(timeout=60_000)
    return button


def test_train_watch_the_curve_grow_stop_and_find_the_run_after_a_reload(streamlit_app, page, tmp_path):
    open_train_page(page, f"{streamlit_app.url}/train")
    assert "ws=" in page.url
    # A run long enough to watch: 50 epochs with batches of 16 (3,750 steps an epoch).
    slider(page, "Epochs").focus()
    page.keyboard.press("End")
    slider(page, "Batch size").focus()
    for _ in range(3):  # 100 -> 64 -> 32 -> 16
        page.keyboard.press("ArrowLeft")
    page.get_by_text("model.fit(x_train, y_train, batch_size=16, epochs=50)").wait_for()

    page.get_by_role("button", name="Train", exact=True).click()
    progress = page.locator('[data-testid="stProgress"]').filter(has_text="/50 · step")
    progress.wait_for(timeout=60_000)
    wait_for_growing_curve(page)
    assert page.get_by_role("button", name="Train", exact=True).is_disabled()
    page.screenshot(path=str(tmp_path / "train-live.png"))

    # A refresh while it trains: the new session finds the job and its live view again.
    url = page.url
    page.reload()
    wait_for_app(page)
    progress.wait_for(timeout=60_000)
    wait_for_growing_curve(page)
    assert page.url == url

    page.get_by_role("button", name="Stop").click()
    accuracy = wait_for_result(page)
    assert 0.1 < float(accuracy) < 1.0
    page.get_by_text("Stopped after").first.wait_for()
    wait_for_run_listed(page, "Book #1", "stopped after")
    page.set_viewport_size({"width": 1400, "height": 2600})
    page.screenshot(path=str(tmp_path / "train-stopped.png"))

    # The downloads of the run list.
    page.get_by_text("Rename, delete, download").click()
    with page.expect_download(timeout=DOWNLOAD_MS) as download:
        enabled_button(page, "History (.csv)").click()
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.startswith("epoch,loss,accuracy") and len(csv_text.splitlines()) >= 2
    with page.expect_download(timeout=DOWNLOAD_MS) as download:
        enabled_button(page, "Model (.keras)").click()
    assert download.value.suggested_filename == "Book__1.keras"
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # a .keras file is a zip
    with page.expect_download(timeout=DOWNLOAD_MS) as download:
        enabled_button(page, "Script (.py)").click()
    assert "batch_size=16, epochs=50" in Path(download.value.path()).read_text()

    page.reload()
    wait_for_app(page)
    page.get_by_role("heading", name="Your runs").wait_for()
    assert page.url.startswith(url + "&run=")  # the active run is kept in the link too
    wait_for_run_listed(page, "Book #1", "stopped after")
    # The active-run picker names it, with the same test accuracy.
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Active run").get_by_role("combobox")
    assert picker.input_value().startswith("Book #1 · stopped after")
    assert picker.input_value().endswith(f"test accuracy {accuracy}")
    assert page.get_by_role("button", name="Train", exact=True).is_enabled()
    page.screenshot(path=str(tmp_path / "train-reloaded.png"))
    assert "Traceback" not in streamlit_app.log()


def test_a_second_training_waits_in_the_queue_and_shows_its_place(browser, mnist_path, tmp_path):
    """PLAYGROUND_MAX_TRAININGS=1: a second browser's Train press waits, says its place, then runs."""
    from conftest import start_app

    server = start_app(tmp_path, MNIST_PATH=str(mnist_path), PLAYGROUND_MAX_TRAININGS="1")
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        first, second = (context.new_page() for context in contexts)
        for page in (first, second):
            page.set_default_timeout(60_000)
            open_train_page(page, f"{server.url}/train")
        epochs = slider(first, "Epochs")
        epochs.focus()
        for _ in range(15):  # 20 epochs: long enough to hold the only slot
            epochs.press("ArrowRight")
        first.get_by_text("epochs=20").first.wait_for()
        first.get_by_role("button", name="Train", exact=True).click()
        first.get_by_role("button", name="Stop").wait_for()
        second.get_by_role("button", name="Train", exact=True).click()
        second.get_by_text("place 1 in the queue").first.wait_for()
        second.screenshot(path=str(tmp_path / "queued.png"))
        first.get_by_role("button", name="Stop").click()  # frees the slot
        wait_for_result(second)  # the queued run then trains to the end
    finally:
        for context in contexts:
            context.close()
        server.stop()
