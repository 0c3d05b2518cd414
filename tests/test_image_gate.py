"""One image-size gate for every format the decoders accept (issue 31): the size a decoder will
allocate is read from the header before decoding, for OpenCV (predict.py's `read_image`) and for
TensorFlow (the tf.data pipeline's `decode_image`); a format whose size is not read is refused by
name. The files are headers built byte by byte (`image_headers`), never large images: a refusal
happens before any decoder runs."""

import struct

import cv2
import numpy as np
import pytest
import tensorflow as tf

import fabricate
import image_headers as ih  # tests/ is on sys.path under pytest
from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, decode, images
from fast_scnn_tf.data.images import TooManyPixels, read_image

BIG = 46000  # 46000x46000 RGB is 6.3 GB decoded


@pytest.fixture
def no_decoding(monkeypatch):
    """OpenCV's decoder fails the test: the gate must refuse the file before it runs."""
    monkeypatch.setattr(cv2, "imread", lambda *args: pytest.fail("the image was decoded"))


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _tf_decode(data: bytes, path: str = "/data/bomb.jpg"):
    return decode.decode_image(tf.constant(data), tf.constant(path))


# Headers that declare (height, width) over the limit, in every way a decoder reads a size.
CLAIMS = {
    "gif-screen": (ih.gif(BIG, BIG, [(0, 0, 10, 10)], pixels=False), (BIG, BIG)),
    "gif-frame": (ih.gif(10, 10, [(0, 0, BIG, BIG)], pixels=False), (BIG, BIG)),
    "gif-later-frame": (
        ih.gif(10, 10, [(0, 0, 10, 10), (0, 0, BIG, BIG)], pixels=False),
        (BIG, BIG),
    ),
    "bmp": (ih.bmp_claiming(BIG, BIG), (BIG, BIG)),
    "bmp-top-down": (ih.bmp_claiming(BIG, -BIG), (BIG, BIG)),
    "bmp-core": (ih.bmp_claiming(BIG, BIG, core=True), (BIG, BIG)),
    "webp-vp8": (ih.webp_claiming(16383, 16383, "VP8 "), (16383, 16383)),
    "webp-vp8l": (ih.webp_claiming(16384, 16384, "VP8L"), (16384, 16384)),
    "webp-vp8x": (ih.webp_claiming(BIG, BIG, "VP8X"), (BIG, BIG)),
    "png": (ih.png_claiming(BIG, BIG), (BIG, BIG)),
    "jpeg": (ih.jpeg_claiming(BIG, BIG), (BIG, BIG)),
}
# OpenCV only (TensorFlow decodes neither TIFF nor PBM/PGM/PPM).
OPENCV_CLAIMS = {
    "tiff": (ih.tiff_claiming(ih.tiff_size_entries(BIG, BIG)), (BIG, BIG)),
    "tiff-big-endian": (
        ih.tiff_claiming(ih.tiff_size_entries(BIG, BIG), big_endian=True),
        (BIG, BIG),
    ),
    "tiff-short": (
        ih.tiff_claiming([(256, ih.SHORT, 65000), (257, ih.SHORT, 65000)]),
        (65000, 65000),
    ),
    # OpenCV allocates a whole tile (or strip) however small the image: 16000x16000 for a 10x10
    "tiff-tiles": (
        ih.tiff_claiming(
            ih.tiff_size_entries(10, 10) + [(322, ih.LONG, 16000), (323, ih.LONG, 16000)]
        ),
        (16000, 16000),
    ),
    "tiff-strip": (
        ih.tiff_claiming(ih.tiff_size_entries(BIG, 10) + [(278, ih.LONG, BIG)]),
        (BIG, BIG),
    ),
    "ppm": (b"P6\n46000 46000\n255\n", (BIG, BIG)),
    "pgm-comments": (b"P5 # a comment\n46000\n# another\n46000 255\n", (BIG, BIG)),
    # OpenCV ends a comment at a carriage return too: the size is the first pair, not 10 10
    "ppm-comment-ends-at-cr": (b"P6 #c\r46000 46000 255\n10 10 255\n", (BIG, BIG)),
    # OpenCV ends a number at any byte, which it consumes: '#' then starts no comment
    "ppm-number-then-hash": (b"P6 8000#99999\n10 255\n", (99999, 8000)),
}


