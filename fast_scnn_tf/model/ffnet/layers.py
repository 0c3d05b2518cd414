"""Convolution helpers and the resize layer that every FFNet part uses.

They reproduce PyTorch where the frameworks differ, so that converted official weights give the
same logits (see `fast_scnn_tf.convert`):
- BatchNorm epsilon 1e-5 and momentum 0.9 (PyTorch: eps 1e-5, momentum 0.1 = 1 - 0.9):
  `fast_scnn_tf.model.layers.BatchNorm`, shared with Fast-SCNN; Keras' epsilon 1e-3 would
  change every converted output.
- A k x k stride-2 conv with PyTorch `padding=k // 2` pads every side by k // 2; TF's "same" pads
  only bottom/right for even sizes. We pad explicitly with zeros and use "valid".
- The up-heads resize with PyTorch's legacy nearest or bilinear `align_corners=True`
  (`ResizeToMatch`); Keras' resizing has neither.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.model.layers import BatchNorm

NEAREST = "nearest"
BILINEAR_ALIGN_CORNERS = "bilinear_align_corners"
RESIZE_MODES = (NEAREST, BILINEAR_ALIGN_CORNERS)


def conv2d(x, filters, kernel, name, strides=1, use_bias=False):
    """A square conv with PyTorch's `padding=kernel // 2` semantics for every stride."""
    if strides > 1 and kernel > 1:
        # PyTorch pads both sides; TF "same" would pad bottom/right only and shift the grid.
        x = keras.layers.ZeroPadding2D(kernel // 2, name=name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"  # stride 1 with an odd kernel (or 1x1): same as PyTorch on every side
    return keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                               use_bias=use_bias, name=name)(x)


def batch_norm(x, name):
    return BatchNorm(name=name)(x)


def relu(x, name):
    return keras.layers.ReLU(name=name)(x)


def conv_bn_relu(x, filters, kernel, name, strides=1):
    """`name_conv` (no bias) -> `name_bn` -> `name_relu`: the official `ConvBNReLU`."""
    x = conv2d(x, filters, kernel, name + "_conv", strides)
    return relu(batch_norm(x, name + "_bn"), name + "_relu")


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class ResizeToMatch(keras.layers.Layer):
    """Resize `x` to the spatial size of `reference`: `ResizeToMatch(mode)([x, reference])`.

    `mode` is one of:
    - "nearest": PyTorch's `F.interpolate(mode="nearest")`, which reads source pixel
      floor(i * in / out); TF's ResizeNearestNeighbor op without half-pixel centres computes
      exactly that for every size ratio (`tf.image.resize`, with half-pixel centres, agrees only
      for integer factors).
    - "bilinear_align_corners": PyTorch's bilinear `align_corners=True` (the GPU heads), which
      Keras does not offer; TF's ResizeBilinear op with `align_corners=True` is the same mapping.
    Both are TFLite builtins (RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR) for any input size.
    """

    def __init__(self, mode: str = NEAREST, **kwargs):
        super().__init__(**kwargs)
        if mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs):
        x, reference = inputs
        size = _spatial_size(reference)
        # The raw ops: their v1 wrappers (tf.compat.v1.image.resize_*) are deprecated.
        if self.mode == NEAREST:
            y = tf.raw_ops.ResizeNearestNeighbor(images=x, size=size, align_corners=False,
                                                 half_pixel_centers=False)
        else:
            y = tf.raw_ops.ResizeBilinear(images=x, size=size, align_corners=True,
                                          half_pixel_centers=False)
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _spatial_size(x):
    """(height, width) of an NHWC tensor as an int32 tensor: constant when static."""
    static = x.shape[1:3]
    if all(s is not None for s in static):
        return tf.constant([int(s) for s in static], tf.int32)
    return tf.shape(x)[1:3]
