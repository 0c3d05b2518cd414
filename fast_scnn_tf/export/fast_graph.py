"""Export-time rewrites: the same function in a form the TFLite converter turns into a faster
graph. The Keras model, its variables and checkpoints are untouched; `tflite.convert` is handed
`fast_graph(model)` and the export is still validated against the original model.

Measured with `benchmarks/tflite_profile.py` (op by op, 1024x2048, 2 threads):
- A depthwise conv with dilation (Fast-SCNN's feature fusion, dilation 4) is lowered by TensorFlow
  to SPACE_TO_BATCH_ND -> DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND, which XNNPACK does not take (the
  graph splits into more partitions) and behind which the converter cannot fold the BatchNorm (a
  MUL over the 128x256x128 map stays). Written as TensorFlow's native depthwise op with
  `dilations`, it converts to one DEPTHWISE_CONV_2D with dilation factors and the BatchNorm folds
  into it: three ops and ~10 ms (float32) go.
- The input normalisation `(x - mean) * (1 / std)` runs on the full-size frame (two ops over
  H x W x 3). The scale folds into the first convolution's kernel (kernel[:, :, c] / std[c]); the
  mean stays a subtraction, so zero padding (the conv's own or an explicit ZeroPadding2D before
  it) still pads the normalised image with zeros. One full-size MUL (~8 ms at 1024x2048) goes,
  and the subtraction runs on rows of W x 3 values (`SubtractMean`), 2-5x faster.
- With `fold_batch_norms` (the SavedModel's graph; the TFLite converter folds them itself), every
  BatchNorm that alone follows a convolution becomes that convolution's bias, its scale folded
  into the kernel: y = conv(x, W·s) + (b − mean)·s + beta, s = gamma / sqrt(var + eps). Keras'
  inference BatchNorm is separate arithmetic ops over the whole feature map that TensorFlow runs
  one by one; a conv with a bias (and the ReLU after it) is what Grappler fuses into one oneDNN
  kernel.
The subtraction is bit-identical; the folded scale and BatchNorm are exact up to float rounding
(the same products, in another order).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.model.layers import Normalize

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class NativeDilatedDepthwiseConv2D(keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` (channels last) through TensorFlow's DepthwiseConv2dNative
    op with `dilations`, which the TFLite converter maps to one dilated DEPTHWISE_CONV_2D
    (`tf.nn.depthwise_conv2d` wraps a dilated conv in SpaceToBatchND / BatchToSpaceND)."""

    def call(self, inputs):
        y = tf.raw_ops.DepthwiseConv2dNative(
            input=inputs,
            filter=tf.cast(self.kernel, inputs.dtype),
            strides=[1, *self.strides, 1],
            padding=self.padding.upper(),
            dilations=[1, *self.dilation_rate, 1],
        )
        if self.use_bias:
            y = tf.nn.bias_add(y, tf.cast(self.bias, y.dtype))
        return self.activation(y) if self.activation is not None else y


