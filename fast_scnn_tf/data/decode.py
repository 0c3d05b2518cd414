"""PNG bytes -> image and train-id label tensors, in the graph (so tf.data can run it in parallel).

A failing `tf.io.decode_png` inside tf.data does not say which file it was reading, so cheap checks
run first and name the file in their message: the PNG signature, the IEND trailer (catches truncated
files, the usual corruption), the label's channel count and the image/label sizes. Damage in the
middle of a file that passes these checks still fails in `decode_png`, without the name.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.data import labels

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TRAILER = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk every PNG ends with


def _check_png(png: tf.Tensor, path: tf.Tensor) -> list:
    """Assertions to run before decoding (as control dependencies, so they fail first)."""
    length = tf.strings.length(png)
    return [
        tf.debugging.Assert(tf.strings.substr(png, 0, 8) == _PNG_SIGNATURE,
                            ["not a PNG file:", path]),
        tf.debugging.Assert(
            tf.strings.substr(png, tf.maximum(length - 12, 0), 12) == _PNG_TRAILER,
            ["corrupt PNG (truncated: no IEND chunk at the end):", path]),
    ]


def decode_image(png: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """PNG bytes -> uint8 [H, W, 3] RGB; `path` (a string tensor) names the file in errors."""
    with tf.control_dependencies(_check_png(png, path)):
        image = tf.io.decode_png(png, channels=3)
    image.set_shape([None, None, 3])
    return image


def decode_label_ids(png: tf.Tensor, path: tf.Tensor) -> tf.Tensor:
    """8-bit single-channel labelIds PNG bytes -> uint8 [H, W] Cityscapes label ids."""
    with tf.control_dependencies(_check_png(png, path)):
        label = tf.io.decode_png(png, channels=0)  # as stored: a colour PNG must fail, not go grey
    channels_ok = tf.debugging.Assert(
        tf.shape(label)[2] == 1, ["label PNG is not single-channel (expected *_labelIds.png):", path])
    with tf.control_dependencies([channels_ok]):
        label = label[:, :, 0]
    label.set_shape([None, None])
    return label


_ID_TO_TRAIN_ID = labels.id_to_train_id_table()


def to_train_ids(label_ids: tf.Tensor) -> tf.Tensor:
    """Cityscapes label ids -> train ids 0..18 with IGNORE_LABEL (255) for everything else."""
    table = tf.constant(_ID_TO_TRAIN_ID, tf.uint8)
    return tf.gather(table, tf.cast(label_ids, tf.int32))


def decode_frame(image_png: tf.Tensor, label_png: tf.Tensor, image_path: tf.Tensor,
                 label_path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One frame's PNG bytes -> (uint8 [H, W, 3] image, uint8 [H, W] train ids), sizes checked."""
    image = decode_image(image_png, image_path)
    label = to_train_ids(decode_label_ids(label_png, label_path))
    same_size = tf.debugging.Assert(
        tf.reduce_all(tf.shape(image)[:2] == tf.shape(label)),
        ["image and label sizes differ:", image_path, tf.shape(image)[:2], label_path,
         tf.shape(label)])
    with tf.control_dependencies([same_size]):
        return tf.identity(image), tf.identity(label)
