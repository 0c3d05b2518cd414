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
import glob
import logging
import os
import shutil
import tempfile

import keras
import tensorflow as tf

from fast_scnn_tf.config import Config
from fast_scnn_tf.data import num_frames
from fast_scnn_tf.data.contract import Dataset
from fast_scnn_tf.data.datasets import dataset_for
from fast_scnn_tf.training.checkpoint import (
    BEST_DIR,
    LATEST_DIR,
    build_training_model,
    make_checkpoint,
)
from fast_scnn_tf.training.data_checks import (
    class_weights_for,
    warn_if_class_indices,
    with_dataset_classes,
)
from fast_scnn_tf.training.loop import Loop
from fast_scnn_tf.training.resume import check_resume, init_from_checkpoint, resume
from fast_scnn_tf.training.run_folder import locked_run_folder
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


def train(config: Config, model_dir: str, *, stop_at_step: int = 0, progress: bool = True) -> dict:
    """Train (or resume) the run in `model_dir`; returns the final summary.

    stop_at_step: if > 0, save and return once the step counter reaches it, without changing the
      schedule (for time-boxed jobs; the next call continues).
    Raises TrainingInterrupted on SIGINT/SIGTERM (after saving), NonFiniteLossError on a NaN or
    infinite loss or gradient (without saving it: the latest checkpoint is the last good state),
    and a one-line ValueError when the config, the data or the run folder cannot be used
    (another process training there included). Nothing is written to `model_dir` before these
    checks pass: config.json comes with the first checkpoint.
    `train.init_checkpoint` is used only when the run has no checkpoint of its own yet.
    Returns {"step", "total_steps", "start_step", "steps_run", "best_miou", "val": last
    validation metrics or None, "weights_sha256", ...}.
    """
    dataset = dataset_for(config.data)  # once: every check and pipeline below shares it
    config = with_dataset_classes(config, dataset).validate()
    tc = config.train
    keras.utils.set_random_seed(tc.seed)
    strategy = make_strategy(tc.strategy)
    chief = is_chief(strategy)
    with _run_folders(model_dir, chief) as save_dir:
        saved = check_resume(config, model_dir)
        class_weights, steps_per_epoch, total, validate = _check_data(config, strategy, dataset)
        with _policy(tc.mixed_precision):
            model, optimizer, schedule, trackables = _build(config, strategy, total)
            step = trackables["step"]
            resumed = resume(
                os.path.join(model_dir, LATEST_DIR),
                model,
                trackables,
                tc.batch_size,
                saved.train.batch_size if saved else tc.batch_size,
            )
            if resumed:
                log.info(
                    "resuming from %s at step %d (lr %g)%s",
                    resumed,
                    int(step.numpy()),
                    float(schedule(step)),
                    "; --init-checkpoint ignored" if tc.init_checkpoint else "",
                )
            elif tc.init_checkpoint:
                init_from_checkpoint(model, tc.init_checkpoint)
            checkpoint = make_checkpoint(model, **trackables)
            latest = tf.train.CheckpointManager(
                checkpoint, os.path.join(save_dir, LATEST_DIR), max_to_keep=tc.keep_checkpoints
            )
            best = tf.train.CheckpointManager(
                checkpoint, os.path.join(save_dir, BEST_DIR), max_to_keep=1
            )
            loop = Loop(
                config=config,
                dataset=dataset,
                model_dir=model_dir,
                model=model,
                strategy=strategy,
                optimizer=optimizer,
                schedule=schedule,
                step=step,
                best_miou=trackables["best_miou"],
                latest=latest,
                best=best,
                steps_per_epoch=steps_per_epoch,
                total=total,
                chief=chief,
                validate=validate,
                progress=progress,
                class_weights=class_weights,
            )
            return loop.run(stop_at_step)