class SubtractMean(keras.layers.Layer):
    """`Normalize` without its scale: RGB 0..255 (any dtype) to float minus the per-channel mean
    (the scale lives in the next convolution's kernel, `fast_graph`).

    The frame is subtracted as rows of W x 3 values, the mean tiled W times: the same
    subtractions, but XNNPACK and TensorFlow both broadcast a 3-value innermost dimension slowly
    (1024x2048 on 2 threads, XNNPACK: 8.8 ms float32, 10 ms int8 as [H, W, 3] - [3]; 3.7 and
    1.8 ms as [H, 3W] - [3W]; the reshapes are free inside an XNNPACK partition). A static width
    tiles the mean once, as a constant; the SavedModel's any-size signatures tile it per call."""

    def __init__(self, mean, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)

    def call(self, images):
        x = tf.cast(images, tf.float32)
        height, width, channels = x.shape[1:]
        if height is None or width is None:
            shape = tf.shape(x)
            rows = tf.reshape(x, (shape[0], shape[1], -1))
            rows = rows - tf.tile(tf.constant(self.mean), shape[2:3])
            return tf.cast(tf.reshape(rows, shape), self.compute_dtype)
        rows = tf.reshape(x, (-1, height, width * channels))
        rows = rows - tf.constant(np.tile(np.array(self.mean, np.float32), width))
        return tf.cast(tf.reshape(rows, (-1, height, width, channels)), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


class FoldedBatchNorm(keras.layers.Layer):
    """A BatchNorm whose function now lives in the convolution before it: passes its input on
    (it takes the BatchNorm's call arguments, so the cloned graph calls it as it called that)."""

    def call(self, inputs, training=None, mask=None):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _scale_foldable(layer) -> keras.layers.Conv2D | None:
    """The Conv2D that alone reads `layer`'s output, directly or through zero padding (FFNet's
    stem pads explicitly; zeros scaled are zeros), if there is exactly one such path."""
    while True:
        consumers = [node.operation for node in layer._outbound_nodes]
        if len(consumers) != 1:
            return None
        layer = consumers[0]
        if type(layer) is not keras.layers.ZeroPadding2D:
            break
    if type(layer) is not keras.layers.Conv2D or len(layer._inbound_nodes) != 1:
        return None  # not a conv, or a conv called elsewhere too (its kernel is shared)
    return layer if layer.groups == 1 and layer.data_format == "channels_last" else None


def _foldable_batch_norm(layer) -> keras.layers.BatchNormalization | None:
    """The BatchNormalization (last axis, inference statistics) that alone reads the output of
    the convolution `layer`, called once, if there is one."""
    if (
        type(layer) not in CONVOLUTIONS
        or len(layer._inbound_nodes) != 1
        or layer.data_format != "channels_last"
    ):
        return None
    consumers = [node.operation for node in layer._outbound_nodes]
    if len(consumers) != 1 or not isinstance(consumers[0], keras.layers.BatchNormalization):
        return None
    norm = consumers[0]
    if (
        len(norm._inbound_nodes) != 1
        or norm.axis not in (-1, 3)
        or not (norm.scale and norm.center)
    ):
        return None
    return norm


def _fold(conv, weights: list, norm) -> list:
    """The kernel and bias of `conv` (its `weights`) with `norm` folded in."""
    gamma, beta, mean, variance = norm.get_weights()
    scale = gamma / np.sqrt(variance + norm.epsilon)
    kernel = weights[0]
    bias = weights[1] if conv.use_bias else np.zeros_like(mean)
    if isinstance(conv, keras.layers.DepthwiseConv2D):  # [kh, kw, in, multiplier]
        kernel = kernel * scale.reshape(kernel.shape[2], kernel.shape[3])
    else:  # [kh, kw, in, out]
        kernel = kernel * scale
    return [kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)]


def fast_graph(model: keras.Model, fold_batch_norms: bool = False) -> keras.Model:
    """`model` with the rewrites above: a new functional model with copies of every layer and
    its weights (a shared layer would keep its place in `model`'s graph, which `head.build_head`
    reads); `model` itself is not changed. A model with nothing to rewrite comes back as it
    is."""
    folds = {}  # Normalize layer -> the Conv2D its scale folds into
    for layer in model.layers:
        if isinstance(layer, Normalize):
            conv = _scale_foldable(layer)
            if conv is not None:
                folds[layer] = conv
    dilated = [
        layer
        for layer in model.layers
        if type(layer) is keras.layers.DepthwiseConv2D
        and tuple(layer.dilation_rate) != (1, 1)
        and layer.data_format == "channels_last"
    ]
    norms = {}  # convolution -> the BatchNorm folded into it
    if fold_batch_norms:
        norms = {
            layer: norm
            for layer in model.layers
            if (norm := _foldable_batch_norm(layer)) is not None
        }
    if not folds and not dilated and not norms:
        return model
    scaled = {conv: normalize for normalize, conv in folds.items()}
    folded = set(norms.values())
    copies = {}

    def clone(layer):
        config = layer.get_config()
        if layer in norms:
            config["use_bias"] = True
        if layer in folds:
            new = SubtractMean(layer.mean, name=layer.name, dtype=layer.dtype_policy)
        elif layer in folded:
            new = FoldedBatchNorm(name=layer.name, dtype=layer.dtype_policy)
        elif layer in dilated:
            new = NativeDilatedDepthwiseConv2D.from_config(config)
        else:
            new = layer.__class__.from_config(config)
        copies[layer] = new
        return new

    rewritten = keras.models.clone_model(model, clone_function=clone)
    for old, new in copies.items():
        if old in folded:
            continue
        weights = old.get_weights()
        if old in scaled:
            inverse_std = np.array([1.0 / s for s in scaled[old].std], np.float32)
            weights[0] = weights[0] * inverse_std[None, None, :, None]
        if old in norms:
            weights = _fold(old, weights, norms[old])
        new.set_weights(weights)
    return rewritten
