"""Segment user images with any of the three things the project produces: a training model
directory (checkpoint), an exported SavedModel, or a TFLite file.

`load_predictor(path)` picks the right loader; every predictor maps an RGB uint8 image (H, W, 3)
of any size to a class-id label map (H, W) uint8 at the same size. The class table (names and
colours) comes from the config saved with the run or the export.
"""

from __future__ import annotations

import os
from typing import Callable

import json
import logging

import cv2
import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import CONFIG_FILE, Config
from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.data.labels import CLASSES as CITYSCAPES
from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.saved_model import EXTRA_DIR
from fast_scnn_tf.model.head import CLS, LABELS, build_head

Predictor = Callable[[np.ndarray], np.ndarray]
log = logging.getLogger(__name__)


MODEL_EXPECTED = ("expected a model directory written by train.py, a checkpoint prefix like "
                  "DIR/best/ckpt-12, an exported SavedModel (its version folder, the model-name "
                  "folder above it, or export.py's --output folder) or a .tflite file")


def load_predictor(path: str, which: str = "best") -> tuple[Predictor, str, ClassTable]:
    """Load what `path` names: a .tflite file, a checkpoint prefix, a SavedModel (version folder,
    model-name folder or export root) or a training model directory. Returns (predict,
    description, class table); a path that is none of these is an error saying what was expected.
    """
    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TFLite file '{path}' does not exist")
        return (_tflite_predictor(path), f"TFLite {path}",
                _export_classes(path[:-len(".tflite")] + ".json", lambda d: d["config"]))
    is_prefix = os.path.isfile(path + ".index")
    if not is_prefix and not os.path.isdir(path):
        what = "is a file" if os.path.exists(path) else "does not exist"
        raise FileNotFoundError(f"model '{path}' {what}: {MODEL_EXPECTED}")
    saved_model = None if is_prefix else _find_saved_model(path)
    if saved_model:
        return (_saved_model_predictor(saved_model), f"SavedModel {saved_model}",
                _export_classes(os.path.join(saved_model, EXTRA_DIR, CONFIG_FILE), lambda d: d))
    if not is_prefix and not os.path.isfile(os.path.join(path, CONFIG_FILE)):
        raise FileNotFoundError(f"model '{path}' holds no {CONFIG_FILE}, SavedModel or "
                                f"checkpoint: {MODEL_EXPECTED}")
    from fast_scnn_tf.checkpoint import load_run
    run = load_run(path, which=which)
    return _keras_predictor(run.model), f"checkpoint {run.checkpoint}", run.config.class_table()


def _export_classes(config_json: str, config_of) -> ClassTable:
    """The class table of an export, from the config saved beside it; Cityscapes' (with a
    warning) for a model exported elsewhere without one."""
    if not os.path.isfile(config_json):
        log.warning("no '%s' beside the model: Cityscapes class names and colours assumed",
                    config_json)
        return CITYSCAPES
    with open(config_json) as f:
        try:
            return Config.from_dict(config_of(json.load(f))).class_table()
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"'{config_json}' is not a config written by this project: {e}") from e


def _find_saved_model(path: str) -> str | None:
    """`path` itself if it holds saved_model.pb, else its highest numbered version folder, else
    (an export.py --output folder) the highest version of its one model-name folder."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    found = {name: _highest_version(os.path.join(path, name)) for name in os.listdir(path)
             if os.path.isdir(os.path.join(path, name))}
    found = {name: version for name, version in found.items() if version}
    if len(found) > 1:
        raise ValueError(f"'{path}' holds several exported models ({', '.join(sorted(found))}): "
                         "pass one of their folders")
    return _highest_version(path) or next(iter(found.values()), None)


def _highest_version(path: str) -> str | None:
    versions = [d for d in os.listdir(path) if d.isdigit()
                and os.path.isfile(os.path.join(path, d, "saved_model.pb"))]
    return os.path.join(path, max(versions, key=int)) if versions else None


def _keras_predictor(model) -> Predictor:
    """The cls head that export ships (`build_head`), one frame at a time."""
    head = build_head(model, CLS)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
    def predict(image):
        return head(image[None], training=False)[0]

    return lambda image: predict(image).numpy()


def _saved_model_predictor(directory: str) -> Predictor:
    serve = tf.saved_model.load(directory).signatures["serving_default"]
    return lambda image: serve(images=tf.constant(image[None]))[LABELS].numpy()[0]


def _tflite_predictor(path: str) -> Predictor:
    """TFLite models have a fixed input size: frames are resized to it, labels resized back."""
    interp = tflite.interpreter(path, num_threads=os.cpu_count())
    _, height, width, _ = interp.get_input_details()[0]["shape"]

    def predict(image):
        size = image.shape[:2]
        if (height, width) != size:
            image = cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
        labels = tflite.run(interp, image[None])[LABELS][0]
        if labels.shape != size:
            labels = cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        return labels

    return predict
