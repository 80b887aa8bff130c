"""Images that come from a browser (the drawing canvas, an uploaded file), decoded with bounds.

Whatever a browser sends can be forged: a 430 kB PNG may claim 9000x9000
pixels and take gigabytes to decode. So the size is read from the file's
header (Pillow's ``Image.open`` is lazy) and refused before any pixel is
decoded; every failure is a ``ValueError`` whose message a student can read.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: The canvas is 280x280 CSS pixels (560 on a 2x screen): 1024 leaves room, nothing more.
CANVAS_MAX_SIDE = 1024
#: A drawing's PNG is a few kB; a noisy 1024x1024 RGBA one is at most ~4 MB.
CANVAS_MAX_BYTES = 4 * 1024 * 1024
#: A photo or scan of one digit, typed in with the keyboard instead of drawn.
UPLOAD_MAX_SIDE = 2048
UPLOAD_MAX_BYTES = 1024 * 1024
UPLOAD_FORMATS = ("PNG", "JPEG")

_MIME_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/jpg": "JPEG"}
# Single-channel modes with more than 8 bits, and the value that maps to white.
_WIDE_GREY_MAX = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535, "F": 255}


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


def decode_data_url(
    url: str,
    *,
    max_side: int = CANVAS_MAX_SIDE,
    max_bytes: int = CANVAS_MAX_BYTES,
    formats: tuple[str, ...] = ("PNG",),
    mode: str = "RGBA",
) -> np.ndarray:
    """A ``data:image/png;base64,...`` URL as uint8 pixels: (H, W, 4) RGBA, or (H, W) for ``mode="L"``.

    ``max_bytes`` bounds the decoded file, ``max_side`` its width and height.
    """
    if not isinstance(url, str):
        raise ValueError(f"the drawing did not arrive as text (got {type(url).__name__})")
    header, sep, payload = url.partition(",")
    if not header.startswith("data:") or sep != ",":
        raise ValueError("the drawing did not arrive as an image (not a data: URL)")
    # "data:<mime>[;param=value]...;base64": the encoding is always the last parameter.
    mime, *parameters = header[len("data:"):].split(";")
    if not parameters or parameters[-1].strip().lower() != "base64":
        raise ValueError("the drawing did not arrive as an image (the data URL is not base64)")
    mime = mime.strip().lower()
    fmt = _MIME_FORMATS.get(mime)
    if fmt is None or fmt not in formats:
        raise ValueError(f"the drawing arrived as {mime[:40] or 'no type'!r}, expected {_accepted(formats)}")
    # Base64 is 4 characters per 3 bytes: refuse an oversized payload before decoding it.
    if len(payload) > (max_bytes + 2) // 3 * 4 + 4:
        raise ValueError(
            f"the drawing is too large ({_megabytes(len(payload) * 3 // 4)}; at most {_megabytes(max_bytes)})"
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the drawing arrived damaged (its base64 data is not valid)") from None
    return decode_image_bytes(raw, max_side=max_side, max_bytes=max_bytes, formats=(fmt,), mode=mode)


def _accepted(formats: tuple[str, ...]) -> str:
    return " or ".join(formats) + " image"


def decode_image_bytes(
    data: bytes,
    *,
    max_side: int = UPLOAD_MAX_SIDE,
    max_bytes: int = UPLOAD_MAX_BYTES,
    formats: tuple[str, ...] = UPLOAD_FORMATS,
    mode: str = "RGBA",
) -> np.ndarray:
    """An image file's bytes as uint8 pixels: (H, W, 4) RGBA, or (H, W) grey for ``mode="L"``.

    Only ``formats`` (Pillow names) are tried; width and height are checked
    against ``max_side`` from the header, before the pixels are decoded.
    JPEG rotation tags (a phone photo) are applied.
    """
    if mode not in ("RGBA", "L"):
        raise ValueError(f"mode must be 'RGBA' or 'L', got {mode!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"expected the image file's bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise ValueError(f"the image file is too large ({_megabytes(len(data))}; at most {_megabytes(max_bytes)})")
    if len(data) == 0:
        raise ValueError("the image file is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=list(formats))
    except Image.DecompressionBombError:
        raise ValueError(_too_big_message(None, max_side)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValueError(f"this file is not a readable {_accepted(formats)}") from None
    with image:
        width, height = image.size
        if width > max_side or height > max_side:
            raise ValueError(_too_big_message((width, height), max_side))
        if width < 1 or height < 1:
            raise ValueError("the image has no pixels")
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
            pixels = _to_mode(image, mode)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error):
            raise ValueError(f"the image file is damaged or cut short (not a complete {_accepted(formats)})") from None
    return pixels


def _too_big_message(size: tuple[int, int] | None, max_side: int) -> str:
    claimed = f"is {size[0]}×{size[1]} pixels" if size else "has far too many pixels"
    return (
        f"the image {claimed}; at most {max_side}×{max_side} is accepted "
        "(a digit needs no more: it is shrunk to 28×28 anyway)"
    )


def _to_mode(image: Image.Image, mode: str) -> np.ndarray:
    """8-bit RGBA or L pixels from any Pillow mode (16-bit grey, palette, LA, CMYK, ...)."""
    if image.mode in _WIDE_GREY_MAX:
        # Pillow cannot convert 16-bit grey to RGBA without clipping at 255: scale it ourselves.
        wide = np.asarray(image, dtype=np.float64)
        grey = np.clip(np.rint(wide / _WIDE_GREY_MAX[image.mode] * 255), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    if image.mode != mode:
        try:
            image = image.convert(mode)
        except ValueError:  # a mode Pillow cannot convert directly (e.g. "PA" to "L")
            image = image.convert("RGBA").convert(mode)
    pixels = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(pixels)
