"""The training loop: `train(config, model_dir)` runs (or resumes) one run of §4.1.

A custom loop rather than `model.fit`, so that the step, the data position and the checkpoint
stay in our hands:
- one `tf.function` step (`GradientTape`, optionally XLA) run through a `tf.distribute` strategy;
  the global batch is split over the replicas and gradients are summed, so each replica's loss is
  divided by the replica count;
- the learning rate is the poly schedule of the run's own step counter (not the optimizer's
  `iterations`, which a loss-scale optimizer does not advance on skipped fp16 steps);
- the checkpoint holds model, optimizer, step, best mIoU and the dropout RNG state; the step is the
  data position: the deterministic pipeline (`build_dataset(..., skip_batches=step)`) restarts at
  the next unseen batch, so a resumed run matches an uninterrupted one;
- latest checkpoints every `checkpoint_every_steps` (a SIGKILL loses at most that many steps),
  on SIGINT/SIGTERM (then `TrainingInterrupted`) and at the end; `best/` keeps the best val mIoU.

Keras' SGD folds the learning rate into the momentum buffer (m = 0.9·m − lr·g); TF1's
MomentumOptimizer and PyTorch scale after (m = 0.9·m + g; w −= lr·m). The two agree while the
rate is constant and differ negligibly under the slowly decaying poly schedule.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.checkpoint import (BEST_DIR, LATEST_DIR, find_checkpoint,
                                     load_model, make_checkpoint)
from fast_scnn_tf.config import CLASS_WEIGHTINGS, CONFIG_FILE, Config
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data.datasets import dataset_for
from fast_scnn_tf.data.pipeline import label_pixel_counts
from fast_scnn_tf.evaluation import evaluate
from fast_scnn_tf.model import build_fast_scnn, inference_model
from fast_scnn_tf.training.losses import enet_class_weights, regularized_kernels, training_loss
from fast_scnn_tf.training.schedule import poly_schedule

log = logging.getLogger(__name__)

LOG_DIR = "logs"  # TensorBoard event files
HISTORY_FILE = "train_log.jsonl"  # one JSON line per validation
NUM_PREDICTION_IMAGES = 3  # colourised validation predictions sent to TensorBoard
STRATEGIES = ("auto", "default", "mirrored", "multiworker")
LABEL_CHECK_FRAMES = 16  # label files read before training to catch data that holds no labels


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; a checkpoint was saved at `step` before stopping."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step} "
                         "(checkpoint saved; run again with the same --model-dir to resume)")
        self.signum = signum
        self.step = step


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; nothing after the last good checkpoint was saved."""


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MirroredStrategy over all GPUs when there are several, else the default strategy.

    `mirrored` without GPUs mirrors over the logical CPUs (how the tests run it); `multiworker`
    reads the cluster from TF_CONFIG.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}: expected one of {STRATEGIES}")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) > 1 else "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def run_length(config: Config, steps_per_epoch: int) -> int:
    """Total optimizer steps: `train.total_steps` if set, else epochs × steps per epoch."""
    return config.train.total_steps or config.train.epochs * steps_per_epoch


def init_from_checkpoint(model: keras.Model, path: str) -> tuple[list[str], list[str]]:
    """Copy weights from another run (model dir or checkpoint prefix) into `model` by variable
    path where the shapes agree. Returns (restored, not_restored) variable paths of `model`.

    The source is rebuilt from its own config.json first, so a checkpoint with another class
    count still gives its encoder (its heads are reported as not restored).
    """
    prefix = find_checkpoint(path, "best")
    source, _ = load_model(path, which="best", aux=True)
    source_vars = {v.path: v for v in source.variables}
    restored, not_restored = [], []
    for variable in model.variables:
        match = source_vars.get(variable.path)
        if match is not None and tuple(match.shape) == tuple(variable.shape):
            variable.assign(match)
            restored.append(variable.path)
        else:
            not_restored.append(variable.path)
    log.info("init checkpoint %s: restored %d of %d variables", prefix, len(restored),
             len(model.variables))
    if not_restored:
        log.info("not restored (missing or different shape): %s", ", ".join(not_restored))
    return restored, not_restored


