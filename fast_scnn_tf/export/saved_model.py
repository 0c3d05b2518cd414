"""SavedModel for TF Serving: `<output>/<model_name>/<version>/` with two signatures.

- `serving_default`: input `images` uint8 [batch, height, width, 3] (batch >= 1, height and width
  >= MIN_SIZE, batch * height * width <= max_pixels: the memory a request needs grows with all of
  its pixels; checked on entry, see `checked_images`), outputs
  `labels` uint8 [batch, height, width] (cls and prob) and `probabilities` float32
  [batch, height, width, num_classes] (prob only).
- `serving_bytes`: input `image_bytes` string [batch] of encoded PNG/JPEG frames, output
  `label_png_bytes` string [batch]: the label map as a single-channel PNG. TF Serving's REST API
  accepts the input as `{"b64": ...}` and returns outputs whose names end in `_bytes` as base64.
  Each frame's size is read from its header and checked like `serving_default`'s before it is
  decoded: a 1 MB PNG can hold 20000x20000 pixels, and decoding it took the server down. The
  frames of a request are decoded and segmented one after another, so it needs the memory of one.

A request over max_pixels fails with INVALID_ARGUMENT naming the limit. export.py's default is
what serving a frame can afford in the memory budget
(`fast_scnn_tf.export.memory.serving_max_pixels`: about 36 megapixels for a 19-class cls head, 23
for prob); `write_saved_model` alone defaults to `fast_scnn_tf.data.images.MAX_PIXELS` (64
megapixels), the largest image the tools decode.

Written with `keras.export.ExportArchive` (the Keras 3 route to a TF-Serving SavedModel); the
resolved config and metadata go to `assets.extra/`, which TF Serving ignores.
"""

from __future__ import annotations

import os
import re

import keras
import tensorflow as tf

from fast_scnn_tf.data.decode import declared_size
from fast_scnn_tf.data.images import MAX_PIXELS
from fast_scnn_tf.model.head import LABELS

DEFAULT_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "serving_bytes"
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
PNG_OUTPUT = "label_png_bytes"
EXTRA_DIR = "assets.extra"
MIN_SIZE = 32  # the smallest height and width the model takes (docs/paper.md)


def next_version(model_root: str) -> int:
    """1 + the largest integer version directory under `model_root` (1 if there is none)."""
    if not os.path.isdir(model_root):
        return 1
    versions = [int(d) for d in os.listdir(model_root) if re.fullmatch(r"\d+", d)]
    return max(versions, default=0) + 1


def _as_dict(outputs):
    return dict(outputs) if isinstance(outputs, dict) else {LABELS: outputs}


def size_ok(height: tf.Tensor, width: tf.Tensor, max_pixels: int) -> tf.Tensor:
    """True when a frame of `height` x `width` may be served: both >= MIN_SIZE and height * width
    <= max_pixels (counted in int64: the product of two int32 sizes can overflow)."""
    height, width = tf.cast(height, tf.int64), tf.cast(width, tf.int64)
    return tf.logical_and(tf.minimum(height, width) >= MIN_SIZE, height * width <= max_pixels)


def checked_images(images: tf.Tensor, max_pixels: int = MAX_PIXELS) -> tf.Tensor:
    """`images` once its shape is [batch >= 1, height >= MIN_SIZE, width >= MIN_SIZE, 3] with
    batch * height * width <= max_pixels (the frames are segmented together), else an
    InvalidArgumentError naming the input and the expected shape.

    Neither TF Serving nor a loaded signature checks a request against the declared shape: a rank-3
    tensor reached the first convolution and aborted the whole process in oneDNN, a rank-5 one
    returned labels of a wrong shape. The check reads the runtime shape, padded so that any rank
    can be compared. (No quotes around the name: TensorFlow escapes them in the message.)"""
    shape = tf.shape(images)
    padded = tf.concat([shape, tf.zeros([4], tf.int32)], 0)[:4]
    batch = tf.cast(padded[0], tf.int64)
    ok = tf.reduce_all(
        [
            tf.size(shape) == 4,
            padded[0] >= 1,
            padded[3] == 3,
            size_ok(padded[1], padded[2], max_pixels // tf.maximum(batch, 1)),
        ]
    )
    check = tf.debugging.Assert(
        ok,
        [
            f"input {IMAGES_INPUT} must be uint8 [batch >= 1, height >= {MIN_SIZE}, "
            f"width >= {MIN_SIZE}, 3] (RGB) with batch * height * width <= {max_pixels}; got shape",
            shape,
        ],
        summarize=8,
    )
    with tf.control_dependencies([check]):
        return tf.ensure_shape(tf.identity(images), [None, None, None, 3])


def write_saved_model(head: keras.Model, directory: str, max_pixels: int = MAX_PIXELS) -> None:
    """Write `head` (`model.head.build_head`, dynamic size) as a SavedModel into `directory`; its
    signatures refuse frames of more than `max_pixels` (height * width) or under MIN_SIZE."""

    def serve(images):
        return _as_dict(head(checked_images(images, max_pixels), training=False))

    def one_png(encoded):
        height, width = declared_size(encoded)
        check = tf.debugging.Assert(
            size_ok(height, width, max_pixels),
            [
                f"input {BYTES_INPUT} must hold PNG or JPEG images with height and width >= "
                f"{MIN_SIZE} and height * width <= {max_pixels}; got height, width",
                height,
                width,
            ],
        )
        with tf.control_dependencies([check]):  # decoded only once its size is known to fit
            image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
        labels = _as_dict(head(image[tf.newaxis], training=False))[LABELS]
        return tf.io.encode_png(labels[0, :, :, tf.newaxis])

    def serve_bytes(image_bytes):
        # one frame at a time (map_fn runs 10 at once by default): a request needs the memory of
        # one frame, however many it holds
        pngs = tf.map_fn(
            one_png,
            image_bytes,
            fn_output_signature=tf.TensorSpec([], tf.string),
            parallel_iterations=1,
        )
        return {PNG_OUTPUT: pngs}

    archive = keras.export.ExportArchive()
    archive.track(head)
    archive.add_endpoint(
        DEFAULT_SIGNATURE,
        serve,
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGES_INPUT)],
    )
    archive.add_endpoint(
        BYTES_SIGNATURE,
        serve_bytes,
        input_signature=[tf.TensorSpec([None], tf.string, name=BYTES_INPUT)],
    )
    archive.write_out(directory, verbose=False)
