"""Test-time augmentation: the softmax of several views of a frame, averaged, then the argmax.

The views are the frame resized by each of `scales` (relative to the size the model is fed at)
and, with `flip`, each of those mirrored left to right. Every view's low-resolution logits are
resized bilinearly to the requested size (the label's), mirrored back where the view was, and
turned into probabilities; the labels are the argmax of their sum. This is mmsegmentation's
`--aug-test` (it averages softmax outputs, not logits). One scale and no flip is the plain head.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.model.head import CLS, head_at_size, low_res_logits


def tta_at_size(model: keras.Model, scales=(1.0,), flip: bool = False):
    """A tf.function (images, size) -> uint8 labels [B, H, W] at `size`, averaged over the views
    of the module docstring; `head_at_size(model)` itself for one scale of 1 without a flip.
    The tools check `scales` first (`cli.check_tta_scales`)."""
    scales = tuple(float(s) for s in scales)
    if scales == (1.0,) and not flip:
        return head_at_size(model, CLS)
    features = low_res_logits(model)

    @tf.function(reduce_retracing=True)
    def at_size(images, size):
        images = tf.cast(images, tf.float32)
        input_size = tf.cast(tf.shape(images)[1:3], tf.float32)
        total = 0.0
        for scale in scales:
            view = images
            if scale != 1:
                view = tf.image.resize(
                    images, tf.cast(tf.round(input_size * scale), tf.int32), method="bilinear"
                )
            probabilities = softmax_at(features(view, training=False), size)
            if flip:  # a frame that is its own mirror image gets a mirror-symmetric sum
                mirrored = softmax_at(features(tf.reverse(view, [2]), training=False), size)
                probabilities += tf.reverse(mirrored, [2])
            total += probabilities
        return tf.cast(tf.argmax(total, axis=-1, output_type=tf.int32), tf.uint8)

    return at_size


def softmax_at(logits, size):
    return tf.nn.softmax(tf.image.resize(logits, size, method="bilinear"), axis=-1)