def with_dataset_classes(config: Config) -> Config:
    """The config with the class count and class table of the dataset it names."""
    classes = dataset_for(config.data).classes
    model = dataclasses.replace(config.model, num_classes=classes.num_classes,
                                classes=classes.to_dict())
    return dataclasses.replace(config, model=model)


def class_weights_for(config: Config) -> np.ndarray | None:
    """Per-class loss weights (`train.class_weighting`), from the train split's label pixels.

    Also refuses data whose labels hold no labelled pixel (e.g. every value ignored): such a run
    would only learn the L2 term. Without weighting only the first label files are read."""
    weighting = config.train.class_weighting
    if weighting not in CLASS_WEIGHTINGS:
        raise ValueError(f"unknown class weighting '{weighting}': expected one of "
                         f"{', '.join(CLASS_WEIGHTINGS)}")
    if config.data.source != "folder":
        if weighting != "none":
            raise ValueError("class weighting counts label files: needs source 'folder'")
        return None
    frames = 0 if weighting != "none" else LABEL_CHECK_FRAMES
    counts = label_pixel_counts(config.data, "train", max_frames=frames)[:-1]
    if counts.sum() == 0:
        read = f"the first {frames} label files" if frames else "the label files"
        raise ValueError(f"{read} of split 'train' in '{config.data.data_dir}' hold no labelled "
                         f"pixel (every value is the ignore value or maps to it): check that the "
                         f"labels are {config.data.dataset} labels")
    if weighting == "none":
        return None
    weights = enet_class_weights(counts)
    names = config.class_table().names
    log.info("class weights (%s): %s", weighting,
             ", ".join(f"{n} {w:.2f}" for n, w in zip(names, weights)))
    return weights


def check_resume(config: Config, model_dir: str) -> None:
    """Refuse to resume with another class count (the weights would not fit); log the other
    settings that changed (epochs, learning rate, ...: allowed)."""
    if not os.path.isfile(os.path.join(model_dir, CONFIG_FILE)):
        return
    saved = Config.load(model_dir)
    if saved.model.num_classes != config.model.num_classes:
        raise ValueError(f"'{model_dir}' holds a run with {saved.model.num_classes} classes, but "
                         f"this run asks for {config.model.num_classes}: use a new --model-dir")
    old, new = _flatten(saved.to_dict()), _flatten(config.to_dict())
    for key in sorted(k for k in new if old.get(k) != new[k]):
        log.warning("resuming with %s = %r (was %r)", key, new[key], old.get(key))


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = list(value) if isinstance(value, tuple) else value
    return out


