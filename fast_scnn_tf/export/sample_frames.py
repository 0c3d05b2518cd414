"""Frames the exporter feeds to models: int8 calibration, validation and QAT fine-tuning.

Real frames come from the project's data pipeline (`fast_scnn_tf.data.build_dataset`, evaluation
mode: no augmentation) resized to the export's input size. `synthetic_frames` are smooth random
images, used for validation when no data is given and for calibration only when asked for
explicitly (`--calibration-data synthetic`): they exercise the graph but are not street scenes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import Config, DataConfig

SYNTHETIC = "synthetic"


def synthetic_frames(size: tuple[int, int], count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` smooth random uint8 [1, H, W, 3] frames (16-pixel colour blocks plus noise)."""
    rng = np.random.default_rng(seed)
    height, width = size
    frames = []
    for _ in range(count):
        coarse = rng.uniform(0, 255, (height // 16 + 1, width // 16 + 1, 3))
        frame = np.kron(coarse, np.ones((16, 16, 1)))[:height, :width]
        frame = frame + rng.normal(0, 12, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8)[np.newaxis])
    return frames


def data_config(config: Config, data_dir: str) -> DataConfig:
    """The run's data config pointed at `data_dir` (the folder layout)."""
    return dataclasses.replace(config.data, source="folder", data_dir=data_dir)


def dataset_frames(
    config: Config, data_dir: str, size: tuple[int, int], count: int, split: str = "train"
) -> list[np.ndarray]:
    """Up to `count` uint8 [1, H, W, 3] frames of `split` under `data_dir`, resized to `size`."""
    from fast_scnn_tf.data import build_dataset

    dataset = build_dataset(
        data_config(config, data_dir), split, training=False, batch_size=1, seed=0
    )  # evaluation order is fixed; the seed only silences a log
    frames = []
    for element in dataset.take(count):
        image = tf.image.resize(element[0], size, method="bilinear")
        frames.append(tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8).numpy())
    if not frames:
        raise ValueError(f"no '{split}' frames found under '{data_dir}'")
    return frames


def frames_for(
    config: Config,
    source: str | None,
    size: tuple[int, int],
    count: int,
    split: str = "train",
    seed: int = 0,
) -> list[np.ndarray]:
    """Frames from a dataset folder, or synthetic ones when `source` is None or "synthetic"."""
    if source in (None, "", SYNTHETIC):
        return synthetic_frames(size, count, seed)
    return dataset_frames(config, source, size, count, split)
