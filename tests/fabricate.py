"""What tests would otherwise write by hand, written once: a run folder as training leaves it, and
tiny datasets in the CamVid (SegNet) and own-folder layouts. (Synthetic Cityscapes-layout sets:
conftest's `synthetic_cityscapes`.)"""

from __future__ import annotations

import json
import os

import cv2
import keras
import numpy as np

from fast_scnn_tf.config import Config, DataConfig, ModelConfig
from fast_scnn_tf.training.checkpoint import LATEST_DIR, build_training_model, write_run

# (height, width) of every frame of `camvid` and `own_folder` (the custom dataset).
FRAME_SIZE = (36, 48)


def run_folder(
    directory,
    num_classes: int = 19,
    data_dir: str = "",
    *,
    config: Config | None = None,
    model: keras.Model | None = None,
    folder: str = LATEST_DIR,
    **trackables,
) -> str:
    """A run folder the tools load: config.json and one checkpoint (ckpt-1 in `folder`) of
    `model`, by default the untrained training model of `config` (`checkpoint.write_run`).
    `config` defaults to the default config with `num_classes` and `data_dir`; `trackables`
    (e.g. step=tf.Variable(0, dtype=tf.int64)) are saved beside the model. Returns the folder."""
    if config is None:
        config = Config(
            model=ModelConfig(num_classes=num_classes), data=DataConfig(data_dir=data_dir)
        )
    if model is None:
        model = build_training_model(config)
    write_run(str(directory), config, model, folder=folder, **trackables)
    return str(directory)


def camvid(root, counts=(3, 2, 2), seed: int = 0, max_value: int = 11) -> str:
    """The SegNet CamVid layout (train/, trainannot/, val/, ...): `counts` frames of train, val
    and test named 0001TP_<i>.png, random images, random labels 0..max_value (11 = void)."""
    rng = np.random.default_rng(seed)
    for split, count in zip(("train", "val", "test"), counts):
        for i in range(count):
            name = f"0001TP_{i:06d}.png"
            label = rng.integers(0, max_value + 1, FRAME_SIZE).astype(np.uint8)
            image = rng.integers(0, 255, (*FRAME_SIZE, 3), dtype=np.uint8)
            _write(os.path.join(root, split, name), image)
            _write(os.path.join(root, split + "annot", name), label)
    return str(root)


def own_folder(
    root,
    classes=("background", "road", "car"),
    counts=(4, 2),
    seed: int = 0,
    ignore: int | None = None,
    jpeg: bool = False,
) -> str:
    """An own-folder dataset of `counts` train and val frames seq/street<i>: labels are 12x12
    blocks of class indices with an ignore top row, the image a colour per class (learnable)."""
    rng = np.random.default_rng(seed)
    classes_file(root, classes, ignore)
    for split, count in zip(("train", "val"), counts):
        for i in range(count):
            label = rng.integers(0, len(classes), (FRAME_SIZE[0] // 12, FRAME_SIZE[1] // 12))
            label = np.kron(label.astype(np.uint8), np.ones((12, 12), np.uint8))
            label[0, :] = 255 if ignore is None else ignore
            image = (label[:, :, None] * np.array([80, 40, 20], np.uint8)).clip(0, 255)
            own_folder_frame(
                root,
                split,
                f"seq/street{i}",
                image.astype(np.uint8),
                label,
                ".jpg" if jpeg else ".png",
            )
    return str(root)


def classes_file(root, classes, ignore: int | None = None) -> None:
    """An own-folder dataset's classes.json: the class names, and `ignore_index` when given."""
    spec = {"classes": [{"name": name} for name in classes]}
    if ignore is not None:
        spec["ignore_index"] = ignore
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "classes.json"), "w") as f:
        json.dump(spec, f)


def own_folder_frame(
    root, split: str, name: str, image: np.ndarray, label: np.ndarray, image_ext: str = ".png"
) -> None:
    """One frame of an own-folder dataset: images/<split>/<name><ext> and
    labels/<split>/<name>.png (`name` may hold sub-folders)."""
    _write(os.path.join(root, "images", split, name + image_ext), image)
    _write(os.path.join(root, "labels", split, name + ".png"), label)


def _write(path: str, array: np.ndarray) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cv2.imwrite(path, array)
