"""SavedModel for TF Serving: `<output>/<model_name>/<version>/` with two signatures.

- `serving_default`: input `images` uint8 [batch, height, width, 3] (any height/width), outputs
  `labels` uint8 [batch, height, width] (cls and prob) and `probabilities` float32
  [batch, height, width, num_classes] (prob only).
- `serving_bytes`: input `image_bytes` string [batch] of encoded PNG/JPEG frames, output
  `label_png_bytes` string [batch]: the label map as a single-channel PNG. TF Serving's REST API
  accepts the input as `{"b64": ...}` and returns outputs whose names end in `_bytes` as base64.

Written with `keras.export.ExportArchive` (the Keras 3 route to a TF-Serving SavedModel); the
resolved config and metadata go to `assets.extra/`, which TF Serving ignores.
"""

from __future__ import annotations

import os
import re

import keras
import tensorflow as tf

from fast_scnn_tf.export.heads import LABELS

DEFAULT_SIGNATURE = "serving_default"
BYTES_SIGNATURE = "serving_bytes"
IMAGES_INPUT = "images"
BYTES_INPUT = "image_bytes"
PNG_OUTPUT = "label_png_bytes"
EXTRA_DIR = "assets.extra"


def next_version(model_root: str) -> int:
    """1 + the largest integer version directory under `model_root` (1 if there is none)."""
    if not os.path.isdir(model_root):
        return 1
    versions = [int(d) for d in os.listdir(model_root) if re.fullmatch(r"\d+", d)]
    return max(versions, default=0) + 1


def _as_dict(outputs):
    return dict(outputs) if isinstance(outputs, dict) else {LABELS: outputs}


def write_saved_model(head: keras.Model, directory: str) -> None:
    """Write `head` (from `heads.build_head`, dynamic size) as a SavedModel into `directory`."""

    def serve(images):
        return _as_dict(head(images, training=False))

    def one_png(encoded):
        image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
        labels = _as_dict(head(image[tf.newaxis], training=False))[LABELS]
        return tf.io.encode_png(labels[0, :, :, tf.newaxis])

    def serve_bytes(image_bytes):
        pngs = tf.map_fn(one_png, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string))
        return {PNG_OUTPUT: pngs}

    archive = keras.export.ExportArchive()
    archive.track(head)
    archive.add_endpoint(DEFAULT_SIGNATURE, serve, input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.uint8, name=IMAGES_INPUT)])
    archive.add_endpoint(BYTES_SIGNATURE, serve_bytes, input_signature=[
        tf.TensorSpec([None], tf.string, name=BYTES_INPUT)])
    archive.write_out(directory, verbose=False)