@pytest.mark.parametrize("name", list(CLAIMS) + list(OPENCV_CLAIMS))
def test_opencv_path_refuses_a_declared_size_over_the_limit_before_decoding(
    tmp_path, no_decoding, name
):
    data, (height, width) = {**CLAIMS, **OPENCV_CLAIMS}[name]
    path = _write(tmp_path, "bomb.jpg", data)  # named .jpg whatever it holds: decoded by content
    with pytest.raises(
        TooManyPixels,
        match=rf"'{path}' is {width}x{height} pixels, over the "
        r"limit of \d+",
    ):
        read_image(path)


@pytest.mark.parametrize("name", list(CLAIMS))
def test_dataset_decoder_refuses_a_declared_size_over_the_limit_before_decoding(name):
    """A 1.5 MB GIF named .jpg declaring 46000x46000 passed as 'size unknown' and reached
    `OOM when allocating tensor with shape[46000,46000,3]` without naming the file."""
    data, (height, width) = CLAIMS[name]
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=rf"(?s){width}x{height} pixels.*over the limit.*/data/bomb.jpg",
    ):
        _tf_decode(data)


def test_gif_frames_count_together(tmp_path, no_decoding):
    """TensorFlow's GIF decoder reads every frame into memory, even when it returns one."""
    frames = [(0, 0, 10, 10)] * 20  # 20 x 100 pixels
    path = _write(tmp_path, "anim.gif", ih.gif(10, 10, frames, pixels=False))
    with pytest.raises(
        TooManyPixels,
        match=r"anim.gif' holds 20 frames of 2000 pixels "
        r"together, over the limit of 1999",
    ):
        read_image(path, max_pixels=1999)


# --- headers whose size cannot be read safely, and formats whose size is not read ------------

UNREADABLE = {
    # the check kept the last of repeated size tags while libtiff keeps the first
    "tiff-repeated-width": (
        ih.tiff_claiming(ih.tiff_size_entries(20000, 20000) + ih.tiff_size_entries(10, 10)),
        "TIFF header gives ImageWidth more than once",
    ),
    "tiff-repeated-small-first": (
        ih.tiff_claiming([(256, ih.LONG, 10), (256, ih.LONG, 20000), (257, ih.LONG, 10)]),
        "TIFF header gives ImageWidth more than once",
    ),
    "tiff-long8-size": (
        ih.tiff_claiming([(256, ih.LONG8, 20000), (257, ih.LONG, 10)]),
        "TIFF header gives ImageWidth as field type 16",
    ),
    "tiff-no-size": (ih.tiff_claiming([(257, ih.LONG, 10)]), "TIFF header gives no ImageWidth"),
    "tiff-cut": (ih.tiff_claiming(ih.tiff_size_entries(10, 10))[:20], "TIFF header is cut short"),
    # OpenCV's PNG reader allocates each chunk's declared length (85 bytes took 2 GB)
    "png-chunk-past-the-end": (
        ih.png_claiming(10, 10, after_ihdr=ih.png_chunk(b"tEXt", b"a\0b", length=0x7FFFFFF0)),
        "PNG chunk runs past the end of the file",
    ),
    # libpng in TensorFlow reads an unknown chunk before IHDR: the size is in the IHDR only
    "png-chunk-before-ihdr": (
        ih.png_claiming(
            20000, 20000, before_ihdr=ih.png_chunk(b"prIv", struct.pack(">II", 64, 64))
        ),
        "PNG header does not start with IHDR",
    ),
    "gif-garbled": (ih.gif(10, 10)[:-1] + b"\x99", "GIF header is garbled"),
    "gif-cut": (ih.gif(10, 10)[:30], "GIF header is cut short"),
    "jpeg-no-frame": (b"\xff\xd8\xff\xe0\x00\x04ab\xff\xd9", "JPEG header has no frame size"),
    "webp-vp8-no-start-code": (
        ih.webp_claiming(10, 10, "VP8 ").replace(b"\x9d\x01\x2a", b"xxx"),
        "WebP header is garbled",
    ),
    "bmp-no-width": (ih.bmp_claiming(0, 10), "BMP header declares an empty image"),
}


