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

import importlib

# Each public name and the module that holds it, imported on first use (as the package root
# does): `python -m fast_scnn_tf.training.carry` imports this package first, and TensorFlow must
# start only when carry.py imports it quietly.
_EXPORTS = {
    "l2_penalty": "losses",
    "masked_cross_entropy": "losses",
    "regularized_kernels": "losses",
    "training_loss": "losses",
    "PRESETS": "presets",
    "apply_preset": "presets",
    "poly_schedule": "schedule",
    "NonFiniteLossError": "loop",
    "TrainingInterrupted": "loop",
    "check_resume": "resume",
    "init_from_checkpoint": "resume",
    "make_strategy": "strategy",
    "run_length": "trainer",
    "train": "trainer",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
