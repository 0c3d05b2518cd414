"""One optimizer step as a `tf.function` run through a `tf.distribute` strategy.

The global batch is split over the replicas and gradients are summed, so each replica's loss is
divided by the replica count. BatchNorm normalises over each replica's frames; Keras keeps a copy of
its moving statistics per replica (aggregation NONE), each updated from that replica's frames only,
so they are averaged over the replicas after every step: every replica, and every worker of a
multi-worker run, then holds the same model, and the statistics follow all frames of the batch
(without it, the saved model had the first replica's). Keras' SGD folds the learning rate into the
momentum buffer (m = 0.9·m − lr·g); TF1's MomentumOptimizer and PyTorch scale after (m = 0.9·m + g;
w −= lr·m). The two agree while the rate is constant and differ negligibly under the slowly decaying
poly schedule.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from fast_scnn_tf.config import Config
from fast_scnn_tf.training.losses import regularized_kernels, training_loss

MOVING = "moving_statistics"  # not a loss term: BatchNorm statistics on their way to the mean


def make_train_step(
    model, optimizer, strategy, config: Config, step: tf.Variable, class_weights=None
):
    """A tf.function that takes a distributed iterator, runs one optimizer step on every replica
    and returns the loss terms averaged over replicas."""
    kernels = regularized_kernels(model, config.train.decay_all_parameters)
    replicas = strategy.num_replicas_in_sync
    mixed = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    tc = config.train
    moving = [
        v
        for v in model.non_trainable_variables
        if v.path.endswith(("moving_mean", "moving_variance"))
    ]
    sync = replicas > 1 and bool(moving)

    state = [
        v for v in [*model.trainable_variables, *optimizer.variables] if "float" in str(v.dtype)
    ]

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            terms = training_loss(
                outputs, labels, kernels, tc.aux_weight, tc.weight_decay, class_weights
            )
            loss = terms["loss"] / replicas  # gradients are summed over replicas
            if mixed:
                loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        # A finite loss can still give non-finite gradients (a diverging learning rate), and
        # finite gradients can still overflow the update (a huge learning rate, Adam's squared
        # gradients): the loss, the gradients and the weights and optimizer slots after the
        # update are all checked, so a checkpoint the loop saves, and calls good, never holds inf
        # or NaN. Under loss scaling, overflowing fp16 gradients are normal (the loss-scale
        # optimizer skips that update and lowers the scale): only the state is checked.
        finite = tf.math.is_finite(terms["loss"])
        checked = state if mixed else [*grads, *state]
        finite = tf.logical_and(
            finite, tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in checked])
        )
        terms["finite"] = tf.cast(finite, tf.float32)
        if sync:  # this replica's moving statistics, flat: one all-reduce in train_step
            terms[MOVING] = tf.concat([tf.reshape(v, [-1]) for v in moving], 0)
        return terms

    replica_step = tf.function(replica_step, jit_compile=tc.xla)

    @tf.function
    def train_step(iterator):
        images, labels = next(iterator)
        terms = strategy.run(replica_step, args=(images, labels))
        step.assign_add(1)
        terms = {
            k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in terms.items()
        }  # "finite" stays 1 only if every replica's is 1
        if sync:
            means = tf.split(terms.pop(MOVING), [math.prod(v.shape) for v in moving])
            for variable, mean in zip(moving, means):
                variable.assign(tf.reshape(mean, variable.shape))
        return terms

    return train_step
