"""Training (§4.1 of the paper): the loop, the loss, the poly schedule and the three recipes.

trainer.py      train(): plans the run, builds model and optimizer, resumes, runs the loop
loop.py         the loop over the steps: logging, checkpoints, validation, stop signals
step.py         one optimizer step through a tf.distribute strategy
strategy.py     the strategy, and which process of a cluster writes the run folder
resume.py       resume (also with another batch size) and --init-checkpoint
run_folder.py   one writer per run folder (a lock the kernel releases when a process dies)
data_checks.py  class table, class weights and label checks before the first step
losses.py, schedule.py, presets.py  the objective, the poly schedule, the recipes
carry.py        a run's exact state carried to another machine (python -m
                fast_scnn_tf.training.carry)
"""

import sys

from fast_scnn_tf.quiet import import_tensorflow

if "tensorflow" not in sys.modules:  # run as `python -m fast_scnn_tf.training.carry`: quietly
    import_tensorflow()

from fast_scnn_tf.training.loop import NonFiniteLossError, TrainingInterrupted
from fast_scnn_tf.training.losses import (
    l2_penalty,
    masked_cross_entropy,
    regularized_kernels,
    training_loss,
)
from fast_scnn_tf.training.presets import PRESETS, apply_preset
from fast_scnn_tf.training.resume import check_resume, init_from_checkpoint
from fast_scnn_tf.training.schedule import poly_schedule
from fast_scnn_tf.training.strategy import make_strategy
from fast_scnn_tf.training.trainer import run_length, train

__all__ = [
    "l2_penalty",
    "masked_cross_entropy",
    "regularized_kernels",
    "training_loss",
    "PRESETS",
    "apply_preset",
    "poly_schedule",
    "NonFiniteLossError",
    "TrainingInterrupted",
    "check_resume",
    "init_from_checkpoint",
    "make_strategy",
    "run_length",
    "train",
]
