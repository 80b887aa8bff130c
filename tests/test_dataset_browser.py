"""In Chromium: the app starts, the sidebar shows our navigation, and the Dataset page reacts."""

from __future__ import annotations

from conftest import wait_for_app

#: Notes, from the page's first moment, whether Streamlit's own menu ever shows (on a
#: fresh server it would list the pages/ files by name: "app, dataset, draw, ...").
WATCH_LEGACY_MENU = """
window.__legacyMenu = false;
setInterval(() => { if (document.querySelector('[data-testid="stSidebarNav"]')) window.__legacyMenu = true; }, 10);
"""


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


# Runs first on the module's fresh server (see the comment inside).
def test_dataset_page_change_n(streamlit_app, page, tmp_path):
    # The very first request to a fresh server is the page's own URL: it must
    # still run inside app.py (sidebar, navigation), not as a legacy pages/ app.
    page.add_init_script(WATCH_LEGACY_MENU)
    page.goto(f"{streamlit_app.url}/dataset")
    wait_for_app(page)
    page.locator('[data-testid="stSidebar"]').get_by_text("MNIST from").wait_for()
    page.get_by_text("(60000, 28, 28)").first.wait_for()
    assert metric_value(page, "Label") == "1"  # x_train[8], as in the book
    assert page.evaluate("() => window.__legacyMenu") is False  # not even for a moment

    box = page.get_by_label("Image number N")
    box.fill("0")
    box.press("Enter")
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stMetric"]')]
             .some(m => m.innerText.startsWith('Label') && m.innerText.trim().endsWith('5'))""",
        timeout=30_000,
    )
    assert metric_value(page, "Label") == "5"  # x_train[0] is a 5
    page.get_by_text("print(y_train[0])").first.wait_for()
    page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
    assert "Traceback" not in streamlit_app.log()


def test_home_and_navigation(streamlit_app, page, tmp_path):
    page.goto(streamlit_app.url)
    wait_for_app(page)
    page.get_by_role("heading", name="MNIST Playground").first.wait_for()
    # app.py draws the menu with st.page_link; Streamlit's own menu is off.
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')
    links.first.wait_for()
    # Each link's text ends with its title (a material icon's name comes first).
    titles = [t.strip().splitlines()[-1] for t in links.all_inner_texts()]
    # Only the navigation we define, in the lesson's order: no auto-discovered
    # pages/ entries such as "home" or "dataset".
    from ui.lesson import available_steps

    assert titles == [step.title for step in available_steps()]
    page.locator('[data-testid="stSidebar"]').get_by_text("MNIST from").wait_for()
    page.screenshot(path=str(tmp_path / "home.png"))
