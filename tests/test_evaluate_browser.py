"""The Evaluate page in Chromium: clicking a confusion-matrix cell opens its gallery.

Streamlit reports no selection for clicks on a plotly heatmap (streamlit#8760);
the page's matrix carries a transparent square-marker scatter on the cell
centres, and this test proves a real mouse click on a cell reaches the page.
"""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import expect

from conftest import hover_until_label, start_app, wait_for_app
from core import evaluation as ev
from helpers import train_and_save

pytestmark = pytest.mark.browser

WORKSPACE = "evalbrowser"
TRAIN_SLICE = 6000


@pytest.fixture(scope="module")
def evaluate_app(tmp_path_factory, mnist, mnist_path):
    """The app on real MNIST with one small trained run in workspace ``WORKSPACE``."""
    tmp = tmp_path_factory.mktemp("evaluate_app")
    _, _, accuracy, probs = train_and_save(
        mnist.x_train[:TRAIN_SLICE], mnist.y_train[:TRAIN_SLICE], mnist.x_test, mnist.y_test,
        root=tmp / "runs", workspace=WORKSPACE, dataset="mnist",
    )
    server = start_app(tmp, MNIST_PATH=str(mnist_path))
    yield dict(server=server, probs=probs, y_test=np.asarray(mnist.y_test), accuracy=accuracy)
    server.stop()


def cell_centre(page, true_class: int, pred_class: int, n: int = 10) -> tuple[float, float]:
    """Screen position of a cell's centre, from the plot area of the matrix."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.scroll_into_view_if_needed()
    area = chart.locator(".nsewdrag").first.bounding_box()
    return (area["x"] + area["width"] * (pred_class + 0.5) / n,
            area["y"] + area["height"] * (true_class + 0.5) / n)


def selectbox_text(page, label: str) -> str:
    """The option a selectbox shows (its combobox input's value)."""
    return page.get_by_role("combobox", name=label).input_value().strip()


def wait_for_first_gallery_title(page, text: str) -> None:
    """The gallery is the second chart; its first annotation is its first item's title
    (two SVG lines, whose text joins without a separator)."""
    page.wait_for_function(
        """text => {
            const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
            const title = charts.length > 1 && charts[1].querySelector('.annotation-text');
            return title && title.textContent === text;
        }""",
        arg=text,
    )


def test_click_a_cell_shows_its_images(evaluate_app, page, tmp_path):
    server, probs, y_test = evaluate_app["server"], evaluate_app["probs"], evaluate_app["y_test"]
    counts = ev.confusion(y_test, probs.argmax(axis=1))
    # The default selection is the most confused cell: click the second one instead.
    first, second = ev.most_confused_pairs(counts, top=2)
    i, j = second.true_class, second.pred_class

    # Open the app's home first: until app.py has run once, a server with a pages/
    # folder treats a deep link as an old-style (v1) multipage app and runs the
    # page file without app.py (streamlit PagesManager.uses_pages_directory).
    page.goto(server.url)
    page.get_by_text("MNIST Playground").first.wait_for()
    page.goto(f"{server.url}/evaluate?ws={WORKSPACE}")
    wait_for_app(page)
    page.get_by_text("MNIST Playground").first.wait_for()  # app.py's sidebar is there
    page.get_by_text("Test accuracy").first.wait_for(timeout=120_000)
    page.locator('[data-testid="stPlotlyChart"] .nsewdrag').first.wait_for()
    expected_default = f"{first.count:,} test images of a {first.true_class} predicted as {first.pred_class}"
    page.get_by_text(expected_default).first.wait_for()

    # The cell under the pointer answers the hover (an SVG label: read its text).
    x, y = hover_until_label(page, lambda: cell_centre(page, i, j),
                             f"true {i}, predicted {j}: {second.count} images")
    page.mouse.click(x, y)

    page.get_by_text(f"{second.count:,} test images of a {i} predicted as {j}").first.wait_for()
    wait_for_app(page)
    # The selectboxes follow the click.
    assert selectbox_text(page, "True class") == str(i)
    assert selectbox_text(page, "Predicted class") == str(j)
    # The gallery shows this cell's most confident mistake first, with its x_test index.
    gallery = ev.cell_gallery(y_test, probs, true_class=i, pred_class=j, limit=18)
    wait_for_first_gallery_title(page, f"x_test[{gallery.indices[0]}]{j} {gallery.confidence[0]:.2f}")
    page.get_by_text(f"x_test[{gallery.indices[0]}]", exact=True).first.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "evaluate_gallery.png"))

    # A diagonal cell: the least confident correct ones.
    x, y = cell_centre(page, 7, 7)
    page.mouse.click(x, y)
    page.get_by_text(f"{counts[7, 7]:,} test images of a 7 predicted as 7").first.wait_for()
    page.get_by_text("least confident first").first.wait_for()
    diagonal = ev.cell_gallery(y_test, probs, true_class=7, pred_class=7, limit=18)
    wait_for_first_gallery_title(page, f"x_test[{diagonal.indices[0]}]7 {diagonal.confidence[0]:.2f}")
    assert selectbox_text(page, "True class") == "7"
    assert selectbox_text(page, "Predicted class") == "7"
    assert "Traceback" not in server.log() and "Error" not in page.inner_text("body")


