"""The layer vocabulary every model family builds from: conv (with a padding mode), BatchNorm and
ReLU, Conv-BN-ReLU, the resize to a reference's size (with its modes), `spatial_size`, and the
layers Keras does not provide in the form we want.

Normalize, ResizeLike and AdaptiveAveragePooling2D work with static and dynamic input sizes and
convert to TFLite (builtin ops only) and to SavedModel, which is where peers' ports broke;
BatchNorm is Keras' BatchNormalization with a faster training step on the CPU.

Where TensorFlow and PyTorch differ, the choice is made here, once:
- BatchNorm momentum 0.9 / epsilon 1e-5 (`BN_MOMENTUM`, `BN_EPSILON`): PyTorch's defaults.
- Padding of stride-2 convs (`conv2d`): TensorFlow's "same" (Fast-SCNN, trained here) or
  PyTorch's `padding=k // 2` on every side (FFNet, whose official weights must see PyTorch's grid).
- Resize semantics (`ResizeLike`): half-pixel bilinear, PyTorch's legacy nearest, or bilinear with
  `align_corners=True`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

# ImageNet statistics in 0..255 units. The model normalises inside the graph so that every caller
# (training, evaluation, SavedModel, TFLite) feeds raw RGB values 0..255, uint8 or float.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class Normalize(keras.layers.Layer):
    """Casts RGB 0..255 (any dtype) to float and standardises with per-channel mean and std."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def call(self, images):
        x = tf.cast(images, tf.float32)
        x = (x - tf.constant(self.mean)) * tf.constant([1.0 / s for s in self.std])
        return tf.cast(x, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


# PyTorch's defaults, which the ports we compare against use; the moving statistics also settle
# within the short CPU demo runs (PyTorch's momentum 0.1 is Keras' 0.9).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class BatchNorm(keras.layers.BatchNormalization):
    """Keras' BatchNormalization computing its training step with TensorFlow's fused kernel.

    Keras 3 normalises with separate mean, variance and arithmetic ops, whose forward and backward
    passes took about a quarter of a CPU train step; the fused kernel (oneDNN on the CPU, cuDNN on
    GPUs) computes the same function in one op. The variables, the inference path (hence every
    export) and the moving-statistics update (biased batch variance, as Keras) are Keras'. A
    masked call, or an axis other than the last, falls back to Keras' implementation.
    """

    def __init__(self, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs):
        super().__init__(momentum=momentum, epsilon=epsilon, **kwargs)

    def call(self, inputs, training=None, mask=None):
        fusable = (
            mask is None
            and self.scale
            and self.center
            and not self.renorm
            and self.axis in (-1, len(inputs.shape) - 1)
            and len(inputs.shape) == 4
        )
        if not (training and self.trainable and fusable):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)  # as Keras: statistics in float32 under mixed precision
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x,
            tf.cast(self.gamma, tf.float32),
            tf.cast(self.beta, tf.float32),
            epsilon=self.epsilon,
            is_training=True,
        )
        # The kernel returns the unbiased (n - 1) variance for running averages; Keras averages
        # the biased one that it normalises with.
        n = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
        variance = variance * (n - 1.0) / n
        for moving, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            value = tf.cast(value, moving.dtype)
            moving.assign(moving * self.momentum + value * (1.0 - self.momentum))
        return tf.cast(y, self.compute_dtype)


def batch_norm(x, name):
    return BatchNorm(name=name)(x)


def relu(x, name):
    return keras.layers.ReLU(name=name)(x)


SAME = "same"  # TensorFlow's: ceil(L / stride) outputs, the extra pad row/column bottom/right
TORCH = "torch"  # PyTorch's `padding=kernel // 2` on every side, for every stride
PADDINGS = (SAME, TORCH)


def conv2d(x, filters, kernel, name, strides=1, padding=SAME, use_bias=False):
    """A square convolution named `name`; no bias by default (a following BatchNorm's beta is one).

    `padding` matters for stride 2 only: "same" pads the extra pixel bottom/right when the size is
    even; "torch" pads `kernel // 2` zeros on every side (an explicit `name_pad` layer, then
    "valid"), so that converted PyTorch weights see the same grid. Both give ceil(L / 2) outputs.
    """
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if padding == TORCH and strides > 1 and kernel > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=name + "_pad")(x)
        keras_padding = "valid"
    else:  # stride 1 with an odd kernel (or any 1x1): the same on every side in both frameworks
        keras_padding = "same"
    return keras.layers.Conv2D(
        filters, kernel, strides=strides, padding=keras_padding, use_bias=use_bias, name=name
    )(x)


