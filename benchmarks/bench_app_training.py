"""In-app training speed: a Book run started from the Train page, live view open in Chromium.

Compares, in one process and alternating (best of ``--repeats`` each, since other
work on the machine only ever adds time):

(a) the benchmark's fast path for the Book preset (``bench_training.playground_fit``),
(b) a Book run started with the Train button in Chromium while the page's live
    view refreshes; its training wall time is what the app records in metrics.json.

Prints one JSON line; the target is (b) / (a) <= 1.3.

    MNIST_PATH=/path/mnist.npz python benchmarks/bench_app_training.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_training import playground_fit  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, start_app  # noqa: E402

TARGET = 1.3


def finished_runs(runs_dir: Path) -> dict[str, dict]:
    found = {}
    for metrics in runs_dir.glob("*/*/metrics.json"):
        data = json.loads(metrics.read_text())
        if data.get("status") == "finished":
            found[metrics.parent.name] = data
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from core.data import load_dataset
    from core.model import PRESETS

    mnist = load_dataset("mnist")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        server = start_app(Path(tmp))
        runs_dir = Path(tmp) / "runs"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/train")
            page.get_by_role("heading", name="Train the network").wait_for(timeout=120_000)
            fast, in_app = [], []
            for _ in range(args.repeats):
                fast.append(playground_fit(PRESETS["Book"], mnist.x_train, mnist.y_train,
                                           mnist.x_test, mnist.y_test)[0])
                before = set(finished_runs(runs_dir))
                page.get_by_role("button", name="Train", exact=True).click()
                deadline = time.monotonic() + 180
                while not set(finished_runs(runs_dir)) - before:
                    if time.monotonic() > deadline:
                        raise SystemExit("the Book run did not finish in 180 s")
                    time.sleep(0.2)
                (run_id,) = set(finished_runs(runs_dir)) - before
                in_app.append(finished_runs(runs_dir)[run_id]["train_seconds"])
                page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy").wait_for(timeout=120_000)
                page.wait_for_function(
                    "() => !Array.from(document.querySelectorAll('button')).some("
                    "b => b.innerText.includes('Train') && b.disabled)"
                )
        finally:
            browser.close()
            server.stop()
    ratio = min(in_app) / min(fast)
    print(json.dumps({
        "benchmark": "book_run_in_app_vs_fast_path",
        "fast_path_s": round(min(fast), 3), "in_app_s": round(min(in_app), 3),
        "ratio": round(ratio, 2), "target_ratio": TARGET, "meets_target": ratio <= TARGET,
        "all_fast_s": [round(s, 3) for s in fast], "all_in_app_s": [round(s, 3) for s in in_app],
    }))


if __name__ == "__main__":
    main()
