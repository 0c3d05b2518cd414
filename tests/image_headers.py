"""Image files whose header declares a size their data does not hold: a decompression bomb's
header without the gigabytes behind it, for tests that check a size is refused before decoding.
Also small valid files of the formats the header readers handle, built byte by byte."""

import struct
import zlib

import cv2
import numpy as np


def _chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    length = len(data) if length is None else length
    return struct.pack(">I", length) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(
    width: int, height: int, before_ihdr: bytes = b"", after_ihdr: bytes = b""
) -> bytes:
    """A PNG whose IHDR declares an 8-bit RGB image of `width` x `height`, followed by two rows of
    pixels (a decoder would allocate the whole image, then fail on the missing rows).
    `before_ihdr` and `after_ihdr` are chunks (`png_chunk`) put before and after the IHDR."""
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 2)
    return (
        b"\x89PNG\r\n\x1a\n"
        + before_ihdr
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + after_ihdr
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def png_chunk(kind: bytes, data: bytes, length: int | None = None) -> bytes:
    """One PNG chunk; `length` (when given) is the length its header declares instead of
    len(data)."""
    return _chunk(kind, data, length)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is changed to declare `width` x `height`."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif(width: int, height: int, frames=None, pixels: bool = True) -> bytes:
    """A GIF89a whose logical screen is `width` x `height`, with one image per (left, top, width,
    height) in `frames` (default: one covering the screen). With `pixels` every image holds its
    pixels (a valid file, so keep the frames small); without, each image's data ends at once,
    so the file is a header that declares the sizes without holding them."""
    frames = frames or [(0, 0, width, height)]
    # 2-colour global table (black, white); background 0, no aspect ratio.
    out = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    for left, top, w, h in frames:
        out += (
            b"\x2c" + struct.pack("<HHHHB", left, top, w, h, 0) + _gif_lzw(w * h if pixels else 0)
        )
    return out + b"\x3b"


def _gif_lzw(count: int) -> bytes:
    """Image data of `count` pixels alternating 0 and 1, LZW-coded without compression: with a
    minimum code size of 7 every code is one byte, and a clear code (128) every 64 pixels keeps
    the code table from growing to 9-bit codes; 129 ends the data."""
    codes = bytearray()
    for i in range(count):
        if i % 64 == 0:
            codes.append(128)
        codes.append(i % 2)
    codes += b"\x80\x81"
    blocks = b"".join(
        bytes([len(codes[i : i + 255])]) + codes[i : i + 255] for i in range(0, len(codes), 255)
    )
    return b"\x07" + blocks + b"\0"


def bmp_claiming(width: int, height: int, core: bool = False) -> bytes:
    """A 24-bit BMP header declaring `width` x `height` (BITMAPINFOHEADER, or the 12-byte
    BITMAPCOREHEADER with `core`) and no pixel rows."""
    if core:
        info = struct.pack("<IHHHH", 12, width, height, 1, 24)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 0, 0, 0, 0)
    offset = 14 + len(info)
    return b"BM" + struct.pack("<IHHI", offset, 0, 0, offset) + info


def webp_claiming(width: int, height: int, kind: str) -> bytes:
    """The first chunk of a WebP declaring `width` x `height`: `kind` VP8 (lossy key frame),
    VP8L (lossless) or VP8X (extended: the canvas size), with nothing after the header."""
    if kind == "VP8 ":
        data = b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    elif kind == "VP8L":
        data = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14)
    else:
        data = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    chunk = kind.encode() + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


# TIFF field types
SHORT, LONG, BYTE, LONG8 = 3, 4, 1, 16


def tiff_claiming(entries, big_endian: bool = False) -> bytes:
    """A TIFF whose first image file directory holds `entries`, (tag, type, value) each, in the
    order given (repeats included): a header without image data. Values fit in the entry (SHORT,
    LONG, BYTE); a LONG8 value is stored after the directory, its offset in the entry."""
    order = ">" if big_endian else "<"
    ifd_end = 8 + 2 + 12 * len(entries) + 4
    out, extra = b"", b""
    for tag, kind, value in entries:
        if kind == LONG8:
            field = struct.pack(order + "I", ifd_end + len(extra))
            extra += struct.pack(order + "Q", value)
        else:
            field = struct.pack(order + {SHORT: "H", LONG: "I", BYTE: "B"}[kind], value)
        out += struct.pack(order + "HHI", tag, kind, 1) + field.ljust(4, b"\0")
    head = (b"MM\0*" if big_endian else b"II*\0") + struct.pack(order + "I", 8)
    return head + struct.pack(order + "H", len(entries)) + out + b"\0\0\0\0" + extra


def tiff_size_entries(width: int, height: int) -> list:
    """ImageWidth and ImageLength entries (LONG) for `tiff_claiming`."""
    return [(256, LONG, width), (257, LONG, height)]
