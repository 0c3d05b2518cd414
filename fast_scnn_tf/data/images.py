"""Reading an image file as the model takes it: RGB uint8 (H, W, 3), whatever the file holds.

Used outside the tf.data pipeline, where frames come one by one from a user's folder or a
video (prediction, test-split submissions, figures); the pipeline decodes with TensorFlow
(`decode.py`).

A file's size is read from its header before it is decoded, and an image over `MAX_PIXELS` is
refused: a 1 kB PNG can declare 20000x20000 pixels, and decoding it took all the memory of the
machine. Only formats whose header is read here are decoded (PNG, JPEG, BMP, TIFF, WebP, PPM/PGM).
"""

from __future__ import annotations

import re
import struct

import cv2
import numpy as np

# The largest image read or served by default (height * width): 64 megapixels, 8192x8192. Decoded
# as RGB that is 192 MiB, several GiB of activations in the model; a 1024x2048 Cityscapes frame is
# 2 megapixels. predict.py --max-pixels and export_saved_model(max_pixels=) change it.
MAX_PIXELS = 8192 * 8192
FORMATS = "PNG, JPEG, BMP, TIFF, WebP or PPM/PGM"


class TooManyPixels(ValueError):
    """An image or video whose declared size is over the pixel limit."""


def check_pixels(what: str, height: int, width: int, max_pixels: int = MAX_PIXELS) -> None:
    """Raise TooManyPixels (one line naming `what` and its size) if height * width > max_pixels."""
    if height * width > max_pixels:
        raise TooManyPixels(f"{what} is {width}x{height} pixels, over the limit of {max_pixels} "
                            f"({max_pixels / 2**20:g} megapixels), so it was not decoded")


def read_image(path: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3).

    Grayscale is replicated to three channels, alpha is dropped, 16-bit images are scaled to
    8 bits. Raises ValueError naming the file when its header declares more than `max_pixels`
    (checked before decoding: TooManyPixels), when it is not one of FORMATS, or when it cannot be
    decoded.
    """
    size = declared_size(path)
    if size is None:
        raise ValueError(f"cannot read image '{path}': not a {FORMATS} file")
    check_pixels(f"image '{path}'", *size, max_pixels)
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ValueError(f"cannot read image '{path}': not an image file OpenCV can decode")
    return to_rgb_uint8(image, bgr=True)


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of an image file: from its header where it declares one (damage further in
    is then left to the decoder that reads the frame, whose errors name the file), else decoded
    by `read_image`."""
    return declared_size(path) or read_image(path).shape[:2]


def to_rgb_uint8(image: np.ndarray, bgr: bool) -> np.ndarray:
    """Normalise a decoded image (gray, gray+alpha, BGR(A) or RGB(A); 8 or 16 bit) to RGB uint8."""
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    channels = image.shape[2]
    if channels in (1, 2):  # gray, gray + alpha
        return np.repeat(image[:, :, :1], 3, axis=2)
    image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1] if bgr else image)


def declared_size(path: str) -> tuple[int, int] | None:
    """(height, width) that an image file's header declares, read without decoding the pixels;
    None when the file is not one of FORMATS or its header is cut short. An unreadable file is a
    ValueError naming it."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            try:
                return _header_size(head, f)
            except (struct.error, ValueError, IndexError):  # a header cut short or garbled
                return None
    except OSError as e:
        raise ValueError(f"cannot read image '{path}': {e.strerror or e}") from e


def _header_size(head: bytes, f) -> tuple[int, int] | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):  # the IHDR chunk comes first: width, height
        width, height = struct.unpack(">II", head[16:24])
    elif head.startswith(b"\xff\xd8"):
        return _jpeg_size(f)
    elif head.startswith(b"BM"):  # BITMAPCOREHEADER (12 bytes) or a later, larger one
        core = struct.unpack("<I", head[14:18])[0] == 12
        width, height = struct.unpack("<HH" if core else "<ii", head[18:22 if core else 26])
    elif head[:4] in (b"II*\0", b"MM\0*"):
        return _tiff_size(head, f)
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        chunk = head[12:16]
        if chunk == b"VP8 ":  # lossy: 14-bit width and height after the key frame's start code
            width, height = (v & 0x3FFF for v in struct.unpack("<HH", head[26:30]))
        elif chunk == b"VP8L":  # lossless: 14 bits each, minus one
            bits = struct.unpack("<I", head[21:25])[0]
            width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif chunk == b"VP8X":  # extended: 24 bits each, minus one
            width = int.from_bytes(head[24:27], "little") + 1
            height = int.from_bytes(head[27:30], "little") + 1
        else:
            return None
    elif head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"):  # PBM/PGM/PPM: text fields
        text = re.sub(rb"#[^\n]*", b" ", head[2:] + f.read(1024))
        width, height = (int(field) for field in text.split()[:2])
    else:
        return None
    return abs(height), width  # BMP stores top-down images with a negative height


# Start-of-frame markers (SOF0 baseline, SOF2 progressive, ...); C4, C8 and CC are other segments.
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk the JPEG segments from after SOI to the first frame header."""
    f.seek(2)
    while True:
        if f.read(1) != b"\xff":
            return None
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker or marker[0] in (0xD9, 0xDA):  # end of file or scan before any frame
            return None
        if 0xD0 <= marker[0] <= 0xD8 or marker[0] == 0x01:  # markers without a segment
            continue
        length = struct.unpack(">H", f.read(2))[0]
        if marker[0] in _JPEG_FRAMES:
            _, height, width = struct.unpack(">BHH", f.read(5))
            return height, width
        f.seek(length - 2, 1)


def _tiff_size(head: bytes, f) -> tuple[int, int] | None:
    """ImageWidth (256) and ImageLength (257) of the first image file directory."""
    order = "<" if head.startswith(b"II") else ">"
    f.seek(struct.unpack(order + "I", head[4:8])[0])
    count = struct.unpack(order + "H", f.read(2))[0]
    tags = {}
    for _ in range(count):
        tag, kind, _, value = struct.unpack(order + "HHI4s", f.read(12))
        if tag in (256, 257):  # a SHORT (type 3) or LONG, held in the entry itself
            short = kind == 3
            tags[tag] = struct.unpack(order + ("H" if short else "I"), value[:2 if short else 4])[0]
    return (tags[257], tags[256]) if len(tags) == 2 else None