@contextlib.contextmanager
def _policy(mixed_precision: bool):
    """Set the global dtype policy for the run (before the model is built), then restore it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


class _StopSignals:
    """Turns the first SIGINT/SIGTERM into a flag the loop checks between steps; a second one
    acts immediately (the previous handlers are back in place)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        log.warning("%s received: saving a checkpoint after this step, then stopping "
                    "(send it again to stop at once)", signal.Signals(signum).name)
        self.signum = signum
        self.restore()

    def __enter__(self):
        if _in_main_thread():  # signal handlers can only be set from the main thread
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def restore(self):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def __exit__(self, *exc):
        self.restore()


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (
        not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


def make_train_step(model, optimizer, strategy, config: Config, step: tf.Variable,
                    class_weights=None):
    """A tf.function that takes a distributed iterator, runs one optimizer step on every replica
    and returns the loss terms averaged over replicas."""
    kernels = regularized_kernels(model)
    replicas = strategy.num_replicas_in_sync
    mixed = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    tc = config.train

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            outputs = model(images, training=True)
            terms = training_loss(outputs, labels, kernels, tc.aux_weight, tc.weight_decay,
                                  class_weights)
            loss = terms["loss"] / replicas  # gradients are summed over replicas
            if mixed:
                loss = optimizer.scale_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        # A finite loss can still give non-finite gradients (e.g. a diverging learning rate) that
        # poison the weights; flag both. Under loss scaling, overflowing fp16 gradients are
        # normal: the loss-scale optimizer skips that update and lowers the scale.
        finite = tf.math.is_finite(terms["loss"])
        if not mixed:
            finite = tf.logical_and(finite, tf.reduce_all(
                [tf.reduce_all(tf.math.is_finite(g)) for g in grads]))
        terms["finite"] = tf.cast(finite, tf.float32)
        return terms

    replica_step = tf.function(replica_step, jit_compile=tc.xla)

    @tf.function
    def train_step(iterator):
        images, labels = next(iterator)
        terms = strategy.run(replica_step, args=(images, labels))
        step.assign_add(1)
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None)
                for k, v in terms.items()}  # "finite" stays 1 only if every replica's is 1

    return train_step


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
            model = build_fast_scnn(num_classes=config.model.num_classes, aux=True,
                                    dropout=config.model.dropout)
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
        chief = _is_chief(strategy)
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

        loop = _Loop(config, model_dir, model, strategy, optimizer, schedule, step, best_miou,
                     latest, best, steps_per_epoch, total, chief, val_frames > 0, progress,
                     class_weights)
        return loop.run(stop_at_step)


def _task_id(strategy) -> int:
    return getattr(strategy.cluster_resolver, "task_id", 0) or 0


