"""Synthetic handwriting for tests and benchmarks: digit stroke paths and their rendering.

* ``DIGIT_STROKES``: pen paths for the digits 0-9 in two handwriting styles,
  in a unit box (x right, y down). The benchmark renders them with Pillow;
  the browser tests draw them with the mouse on the real canvas.
* ``DrawingSpec`` / ``QUALITY_SET``: where, how big and how thick to draw.
* ``render_strokes`` / ``render_spec``: the (H, W, 4) RGBA the canvas would send.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from core.drawing import CANVAS_SIZE, DEFAULT_STROKE_WIDTH

Stroke = tuple[tuple[float, float], ...]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 24) -> Stroke:
    """Points on an ellipse from ``start`` to ``end`` degrees (0 = right, 90 = down)."""
    angles = np.radians(np.linspace(start, end, points))
    return tuple((float(cx + rx * np.cos(a)), float(cy + ry * np.sin(a))) for a in angles)


def _figure_eight(points: int = 48) -> Stroke:
    t = np.linspace(0, 2 * np.pi, points)
    return tuple((float(0.5 - 0.27 * np.sin(2 * u)), float(0.5 - 0.45 * np.cos(u))) for u in t)


#: digit -> style -> strokes; each stroke is one pen-down ... pen-up path.
DIGIT_STROKES: dict[int, dict[str, tuple[Stroke, ...]]] = {
    0: {
        "round": (_arc(0.5, 0.5, 0.3, 0.45, -90, 275, 36),),
        "narrow": (_arc(0.5, 0.5, 0.2, 0.45, -100, 265, 36),),
    },
    1: {
        "plain": (((0.5, 0.05), (0.5, 0.95)),),
        "flag": (((0.3, 0.22), (0.55, 0.05), (0.5, 0.95)),),
    },
    2: {
        "curl": (_arc(0.5, 0.3, 0.3, 0.25, 180, 380, 20) + ((0.15, 0.95), (0.85, 0.95)),),
        "swan": (_arc(0.48, 0.3, 0.3, 0.25, 200, 400, 20) + ((0.2, 0.9), (0.3, 0.85), (0.85, 0.95)),),
    },
    3: {
        "round": (_arc(0.47, 0.28, 0.28, 0.23, 200, 450, 20) + _arc(0.47, 0.72, 0.32, 0.23, 270, 520, 20)[1:],),
        "flat_top": (((0.2, 0.05), (0.8, 0.05), (0.45, 0.42)) + _arc(0.5, 0.68, 0.3, 0.26, 260, 515, 20),),
    },
    4: {
        "closed": (((0.65, 0.95), (0.65, 0.05), (0.12, 0.65), (0.9, 0.65)),),
        "open": (((0.25, 0.05), (0.2, 0.55), (0.85, 0.55)), ((0.68, 0.2), (0.68, 0.95))),
    },
    5: {
        "hook": (((0.25, 0.45), (0.3, 0.05), (0.8, 0.05)), ((0.26, 0.47),) + _arc(0.5, 0.68, 0.3, 0.26, 220, 510, 22)),
        "one_stroke": (((0.78, 0.05), (0.3, 0.05), (0.25, 0.45)) + _arc(0.5, 0.68, 0.3, 0.26, 220, 510, 22),),
    },
    6: {
        "loop": (((0.72, 0.05), (0.48, 0.18), (0.32, 0.4), (0.25, 0.7)) + _arc(0.5, 0.72, 0.25, 0.23, 180, -180, 30),),
        "straight": (((0.6, 0.05), (0.28, 0.68)) + _arc(0.5, 0.72, 0.24, 0.22, 200, -160, 30),),
    },
    7: {
        "plain": (((0.15, 0.05), (0.85, 0.05), (0.4, 0.95)),),
        "crossed": (((0.15, 0.05), (0.85, 0.05), (0.4, 0.95)), ((0.35, 0.5), (0.78, 0.5))),
    },
    8: {
        "two_loops": (_arc(0.5, 0.27, 0.22, 0.22, 90, 450, 28), _arc(0.5, 0.72, 0.28, 0.24, -90, 270, 28)),
        "figure": (_figure_eight(),),
    },
    9: {
        "straight": (_arc(0.45, 0.3, 0.25, 0.24, 0, 360, 30) + ((0.68, 0.95),),),
        "curved": (_arc(0.47, 0.3, 0.26, 0.24, 10, 370, 30) + ((0.7, 0.6), (0.62, 0.85), (0.45, 0.95)),),
    },
}


@dataclass(frozen=True)
class DrawingSpec:
    """One way of drawing a digit on the canvas.

    centre: (x, y) of the digit's box as fractions of the canvas
    height: the box's height as a fraction of the canvas (width is 0.7x that)
    stroke_width: pen width in canvas pixels
    slant: x shift per unit of height (0.2 leans right)
    """

    digit: int
    style: str
    centre: tuple[float, float] = (0.5, 0.5)
    height: float = 0.7
    stroke_width: int = DEFAULT_STROKE_WIDTH
    slant: float = 0.0

    def __post_init__(self):
        if self.digit not in DIGIT_STROKES or self.style not in DIGIT_STROKES[self.digit]:
            raise ValueError(f"no strokes for digit {self.digit!r} in style {self.style!r}")

    @property
    def name(self) -> str:
        return f"{self.digit}-{self.style}-h{self.height:g}-w{self.stroke_width}"

    def paths(self, canvas_size: int = CANVAS_SIZE) -> list[np.ndarray]:
        """Strokes in canvas pixels: a list of (n, 2) float arrays of (x, y)."""
        box_h = self.height * canvas_size
        box_w = 0.7 * box_h
        cx, cy = self.centre[0] * canvas_size, self.centre[1] * canvas_size
        paths = []
        for stroke in DIGIT_STROKES[self.digit][self.style]:
            unit = np.asarray(stroke, dtype=np.float64)
            x = cx + (unit[:, 0] - 0.5) * box_w + self.slant * (0.5 - unit[:, 1]) * box_h
            y = cy + (unit[:, 1] - 0.5) * box_h
            paths.append(np.clip(np.stack([x, y], axis=1), 1, canvas_size - 2))
        return paths


def _quality_set() -> tuple[DrawingSpec, ...]:
    """Both styles of every digit, each drawn in two of five manners
    (normal, small off-centre, large, thick and slanted, thin)."""
    manners = [
        dict(),
        dict(centre=(0.33, 0.36), height=0.42),
        dict(height=0.88),
        dict(stroke_width=32, slant=0.15, centre=(0.55, 0.5)),
        dict(stroke_width=12, height=0.6, centre=(0.62, 0.6)),
    ]
    specs = []
    for digit in range(10):
        for s, style in enumerate(DIGIT_STROKES[digit]):
            for m in (manners[(digit + s) % 5], manners[(digit + s + 2) % 5]):
                specs.append(DrawingSpec(digit, style, **m))
    return tuple(specs)


#: The drawings the quality test makes in Chromium (40: 4 per digit).
QUALITY_SET = _quality_set()


def render_strokes(
    paths: list[np.ndarray], *, canvas_size: int = CANVAS_SIZE, stroke_width: int = DEFAULT_STROKE_WIDTH
) -> np.ndarray:
    """Draw pen paths like the canvas does: (H, W, 4) uint8 RGBA, white round-capped
    ink on a transparent background."""
    image = Image.new("RGBA", (canvas_size, canvas_size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    radius = stroke_width / 2
    for path in paths:
        points = [tuple(map(float, p)) for p in path]
        if len(points) > 1:
            pen.line(points, fill=(255, 255, 255, 255), width=int(stroke_width), joint="curve")
        for x, y in (points[0], points[-1]):  # round caps
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(255, 255, 255, 255))
    return np.asarray(image)


def render_spec(spec: DrawingSpec, *, canvas_size: int = CANVAS_SIZE) -> np.ndarray:
    """A DrawingSpec as the canvas would return it: (H, W, 4) uint8 RGBA."""
    return render_strokes(spec.paths(canvas_size), canvas_size=canvas_size, stroke_width=spec.stroke_width)
