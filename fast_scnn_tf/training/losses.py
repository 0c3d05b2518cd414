"""The training objective of §4.1: softmax cross-entropy (255 ignored) on the main output, plus
0.4 × the same on the two auxiliary heads, plus L2 on every kernel except depthwise ones (the
mmseg preset: on every trainable parameter, see `regularized_kernels`).

L2 convention: `weight_decay · Σ ||w||² / 2` (TF-slim's `l2_regularizer`, i.e. `tf.nn.l2_loss`),
because the paper regularises "as in MobileNet", whose TF-slim code does exactly this; its gradient
`weight_decay · w` is also what mmsegmentation's SGD `weight_decay=4e-5` applies, so both presets
mean the same decay. (Keras' `regularizers.L2(x)` would be twice as strong: x · Σ ||w||².)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.model import LOGITS


def masked_cross_entropy(
    labels: tf.Tensor, logits: tf.Tensor, ignore_label: int = IGNORE_LABEL, class_weights=None
) -> tf.Tensor:
    """Softmax cross-entropy averaged over the pixels whose label is not `ignore_label`.

    labels: [B, H, W] integer class ids; logits: [B, H, W, C]. A batch whose pixels are all
    ignored gives 0 (and zero gradients), not NaN. `class_weights` ([C], optional) weighs each
    pixel by its class, and the mean is over the weights (PyTorch's `CrossEntropyLoss(weight=)`).
    """
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, ignore_label)
    safe_labels = tf.where(valid, labels, 0)
    per_pixel = softmax_cross_entropy(tf.cast(logits, tf.float32), safe_labels)
    weight = tf.cast(valid, tf.float32)
    if class_weights is not None:
        weight *= tf.gather(tf.constant(class_weights, tf.float32), safe_labels)
    total = tf.reduce_sum(tf.where(valid, per_pixel * weight, 0.0))
    return tf.math.divide_no_nan(total, tf.reduce_sum(weight))


# The smallest normal float32: a true-class probability below it counts as it (loss ~87.3).
_MIN_PROBABILITY = 1.1754944e-38


@tf.custom_gradient
def softmax_cross_entropy(logits: tf.Tensor, labels: tf.Tensor):
    """Per-pixel -log softmax(logits)[label] for logits [..., C] and int32 labels [...], with the
    gradient softmax − one_hot: `tf.nn.sparse_softmax_cross_entropy_with_logits`' function,
    computed about 1.6× faster on the CPU (its kernel took a third of a CamVid train step;
    `tf.nn.softmax` runs on oneDNN). Gradients agree to float rounding; the loss also does,
    except that a true-class probability under float32's smallest normal number (a logit gap
    over ~87) is counted as that number, where the op would report a larger finite loss."""
    probabilities = tf.nn.softmax(logits)
    true_class = tf.gather(probabilities, labels[..., None], batch_dims=labels.shape.rank)
    loss = -tf.math.log(tf.maximum(true_class[..., 0], _MIN_PROBABILITY))

    def grad(upstream):
        one_hot = tf.one_hot(labels, tf.shape(logits)[-1], dtype=probabilities.dtype)
        return (probabilities - one_hot) * upstream[..., None], None

    return loss, grad


def enet_class_weights(pixel_counts, c: float = 1.02):
    """ENet's class weights (Paszke et al. 2016, §4): 1 / ln(c + p) with p the class's share of
    the labelled training pixels; bounded (at most 1/ln(c): ~50 for ENet's c = 1.02, ~10 for
    ERFNet's 1.10) where inverse frequency is not. A class with no training pixel gets the bound."""
    import numpy as np

    counts = np.asarray(pixel_counts, np.float64)
    share = counts / max(counts.sum(), 1.0)
    return (1.0 / np.log(c + share)).astype(np.float32)


def regularized_kernels(model: keras.Model, every_parameter: bool = False) -> list:
    """Variables that get L2: every Conv2D/Dense kernel (1x1s, 3x3s, classifier and aux heads).

    Not depthwise kernels (the paper, following MobileNet), not BatchNorm gamma/beta, not biases;
    with `every_parameter` (the mmseg preset), every trainable variable, as mmsegmentation's
    optimizer decays every parameter (its config sets no `paramwise_cfg`).
    """
    if every_parameter:
        return list(model.trainable_variables)
    return [
        layer.kernel
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]


def l2_penalty(kernels: list, weight_decay: float) -> tf.Tensor:
    """weight_decay · Σ ||w||² / 2 over `kernels` (see the module docstring for the convention)."""
    if not kernels or weight_decay == 0:
        return tf.constant(0.0)
    return weight_decay * tf.add_n([tf.nn.l2_loss(tf.cast(k, tf.float32)) for k in kernels])


def training_loss(
    outputs: dict,
    labels: tf.Tensor,
    kernels: list,
    aux_weight: float,
    weight_decay: float,
    class_weights=None,
) -> dict[str, tf.Tensor]:
    """All loss terms of one batch: `loss` = main + aux_weight·(sum of the aux terms) + l2.

    `outputs` is the training model's dict, all logits at label size: `logits` plus whatever
    auxiliary heads the model has (Fast-SCNN: `aux_ltd`, `aux_gfe`; FFNet: none);
    `class_weights` (optional, [C]) apply to every cross-entropy.
    """
    terms = {
        name: masked_cross_entropy(labels, logits, class_weights=class_weights)
        for name, logits in outputs.items()
    }
    aux = [terms[name] for name in outputs if name != LOGITS]
    terms["l2"] = l2_penalty(kernels, weight_decay)
    terms["loss"] = terms[LOGITS] + aux_weight * tf.add_n(aux or [0.0]) + terms["l2"]
    return terms
