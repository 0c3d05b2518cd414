"""Reading an image file as the model takes it: RGB uint8 (H, W, 3), whatever the file holds; and
the one size gate every image passes before a decoder sees it.

`read_image` is used outside the tf.data pipeline, where frames come one by one from a user's
folder or a video (prediction, test-split submissions, figures), and decodes with OpenCV; the
pipeline decodes with TensorFlow (`decode.py`) after the same gate (`size_problem`).

The gate reads, from the header and without decoding, the size the decoder will allocate, and
refuses an image over `MAX_PIXELS`: a 1 kB PNG can declare 20000x20000 pixels, and decoding it took
all the memory of the machine. Both decoders pick the format by content, not by file name, so the
gate does too; it reads the size of PNG, JPEG, GIF, BMP, TIFF, WebP and PBM/PGM/PPM as the
decoders do (`read_header`), and refuses any other content, naming its format where it is one a
decoder would take (OpenEXR, JPEG 2000, AVIF, ...). A header it cannot read is refused as well:
"size unknown" never passes.
"""

from __future__ import annotations

import io
import struct
from typing import NamedTuple

import cv2
import numpy as np

from fast_scnn_tf.files import not_a_regular_file

# The largest image read or served by default (height * width): 64 megapixels, 8192x8192. Decoded
# as RGB that is 192 MiB, several GiB of activations in the model; a 1024x2048 Cityscapes frame is
# 2 megapixels. predict.py --max-pixels and export_saved_model(max_pixels=) change it.
MAX_PIXELS = 8192 * 8192

# The formats each decoder is given after the gate: cv2.imread (read_image) and
# tf.io.decode_image (the tf.data pipeline; it decodes neither TIFF nor PBM/PGM/PPM).
OPENCV_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WebP", "PBM/PGM/PPM")
TENSORFLOW_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WebP")


def listing(formats) -> str:
    """('PNG', 'JPEG', 'GIF') -> 'PNG, JPEG or GIF'."""
    return " or ".join(filter(None, [", ".join(formats[:-1]), formats[-1]]))


FORMATS = listing(OPENCV_FORMATS)


class TooManyPixels(ValueError):
    """An image or video whose declared size is over the pixel limit."""


class SizeUnknown(ValueError):
    """Bytes whose decoded size cannot be read safely: a format that is not accepted, or a header
    cut short, garbled or ambiguous. The message says why, without the file's name."""


class Header(NamedTuple):
    """What an image header declares: its format (one of OPENCV_FORMATS), the height and width a
    decoder allocates for it, and for a GIF `frames` and `frame_pixels`, the number of images it
    holds and their pixels together (TensorFlow's decoder reads every frame into memory, even
    when it returns only the first; other formats hold one image of height x width)."""

    format: str
    height: int
    width: int
    frames: int = 1
    frame_pixels: int = 0


def check_pixels(what: str, height: int, width: int, max_pixels: int = MAX_PIXELS) -> None:
    """Raise TooManyPixels (one line naming `what` and its size) if height * width > max_pixels."""
    if height * width > max_pixels:
        raise TooManyPixels(
            f"{what} is {width}x{height} pixels, over the limit of {max_pixels} "
            f"({max_pixels / 2**20:g} megapixels), so it was not decoded"
        )


def check_header(what: str, header: Header, max_pixels: int = MAX_PIXELS) -> None:
    """TooManyPixels (one line naming `what`) if the size a header declares, or its frames
    together, are over `max_pixels`."""
    check_pixels(what, header.height, header.width, max_pixels)
    if header.frame_pixels > max_pixels:
        raise TooManyPixels(
            f"{what} holds {header.frames} frames of {header.frame_pixels} pixels "
            f"together, over the limit of {max_pixels} "
            f"({max_pixels / 2**20:g} megapixels), so it was not decoded"
        )


def checked_size(
    path: str, max_pixels: int = MAX_PIXELS, formats=OPENCV_FORMATS
) -> tuple[int, int]:
    """The gate for an image file: its (height, width), read from its header (`read_header`),
    once its format is one of `formats` and its size within `max_pixels`; else a ValueError
    (TooManyPixels for the pixel limit), one line naming the file."""
    header = read_file_header(path, formats)
    check_header(f"image '{path}'", header, max_pixels)
    return header.height, header.width


