"""The loop over the steps of one `train` call: progress, TensorBoard scalars, checkpoints,
validation (and the `best/` checkpoint), and stopping on SIGINT/SIGTERM or a non-finite loss.

Only the chief writes the run folder: config.json (just before the first checkpoint of the call,
so a run that fails its checks or its first step leaves none to resume from), TensorBoard logs
and train_log.jsonl."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import signal
import threading
import time

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import Config
from fast_scnn_tf.data import build_dataset
from fast_scnn_tf.data.contract import Dataset
from fast_scnn_tf.evaluation import evaluate
from fast_scnn_tf.evaluation.predictions import image_like
from fast_scnn_tf.model import inference_model
from fast_scnn_tf.training.checkpoint import BEST_DIR, LATEST_DIR
from fast_scnn_tf.training.step import make_train_step

log = logging.getLogger(__name__)

LOG_DIR = "logs"  # TensorBoard event files
HISTORY_FILE = "train_log.jsonl"  # one JSON line per validation
NUM_PREDICTION_IMAGES = 3  # colourised validation predictions sent to TensorBoard


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; a checkpoint was saved at `step` before stopping."""

    def __init__(self, signum: int, step: int):
        super().__init__(
            f"stopped by {signal.Signals(signum).name} at step {step} "
            "(checkpoint saved; run again with the same --model-dir to resume)"
        )
        self.signum = signum
        self.step = step


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; nothing after the last good checkpoint was saved."""


class _StopSignals:
    """Turns the first SIGINT/SIGTERM into a flag the loop checks between steps; a second one
    acts immediately (the previous handlers are back in place)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self._previous = {}

    def _handle(self, signum, frame):
        log.warning(
            "%s received: saving a checkpoint after this step, then stopping "
            "(send it again to stop at once)",
            signal.Signals(signum).name,
        )
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
    return threading.current_thread() is threading.main_thread()


