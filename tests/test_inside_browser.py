"""Inside the network in Chromium: a drawing made with the mouse shows its activations and saliency.

The Book preset (fast: a few seconds on the real MNIST) is trained with
core.training.TrainingJob at learning rate 0.1 for 3 epochs and saved as the
workspace's run; Playwright draws a 7 from ``tests/strokes.py`` on the real canvas
and reads the page's "inside the network" part: the hidden layer's bars, a hidden
unit's sum written out, and the saliency overlays for the predicted class and for
the class chosen under "What should it have been?".
"""

from __future__ import annotations

import re

import pytest

from conftest import start_app
from strokes import DrawingSpec
from test_draw_browser import draw, open_draw, settle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WORKSPACE = "drawquality"  # test_draw_browser.open_draw opens this workspace
VERDICT = re.compile(r"It's a (\d)|maybe (\d)")


@pytest.fixture(scope="module")
def book_app(tmp_path_factory, mnist, mnist_path):
    from core.model import PRESETS
    from core.runs import FINISHED, RunStore
    from core.training import TrainingJob

    tmp = tmp_path_factory.mktemp("inside_app")
    store = RunStore(WORKSPACE, root=tmp / "runs")
    config = PRESETS["Book"].replace(epochs=3, learning_rate=0.1)
    job = TrainingJob(config, mnist, store=store, name="Book").start()
    assert job.join(timeout=600), "training the Book preset took more than 10 minutes"
    assert job.status == FINISHED, job.error
    server = start_app(tmp, MNIST_PATH=str(mnist_path), PLAYGROUND_RUNS_DIR=str(tmp / "runs"))
    yield dict(server=server, run=store.get(job.run_id))
    server.stop()


def test_a_drawing_shows_its_activations_a_units_sum_and_its_saliency(book_app, page, tmp_path):
    open_draw(page, book_app["server"])
    text = draw(page, DrawingSpec(7, "plain"))
    match = VERDICT.search(text)
    assert match, text
    predicted = match.group(1) or match.group(2)

    settle(page)
    page.get_by_text("Look inside the network", exact=False).first.click()  # off until asked for
    page.get_by_text("Inside the network: your drawing, layer by layer").first.wait_for(timeout=60_000)
    # the hidden layer's bars (plotly draws its subplot titles as SVG text)
    page.get_by_text("z = w·x + b").first.wait_for(timeout=60_000)
    page.get_by_text("a = sigmoid(z)").first.wait_for()
    # one hidden unit's sum, with its numbers
    unit_sum = page.locator('[data-testid="stCode"]', has_text="a = sigmoid(").first
    unit_sum.wait_for()
    assert re.search(r"z = \(-?\d+\.\d\d × \d\.\d\d\)", unit_sum.inner_text()), unit_sum.inner_text()
    # the saliency overlays for the predicted class
    page.get_by_text(f"What made it say {predicted}").first.wait_for()
    page.get_by_text("gradient × input").first.wait_for()
    page.get_by_text("integrated gradients (50 steps)").first.wait_for()

    # "What should it have been?": another class adds what was missing for it
    other = "1" if predicted != "1" else "2"
    settle(page)
    # With the keyboard (type the class, Enter), as tests/test_a11y_browser.py walks selectboxes.
    box = page.get_by_role("combobox", name="What should it have been?")
    box.focus()
    page.keyboard.type(other)
    page.keyboard.press("Enter")
    page.get_by_text(f"What was missing for a {other}").first.wait_for(timeout=60_000)
    # the second pair of overlays is drawn after the heading: wait for it, do not count at once
    page.get_by_text("gradient × input").nth(1).wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "inside_seven.png"), full_page=True)
