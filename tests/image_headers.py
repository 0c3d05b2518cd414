"""Image files whose header declares a size their data does not hold: a decompression bomb's
header without the gigabytes behind it, for tests that check a size is refused before decoding."""

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares an 8-bit RGB image of `width` x `height`, followed by two rows of
    pixels (a decoder would allocate the whole image, then fail on the missing rows)."""
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 2)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                                0, 0, 0))
            + _chunk(b"IDAT", rows) + _chunk(b"IEND", b""))
