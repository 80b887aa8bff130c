"""The lesson's steps, in the book chapter's order: one list for navigation and Home."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ui.teacher import configured_passcode

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Step:
    path: str
    title: str
    icon: str
    blurb: str
    teacher_only: bool = False  # listed only when a teacher passcode is configured


STEPS = (
    Step("pages/home.py", "Home", ":material/home:", "What the lesson is."),
    Step("pages/dataset.py", "1 · Data", ":material/grid_on:",
         "Load MNIST, look inside the arrays, and prepare them for the network: "
         "scale to [0, 1], reshape to 784, one-hot labels."),
    Step("pages/train.py", "2 · Train", ":material/model_training:",
         "Build the book's network, choose epochs and batch size, and watch loss and "
         "accuracy move while it learns."),
    Step("pages/evaluate.py", "3 · Evaluate", ":material/fact_check:",
         "Test accuracy, the confusion matrix, the digits the network gets wrong, and why "
         "accuracy alone can mislead."),
    Step("pages/draw.py", "4 · Draw", ":material/draw:",
         "Draw a digit, see every preprocessing step, and what the network thinks."),
    Step("pages/class.py", "Class", ":material/groups:",
         "For the teacher (passcode): every student's runs, leaderboards, who is training, "
         "lesson links.", teacher_only=True),
)


def available_steps() -> list[Step]:
    """The steps whose page file exists (a page is registered only once it is there);
    the teacher's page only when a passcode is configured."""
    teacher = configured_passcode() is not None
    return [step for step in STEPS if (ROOT / step.path).is_file() and (teacher or not step.teacher_only)]