@pytest.mark.parametrize("name", UNREADABLE)
def test_a_header_whose_size_cannot_be_read_is_refused(tmp_path, no_decoding, name):
    data, reason = UNREADABLE[name]
    path = _write(tmp_path, "bomb.tif", data)
    with pytest.raises(ValueError, match=rf"cannot read image '{path}': its {reason}"):
        read_image(path)


def _encoded(ext: str, size=(64, 64)) -> bytes:
    image = np.zeros((*size, 3), np.float32 if ext in (".hdr", ".pfm") else np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


# Formats OpenCV (or TensorFlow: JPEG XL) decodes by content and whose size is not read here.
NOT_ACCEPTED = {
    "OpenEXR": lambda: b"\x76\x2f\x31\x01" + bytes(40),
    "Radiance HDR": lambda: _encoded(".hdr"),
    "JPEG 2000": lambda: _encoded(".jp2"),
    "JPEG 2000 codestream": lambda: b"\xff\x4f\xff\x51" + bytes(40),
    "Sun raster": lambda: _encoded(".ras"),
    "PFM": lambda: _encoded(".pfm"),
    "PAM": lambda: _encoded(".pam"),
    "AVIF": lambda: _encoded(".avif"),
    "JPEG XL": lambda: b"\xff\x0a" + bytes(40),
    "BigTIFF": lambda: b"II+\0\x08\0\0\0" + bytes(40),
}


@pytest.mark.parametrize("name", NOT_ACCEPTED)
def test_a_format_whose_size_is_not_read_is_refused_by_name(tmp_path, no_decoding, name):
    path = _write(tmp_path, "photo.jpg", NOT_ACCEPTED[name]())
    fmt = name.split(" codestream")[0]
    with pytest.raises(
        ValueError,
        match=rf"cannot read image '{path}': {fmt} is not accepted, "
        r"only PNG, JPEG, GIF, BMP, TIFF, WebP or PBM/PGM/PPM",
    ):
        read_image(path)


def test_bytes_of_no_known_format_are_refused_naming_the_formats(tmp_path, no_decoding):
    path = _write(tmp_path, "notes.png", b"just some text, not an image")
    with pytest.raises(
        ValueError,
        match=rf"'{path}': not a PNG, JPEG, GIF, BMP, TIFF, WebP or "
        "PBM/PGM/PPM file",
    ):
        read_image(path)


@pytest.mark.parametrize(
    "data,fmt",
    [
        (ih.tiff_claiming(ih.tiff_size_entries(10, 10)), "TIFF"),
        (b"P6\n10 10\n255\n", "PBM/PGM/PPM"),
        (b"\xff\x0a" + bytes(40), "JPEG XL"),
        (b"\x76\x2f\x31\x01" + bytes(40), "OpenEXR"),
    ],
    ids=["tiff", "ppm", "jxl", "exr"],
)
def test_dataset_decoder_refuses_what_tensorflow_cannot_size_by_name(data, fmt):
    """TensorFlow failed with 'Unknown image file format' without naming the file."""
    expected = rf"(?s){fmt} is not accepted, only PNG, JPEG, GIF, BMP or WebP.*bomb.jpg"
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        _tf_decode(data)


# --- the size read is the size the decoders use ----------------------------------------------


def _valid_files():
    """Small valid files of every accepted format: name -> (bytes, TensorFlow decodes it too)."""
    image = np.random.default_rng(0).integers(0, 255, (37, 53, 3), dtype=np.uint8)

    def encoded(ext, params=()):
        return cv2.imencode(ext, image if ext != ".pgm" else image[:, :, 0], params)[1].tobytes()

    return {
        ".png": (encoded(".png"), True),
        ".jpg": (encoded(".jpg"), True),
        ".bmp": (encoded(".bmp"), True),
        ".webp": (encoded(".webp"), True),
        ".webp-lossless": (encoded(".webp", [cv2.IMWRITE_WEBP_QUALITY, 101]), True),
        ".gif": (encoded(".gif"), True),
        ".tif": (encoded(".tif"), False),
        ".ppm": (encoded(".ppm"), False),
        ".pgm": (encoded(".pgm"), False),
        ".gif-frames": (ih.gif(53, 37, [(0, 0, 53, 37), (3, 4, 20, 10)]), True),
        # TensorFlow's canvas is its largest frame, OpenCV's the logical screen
        ".gif-frame-larger": (ih.gif(20, 10, [(0, 0, 53, 37)]), True),
        ".gif-frame-smaller": (ih.gif(53, 37, [(2, 3, 20, 10)]), True),
    }


@pytest.mark.parametrize("name", list(_valid_files()))
def test_the_size_read_is_the_size_the_decoders_use(tmp_path, name):
    data, by_tensorflow = _valid_files()[name]
    path = _write(tmp_path, "x" + name.split("-")[0], data)
    height, width = images.declared_size(path)
    decoded = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if decoded is not None:  # OpenCV refuses a GIF frame outside the screen
        assert decoded.shape[0] <= height and decoded.shape[1] <= width
    if by_tensorflow:
        shape = _tf_decode(data, path).shape
        assert shape[0] <= height and shape[1] <= width
    assert (height, width) == (37, 53)


def test_a_gif_is_read_by_both_decoders(tmp_path):
    data = ih.gif(12, 8)
    path = _write(tmp_path, "x.gif", data)
    assert read_image(path).shape == (8, 12, 3)
    assert _tf_decode(data, path).shape == (8, 12, 3)


# --- the gate in each path --------------------------------------------------------------------


def test_a_gif_named_jpg_in_a_custom_dataset_is_refused_naming_the_file(tmp_path):
    root = fabricate.own_folder(tmp_path / "mine", jpeg=True, counts=(1, 1))
    path = str(tmp_path / "mine" / "images" / "val" / "seq" / "street0.jpg")
    with open(path, "wb") as f:
        f.write(ih.gif(BIG, BIG, pixels=False))
    cfg = DataConfig(dataset="custom", data_dir=root)
    with pytest.raises(
        tf.errors.InvalidArgumentError, match=f"(?s){BIG}x{BIG} pixels.*over the limit.*{path}"
    ):
        list(build_dataset(cfg, "val", False, 1))


def test_the_training_frame_size_goes_through_the_dataset_gate(tmp_path):
    """The first training frame's size sets the model's input size before any decoding."""
    gif = _write(tmp_path, "a.jpg", ih.gif(BIG, BIG, pixels=False))
    with pytest.raises(TooManyPixels, match=f"a.jpg' is {BIG}x{BIG} pixels"):
        images.image_size(gif)
    tiff = _write(tmp_path, "b.jpg", ih.tiff_claiming(ih.tiff_size_entries(10, 10)))
    with pytest.raises(
        ValueError, match="b.jpg': TIFF is not accepted, only PNG, JPEG, GIF, BMP or WebP"
    ):
        images.image_size(tiff)


def test_serving_reads_the_png_size_from_its_ihdr_only():
    """serving_bytes read bytes 16..24 whatever chunk held them: a chunk before the IHDR
    declaring 64x64 let a 20000x20000 PNG through (libpng skips it)."""
    planted = ih.png_claiming(
        20000, 20000, before_ihdr=ih.png_chunk(b"prIv", struct.pack(">II", 64, 64))
    )
    height, width = decode.declared_size(tf.constant(planted))
    assert (int(height), int(width)) == (0, 0)  # not a PNG it can size: refused
    height, width = decode.declared_size(tf.constant(ih.png_claiming(300, 200)))
    assert (int(height), int(width)) == (200, 300)