def _build(config: Config, strategy: tf.distribute.Strategy, total: int):
    """The training model, SGD (or Adam) on the poly schedule of the run's own step counter, and the
    other objects the checkpoint holds: (model, optimizer, schedule, trackables)."""
    tc = config.train
    with strategy.scope():
        model = build_training_model(config)
        trackables = dict(  # the step counts batches of `batch_size` (see resume.py)
            step=_counter("step", 0, tf.int64),
            best_miou=_counter("best_miou", -1.0),
            batch_size=_counter("batch_size", tc.batch_size, tf.int64),
        )
        schedule = poly_schedule(
            tc.learning_rate, total, tc.lr_power, tc.end_learning_rate, tc.warmup_steps
        )
        learning_rate = lambda: schedule(trackables["step"])  # noqa: E731
        if tc.optimizer == "adam":  # the CamVid networks' choice (CGNet, DABNet): Adam 1e-3 poly
            optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        else:
            optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=tc.momentum)
        if tc.mixed_precision:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
    trackables["optimizer"] = optimizer
    # Dropout's RNG state is not part of Keras' checkpoint graph: add it, for exact resumes.
    trackables["dropout_rng"] = [v for v in model.variables if "seed_generator_state" in v.path]
    return model, optimizer, schedule, trackables


def _counter(name: str, value, dtype=tf.float64) -> tf.Variable:
    return tf.Variable(
        value,
        dtype=dtype,
        trainable=False,
        name=name,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


@contextlib.contextmanager
def _run_folders(model_dir: str, chief: bool):
    """Yields where this process saves checkpoints: the locked run folder for the chief; for the
    other workers of a multi-worker run (which must save too, as the strategy's collectives
    span every worker) a scratch folder removed at the end, so only the chief writes the run
    folder. Every worker restores from the run folder, which must be shared."""
    if chief:
        with locked_run_folder(model_dir):
            _remove_partial_checkpoints(model_dir)
            yield model_dir
    else:
        with tempfile.TemporaryDirectory(prefix="fast_scnn_worker_") as scratch:
            yield scratch


def _check_data(config: Config, strategy: tf.distribute.Strategy, dataset: Dataset):
    """Refuse data the run cannot use, before anything is built; log the plan. Returns (class
    weights or None, steps per epoch, total steps, whether there is a val split)."""
    tc = config.train
    replicas = strategy.num_replicas_in_sync
    if tc.batch_size % replicas:
        raise ValueError(f"batch size {tc.batch_size} does not split over {replicas} replicas")
    warn_if_class_indices(config, dataset)
    class_weights = class_weights_for(config, dataset)
    train_frames = num_frames(config.data, config.data.train_split, dataset)
    try:
        val_frames = num_frames(config.data, "val", dataset)
    except (FileNotFoundError, ValueError) as e:
        log.warning("no validation (no mIoU, no best/ checkpoint): %s", e)
        val_frames = 0
    if val_frames and config.data.train_split != "train":
        log.warning(
            "training on split '%s', which may hold the val frames: val mIoU is then no "
            "held-out score (fix the epochs in advance and use the last checkpoint)",
            config.data.train_split,
        )
    steps_per_epoch = train_frames // tc.batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"{train_frames} training frames in '{config.data.data_dir}' are fewer "
            f"than one batch of {tc.batch_size}"
        )
    total = run_length(config, steps_per_epoch)
    log.info(
        "strategy %s, %d replica(s) on %s",
        type(strategy).__name__,
        replicas,
        ", ".join(d.name for d in tf.config.list_logical_devices()),
    )
    log.info(
        "data %s: %d train / %d val frames, crop %s; batch %d (%d per replica), "
        "%d steps per epoch, %d total steps (%.1f epochs); preset %s, %s lr %g, input scale "
        "%g, mixed precision %s, XLA %s",
        config.data.data_dir,
        train_frames,
        val_frames,
        "x".join(map(str, config.data.crop_size)),
        tc.batch_size,
        tc.batch_size // replicas,
        steps_per_epoch,
        total,
        total / steps_per_epoch,
        tc.preset,
        tc.optimizer,
        tc.learning_rate,
        config.data.input_scale,
        tc.mixed_precision,
        tc.xla,
    )
    return class_weights, steps_per_epoch, total, val_frames > 0


def _remove_partial_checkpoints(model_dir: str) -> None:
    """Delete the `ckpt-N_temp/` folders a save leaves when it is killed or the disk fills (3-7 MB
    each). Called under the run folder's lock, so no save of another process is in flight."""
    for folder in (LATEST_DIR, BEST_DIR):
        for partial in glob.glob(os.path.join(model_dir, folder, "*_temp")):
            if os.path.isdir(partial):
                shutil.rmtree(partial)
                log.info("removed %s, left by an interrupted checkpoint save", partial)
