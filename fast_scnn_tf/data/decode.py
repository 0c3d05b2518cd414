"""Image and label bytes -> image and class-id label tensors, in the graph (so tf.data can run it in parallel).

A failing `tf.io.decode_png` inside tf.data does not say which file it was reading, so cheap checks
run first and name the file in their message: the PNG signature, the IEND trailer (catches truncated
files, the usual corruption), the label's channel count and the image/label sizes. Damage in the
middle of a file that passes these checks still fails in `decode_png`, without the name.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.data.datasets import LABEL_TABLE_SIZE

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TRAILER = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every PNG ends with


def _check_png(png: tf.Tensor, path: tf.Tensor, only_if=True) -> list:
    """Assertions to run before decoding (as control dependencies, so they fail first);
    `only_if` (a bool tensor) limits them to the files it is true for."""
    length = tf.strings.length(png)
    skip = tf.logical_not(only_if)
    return [
        tf.debugging.Assert(skip | (tf.strings.substr(png, 0, 8) == _PNG_SIGNATURE),
                            ["not a PNG file:", path]),
        tf.debugging.Assert(
            skip | (tf.strings.substr(png, tf.maximum(length - 12, 0), 12) == _PNG_TRAILER),
            ["corrupt PNG (truncated: no IEND chunk at the end):", path]),
    ]


def decode_image(data: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """PNG (or, in own-folder datasets, JPEG) bytes -> uint8 [H, W, 3] RGB; `path` (a string
    tensor) names the file in errors. Files named *.png get the PNG checks first."""
    is_png = tf.strings.regex_full_match(tf.strings.lower(path), r".*\.png")
    with tf.control_dependencies(_check_png(data, path, only_if=is_png)):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def decode_label_values(png: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """Single-channel 8- or 16-bit label PNG bytes -> int32 [H, W] stored values.

    `decode_png` without a dtype scales 16-bit values down to 8 bits (every small id becomes 0), so
    the bit depth is read from the IHDR chunk (byte 24) and 16-bit files are decoded as uint16."""
    with tf.control_dependencies(_check_png(png, path)):
        sixteen_bit = tf.equal(tf.strings.substr(png, 24, 1), b"\x10")
        label = tf.cond(sixteen_bit,
                        lambda: tf.cast(tf.io.decode_png(png, channels=0, dtype=tf.uint16),
                                        tf.int32),
                        lambda: tf.cast(tf.io.decode_png(png, channels=0), tf.int32))
    channels_ok = tf.debugging.Assert(
        tf.shape(label)[2] == 1, ["label PNG is not single-channel (expected one value per "
                                  "pixel, not colours):", path])
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
        ["label values outside the class table in", path, "values found:",
         tf.unique(tf.boolean_mask(values, bad))[0]], summarize=20)
    with tf.control_dependencies([known]):
        return tf.cast(ids, tf.uint8)


def decode_frame(image_data: tf.Tensor, label_png: tf.Tensor, image_path: tf.Tensor,
                 label_path: tf.Tensor, label_values) -> tuple[tf.Tensor, tf.Tensor]:
    """One frame's bytes -> (uint8 [H, W, 3] image, uint8 [H, W] class ids), sizes checked."""
    image = decode_image(image_data, image_path)
    label = to_class_ids(decode_label_values(label_png, label_path), label_values, label_path)
    same_size = tf.debugging.Assert(
        tf.reduce_all(tf.shape(image)[:2] == tf.shape(label)),
        ["image and label sizes differ:", image_path, tf.shape(image)[:2], label_path,
         tf.shape(label)])
    with tf.control_dependencies([same_size]):
        return tf.identity(image), tf.identity(label)
