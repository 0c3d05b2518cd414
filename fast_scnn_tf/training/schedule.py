"""The "poly" learning rate of §4.1: lr = base · (1 − step/total)^0.9, then held at the end
value; optionally after a linear warm-up, as DABNet trains CamVid."""

from __future__ import annotations

import keras
import tensorflow as tf


def poly_schedule(
    base_lr: float, total_steps: int, power: float = 0.9, end_lr: float = 0.0, warmup_steps: int = 0
) -> keras.optimizers.schedules.LearningRateSchedule:
    """(base − end)·(1 − min(step, total)/total)^power + end, as a serialisable Keras schedule.

    The paper decays to 0 over the whole run (`end_lr=0`); mmsegmentation's PolyLR keeps a floor
    of 1e-4. Past `total_steps` the rate stays at `end_lr`. With `warmup_steps`, see WarmupPoly.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"--warmup-steps {warmup_steps} must be >= 0 and below the run's "
            f"{total_steps} total steps"
        )
    if warmup_steps:
        return WarmupPoly(base_lr, total_steps, power, end_lr, warmup_steps)
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=base_lr,
        decay_steps=total_steps,
        end_learning_rate=end_lr,
        power=power,
        cycle=False,
    )


@keras.saving.register_keras_serializable(package="fast_scnn_tf")
class WarmupPoly(keras.optimizers.schedules.LearningRateSchedule):
    """DABNet's WarmupPolyLR (Li et al., BMVC 2019; its utils/lr_scheduler.py): the rate rises
    linearly from base/3 to base over `warmup_steps`, then follows poly from base to `end_lr`
    over the remaining `total_steps − warmup_steps`. Adam's first steps, whose second-moment
    estimate rests on a few batches, are the ones the warm-up keeps small."""

    def __init__(self, base_lr, total_steps, power, end_lr, warmup_steps, start_factor=1 / 3):
        self.base_lr, self.total_steps, self.power = base_lr, total_steps, power
        self.end_lr, self.warmup_steps, self.start_factor = end_lr, warmup_steps, start_factor

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        ramp = tf.minimum(step / self.warmup_steps, 1.0)
        warm = self.base_lr * (self.start_factor + (1 - self.start_factor) * ramp)
        decay_steps = self.total_steps - self.warmup_steps
        left = 1 - tf.clip_by_value(step - self.warmup_steps, 0.0, decay_steps) / decay_steps
        poly = (self.base_lr - self.end_lr) * left**self.power + self.end_lr
        return tf.where(step <= self.warmup_steps, warm, poly)

    def get_config(self):
        return dict(
            base_lr=self.base_lr,
            total_steps=self.total_steps,
            power=self.power,
            end_lr=self.end_lr,
            warmup_steps=self.warmup_steps,
            start_factor=self.start_factor,
        )