def conv_bn_relu(x, filters, kernel, name, strides=1, padding=SAME, use_bias=False, suffix=""):
    """Conv -> BatchNorm -> ReLU, the layers named `{name}_conv{suffix}`, `{name}_bn{suffix}` and
    `{name}_relu{suffix}` (FFNet numbers its stem and block layers by `suffix`)."""
    x = conv2d(x, filters, kernel, f"{name}_conv{suffix}", strides, padding, use_bias)
    return relu(batch_norm(x, f"{name}_bn{suffix}"), f"{name}_relu{suffix}")


def spatial_size(x):
    """(height, width) of an NHWC tensor, each a Python int where the shape is static (a
    fixed-size graph such as TFLite keeps constant sizes), else an int32 scalar tensor. TensorFlow
    packs the pair into one size tensor wherever it takes one (`tf.image.resize`)."""
    static = tuple(x.shape[1:3])
    if None not in static:
        return static
    dynamic = tf.shape(x)
    return tuple(dynamic[i] if size is None else size for i, size in enumerate(static, start=1))


BILINEAR = "bilinear"  # half-pixel centres: TensorFlow's resize, PyTorch's align_corners=False
NEAREST = "nearest"  # PyTorch's legacy F.interpolate(mode="nearest"): FFNet's mobile up-heads
BILINEAR_ALIGN_CORNERS = "bilinear_align_corners"  # PyTorch's align_corners=True: FFNet's GPU heads
RESIZE_MODES = (BILINEAR, NEAREST, BILINEAR_ALIGN_CORNERS)


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class ResizeLike(keras.layers.Layer):
    """Resize `x` to the spatial size of `reference`: `ResizeLike(mode)([x, reference])`.

    Sizes come from the reference tensor, so odd input sizes (not multiples of 32) come back at
    exactly their own size. `mode` is one of:
    - "bilinear" (the default; every model's last layer): half-pixel centres, i.e. PyTorch's
      `align_corners=False`. Training graphs upsampling by whole even factors use a faster
      gradient (`_upsample_bilinear`).
    - "nearest": PyTorch's `F.interpolate(mode="nearest")`, which reads source pixel
      floor(i * in / out); TF's ResizeNearestNeighbor op without half-pixel centres computes
      exactly that for every size ratio (`tf.image.resize`, with half-pixel centres, agrees only
      for integer factors).
    - "bilinear_align_corners": PyTorch's bilinear `align_corners=True`, which Keras does not
      offer; TF's ResizeBilinear op with `align_corners=True` is the same mapping.
    All are TFLite builtins (RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR) for any input size.
    We do not use `keras.layers.Resizing`: in Keras 3.15.1 it leaks `training=True` into later
    BatchNorm layers when a model is called without `training=False`.
    """

    def __init__(self, mode: str = BILINEAR, **kwargs):
        super().__init__(**kwargs)
        if mode not in RESIZE_MODES:
            raise ValueError(f"resize mode must be one of {RESIZE_MODES}, got {mode!r}")
        self.mode = mode

    def call(self, inputs, training=None):
        x, reference = inputs
        size = spatial_size(reference)
        if self.mode == BILINEAR:
            factors = _even_factors(x, reference)
            if training and factors:
                y = _upsample_bilinear(x, factors)
            else:
                y = tf.image.resize(x, size, method="bilinear")
        # The raw ops: their v1 wrappers (tf.compat.v1.image.resize_*) are deprecated.
        elif self.mode == NEAREST:
            y = tf.raw_ops.ResizeNearestNeighbor(
                images=x, size=size, align_corners=False, half_pixel_centers=False
            )
        else:
            y = tf.raw_ops.ResizeBilinear(
                images=x, size=size, align_corners=True, half_pixel_centers=False
            )
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


# FFNet's up-head resizes were a class of their own, `ResizeToMatch`, before they became modes of
# ResizeLike; `.keras` files saved then name it (always with its `mode`), so the name still loads.
keras.saving.get_custom_objects()["fast_scnn_tf>ResizeToMatch"] = ResizeLike


