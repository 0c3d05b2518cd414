"""The paper's training augmentations (§4.1), one function each, on a single frame.

Images are float32 [H, W, 3] in 0..255, labels uint8 [H, W] train ids. Every function takes a
stateless seed (int32/int64 [2]) so a frame's augmentation is a function of (seed, frame position)
and a run can be replayed or resumed exactly. Labels are only ever moved or copied (nearest
neighbour), never interpolated; padding in labels is IGNORE_LABEL.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.data.classes import IGNORE_LABEL


def random_resize(
    image: tf.Tensor, label: tf.Tensor, min_scale: float, max_scale: float, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Resize both by one factor drawn uniformly from [min_scale, max_scale].

    Image bilinear, label nearest; both use half-pixel centres, so they stay aligned."""
    scale = tf.random.stateless_uniform([], seed, min_scale, max_scale)
    size = tf.cast(tf.round(tf.cast(tf.shape(label), tf.float32) * scale), tf.int32)
    size = tf.maximum(size, 1)
    image = tf.image.resize(image, size, method="bilinear")
    label = tf.image.resize(label[:, :, None], size, method="nearest")[:, :, 0]
    return image, label


def random_crop(
    image: tf.Tensor,
    label: tf.Tensor,
    crop_size: tuple[int, int],
    seed: tf.Tensor,
    image_pad_value: float = 0.0,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Cut a random `crop_size` window; where the frame is smaller, place it at a random offset
    inside the window and pad (image with `image_pad_value`, label with IGNORE_LABEL)."""
    crop = tf.constant(crop_size, tf.int32)
    size = tf.shape(label)
    padded = tf.maximum(size, crop)
    # Offset of the frame inside the padded canvas, then of the crop inside the canvas; along each
    # axis one of the two ranges is [0, 0].
    pad_seed, crop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    before = _uniform_int(padded - size, pad_seed)
    paddings = tf.stack([before, padded - size - before], axis=1)
    image = tf.pad(image, tf.concat([paddings, [[0, 0]]], 0), constant_values=image_pad_value)
    label = tf.pad(label, paddings, constant_values=IGNORE_LABEL)
    offset = _uniform_int(padded - crop, crop_seed)
    image = tf.slice(image, tf.concat([offset, [0]], 0), tf.concat([crop, [3]], 0))
    label = tf.slice(label, offset, crop)
    return image, label


def _uniform_int(maxval: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Integers uniform in [0, maxval] (inclusive), elementwise."""
    u = tf.random.stateless_uniform(tf.shape(maxval), seed)
    return tf.minimum(tf.cast(u * tf.cast(maxval + 1, tf.float32), tf.int32), maxval)


def random_flip(image: tf.Tensor, label: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mirror both left-right with probability 1/2."""
    flip = tf.random.stateless_uniform([], seed) < 0.5
    image = tf.cond(flip, lambda: tf.reverse(image, [1]), lambda: image)
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    return image, label


def color_noise(image: tf.Tensor, stddev: float, seed: tf.Tensor) -> tf.Tensor:
    """Add Gaussian noise per colour channel: one offset per channel for the whole frame.

    The paper names "colour channels noise" without details; a per-channel shift changes the
    colour balance (what varies between cameras and light) and is cheap at full resolution."""
    noise = tf.random.stateless_normal([3], seed, stddev=stddev)
    return tf.clip_by_value(image + noise, 0.0, 255.0)


def random_brightness(image: tf.Tensor, max_delta: float, seed: tf.Tensor) -> tf.Tensor:
    """Add one value drawn uniformly from [-max_delta, max_delta] to every pixel."""
    delta = tf.random.stateless_uniform([], seed, -max_delta, max_delta)
    return tf.clip_by_value(image + delta, 0.0, 255.0)


def augment(
    image: tf.Tensor,
    label: tf.Tensor,
    *,
    crop_size: tuple[int, int],
    min_scale: float,
    max_scale: float,
    flip: bool,
    color_noise_std: float,
    brightness: float,
    seed: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The training chain in the paper's order: resize, crop/pad, flip, colour noise, brightness.

    `image` may be uint8; the result is float32 [crop_h, crop_w, 3] and uint8 [crop_h, crop_w]."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 5))
    image = tf.cast(image, tf.float32)
    if (min_scale, max_scale) != (1.0, 1.0):
        image, label = random_resize(image, label, min_scale, max_scale, seeds[0])
    image, label = random_crop(image, label, crop_size, seeds[1])
    if flip:
        image, label = random_flip(image, label, seeds[2])
    if color_noise_std > 0:
        image = color_noise(image, color_noise_std, seeds[3])
    if brightness > 0:
        image = random_brightness(image, brightness, seeds[4])
    image.set_shape([crop_size[0], crop_size[1], 3])
    label.set_shape([crop_size[0], crop_size[1]])
    return image, label
