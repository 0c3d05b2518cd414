"""Where a run starts: its own newest intact checkpoint (resume), another run's weights
(`--init-checkpoint`), or fresh; and which setting changes a resume allows.

The step counter is the run's position in the data, counted in batches of the batch size the
checkpoint was written with (saved in it as `batch_size`). A resume with another batch size
converts the step so that the frames seen carry on: step × old batch // new batch. Epochs keep
their meaning (passes over the training frames), the data stream continues where it stopped
(at most one new batch of frames is seen again), and the poly schedule goes on from the same
fraction of an epoch-counted run; `total_steps`, when set, counts steps of the new batch size.
"""

from __future__ import annotations

import logging
import os

import keras
import tensorflow as tf

from fast_scnn_tf.config import CONFIG_FILE, Config
from fast_scnn_tf.training.checkpoint import load_run, make_checkpoint, newest_intact

log = logging.getLogger(__name__)

BATCH_SIZE_KEY = "batch_size/.ATTRIBUTES/VARIABLE_VALUE"


def check_resume(config: Config, model_dir: str) -> Config | None:
    """The config saved in `model_dir` (None for a new run). Refuses to resume with another class
    count (the weights would not fit); logs the other settings that changed (allowed)."""
    if not os.path.isfile(os.path.join(model_dir, CONFIG_FILE)):
        return None
    saved = Config.load(model_dir)
    if saved.model.name != config.model.name:
        raise ValueError(
            f"'{model_dir}' holds a {saved.model.name} run, but this run asks for "
            f"{config.model.name}: use a new --model-dir"
        )
    if saved.model.num_classes != config.model.num_classes:
        raise ValueError(
            f"'{model_dir}' holds a run with {saved.model.num_classes} classes, but "
            f"this run asks for {config.model.num_classes}: use a new --model-dir"
        )
    old, new = _flatten(saved.to_dict()), _flatten(config.to_dict())
    for key in sorted(k for k in new if old.get(k) != new[k]):
        log.warning("resuming with %s = %r (was %r)", key, new[key], old.get(key))
    return saved


def resume(
    directory: str, model: keras.Model, trackables: dict, batch_size: int, saved_batch_size: int
) -> str | None:
    """Restore the newest intact checkpoint of `directory` into `model` and `trackables` (the
    other checkpointed objects, `step` and `batch_size` among them); returns its prefix, or None
    when there is none (a fresh run). A step counted in another batch size is converted (module
    doc). `saved_batch_size` stands in for checkpoints written before they held their batch
    size (the saved config's)."""
    prefix = newest_intact(directory)
    if prefix is None:
        return None
    restore = dict(trackables)
    if not tf.train.load_checkpoint(prefix).has_tensor(BATCH_SIZE_KEY):
        del restore["batch_size"]
        trackables["batch_size"].assign(saved_batch_size)
    make_checkpoint(model, **restore).restore(prefix).assert_existing_objects_matched()
    step, old_batch = trackables["step"], int(trackables["batch_size"].numpy())
    if old_batch != batch_size:
        frames = int(step.numpy()) * old_batch
        step.assign(frames // batch_size)
        log.warning(
            "batch size %d -> %d: step %d of %s (%d frames seen) continues as step %d, so "
            "epochs keep counting passes over the data",
            old_batch,
            batch_size,
            frames // old_batch,
            prefix,
            frames,
            frames // batch_size,
        )
    trackables["batch_size"].assign(batch_size)
    return prefix


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = list(value) if isinstance(value, tuple) else value
    return out


def init_from_checkpoint(model: keras.Model, path: str) -> tuple[list[str], list[str]]:
    """Copy weights from another run (model dir or checkpoint prefix) into `model` by variable
    path where the shapes agree. Returns (restored, not_restored) variable paths of `model`.

    The source is rebuilt from its own config.json first, so a checkpoint with another class
    count still gives its encoder (its heads are reported as not restored).
    """
    source = load_run(path, which="best", aux=True)
    source_vars = {v.path: v for v in source.model.variables}
    pairs = [(variable, source_vars.get(variable.path)) for variable in model.variables]
    pairs = [
        (v, m if m is not None and tuple(m.shape) == tuple(v.shape) else None) for v, m in pairs
    ]
    restored = [v.path for v, m in pairs if m is not None]
    not_restored = [v.path for v, m in pairs if m is None]
    # Another class count leaves out a few head variables; another model family nearly all.
    if len(restored) < len(pairs) / 2:
        raise ValueError(
            f"--init-checkpoint {path}: its model ({source.config.model.name}) shares only "
            f"{len(restored)} of {len(pairs)} variables with this run's ({model.name}); expected "
            "a run of the same model (other class counts are fine)"
        )
    for variable, match in pairs:
        if match is not None:
            variable.assign(match)
    log.info(
        "init checkpoint %s: restored %d of %d variables",
        source.checkpoint,
        len(restored),
        len(model.variables),
    )
    if not_restored:
        log.info("not restored (missing or different shape): %s", ", ".join(not_restored))
    return restored, not_restored
