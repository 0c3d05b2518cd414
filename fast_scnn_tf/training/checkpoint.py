"""Where a run keeps its weights, and how evaluation, export, prediction and the benchmarks load
them (`load_run`).

A model directory written by `train.py` holds:

    config.json           the resolved run config (fast_scnn_tf.config.Config)
    checkpoints/ckpt-N.*  latest checkpoints (tf.train.CheckpointManager): model, optimizer,
                          step, ...
    best/ckpt-N.*         the checkpoint with the best validation mIoU so far

Every checkpoint stores the *training* model (aux heads included) under the key `model`, so
loading always builds the aux model first and takes the inference model from it.

A damaged checkpoint (a truncated `.data` file, a checksum error) is skipped with a warning that
names the file, and the newest intact one of the same folder is used instead (`newest_intact`),
so training resumes and `evaluate.py --which latest` loads rather than stopping with a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import keras
import tensorflow as tf

from fast_scnn_tf.config import CONFIG_FILE, WHICH, Config
from fast_scnn_tf.model import build_model, inference_model

log = logging.getLogger(__name__)

LATEST_DIR = "checkpoints"
BEST_DIR = "best"


def build_training_model(config: Config, input_shape=(None, None, 3)) -> keras.Model:
    """The training model a run's config describes (aux heads included): the one place that
    builds it, for training and for every loader."""
    return build_model(
        config.model.name,
        num_classes=config.model.num_classes,
        aux=True,
        dropout=config.model.dropout,
        input_shape=input_shape,
    )


def make_checkpoint(model: keras.Model, **trackables) -> tf.train.Checkpoint:
    """The checkpoint object every run saves: the training model plus optimizer, step, etc."""
    return tf.train.Checkpoint(model=model, **trackables)


def write_run(
    directory: str,
    config: Config,
    model: keras.Model,
    folder: str = LATEST_DIR,
    number: int | None = None,
    **trackables,
) -> str:
    """Write a run folder that `load_run` loads: `config.json` and one checkpoint of the training
    `model` (plus `trackables`, e.g. step, optimizer) in `folder` (`checkpoints/` or `best/`),
    numbered `number` (None: the manager's count, ckpt-1), with the manager's `checkpoint` index.
    The one way a run folder is written outside training: the converter and the tests' runs.
    Returns the checkpoint prefix."""
    config.save(directory)
    manager = tf.train.CheckpointManager(
        make_checkpoint(model, **trackables), os.path.join(directory, folder), max_to_keep=1
    )
    return manager.save(checkpoint_number=number)


def damage(prefix: str) -> str | None:
    """None if every tensor of the checkpoint reads back (the reader checks each one's CRC32C),
    else a one-line reason naming the damaged file."""
    # The reader reports damage as OpErrors, but also as IndexError ("Read less bytes than
    # requested") and others: any failure to read back means the checkpoint cannot be used.
    try:
        reader = tf.train.load_checkpoint(prefix)
    except Exception as e:  # noqa: BLE001
        return f"'{prefix}.index' cannot be read: {_first_line(e)}"
    try:
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as e:  # noqa: BLE001
        files = tf.io.gfile.glob(prefix + ".data-*")
        return (
            f"'{files[0] if len(files) == 1 else prefix + '.data-*'}' is damaged: {_first_line(e)}"
        )
    return None


def _first_line(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return message.strip().splitlines()[0] if message.strip() else type(error).__name__


_warned: set[str] = set()


def newest_intact(directory: str) -> str | None:
    """The newest checkpoint prefix in `directory` that reads back whole, or None if it has none.
    Each damaged newer one is skipped with a warning naming its file; if every one is damaged,
    a ValueError names them."""
    state = tf.train.get_checkpoint_state(directory) if tf.io.gfile.isdir(directory) else None
    if state is None:
        return None
    prefixes = list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]
    if state.model_checkpoint_path in prefixes:  # the last saved first, then by age
        prefixes.remove(state.model_checkpoint_path)
    prefixes = [state.model_checkpoint_path] + prefixes[::-1]
    # get_checkpoint_state already joins relative entries with `directory`: use them as they are.
    problems = []
    for prefix in prefixes:
        if not tf.io.gfile.exists(prefix + ".index"):
            continue  # deleted by the manager's max_to_keep after the state file was written
        problem = damage(prefix)
        if problem is None:
            if problems and prefix not in _warned:
                log.warning("using the older checkpoint '%s' instead", prefix)
                _warned.add(prefix)
            return prefix
        if problem not in _warned:  # loaders resolve a path more than once: say it once
            log.warning("checkpoint skipped: %s", problem)
            _warned.add(problem)
        problems.append(problem)
    if problems:
        raise ValueError(f"every checkpoint in '{directory}' is damaged; the newest: {problems[0]}")
    return None


def find_checkpoint(path: str, which: str = "best") -> str:
    """Resolve `path` to an intact checkpoint prefix.

    `path` may be a model directory (then `which` picks `best/` or `latest`, falling back to the
    other), a directory holding a `checkpoint` index file, or a checkpoint prefix itself. In a
    folder, a damaged newest checkpoint gives way to the newest intact one, with a warning; a
    damaged prefix named explicitly is a ValueError naming the file.
    """
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    if tf.io.gfile.exists(path + ".index"):
        problem = damage(path)
        if problem:
            raise ValueError(f"checkpoint {problem}")
        return path
    if not tf.io.gfile.isdir(path):
        raise FileNotFoundError(
            f"checkpoint '{path}' does not exist: expected a model directory "
            "written by train.py or a checkpoint prefix like DIR/ckpt-12"
        )
    order = (BEST_DIR, LATEST_DIR) if which == "best" else (LATEST_DIR, BEST_DIR)
    damaged = []
    for i, candidate in enumerate([os.path.join(path, d) for d in order] + [path]):
        try:
            prefix = newest_intact(candidate)
        except ValueError as e:  # every checkpoint there is damaged: try the other folder
            damaged.append(str(e))
            continue
        if prefix:
            if i > 0:  # the folder `which` names has none: say which one is used instead
                log.info(
                    "no %s checkpoint in '%s': using '%s'",
                    which,
                    os.path.join(path, order[0]),
                    prefix,
                )
            return prefix
    if damaged:
        raise ValueError(damaged[0])
    raise FileNotFoundError(
        f"no checkpoint in '{path}': expected '{BEST_DIR}/' or '{LATEST_DIR}/' "
        "with ckpt-N files (written by train.py)"
    )


@dataclasses.dataclass(frozen=True)
class Run:
    """A run loaded for inference or as a starting point (`load_run`)."""

    model: keras.Model  # the inference model, or the training model (aux heads) with aux=True
    config: Config  # the config saved with the run
    checkpoint: str  # the checkpoint prefix the weights came from
    directory: str  # the run folder (holds config.json)


def load_run(path: str, which: str = "best", aux: bool = False) -> Run:
    """Load what a checkpoint argument names (a run folder written by train.py, or a checkpoint
    prefix in it such as DIR/best/ckpt-12): the one way evaluate, export, predict,
    `--init-checkpoint` and the benchmarks load a run.

    Builds the model its config.json describes and restores the weights of `find_checkpoint(path,
    which)`, failing loudly if any model variable is missing. Errors are one line naming the path.
    """
    prefix = find_checkpoint(path, which)
    prefix_dir = os.path.dirname(prefix)
    directory = next(
        (
            d
            for d in (path, prefix_dir, os.path.dirname(prefix_dir))
            if os.path.isfile(os.path.join(d, CONFIG_FILE))
        ),
        None,
    )
    if directory is None:
        raise FileNotFoundError(f"no {CONFIG_FILE} found with checkpoint '{path}'")
    config = Config.load(directory)
    model = build_training_model(config)
    try:
        status = make_checkpoint(model).restore(prefix)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as e:
        raise ValueError(
            f"checkpoint '{prefix}' does not match a {config.model.name} with "
            f"{config.model.num_classes} classes: {_first_line(e)}"
        ) from e
    status.expect_partial()  # the optimizer and data position are not needed here
    return Run(model if aux else inference_model(model), config, prefix, directory)
