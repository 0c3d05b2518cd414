"""Image and label bytes -> image and class-id label tensors, in the graph (so tf.data can run it
in parallel).

A failing `tf.io.decode_png` inside tf.data does not say which file it was reading, so cheap checks
run first and name the file in their message: the PNG signature, the IEND trailer (catches
truncated files, the usual corruption), every chunk's CRC (damage in the middle, which `decode_png`
reports as "Invalid PNG data" without a name), then the image-size gate (`images.size_problem`:
the size the decoder will allocate, read from the header, within MAX_PIXELS, for the formats
`tf.io.decode_image` takes; others refused by name), and after decoding the label's channel count
and the image/label sizes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import tensorflow as tf

from fast_scnn_tf.data import images
from fast_scnn_tf.data.contract import LABEL_TABLE_SIZE
from fast_scnn_tf.data.images import MAX_PIXELS

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TRAILER = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every PNG ends with


def png_chunks_intact(data: bytes) -> bool:
    """True if every chunk of PNG `data` fits in the file and matches its CRC-32, up to IEND.

    In Python through `tf.numpy_function` (TensorFlow has no CRC-32 op); zlib releases the GIL on
    large chunks. Cost, medians of 6 on the (busy) 2-core development machine, for a 4.9 MB
    1024x2048 PNG: 62 ms, against 1.2 s for its `decode_png`, about 5%."""
    view, position = memoryview(data), 8
    while position + 12 <= len(view):
        (length,) = struct.unpack_from(">I", view, position)
        end = position + 12 + length
        if end > len(view):
            return False
        if zlib.crc32(view[position + 4 : end - 4]) != struct.unpack_from(">I", view, end - 4)[0]:
            return False
        if view[position + 4 : position + 8] == b"IEND":
            return True
        position = end
    return False


def _chunks_intact_if(data, check) -> np.bool_:
    """`png_chunks_intact` for `tf.numpy_function`, which passes bytes in graphs and a 0-d array
    eagerly; True without looking when `check` is false."""
    data = data.item() if isinstance(data, np.ndarray) else data
    return np.bool_(not check or png_chunks_intact(data))


def _check_png(png: tf.Tensor, path: tf.Tensor, only_if=True) -> list:
    """Assertions to run before decoding (as control dependencies, so they fail first);
    `only_if` (a bool tensor) limits them to the files it is true for."""
    length = tf.strings.length(png)
    skip = tf.logical_not(only_if)
    signature_ok = tf.strings.substr(png, 0, 8) == _PNG_SIGNATURE
    trailer_ok = tf.strings.substr(png, tf.maximum(length - 12, 0), 12) == _PNG_TRAILER
    well_formed = signature_ok & trailer_ok  # else those checks name the problem
    intact = tf.numpy_function(
        _chunks_intact_if, [png, tf.logical_and(only_if, well_formed)], tf.bool, stateful=False
    )
    return [
        tf.debugging.Assert(skip | signature_ok, ["not a PNG file:", path]),
        tf.debugging.Assert(
            skip | trailer_ok, ["corrupt PNG (truncated: no IEND chunk at the end):", path]
        ),
        tf.debugging.Assert(
            skip | intact,
            ["corrupt PNG (a chunk's checksum does not match: damaged inside):", path],
        ),
    ]


def declared_size(encoded: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(height, width) that one encoded PNG or JPEG declares in its header, read without decoding
    it, in the graph (the SavedModel's `serving_bytes` runs it where Python cannot); (0, 0) for
    other bytes. PNG: the IHDR chunk, bytes 16..24, big-endian, when it is the first chunk (libpng
    skips an unknown chunk before it, whose bytes 16..24 are no size); JPEG: its frame header,
    read by libjpeg as the decoder reads it."""
    padded = tf.strings.join([encoded, tf.constant(bytes(24))])  # the reads stay inside a short one

    def png():
        width_height = tf.io.decode_raw(
            tf.strings.substr(padded, 16, 8), tf.int32, little_endian=False
        )
        return width_height[1], width_height[0]

    def jpeg():
        shape = tf.io.extract_jpeg_shape(encoded)
        return shape[0], shape[1]

    def neither():
        return tf.constant(0), tf.constant(0)

    is_png = tf.strings.substr(padded, 0, len(_PNG_SIGNATURE) + 8) == (
        _PNG_SIGNATURE + b"\0\0\0\x0dIHDR"
    )  # the 13-byte IHDR first
    is_jpeg = tf.strings.substr(padded, 0, 3) == b"\xff\xd8\xff"
    return tf.cond(is_png, png, lambda: tf.cond(is_jpeg, jpeg, neither))


