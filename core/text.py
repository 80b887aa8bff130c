"""Text a person types that others will see (run names, display names), made safe to show.

A right-to-left override (U+202E) makes "gpj.exe" display as "exe.jpg"; a zero-width
or control character makes two names look alike; a flood of combining marks
spills over the lines around it. ``clean_name`` removes all of these.
"""

from __future__ import annotations

import unicodedata

#: Bidirectional embeddings, overrides, isolates and marks: they reorder what follows.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # LRE RLE PDF LRO RLO
    "\u2066\u2067\u2068\u2069"  # LRI RLI FSI PDI
    "\u200e\u200f\u061c"  # LRM RLM ALM
)
# Zero-width (non-)joiners are format characters too, but emoji sequences and
# Persian or Indic words need them, and they cannot reorder or hide text.
_KEPT_FORMAT = frozenset("\u200c\u200d")
#: Combining marks kept on one letter (Vietnamese needs two; "Zalgo" text has dozens).
MAX_COMBINING_MARKS = 3


def clean_name(text: str, *, max_len: int) -> str:
    """``text`` without control, format and bidi characters, whitespace collapsed, at most ``max_len`` long.

    Line breaks and tabs become spaces; the result may be "" (the caller picks a default).
    """
    if not isinstance(text, str):
        raise ValueError(f"a name must be text, got {type(text).__name__}")
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    kept = []
    marks = 0
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")
        elif char in BIDI_CONTROLS or (category in ("Cc", "Cf", "Co", "Cs", "Cn") and char not in _KEPT_FORMAT):
            continue  # Co private use, Cs lone surrogates, Cn unassigned: nothing a reader can see
        elif category.startswith("M"):
            marks += 1
            if marks <= MAX_COMBINING_MARKS:
                kept.append(char)
            continue
        else:
            kept.append(char)
        marks = 0
    return " ".join("".join(kept).split())[:max_len].rstrip()
