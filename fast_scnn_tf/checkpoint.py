"""Where a run keeps its weights, and how evaluation, export and prediction load them.

A model directory written by `train.py` holds:

    config.json           the resolved run config (fast_scnn_tf.config.Config)
    checkpoints/ckpt-N.*  latest checkpoints (tf.train.CheckpointManager): model, optimizer, step, ...
    best/ckpt-N.*         the checkpoint with the best validation mIoU so far

Every checkpoint stores the *training* model (aux heads included) under the key `model`, so
loading always builds the aux model first and takes the inference model from it.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from fast_scnn_tf.config import CONFIG_FILE, Config
from fast_scnn_tf.model import build_fast_scnn, inference_model

LATEST_DIR = "checkpoints"
BEST_DIR = "best"


def make_checkpoint(model: keras.Model, **trackables) -> tf.train.Checkpoint:
    """The checkpoint object every run saves: the training model plus optimizer, step, etc."""
    return tf.train.Checkpoint(model=model, **trackables)


def find_checkpoint(path: str, which: str = "best") -> str:
    """Resolve `path` to a checkpoint prefix.

    `path` may be a model directory (then `which` picks `best/` or `latest`, falling back to the
    other), a directory holding a `checkpoint` index file, or a checkpoint prefix itself.
    """
    if which not in ("best", "latest"):
        raise ValueError(f"which must be 'best' or 'latest', got {which!r}")
    if tf.io.gfile.exists(path + ".index"):
        return path
    if not tf.io.gfile.isdir(path):
        raise FileNotFoundError(f"checkpoint '{path}' does not exist: expected a model directory "
                                "written by train.py or a checkpoint prefix like DIR/ckpt-12")
    order = (BEST_DIR, LATEST_DIR) if which == "best" else (LATEST_DIR, BEST_DIR)
    for candidate in [os.path.join(path, d) for d in order] + [path]:
        prefix = tf.train.latest_checkpoint(candidate) if tf.io.gfile.isdir(candidate) else None
        if prefix:
            return prefix
    raise FileNotFoundError(f"no checkpoint in '{path}': expected '{BEST_DIR}/' or '{LATEST_DIR}/' "
                            "with ckpt-N files (written by train.py)")


def model_dir_for(path: str) -> str:
    """The model directory of a checkpoint argument (a model directory, or DIR/best/ckpt-N):
    the folder holding its config.json."""
    prefix_dir = os.path.dirname(find_checkpoint(path))
    for directory in (path, prefix_dir, os.path.dirname(prefix_dir)):
        if os.path.isfile(os.path.join(directory, CONFIG_FILE)):
            return directory
    raise FileNotFoundError(f"no {CONFIG_FILE} found with checkpoint '{path}'")


def config_for(path: str) -> Config:
    """The config saved with a checkpoint."""
    return Config.load(model_dir_for(path))


def load_model(path: str, which: str = "best", aux: bool = False,
               input_shape=(None, None, 3)) -> tuple[keras.Model, Config]:
    """Build the model described by the saved config and restore its weights.

    Returns (model, config): the inference model (or the training model with `aux=True`).
    Fails loudly if any model variable is missing from the checkpoint.
    """
    config = config_for(path)
    prefix = find_checkpoint(path, which)
    model = build_fast_scnn(num_classes=config.model.num_classes, aux=True,
                            dropout=config.model.dropout, input_shape=input_shape)
    try:
        status = make_checkpoint(model).restore(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:
        raise ValueError(f"checkpoint '{prefix}' does not match a Fast-SCNN with "
                         f"{config.model.num_classes} classes: {e}") from e
    status.expect_partial()  # the optimizer and data position are not needed here
    return (model if aux else inference_model(model)), config