@dataclasses.dataclass
class _Loop:
    """The state of one `train` call and the loop over its steps."""

    config: Config
    model_dir: str
    model: keras.Model
    strategy: tf.distribute.Strategy
    optimizer: keras.optimizers.Optimizer
    schedule: keras.optimizers.schedules.LearningRateSchedule
    step: tf.Variable
    best_miou: tf.Variable
    latest: tf.train.CheckpointManager
    best: tf.train.CheckpointManager
    steps_per_epoch: int
    total: int
    chief: bool
    validate: bool
    progress: bool
    class_weights: np.ndarray | None

    def run(self, stop_at_step: int) -> dict:
        tc = self.config.train
        start = int(self.step.numpy())
        end = min(self.total, stop_at_step) if stop_at_step > 0 else self.total
        writer = (tf.summary.create_file_writer(os.path.join(self.model_dir, LOG_DIR))
                  if self.chief else tf.summary.create_noop_writer())
        self._saved_step = start if self.latest.latest_checkpoint else -1
        val = None
        if start >= end:
            log.info("nothing to do: step %d, run ends at %d", start, end)
            return self._summary(val)
        dataset = build_dataset(self.config.data, "train", training=True,
                                batch_size=tc.batch_size, repeat=True, seed=tc.seed,
                                skip_batches=start)
        options = tf.data.Options()  # workers split batches, not files (frames are one list)
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        dataset = dataset.with_options(options)
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        train_step = make_train_step(self.model, self.optimizer, self.strategy, self.config,
                                      self.step, self.class_weights)
        bar = None
        with _StopSignals() as stop, writer.as_default():
            for current in range(start, end):
                epoch, index = divmod(current, self.steps_per_epoch)
                if current == start or index == 0:
                    bar = self._progress_bar(epoch, index)
                tic = time.perf_counter()
                terms = {k: float(v) for k, v in train_step(iterator).items()}
                seconds = time.perf_counter() - tic
                done = current + 1
                if terms.pop("finite") < 1.0:
                    raise NonFiniteLossError(
                        f"non-finite loss or gradients at step {current} (epoch {epoch + 1}, "
                        f"loss {terms['loss']}); stopped without saving, the last good "
                        f"checkpoint is {self.latest.latest_checkpoint or 'none'}")
                lr = float(self.schedule(current))
                if bar is not None:
                    bar.update(index + 1, [("loss", terms["loss"]), ("lr", lr),
                                           ("img/s", tc.batch_size / seconds)])
                if done % tc.log_every_steps == 0 or done == end:
                    for name, value in terms.items():
                        tf.summary.scalar(f"train/{name}", value, step=done)
                    tf.summary.scalar("train/learning_rate", lr, step=done)
                    tf.summary.scalar("train/images_per_second", tc.batch_size / seconds,
                                      step=done)
                if done % tc.checkpoint_every_steps == 0:
                    self._save(done)
                epoch_end = done % self.steps_per_epoch == 0
                if self.validate and (done == self.total or (
                        epoch_end and tc.eval_every_epochs > 0
                        and (done // self.steps_per_epoch) % tc.eval_every_epochs == 0)):
                    val = self._validate(done)
                if stop.signum is not None:
                    self._save(done)
                    writer.flush()
                    raise TrainingInterrupted(stop.signum, done)
            self._save(end)
        writer.flush()
        return self._summary(val)

    def _progress_bar(self, epoch: int, index: int):
        log.info("epoch %d/%d", epoch + 1, math.ceil(self.total / self.steps_per_epoch))
        if not self.progress:
            return None
        bar = keras.utils.Progbar(self.steps_per_epoch, stateful_metrics=["lr", "img/s"],
                                  unit_name="step")
        if index:
            bar.update(index)
        return bar

    def _save(self, done: int, force: bool = False) -> None:
        if force or done != self._saved_step:
            path = self.latest.save(checkpoint_number=done)
            self._saved_step = done
            log.debug("saved %s", path)

    def _validate(self, done: int) -> dict:
        """Val mIoU with the inference model; keeps `best/` and logs to TensorBoard + jsonl."""
        cfg = self.config
        dataset = build_dataset(cfg.data, "val", training=False, batch_size=1,
                                seed=cfg.train.seed)
        images = []
        classes = cfg.class_table()

        def keep_some(name, image, prediction):
            if len(images) < NUM_PREDICTION_IMAGES:
                images.append(np.concatenate([image, classes.colorize(prediction)], axis=1))

        metrics = evaluate(inference_model(self.model), dataset, classes,
                           progress=self.progress, on_prediction=keep_some)
        miou = metrics["miou"] if metrics["miou"] is not None else 0.0
        epoch = done / self.steps_per_epoch
        log.info("step %d (epoch %.1f): val mIoU %.4f, pixel accuracy %.4f, mean class accuracy "
                 "%.4f", done, epoch, miou, metrics["pixel_accuracy"] or 0.0,
                 metrics["mean_accuracy"] or 0.0)
        tf.summary.scalar("val/miou", miou, step=done)
        if metrics["category_miou"] is not None:
            tf.summary.scalar("val/category_miou", metrics["category_miou"], step=done)
        tf.summary.scalar("val/pixel_accuracy", metrics["pixel_accuracy"] or 0.0, step=done)
        for i, image in enumerate(images):
            tf.summary.image(f"val/prediction_{i}", image[None], step=done)
        if miou > float(self.best_miou.numpy()):
            self.best_miou.assign(miou)
            self.best.save(checkpoint_number=done)
            log.info("new best val mIoU %.4f: saved %s", miou, self.best.latest_checkpoint)
        self._save(done, force=True)  # the latest checkpoint carries best_miou too
        if self.chief:
            record = {"step": done, "epoch": epoch,
                      **{k: v for k, v in metrics.items() if k != "confusion"}}
            with open(os.path.join(self.model_dir, HISTORY_FILE), "a") as f:
                f.write(json.dumps(record) + "\n")
        return metrics

    def _summary(self, val: dict | None) -> dict:
        best = float(self.best_miou.numpy())
        return {"step": int(self.step.numpy()), "total_steps": self.total,
                "steps_per_epoch": self.steps_per_epoch,
                "best_miou": best if best >= 0 else None,
                "val": None if val is None else {k: v for k, v in val.items() if k != "confusion"},
                "latest_checkpoint": self.latest.latest_checkpoint,
                "best_checkpoint": self.best.latest_checkpoint}
