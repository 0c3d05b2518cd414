"""Training (§4.1 of the paper): the loop, the loss, the poly schedule and the two recipes."""

from fast_scnn_tf.training.losses import (
    l2_penalty, masked_cross_entropy, regularized_kernels, training_loss)
from fast_scnn_tf.training.presets import PRESETS, apply_preset
from fast_scnn_tf.training.schedule import poly_schedule
from fast_scnn_tf.training.trainer import (
    NonFiniteLossError, TrainingInterrupted, check_resume, init_from_checkpoint, make_strategy,
    run_length, train)