def _size_problem(data) -> bytes:
    """`images.size_problem` for `tf.numpy_function`, which passes bytes in graphs and a 0-d array
    eagerly."""
    data = data.item() if isinstance(data, np.ndarray) else data
    problem = images.size_problem(data, MAX_PIXELS, images.TENSORFLOW_FORMATS)
    return np.bytes_(problem.encode() + b":" if problem else b"")


def _check_size(data: tf.Tensor, path: tf.Tensor, after=()) -> tf.Operation:
    """Refuse, before decoding, a file that does not pass the image-size gate: a 1 kB PNG can
    declare 20000x20000 (1.2 GB decoded), a 1.5 MB GIF 46000x46000, either of which would take the
    training process's memory; a format whose size is not read is refused by name. Runs after the
    checks in `after` (`_check_png`'s, more precise about a damaged PNG), so the error is the same
    every run."""
    with tf.control_dependencies(after):
        problem = tf.numpy_function(_size_problem, [data], tf.string, stateful=False)
    return tf.debugging.Assert(tf.equal(problem, ""), [problem, path])


def decode_image(data: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """Image bytes (any of images.TENSORFLOW_FORMATS, whatever the file's name) -> uint8
    [H, W, 3] RGB; `path` (a string tensor) names the file in errors. Files named *.png get the
    PNG checks first; every file passes the image-size gate before decoding."""
    is_png = tf.strings.regex_full_match(tf.strings.lower(path), r".*\.png")
    with tf.control_dependencies(
        [_check_size(data, path, after=_check_png(data, path, only_if=is_png))]
    ):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_label_values(png: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """Single-channel 8- or 16-bit label PNG bytes -> int32 [H, W] stored values.

    `decode_png` without a dtype scales 16-bit values down to 8 bits (every small id becomes 0), so
    the bit depth is read from the IHDR chunk (byte 24) and 16-bit files are decoded as uint16."""
    with tf.control_dependencies([_check_size(png, path, after=_check_png(png, path))]):
        sixteen_bit = tf.equal(tf.strings.substr(png, 24, 1), b"\x10")
        label = tf.cond(
            sixteen_bit,
            lambda: tf.cast(tf.io.decode_png(png, channels=0, dtype=tf.uint16), tf.int32),
            lambda: tf.cast(tf.io.decode_png(png, channels=0), tf.int32),
        )
    channels_ok = tf.debugging.Assert(
        tf.shape(label)[2] == 1,
        ["label PNG is not single-channel (expected one value per pixel, not colours):", path],
    )
    with tf.control_dependencies([channels_ok]):
        label = label[:, :, 0]
    label.set_shape([None, None])
    return label


def to_class_ids(values: tf.Tensor, label_values, path: tf.Tensor) -> tf.Tensor:
    """Stored label values -> uint8 class indices (IGNORE_LABEL for ignored values) through the
    dataset's `label_values` table; a value the table lacks stops with the file and the values."""
    table = tf.constant(label_values, tf.int32)
    ids = tf.gather(table, tf.minimum(values, LABEL_TABLE_SIZE - 1))
    bad = ids < 0
    known = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(bad)),
        [
            "label values outside the class table in",
            path,
            "values found:",
            tf.unique(tf.boolean_mask(values, bad))[0],
        ],
        summarize=20,
    )
    with tf.control_dependencies([known]):
        return tf.cast(ids, tf.uint8)


def decode_frame(
    image_data: tf.Tensor,
    label_png: tf.Tensor,
    image_path: tf.Tensor,
    label_path: tf.Tensor,
    label_values,
) -> tuple[tf.Tensor, tf.Tensor]:
    """One frame's bytes -> (uint8 [H, W, 3] image, uint8 [H, W] class ids), sizes checked."""
    image = decode_image(image_data, image_path)
    label = to_class_ids(decode_label_values(label_png, label_path), label_values, label_path)
    same_size = tf.debugging.Assert(
        tf.reduce_all(tf.shape(image)[:2] == tf.shape(label)),
        [
            "image and label sizes differ:",
            image_path,
            tf.shape(image)[:2],
            label_path,
            tf.shape(label),
        ],
    )
    with tf.control_dependencies([same_size]):
        return tf.identity(image), tf.identity(label)
