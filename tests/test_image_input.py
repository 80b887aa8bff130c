"""core.image_input: forged, broken and odd images from a browser are refused or converted, never decoded unbounded."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import image_input
from core.image_input import decode_data_url, decode_image_bytes

ROOT = Path(__file__).resolve().parent.parent


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def forged_png(width: int, height: int) -> bytes:
    """A valid all-black RGBA PNG of ``width`` x ``height``, built row by row (small when compressed)."""
    compressor = zlib.compressobj(9)
    row = bytes(1 + 4 * width)  # filter byte 0, then transparent black pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def canvas_like() -> Image.Image:
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    image.paste((255, 255, 255, 255), (120, 60, 160, 220))
    return image


# --- the normal path ----------------------------------------------------------


def test_canvas_data_url_decodes_to_rgba():
    pixels = decode_data_url(data_url(png_bytes(canvas_like())))
    assert pixels.shape == (280, 280, 4) and pixels.dtype == np.uint8
    assert pixels[100, 140].tolist() == [255, 255, 255, 255] and pixels[10, 10].tolist() == [0, 0, 0, 255]


def test_grey_output():
    pixels = decode_data_url(data_url(png_bytes(canvas_like())), mode="L")
    assert pixels.shape == (280, 280) and pixels[100, 140] == 255 and pixels[10, 10] == 0


# --- forged sizes: refused from the header, before any pixel is decoded ----------------


def test_forged_9000_png_refused_before_decoding():
    raw = forged_png(9000, 9000)
    assert len(raw) < 1_000_000  # the whole attack fits in one small websocket message
    url = data_url(raw)
    # A fresh interpreter, so its peak memory (ru_maxrss) measures this call alone.
    script = textwrap.dedent(
        """
        import resource, sys
        from core.image_input import decode_data_url
        url = sys.stdin.read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            decode_data_url(url)
        except ValueError as error:
            print("REFUSED", error)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print("GROWN_MB", grown_mb)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], input=url, capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert "REFUSED the image is 9000×9000 pixels; at most 1024×1024" in result.stdout
    grown_mb = float(result.stdout.split("GROWN_MB")[1])
    assert grown_mb < 100, result.stdout  # decoding it would take 9000*9000*4 bytes = 324 MB


def test_oversized_image_never_loads(monkeypatch):
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("pixels decoded"))
    with pytest.raises(ValueError, match=r"1025×10 pixels; at most 1024×1024"):
        decode_data_url(data_url(forged_png(1025, 10)))
    with pytest.raises(ValueError, match=r"10×3000 pixels; at most 2048×2048"):
        decode_image_bytes(forged_png(10, 3000))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side, message", [(12000, "is 12000×12000 pixels"), (20000, "has far too many pixels")])
def test_huge_headers_refused(side, message):
    # Header and a scrap of data only: Pillow's own bomb check (its global limit) fires first at 20000.
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0)
    raw = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(100)))
    with pytest.raises(ValueError, match=f"the image {message}; at most 2048×2048"):
        decode_image_bytes(raw)


def test_side_limit_is_inclusive():
    assert decode_data_url(data_url(forged_png(1024, 3))).shape == (3, 1024, 4)


def test_too_many_bytes_refused_before_base64_decoding(monkeypatch):
    monkeypatch.setattr(image_input.base64, "b64decode", lambda *a, **k: pytest.fail("decoded"))
    with pytest.raises(ValueError, match="too large"):
        decode_data_url("data:image/png;base64," + "A" * (6 * 1024 * 1024))


def test_upload_over_one_megabyte_refused():
    noise = np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8)
    raw = png_bytes(Image.fromarray(noise))
    assert len(raw) > image_input.UPLOAD_MAX_BYTES
    with pytest.raises(ValueError, match=r"too large \(1\.\d MB; at most 1\.0 MB\)"):
        decode_image_bytes(raw)


# --- malformed data URLs -------------------------------------------------------


@pytest.mark.parametrize(
    "url, message",
    [
        ("data:image/png;base64,@@@not base64@@@", "base64 data is not valid"),
        ("data:image/png;base64,iVBORw0KGgo", "base64 data is not valid"),  # bad padding
        ("data:image/png," + "iVBORw0KGgo=", "not base64"),
        ("data:image/png;utf8,iVBORw0KGgo=", "not base64"),
        ("image/png;base64,iVBORw0KGgo=", "not a data: URL"),
        ("no comma at all", "not a data: URL"),
        ("data:text/html;base64,PGI+aGk8L2I+", "'text/html', expected PNG image"),
        ("data:;base64,PGI+aGk8L2I+", "'no type'"),
        ("data:image/png;base64,", "empty"),
        ("data:image/png;base64," + base64.b64encode(b"hello, not a png").decode(), "not a readable PNG"),
    ],
)
def test_malformed_data_urls(url, message):
    with pytest.raises(ValueError, match=message):
        decode_data_url(url)