def size_problem(data: bytes, max_pixels: int = MAX_PIXELS, formats=TENSORFLOW_FORMATS) -> str:
    """The gate on encoded bytes (the tf.data pipeline's, through `tf.numpy_function`): "" when
    they may be decoded, else why not, one line without a file name."""
    try:
        check_header("image", read_header(io.BytesIO(data), formats), max_pixels)
    except SizeUnknown as e:
        return f"cannot read image: {e}"
    except TooManyPixels as e:
        return str(e)
    return ""


def read_image(path: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3).

    Grayscale is replicated to three channels, alpha is dropped, 16-bit images are scaled to
    8 bits. Raises ValueError naming the file when it does not pass the gate (checked before
    decoding: `checked_size`; over `max_pixels`: TooManyPixels) or cannot be decoded.
    """
    checked_size(path, max_pixels)
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ValueError(f"cannot read image '{path}': not an image file OpenCV can decode")
    return to_rgb_uint8(image, bgr=True)


def image_size(path: str) -> tuple[int, int]:
    """(height, width) of a dataset image file, read from its header through the gate the tf.data
    pipeline applies (TENSORFLOW_FORMATS, MAX_PIXELS): the trainer sizes the model from it before
    any frame is decoded."""
    return checked_size(path, MAX_PIXELS, TENSORFLOW_FORMATS)


def declared_size(path: str) -> tuple[int, int]:
    """(height, width) a decoder allocates for an image file of any of OPENCV_FORMATS, read from
    its header (no pixel limit); a ValueError naming the file when it cannot be read."""
    header = read_file_header(path, OPENCV_FORMATS)
    return header.height, header.width


def read_file_header(path: str, formats=OPENCV_FORMATS) -> Header:
    """`read_header` of a file; ValueError naming the file when it cannot be opened or its size
    cannot be read (`formats`: the formats the message lists as accepted). A path that is not a
    regular file (a FIFO, a device) is refused without being opened."""
    problem = not_a_regular_file(path)
    if problem:
        raise ValueError(f"image '{path}' {problem}: expected an image file")
    try:
        with open(path, "rb") as f:
            return read_header(f, formats)
    except SizeUnknown as e:
        raise SizeUnknown(f"cannot read image '{path}': {e}") from None
    except OSError as e:
        raise ValueError(f"cannot read image '{path}': {e.strerror or e}") from e


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


# --- header readers ---------------------------------------------------------------------------

# Formats OpenCV or TensorFlow decode by content whose size is not read here: refused by name.
_NOT_READ = [
    (b"\x76\x2f\x31\x01", "OpenEXR"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\0\0\0\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\x59\xa6\x6a\x95", "Sun raster"),
    (b"PF", "PFM"),
    (b"Pf", "PFM"),
    (b"P7", "PAM"),
    (b"II+\0", "BigTIFF"),
    (b"MM\0+", "BigTIFF"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\0\0\0\x0cJXL \r\n\x87\n", "JPEG XL"),
]


class _CutShort(Exception):
    """The header ends before a field the reader needs."""


def _take(f, n: int) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise _CutShort
    return data


def read_header(f, formats=OPENCV_FORMATS) -> Header:
    """The Header of the image in the binary file object `f` (seekable), read as the decoders
    read it. SizeUnknown when its format is not one of `formats` (named when a decoder would
    take it), or its header is cut short, garbled or ambiguous."""
    name, reader = _format(f.read(16))
    if name is None:
        raise SizeUnknown(f"not a {listing(formats)} file")
    if reader is None or name not in formats:
        raise SizeUnknown(f"{name} is not accepted, only {listing(formats)}")
    f.seek(0)
    try:
        header = reader(f)
    except _CutShort:
        raise SizeUnknown(f"its {name} header is cut short") from None
    if header.height <= 0 or header.width <= 0:
        raise SizeUnknown(
            f"its {name} header declares an empty image ({header.width}x{header.height})"
        )
    return header


def _format(head: bytes):
    """(format name, header reader) of a file starting with `head`, by the signatures the
    decoders check; (name, None) for a format whose size is not read; (None, None) if unknown."""
    for signature, name in _NOT_READ:
        if head.startswith(signature):
            return name, None
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF", None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG", _png
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG", _jpeg
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF", _gif
    if head.startswith(b"BM"):
        return "BMP", _bmp
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "TIFF", _tiff
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP", _webp
    if head[:1] == b"P" and head[1:2] in b"123456" and head[2:3].isspace():
        return "PBM/PGM/PPM", _pnm
    return None, None


def _png(f) -> Header:
    """The IHDR, which libpng and OpenCV require first; then every chunk's length is checked to
    fit in the file: OpenCV's reader allocates each chunk's declared length (an 85-byte file
    declaring a 2 GB text chunk took 2 GB)."""
    f.seek(8)
    _, kind, width, height = struct.unpack(">I4sII", _take(f, 16))
    if kind != b"IHDR":
        raise SizeUnknown("its PNG header does not start with IHDR")
    end = f.seek(0, io.SEEK_END)
    position = 8
    while position + 12 <= end:
        f.seek(position)
        length, kind = struct.unpack(">I4s", _take(f, 8))
        position += 12 + length
        if position > end:
            raise SizeUnknown("its PNG chunk runs past the end of the file")
        if kind == b"IEND":
            break
    return Header("PNG", height, width)


# Start-of-frame markers (SOF0 baseline, SOF2 progressive, ...); C4, C8 and CC are other segments.
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(f) -> Header:
    """The first frame header, found as libjpeg finds markers: bytes other than 0xFF between
    segments are skipped, and so is a stuffed 0xFF 0x00."""
    f.seek(2)
    while True:
        byte = _take(f, 1)
        while byte != b"\xff":
            byte = _take(f, 1)
        while byte == b"\xff":  # fill bytes
            byte = _take(f, 1)
        marker = byte[0]
        if marker == 0 or 0xD0 <= marker <= 0xD8 or marker == 0x01:  # no segment follows
            continue
        if marker in (0xD9, 0xDA):  # end of image, or a scan, before any frame
            raise SizeUnknown("its JPEG header has no frame size before its data")
        length = struct.unpack(">H", _take(f, 2))[0]
        if marker in _JPEG_FRAMES:
            _, height, width = struct.unpack(">BHH", _take(f, 5))
            return Header("JPEG", height, width)
        f.seek(length - 2, io.SEEK_CUR)


def _gif(f) -> Header:
    """The logical screen (OpenCV's canvas) and every image descriptor: TensorFlow's canvas is
    its largest frame, and giflib reads every frame into memory before the first is returned."""
    f.seek(6)
    width, height, flags = struct.unpack("<HHB", _take(f, 5))
    f.seek(2, io.SEEK_CUR)  # background colour, aspect ratio
    if flags & 0x80:  # global colour table
        f.seek(3 << ((flags & 7) + 1), io.SEEK_CUR)
    frames = frame_pixels = 0
    while True:
        block = _take(f, 1)
        if block == b"\x3b":  # trailer
            break
        if block == b"\x21":  # extension: its label, then data sub-blocks
            _take(f, 1)
        elif block == b"\x2c":  # image descriptor: left, top, width, height, flags
            _, _, frame_width, frame_height, flags = struct.unpack("<HHHHB", _take(f, 9))
            width, height = max(width, frame_width), max(height, frame_height)
            frames += 1
            frame_pixels += frame_width * frame_height
            if flags & 0x80:  # local colour table
                f.seek(3 << ((flags & 7) + 1), io.SEEK_CUR)
            _take(f, 1)  # LZW minimum code size
        else:
            raise SizeUnknown("its GIF header is garbled (a block of unknown type)")
        size = _take(f, 1)[0]
        while size:  # data sub-blocks, up to an empty one
            f.seek(size, io.SEEK_CUR)
            size = _take(f, 1)[0]
    return Header("GIF", height, width, frames, frame_pixels)


def _bmp(f) -> Header:
    """BITMAPCOREHEADER (12 bytes: 16-bit sizes) or a later, larger one (32-bit); a negative
    height is a top-down image."""
    f.seek(14)
    core = struct.unpack("<I", _take(f, 4))[0] == 12
    width, height = struct.unpack("<HH" if core else "<ii", _take(f, 4 if core else 8))
    return Header("BMP", abs(height), width)


def _webp(f) -> Header:
    """The first chunk: a simple lossy (VP8) or lossless (VP8L) image, or the extended format's
    canvas (VP8X), which libwebp requires a still image to match."""
    f.seek(12)
    chunk = _take(f, 8)[:4]
    data = _take(f, 5 if chunk == b"VP8L" else 10)
    if chunk == b"VP8 " and data[3:6] == b"\x9d\x01\x2a":  # key frame start code, then 14 bits
        width, height = (v & 0x3FFF for v in struct.unpack("<HH", data[6:10]))
    elif chunk == b"VP8L" and data[0] == 0x2F:  # 14 bits each, minus one
        bits = struct.unpack("<I", data[1:5])[0]
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":  # 24 bits each, minus one
        width = int.from_bytes(data[4:7], "little") + 1
        height = int.from_bytes(data[7:10], "little") + 1
    else:
        raise SizeUnknown("its WebP header is garbled (no VP8, VP8L or VP8X image first)")
    return Header("WebP", height, width)


_TIFF_TAGS = {
    256: "ImageWidth",
    257: "ImageLength",
    278: "RowsPerStrip",
    322: "TileWidth",
    323: "TileLength",
}


def _tiff(f) -> Header:
    """The first image file directory, as OpenCV (libtiff) decodes only the first image. A tag
    given twice is refused: libtiff keeps the first, and the file is malformed anyway. OpenCV
    allocates a whole strip or tile however small the image, so those sizes count too."""
    order = "<" if _take(f, 2) == b"II" else ">"
    f.seek(4)
    f.seek(struct.unpack(order + "I", _take(f, 4))[0])
    count = struct.unpack(order + "H", _take(f, 2))[0]
    tags = {}
    for _ in range(count):
        tag, kind, number, value = struct.unpack(order + "HHI4s", _take(f, 12))
        if tag not in _TIFF_TAGS:
            continue
        name = _TIFF_TAGS[tag]
        if tag in tags:
            raise SizeUnknown(f"its TIFF header gives {name} more than once (an ambiguous size)")
        if kind not in (3, 4) or number != 1:  # one SHORT or LONG, held in the entry
            raise SizeUnknown(
                f"its TIFF header gives {name} as field type {kind}, count "
                f"{number} (expected one SHORT or LONG)"
            )
        tags[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), value)[0]
    for tag in (256, 257):
        if tag not in tags:
            raise SizeUnknown(f"its TIFF header gives no {_TIFF_TAGS[tag]}")
    width, height = tags[256], tags[257]
    if 322 in tags or 323 in tags:  # tiled
        width, height = max(width, tags.get(322, 0)), max(height, tags.get(323, 0))
    elif tags.get(278, 0) != 0xFFFFFFFF:  # strips; all-ones means a single strip
        height = max(height, tags.get(278, 0))
    return Header("TIFF", height, width)


def _pnm(f) -> Header:
    """PBM/PGM/PPM: width and height as the first two numbers after the magic number."""
    f.seek(2)
    width = _pnm_number(f)
    return Header("PBM/PGM/PPM", _pnm_number(f), width)


def _pnm_number(f) -> int:
    """The next number of a PBM/PGM/PPM header, read as OpenCV reads it: whitespace and comments
    before it (a comment runs from '#' to a line feed or a carriage return), and the number ends
    at the first byte that is not a digit, which is consumed with it."""
    byte = _take(f, 1)
    while not byte.isdigit():
        if byte == b"#":
            while _take(f, 1) not in (b"\n", b"\r"):
                pass
        elif not byte.isspace():
            raise SizeUnknown(
                f"its PBM/PGM/PPM header is garbled ({byte!r} where a number belongs)"
            )
        byte = _take(f, 1)
    digits = b""
    while byte.isdigit():
        digits += byte
        if len(digits) > 10:  # over OpenCV's limit (a 32-bit int)
            raise SizeUnknown("its PBM/PGM/PPM header holds a number over 10 digits")
        byte = f.read(1)
    return int(digits)
