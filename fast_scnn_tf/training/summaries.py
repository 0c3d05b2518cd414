"""TensorBoard scalars and images written with TensorFlow core alone.

`tf.summary.scalar`/`image` need the `tensorboard` package, which is not among our requirements;
`tf.summary.write` with the same plugin metadata produces identical event records, so the logs
open in TensorBoard wherever it is installed.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin: str, data_class: int) -> bytes:
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin),
        data_class=data_class).SerializeToString()


_SCALAR = _metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
_IMAGE = _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)


def scalar(name: str, value: float, step: int) -> None:
    """One float scalar under the default writer (no-op without one)."""
    tf.summary.write(name, tf.constant(value, tf.float32), step=step, metadata=_SCALAR)


def image(name: str, rgb: np.ndarray, step: int) -> None:
    """One uint8 (H, W, 3) RGB image, PNG-encoded as TensorBoard's image plugin stores it."""
    height, width = rgb.shape[:2]
    png = tf.io.encode_png(tf.convert_to_tensor(rgb, tf.uint8))
    tensor = tf.stack([tf.as_string(width), tf.as_string(height), png])
    tf.summary.write(name, tensor, step=step, metadata=_IMAGE)
