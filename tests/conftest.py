"""Fixtures shared by the test modules.

    synthetic_cityscapes  a synthetic set in the Cityscapes layout, made once per session for
                    each (num_train, num_val, size, seed); read-only (tests that damage files
                    copy it)
    trained_model   Fast-SCNN (19 classes) trained briefly on synthetic street scenes: confident,
                    varied predictions, for tests that hold exports to their agreement thresholds
    scene_frames    held-out synthetic street scenes as uint8 [1, H, W, 3] frames (validation)
    calibration_frames  other held-out scenes, for int8 calibration
    trained_cls_export  trained_cls_export("none" or "int8"): the report of trained_model's cls
                    TFLite export at 64x96 (export.py's form), made once
    plain_cls_tflite  trained_model's cls head as float32 TFLite bytes, without export.py's rewrite

Modules beside them, imported by name (pytest puts tests/ on sys.path): `paths` (ROOT, the
repository), `fabricate` (run folders, CamVid and own-folder datasets), `cityscapes_ids` (label
id <-> train id tables), `image_headers` (image headers that claim huge sizes) and `children`
(Python processes run beside each other, their output in log files; TensorFlow's start-up
lines in a tool's output).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from cityscapes_ids import id_to_train_id_table  # tests/ is on sys.path under pytest
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.synthetic import generate, render_scene
from fast_scnn_tf.training.losses import masked_cross_entropy

# Input size of `trained_model`'s training scenes and of `scene_frames`.
TRAINED_SIZE = (64, 96)
TRAIN_SCENES, TRAIN_STEPS, TRAIN_BATCH = 16, 40, 4


def synthetic_scenes(size: tuple[int, int], count: int, seed: int):
    """`count` rendered street scenes: (uint8 images [N, H, W, 3], uint8 train ids [N, H, W])."""
    rng = np.random.default_rng(seed)
    scenes = [render_scene(size, rng) for _ in range(count)]
    images = np.stack([image for image, _ in scenes])
    return images, id_to_train_id_table()[np.stack([ids for _, ids in scenes])]


@pytest.fixture(scope="session")
def synthetic_cityscapes(tmp_path_factory):
    """`synthetic_cityscapes(num_train, num_val, size=(64, 128), seed=0)` -> the folder of that
    set, generated on first use and shared by every module asking for the same one."""
    made = {}

    def get(num_train: int, num_val: int, size=(64, 128), seed: int = 0) -> str:
        key = (num_train, num_val, tuple(size), seed)
        if key not in made:
            made[key] = str(tmp_path_factory.mktemp("cityscapes"))
            generate(made[key], num_train=num_train, num_val=num_val, size=size, seed=seed)
        return made[key]

    return get


@pytest.fixture(scope="session")
def trained_model():
    """Fast-SCNN trained 40 Adam steps (batch 4) on 16 synthetic scenes at 64x96 (~15 s, most of
    it tracing the step). A random model's logits are near-tied, so int8 rounding flips labels far
    more than on a trained one and the quantised agreement thresholds (export/validate.py) cannot be
    held; this one predicts several classes confidently (about 80% of its training pixels right)."""
    images, labels = synthetic_scenes(TRAINED_SIZE, TRAIN_SCENES, seed=0)
    keras.utils.set_random_seed(0)
    model = build_fast_scnn(num_classes=19)
    optimizer = keras.optimizers.Adam(1e-2)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = masked_cross_entropy(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    images = images.astype(np.float32)
    for i in range(TRAIN_STEPS):
        start = i * TRAIN_BATCH % TRAIN_SCENES
        step(images[start : start + TRAIN_BATCH], labels[start : start + TRAIN_BATCH])
    return model


@pytest.fixture(scope="session")
def scene_frames():
    """8 synthetic scenes the trained model never saw, as uint8 [1, 64, 96, 3] frames."""
    images, _ = synthetic_scenes(TRAINED_SIZE, 8, seed=1)
    return [image[np.newaxis] for image in images]


@pytest.fixture(scope="session")
def calibration_frames():
    """8 more unseen synthetic scenes (not `scene_frames`), for int8 calibration."""
    images, _ = synthetic_scenes(TRAINED_SIZE, 8, seed=2)
    return [image[np.newaxis] for image in images]


@pytest.fixture(scope="session")
def trained_cls_export(trained_model, scene_frames, calibration_frames, tmp_path_factory):
    """`trained_cls_export(quantize)` ("none" or "int8") -> export_tflite's report for
    `trained_model` as a cls file at 64x96, validated on scene_frames at the default threshold:
    its "path" and the JSON beside it. Each made once: several modules load them."""
    from fast_scnn_tf.config import Config
    from fast_scnn_tf.export.exporter import export_tflite

    made = {}

    def get(quantize: str) -> dict:
        if quantize not in made:
            output = str(tmp_path_factory.mktemp(f"cls_{quantize}"))
            made[quantize] = export_tflite(
                trained_model,
                Config(),
                output,
                "cls",
                quantize,
                TRAINED_SIZE,
                scene_frames,
                lambda: calibration_frames,
            )
        return made[quantize]

    return get


@pytest.fixture(scope="session")
def fast_cls_tflite(trained_cls_export) -> bytes:
    """The float32 file of `trained_cls_export`: the cls head as export.py converts it, after
    the rewrite (fast_graph)."""
    with open(trained_cls_export("none")["path"], "rb") as f:
        return f.read()


@pytest.fixture(scope="session")
def plain_cls_tflite(trained_model) -> bytes:
    """`trained_model`'s cls head at 64x96 converted to float32 TFLite as it is, without the
    rewrite (fast_graph) export.py hands the converter."""
    from fast_scnn_tf.export import tflite
    from fast_scnn_tf.model.head import build_head

    return tflite.convert(build_head(trained_model, "cls", TRAINED_SIZE), "none")
