"""Where a run starts: its own latest checkpoint (resume), another run's weights
(`--init-checkpoint`), or fresh; and which setting changes a resume allows."""

from __future__ import annotations

import logging
import os

import keras

from fast_scnn_tf.checkpoint import find_checkpoint, load_model
from fast_scnn_tf.config import CONFIG_FILE, Config

log = logging.getLogger(__name__)


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