def test_data_url_parameters_before_base64():
    raw = png_bytes(canvas_like())
    url = "data:Image/PNG;name=drawing.png;base64," + base64.b64encode(raw).decode()
    assert decode_data_url(url).shape == (280, 280, 4)


def test_long_forged_mime_is_not_echoed():
    with pytest.raises(ValueError) as info:
        decode_data_url("data:" + "x" * 100_000 + ";base64,AAAA")
    assert len(str(info.value)) < 200


def test_not_text():
    with pytest.raises(ValueError, match="not arrive as text"):
        decode_data_url(None)  # type: ignore[arg-type]


def test_jpeg_in_a_png_data_url_refused():
    raw = jpeg_bytes(Image.new("RGB", (28, 28)))
    with pytest.raises(ValueError, match="not a readable PNG"):
        decode_data_url(data_url(raw, "image/png"))
    # ...and a JPEG data URL only when the caller allows it.
    with pytest.raises(ValueError, match="'image/jpeg', expected PNG"):
        decode_data_url(data_url(raw, "image/jpeg"))
    assert decode_data_url(data_url(raw, "image/jpeg"), formats=("PNG", "JPEG")).shape == (28, 28, 4)


# --- every PNG/JPEG mode becomes 8-bit RGBA or grey ----------------------------------


def test_sixteen_bit_grey_png_scaled_not_clipped():
    wide = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    raw = png_bytes(Image.fromarray(wide))
    assert Image.open(io.BytesIO(raw)).mode == "I;16"
    rgba = decode_image_bytes(raw)
    assert rgba.shape == (1, 3, 4) and rgba.dtype == np.uint8
    assert rgba[0, :, 0].tolist() == [0, 128, 255] and rgba[0, :, 3].tolist() == [255, 255, 255]
    assert decode_image_bytes(raw, mode="L").tolist() == [[0, 128, 255]]


def test_palette_png_with_transparency():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.putpixel((1, 1), 1)
    rgba = decode_image_bytes(png_bytes(image, transparency=0))
    assert rgba.shape == (4, 4, 4)
    assert rgba[1, 1].tolist() == [255, 255, 255, 255] and rgba[0, 0, 3] == 0


@pytest.mark.parametrize("mode", ["1", "L", "LA", "RGB", "RGBA", "P"])
def test_png_modes(mode):
    rgba = decode_image_bytes(png_bytes(Image.new(mode, (5, 3))))
    assert rgba.shape == (3, 5, 4) and rgba.dtype == np.uint8
    assert decode_image_bytes(png_bytes(Image.new(mode, (5, 3))), mode="L").shape == (3, 5)


@pytest.mark.parametrize("mode", ["L", "RGB", "CMYK"])
def test_jpeg_modes(mode):
    image = Image.new(mode, (16, 8), "white" if mode != "CMYK" else (0, 0, 0, 0))
    rgba = decode_image_bytes(jpeg_bytes(image))
    assert rgba.shape == (8, 16, 4) and rgba.dtype == np.uint8
    assert rgba[..., :3].min() > 240 and (rgba[..., 3] == 255).all()


def test_jpeg_rotation_tag_applied():
    image = Image.new("RGB", (20, 10), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    assert decode_image_bytes(jpeg_bytes(image, exif=exif)).shape == (20, 10, 4)


# --- broken or unwanted files -----------------------------------------------------


def test_truncated_png():
    raw = png_bytes(Image.fromarray(np.random.default_rng(1).integers(0, 256, (100, 100), dtype=np.uint8)))
    with pytest.raises(ValueError, match="damaged or cut short"):
        decode_image_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="damaged or cut short|not a readable"):
        decode_data_url(data_url(raw[:40]))


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "WEBP"])
def test_other_formats_refused_for_upload(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, fmt)
    with pytest.raises(ValueError, match="not a readable PNG or JPEG image"):
        decode_image_bytes(buffer.getvalue())


def test_empty_and_wrong_types():
    with pytest.raises(ValueError, match="empty"):
        decode_image_bytes(b"")
    with pytest.raises(ValueError, match="bytes"):
        decode_image_bytes("a string")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        decode_image_bytes(png_bytes(canvas_like()), mode="RGB")


@pytest.mark.parametrize("colour_type, channels", [(0, 1), (2, 3), (4, 2), (6, 4)])
def test_sixteen_bit_png_of_every_colour_type(colour_type, channels):
    row = b"\0" + b"\x80\x80" * channels * 3  # filter byte, then 3 pixels at half brightness
    ihdr = struct.pack(">IIBBBBB", 3, 2, 16, colour_type, 0, 0, 0)
    raw = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(row * 2)) + _chunk(b"IEND", b"")
    rgba = decode_image_bytes(raw)
    assert rgba.shape == (2, 3, 4) and rgba.dtype == np.uint8
    assert abs(int(rgba[0, 0, 0]) - 128) <= 1
