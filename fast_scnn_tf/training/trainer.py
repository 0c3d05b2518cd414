"""The training loop: `train(config, model_dir)` runs (or resumes) one run of §4.1.

A custom loop rather than `model.fit`, so that the step, the data position and the checkpoint
stay in our hands:
- one `tf.function` step (`GradientTape`, optionally XLA) run through a `tf.distribute` strategy
  (`step.py`, `strategy.py`);
- the learning rate is the poly schedule of the run's own step counter (not the optimizer's
  `iterations`, which a loss-scale optimizer does not advance on skipped fp16 steps);
- the checkpoint holds model, optimizer, step, best mIoU and the dropout RNG state; the step is the
  data position: the deterministic pipeline (`build_dataset(..., skip_batches=step)`) restarts at
  the next unseen batch, so a resumed run matches an uninterrupted one (`resume.py`);
- latest checkpoints every `checkpoint_every_steps` (a SIGKILL loses at most that many steps),
  on SIGINT/SIGTERM (then `TrainingInterrupted`) and at the end; `best/` keeps the best val mIoU
  (`loop.py`).
"""

from __future__ import annotations

import contextlib
import logging
import os

import keras
import tensorflow as tf

from fast_scnn_tf.checkpoint import BEST_DIR, LATEST_DIR, build_training_model, make_checkpoint
from fast_scnn_tf.config import Config
from fast_scnn_tf.data import num_frames
from fast_scnn_tf.training.data_checks import class_weights_for, with_dataset_classes
from fast_scnn_tf.training.loop import (  # noqa: F401 (public names)
    NonFiniteLossError, Loop, TrainingInterrupted)
from fast_scnn_tf.training.resume import check_resume, init_from_checkpoint
from fast_scnn_tf.training.schedule import poly_schedule
from fast_scnn_tf.training.step import make_train_step  # noqa: F401 (public name)
from fast_scnn_tf.training.strategy import is_chief, make_strategy

log = logging.getLogger(__name__)


def run_length(config: Config, steps_per_epoch: int) -> int:
    """Total optimizer steps: `train.total_steps` if set, else epochs × steps per epoch."""
    return config.train.total_steps or config.train.epochs * steps_per_epoch


@contextlib.contextmanager
def _policy(mixed_precision: bool):
    """Set the global dtype policy for the run (before the model is built), then restore it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def train(config: Config, model_dir: str, *, stop_at_step: int = 0,
          progress: bool = True) -> dict:
    """Train (or resume) the run in `model_dir`; returns the final summary.

    stop_at_step: if > 0, save and return once the step counter reaches it, without changing the
      schedule (for time-boxed jobs; the next call continues).
    Raises TrainingInterrupted on SIGINT/SIGTERM (after saving) and NonFiniteLossError on a NaN or
    infinite loss or gradient (without saving it: the latest checkpoint is the last good state).
    `train.init_checkpoint` is used only when the run has no checkpoint of its own yet.
    Returns {"step", "total_steps", "best_miou", "val": last validation metrics or None, ...}.
    """
    config = with_dataset_classes(config)
    tc = config.train
    if tc.batch_size < 1 or tc.checkpoint_every_steps < 1:
        raise ValueError("batch_size and checkpoint_every_steps must be >= 1")
    class_weights = class_weights_for(config)
    check_resume(config, model_dir)
    os.makedirs(model_dir, exist_ok=True)
    config.save(model_dir)
    keras.utils.set_random_seed(tc.seed)
    strategy = make_strategy(tc.strategy)
    replicas = strategy.num_replicas_in_sync
    if tc.batch_size % replicas:
        raise ValueError(f"batch size {tc.batch_size} does not split over {replicas} replicas")

    train_frames = num_frames(config.data, "train")
    try:
        val_frames = num_frames(config.data, "val")
    except (FileNotFoundError, ValueError) as e:
        log.warning("no validation (no mIoU, no best/ checkpoint): %s", e)
        val_frames = 0
    steps_per_epoch = train_frames // tc.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{train_frames} training frames in '{config.data.data_dir}' are fewer "
                         f"than one batch of {tc.batch_size}")
    total = run_length(config, steps_per_epoch)
    log.info("strategy %s, %d replica(s) on %s", type(strategy).__name__, replicas,
             ", ".join(d.name for d in tf.config.list_logical_devices()))
    log.info("data %s: %d train / %d val frames, crop %s; batch %d (%d per replica), "
             "%d steps per epoch, %d total steps (%.1f epochs); preset %s, lr %g, mixed "
             "precision %s, XLA %s", config.data.data_dir, train_frames, val_frames,
             "x".join(map(str, config.data.crop_size)), tc.batch_size, tc.batch_size // replicas,
             steps_per_epoch, total, total / steps_per_epoch, tc.preset, tc.learning_rate,
             tc.mixed_precision, tc.xla)

    with _policy(tc.mixed_precision):
        with strategy.scope():
            model = build_training_model(config)
            step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                               aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            best_miou = tf.Variable(-1.0, dtype=tf.float64, trainable=False, name="best_miou",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            schedule = poly_schedule(tc.learning_rate, total, tc.lr_power, tc.end_learning_rate)
            optimizer = keras.optimizers.SGD(learning_rate=lambda: schedule(step),
                                             momentum=tc.momentum)
            if tc.mixed_precision:
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            optimizer.build(model.trainable_variables)
        # Dropout's RNG state is not part of Keras' checkpoint graph: add it, for exact resumes.
        dropout_rng = [v for v in model.variables if "seed_generator_state" in v.path]
        checkpoint = make_checkpoint(model, optimizer=optimizer, step=step, best_miou=best_miou,
                                     dropout_rng=dropout_rng)
        chief = is_chief(strategy)
        # Non-chief workers of a multi-worker run must save too, but into a scratch folder.
        ckpt_root = model_dir if chief else os.path.join(model_dir, f".worker-{_task_id(strategy)}")
        latest = tf.train.CheckpointManager(checkpoint, os.path.join(ckpt_root, LATEST_DIR),
                                            max_to_keep=tc.keep_checkpoints)
        best = tf.train.CheckpointManager(checkpoint, os.path.join(ckpt_root, BEST_DIR),
                                          max_to_keep=1)
        if latest.latest_checkpoint:
            checkpoint.restore(latest.latest_checkpoint).assert_existing_objects_matched()
            log.info("resuming from %s at step %d (lr %g)%s", latest.latest_checkpoint,
                     int(step.numpy()), float(schedule(step)),
                     "; --init-checkpoint ignored" if tc.init_checkpoint else "")
        elif tc.init_checkpoint:
            init_from_checkpoint(model, tc.init_checkpoint)

        loop = Loop(config, model_dir, model, strategy, optimizer, schedule, step, best_miou,
                     latest, best, steps_per_epoch, total, chief, val_frames > 0, progress,
                     class_weights)
        return loop.run(stop_at_step)


def _task_id(strategy) -> int:
    return getattr(strategy.cluster_resolver, "task_id", 0) or 0