def test_one_click_book_training_then_evaluation(evaluate_app, page):
    """An empty workspace: the page explains, links to Train, and trains the Book
    preset in one click, with live progress, then evaluates the new run."""
    server = evaluate_app["server"]
    page.goto(server.url)
    page.get_by_text("MNIST Playground").first.wait_for()
    page.goto(f"{server.url}/evaluate?ws=emptyevaluate")
    wait_for_app(page)
    page.get_by_text("There is no trained model to evaluate yet").first.wait_for()
    link = page.get_by_role("link", name="Go to Train")
    link.wait_for()  # drawn a moment after the text: wait for it, then count
    assert link.count() == 1
    page.get_by_role("button", name="Train the Book model now (5 epochs)").click()
    page.locator('[data-testid="stProgress"]').first.wait_for()
    page.get_by_role("button", name="Stop").first.wait_for()
    page.get_by_text("Test accuracy").first.wait_for(timeout=240_000)
    page.get_by_text("finished 5 epochs").first.wait_for()
    page.get_by_text("The same as").first.wait_for()
    assert "Traceback" not in server.log()


#: The map chart's points in viewport pixels, read from plotly's own axes
#: (``l2p`` + the axis offset + the graph div's position): for every point of the
#: right panel (the hidden layer), its test index, label and distance to its nearest
#: neighbour on screen, so the test clicks a point no other marker covers.
MAP_POINTS_JS = """skip => {
    const gd = [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => g._fullData && g._fullData.length === 20 && g._fullLayout.xaxis2);
    if (!gd) return null;
    const rect = gd.getBoundingClientRect(), ax = gd._fullLayout.xaxis2, ay = gd._fullLayout.yaxis2;
    const points = [];
    gd._fullData.forEach((t, curve) => {
        if (t.xaxis !== 'x2') return;
        const xs = Array.from(t.x), ys = Array.from(t.y);
        xs.forEach((x, k) => points.push({
            curve, k, index: t.customdata[k][0], label: t.customdata[k][1],
            x: rect.left + ax._offset + ax.l2p(x), y: rect.top + ay._offset + ay.l2p(ys[k]),
        }));
    });
    let best = null;
    for (const p of points) {
        if (p.index === skip) continue;
        let nearest = Infinity;
        for (const q of points) if (q !== p) nearest = Math.min(nearest, Math.hypot(p.x - q.x, p.y - q.y));
        if (!best || nearest > best.nearest) best = {...p, nearest, count: points.length};
    }
    return best;
}"""


def test_click_a_map_point_opens_that_image_in_the_inspector(evaluate_app, page, tmp_path):
    """A real click on a point of the PCA map (the hidden-layer panel) opens the inspector's tab
    with "Test item i" and the layer-by-layer view set to that test image."""
    server, y_test = evaluate_app["server"], evaluate_app["y_test"]
    page.goto(server.url)
    page.get_by_text("MNIST Playground").first.wait_for()
    page.goto(f"{server.url}/evaluate?ws={WORKSPACE}")
    wait_for_app(page)
    default = f"x_test[{11}] through the network, layer by layer"  # pages/evaluate.py BOOK_TEST_ITEM
    page.get_by_role("tab", name="The test set as a map").click(timeout=120_000)
    page.get_by_role("heading", name="The test set as a map").wait_for(timeout=120_000)
    # The map's graph div, drawn with its 20 traces (10 classes x 2 panels).
    page.wait_for_function(MAP_POINTS_JS, arg=11)
    page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .find(g => g._fullData && g._fullData.length === 20).scrollIntoView({block: 'center'})""")
    wait_for_app(page)
    point = page.evaluate(MAP_POINTS_JS, 11)
    assert point["count"] == 2000, point
    assert point["nearest"] >= 4, f"no point of the map stands clear of the others: {point}"
    index, label = int(point["index"]), int(point["label"])
    assert label == int(y_test[index]), point  # the chart's customdata names the right image

    # The point under the pointer answers the hover with its own test index.
    hover_until_label(page, lambda: (point["x"], point["y"]), f"test image {index}: true {label},")
    page.mouse.click(point["x"], point["y"])

    page.get_by_text(f"x_test[{index}] through the network, layer by layer").first.wait_for()
    wait_for_app(page)
    assert page.get_by_role("tab", name="One image, layer by layer").get_attribute("aria-selected") == "true"
    assert "evaluate_tab=One" in page.url  # the open tab is in the URL: a refresh keeps it
    # the number box follows once the page has drawn the new tab (under load it can lag the heading)
    expect(page.get_by_role("spinbutton", name="Test item i")).to_have_value(str(index))
    # The inspector's picture is titled with the index and the true label (an SVG title).
    page.wait_for_function(
        "text => [...document.querySelectorAll('.gtitle')].some(e => e.textContent === text)",
        arg=f"x_test[{index}] · label {label}",
    )
    page.evaluate("""text => [...document.querySelectorAll('.gtitle')].find(e => e.textContent === text)
        .scrollIntoView({block: 'center'})""", f"x_test[{index}] · label {label}")
    page.screenshot(path=str(tmp_path / "evaluate_map_click.png"))
    assert page.get_by_text(default).count() == 0
    assert "Traceback" not in server.log() and "Error" not in page.inner_text("body")
