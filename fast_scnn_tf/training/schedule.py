"""The "poly" learning rate of §4.1: lr = base · (1 − step/total)^0.9, then held at the end
value."""

from __future__ import annotations

import keras


def poly_schedule(base_lr: float, total_steps: int, power: float = 0.9,
                  end_lr: float = 0.0) -> keras.optimizers.schedules.LearningRateSchedule:
    """(base − end)·(1 − min(step, total)/total)^power + end, as a serialisable Keras schedule.

    The paper decays to 0 over the whole run (`end_lr=0`); mmsegmentation's PolyLR keeps a floor
    of 1e-4. Past `total_steps` the rate stays at `end_lr`.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    return keras.optimizers.schedules.PolynomialDecay(
        initial_learning_rate=base_lr, decay_steps=total_steps, end_learning_rate=end_lr,
        power=power, cycle=False)