@dataclasses.dataclass(kw_only=True)
class Loop:
    """The state of one `train` call and the loop over its steps (built by `trainer.train`, by
    keyword: sixteen fields in a row are easy to swap unnoticed)."""

    config: Config
    dataset: Dataset  # what config.data names, resolved once by train()
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
        start = int(self.step.numpy())
        end = min(self.total, stop_at_step) if stop_at_step > 0 else self.total
        self._start, self._saved_step, self._config_saved = start, -1, False
        owed = self._validation_owed(start)
        if start >= end and not owed:
            log.info("nothing to do: step %d, run ends at %d", start, end)
            return self._summary(None)
        writer = (
            tf.summary.create_file_writer(os.path.join(self.model_dir, LOG_DIR))
            if self.chief
            else tf.summary.create_noop_writer()
        )
        val = None
        with _StopSignals() as stop, writer.as_default():
            try:
                if owed:
                    log.info(
                        "validation at step %d was stopped before it finished: running it now",
                        start,
                    )
                    val = self._validate(start, lambda: stop.signum is not None)
                    if stop.signum is not None:
                        raise TrainingInterrupted(stop.signum, start)
                if start < end:
                    val = self._steps(start, end, stop) or val
            finally:
                writer.flush()
        return self._summary(val)

    def _steps(self, start: int, end: int, stop: _StopSignals) -> dict | None:
        """Run steps `start` to `end`, saving and validating on schedule; returns the last
        validation's metrics (None if none ran)."""
        tc = self.config.train
        val = None
        dataset = build_dataset(
            self.config.data,
            self.config.data.train_split,
            training=True,
            batch_size=tc.batch_size,
            repeat=True,
            seed=tc.seed,
            skip_batches=start,
            dataset=self.dataset,
        )
        options = tf.data.Options()  # workers split batches, not files (frames are one list)
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        dataset = dataset.with_options(options)
        iterator = iter(self.strategy.experimental_distribute_dataset(dataset))
        train_step = make_train_step(
            self.model, self.optimizer, self.strategy, self.config, self.step, self.class_weights
        )
        bar = None
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
                    f"non-finite loss, gradients or weights at step {current} (epoch "
                    f"{epoch + 1}, loss {terms['loss']}); stopped without saving, the last "
                    f"good checkpoint is "
                    f"{self._in_run_folder(LATEST_DIR, self.latest) or 'none'}"
                )
            lr = float(self.schedule(current))
            if bar is not None:
                bar.update(
                    index + 1,
                    [("loss", terms["loss"]), ("lr", lr), ("img/s", tc.batch_size / seconds)],
                )
            if done % tc.log_every_steps == 0 or done == end:
                for name, value in terms.items():
                    tf.summary.scalar(f"train/{name}", value, step=done)
                tf.summary.scalar("train/learning_rate", lr, step=done)
                tf.summary.scalar("train/images_per_second", tc.batch_size / seconds, step=done)
            if done % tc.checkpoint_every_steps == 0:
                self._save(done)
            if self.validate and self._validation_due(done):
                val = self._validate(done, lambda: stop.signum is not None)
            if stop.signum is not None:
                self._save(done)
                raise TrainingInterrupted(stop.signum, done)
        self._save(end)
        return val

    def _validation_due(self, done: int) -> bool:
        """Whether the schedule validates after step `done`: at the end of the run, and at the
        end of every `eval_every_epochs`-th epoch."""
        every = self.config.train.eval_every_epochs
        return done == self.total or (
            done % self.steps_per_epoch == 0
            and every > 0
            and (done // self.steps_per_epoch) % every == 0
        )

    def _validation_owed(self, step: int) -> bool:
        """Whether the run starts at a step whose scheduled validation was never recorded in the
        history: a stop signal (or a kill) cut it short after the step's checkpoint was saved,
        and the resumed loop, starting after that step, would never run it."""
        if not (self.validate and step > 0 and self._validation_due(step)):
            return False
        try:
            with open(os.path.join(self.model_dir, HISTORY_FILE), errors="replace") as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return True
        for line in lines:
            try:
                if json.loads(line).get("step") == step:
                    return False
            except (ValueError, AttributeError):  # a line cut short by a kill: not a record
                continue
        return True

    def _progress_bar(self, epoch: int, index: int):
        log.info("epoch %d/%d", epoch + 1, math.ceil(self.total / self.steps_per_epoch))
        if not self.progress:
            return None
        bar = keras.utils.Progbar(
            self.steps_per_epoch, stateful_metrics=["lr", "img/s"], unit_name="step"
        )
        if index:
            bar.update(index)
        return bar

    def _save_config(self) -> None:
        """config.json, written (by the chief) before the first checkpoint of this call."""
        if self.chief and not self._config_saved:
            self.config.save(self.model_dir)
        self._config_saved = True

    def _save(self, done: int, force: bool = False) -> None:
        if force or done != self._saved_step:
            self._save_config()
            path = self.latest.save(checkpoint_number=done)
            self._saved_step = done
            log.debug("saved %s", path)

    def _validate(self, done: int, should_stop) -> dict | None:
        """Val mIoU with the inference model; keeps `best/` and logs to TensorBoard + jsonl.
        None, with nothing recorded, when `should_stop` (a stop signal) ends it early."""
        cfg = self.config
        dataset = build_dataset(
            cfg.data,
            "val",
            training=False,
            batch_size=1,
            scale=cfg.data.input_scale,
            seed=cfg.train.seed,
            dataset=self.dataset,
        )
        images = []
        classes = cfg.class_table()

        def keep_some(name, image, prediction):
            if len(images) < NUM_PREDICTION_IMAGES:
                images.append(
                    np.concatenate(
                        [image_like(image, prediction), classes.colorize(prediction)], axis=1
                    )
                )

        metrics = evaluate(
            inference_model(self.model),
            dataset,
            classes,
            progress=self.progress,
            on_prediction=keep_some,
            should_stop=should_stop,
        )
        if metrics is None:
            log.warning("validation at step %d stopped by the signal; not recorded", done)
            return None
        miou = metrics["miou"] if metrics["miou"] is not None else 0.0
        epoch = done / self.steps_per_epoch
        log.info(
            "step %d (epoch %.1f): val mIoU %.4f, pixel accuracy %.4f, mean class accuracy %.4f",
            done,
            epoch,
            miou,
            metrics["pixel_accuracy"] or 0.0,
            metrics["mean_accuracy"] or 0.0,
        )
        tf.summary.scalar("val/miou", miou, step=done)
        if metrics["category_miou"] is not None:
            tf.summary.scalar("val/category_miou", metrics["category_miou"], step=done)
        tf.summary.scalar("val/pixel_accuracy", metrics["pixel_accuracy"] or 0.0, step=done)
        for i, image in enumerate(images):
            tf.summary.image(f"val/prediction_{i}", image[None], step=done)
        if miou > float(self.best_miou.numpy()):
            self.best_miou.assign(miou)
            self._save_config()
            self.best.save(checkpoint_number=done)
            log.info("new best val mIoU %.4f: saved %s", miou, self.best.latest_checkpoint)
        self._save(done, force=True)  # the latest checkpoint carries best_miou too
        if self.chief:
            record = {
                "step": done,
                "epoch": epoch,
                **{k: v for k, v in metrics.items() if k != "confusion"},
            }
            with open(os.path.join(self.model_dir, HISTORY_FILE), "a") as f:
                f.write(json.dumps(record) + "\n")
        return metrics

    def _summary(self, val: dict | None) -> dict:
        best, step = float(self.best_miou.numpy()), int(self.step.numpy())
        return {
            "step": step,
            "total_steps": self.total,
            "steps_per_epoch": self.steps_per_epoch,
            "start_step": self._start,
            "steps_run": step - self._start,
            "best_miou": best if best >= 0 else None,
            "val": None if val is None else {k: v for k, v in val.items() if k != "confusion"},
            # where the chief wrote them (the other workers save into a scratch folder)
            "latest_checkpoint": self._in_run_folder(LATEST_DIR, self.latest),
            "best_checkpoint": self._in_run_folder(BEST_DIR, self.best),
            "weights_sha256": weights_digest(self.model),
        }

    def _in_run_folder(self, folder: str, manager: tf.train.CheckpointManager) -> str | None:
        prefix = manager.latest_checkpoint
        return prefix and os.path.join(self.model_dir, folder, os.path.basename(prefix))


def weights_digest(model: keras.Model) -> str:
    """SHA-256 of every model variable's bytes (weights, BatchNorm statistics, RNG state): equal
    digests mean bit-identical models, e.g. on the workers of one multi-worker run."""
    digest = hashlib.sha256()
    for variable in model.variables:
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()
