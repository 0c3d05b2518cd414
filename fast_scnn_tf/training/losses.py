"""The training objective of §4.1: softmax cross-entropy (255 ignored) on the main output, plus
0.4 × the same on the two auxiliary heads, plus L2 on every kernel except depthwise ones.

L2 convention: `weight_decay · Σ ||w||² / 2` (TF-slim's `l2_regularizer`, i.e. `tf.nn.l2_loss`),
because the paper regularises "as in MobileNet", whose TF-slim code does exactly this; its gradient
`weight_decay · w` is also what mmsegmentation's SGD `weight_decay=4e-5` applies, so both presets
mean the same decay. (Keras' `regularizers.L2(x)` would be twice as strong: x · Σ ||w||².)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.data.labels import IGNORE_LABEL
from fast_scnn_tf.model import AUX_GFE, AUX_LTD, LOGITS


def masked_cross_entropy(labels: tf.Tensor, logits: tf.Tensor,
                         ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
    """Softmax cross-entropy averaged over the pixels whose label is not `ignore_label`.

    labels: [B, H, W] integer train ids; logits: [B, H, W, C]. A batch whose pixels are all
    ignored gives 0 (and zero gradients), not NaN.
    """
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, ignore_label)
    per_pixel = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.where(valid, labels, 0), logits=tf.cast(logits, tf.float32))
    total = tf.reduce_sum(tf.where(valid, per_pixel, 0.0))
    return tf.math.divide_no_nan(total, tf.reduce_sum(tf.cast(valid, tf.float32)))


def regularized_kernels(model: keras.Model) -> list:
    """Kernels that get L2: every Conv2D/Dense kernel (1x1s, 3x3s, classifier and aux heads).

    Not depthwise kernels (the paper, following MobileNet), not BatchNorm gamma/beta, not biases.
    """
    return [layer.kernel for layer in model.layers
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]


def l2_penalty(kernels: list, weight_decay: float) -> tf.Tensor:
    """weight_decay · Σ ||w||² / 2 over `kernels` (see the module docstring for the convention)."""
    if not kernels or weight_decay == 0:
        return tf.constant(0.0)
    return weight_decay * tf.add_n([tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in kernels])


def training_loss(outputs: dict, labels: tf.Tensor, kernels: list, aux_weight: float,
                  weight_decay: float) -> dict[str, tf.Tensor]:
    """All loss terms of one batch: `loss` = main + aux_weight·(aux_ltd + aux_gfe) + l2.

    `outputs` is the training model's dict (`logits`, `aux_ltd`, `aux_gfe`, all at label size).
    """
    terms = {name: masked_cross_entropy(labels, outputs[name])
             for name in (LOGITS, AUX_LTD, AUX_GFE)}
    terms["l2"] = l2_penalty(kernels, weight_decay)
    terms["loss"] = (terms[LOGITS] + aux_weight * (terms[AUX_LTD] + terms[AUX_GFE])
                     + terms["l2"])
    return terms