def _even_factors(x, reference):
    """(fh, fw) when the reference's static size is `x`'s times whole even factors, else None."""
    (h, w), (big_h, big_w) = x.shape[1:3], reference.shape[1:3]
    if None in (h, w, big_h, big_w) or big_h % h or big_w % w:
        return None
    factors = (big_h // h, big_w // w)
    return factors if all(f % 2 == 0 for f in factors) else None


def _tent(factor: int):
    """The 2·factor weights with which one input row reaches the output rows of a half-pixel
    bilinear upsampling by `factor` (rows factor·m − 1.5·factor … of the edge-padded input m)."""
    t = tf.range(2 * factor, dtype=tf.float32)
    return 1.0 - tf.abs(t - (factor - 0.5)) / factor


def _fold_edges(g, axis: int):
    """Add the gradient of the edge-padding rows (first, last along `axis`) onto the frame's own
    first and last rows, the ones they copied."""
    n = g.shape[axis] - 2
    first, inner, last = tf.split(g, [1, n, 1], axis=axis)
    if n == 1:
        return inner + first + last
    head, middle, tail = tf.split(inner, [1, n - 2, 1], axis=axis)
    return tf.concat([head + first, middle, tail + last], axis=axis)


def _upsample_bilinear(x, factors):
    """`tf.image.resize(x, factors × size, "bilinear")` for whole even factors, with a fast
    gradient; the forward op is the same, so only training graphs use it."""
    fh, fw = factors

    @tf.custom_gradient
    def upsample(x):
        y = tf.image.resize(x, (x.shape[1] * fh, x.shape[2] * fw), method="bilinear")

        def grad(upstream):
            # The transpose of the upsampling: each input pixel collects the output pixels its
            # tent covers, a depthwise stride-(fh, fw) convolution of the edge-padded frame. ~5x
            # faster than ResizeBilinearGrad on the CPU (13% of a CamVid train step); equal to
            # float rounding.
            kernel = tf.tensordot(_tent(fh), _tent(fw), axes=0)[:, :, None, None]
            kernel = tf.cast(tf.tile(kernel, [1, 1, upstream.shape[-1], 1]), upstream.dtype)
            padding = [[0, 0], [3 * fh // 2] * 2, [3 * fw // 2] * 2, [0, 0]]
            g = tf.nn.depthwise_conv2d(upstream, kernel, [1, fh, fw, 1], padding=padding)
            return tf.cast(_fold_edges(_fold_edges(g, 1), 2), x.dtype)

        return y, grad

    return upsample(x)


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """Average pooling into `bins` x `bins` cells with PyTorch `AdaptiveAvgPool2d` semantics.

    Cell i along an axis of length L spans floor(i*L/bins) .. ceil((i+1)*L/bins), so cells overlap
    when `bins` does not divide L (32x64 maps with bins 3 and 6 at 1024x2048 input). Built from
    slices and means only (first over rows, then over columns: the mean over a rectangle is the
    mean of its row means), which TFLite runs as builtin int8/float ops for any input size.

    Not `keras.layers.AdaptiveAveragePooling2D`: in Keras 3.15.1 it matches this layer eagerly,
    but its TensorFlow backend needs static input sizes (the SavedModel and the predictor take
    any size, and Keras' export traces every layer at its own dynamic shape), and with bins=1 its
    second pooling window is L+1 > L, so every traced graph fails ("Negative dimension size").
    """

    def __init__(self, bins: int, **kwargs):
        super().__init__(**kwargs)
        self.bins = int(bins)

    def call(self, x):
        height, width = spatial_size(x)
        rows = [
            tf.reduce_mean(x[:, start:end], axis=1, keepdims=True)
            for start, end in _cells(height, self.bins)
        ]
        x = tf.concat(rows, axis=1) if self.bins > 1 else rows[0]
        cols = [
            tf.reduce_mean(x[:, :, start:end], axis=2, keepdims=True)
            for start, end in _cells(width, self.bins)
        ]
        return tf.concat(cols, axis=2) if self.bins > 1 else cols[0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.bins, self.bins, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


def _cells(length, bins):
    """(start, end) of every adaptive-pooling cell; Python ints when `length` is static."""
    return [((i * length) // bins, ((i + 1) * length + bins - 1) // bins) for i in range(bins)]
