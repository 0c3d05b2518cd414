"""The frames `evaluate` iterates over: a split at an input scale, with or without public labels.

A labelled split comes from the input pipeline (`build_dataset(..., training=False)`). A split
without public labels (Cityscapes test) gets the same elements, decoded by the pipeline's
decoder, scaled by its `evaluation_image`, and a full-size label that is all
IGNORE_LABEL: `evaluate` then writes its predictions at full resolution (for the benchmark
server) through the same head and loop, and scores no pixel.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, decode, evaluation_image, num_frames
from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.data.datasets import dataset_for


def evaluation_frames(cfg: DataConfig, split: str, scale: float = 1.0,
                      with_names: bool = False) -> tf.data.Dataset:
    """Batches of one (image float32 [1, h, w, 3] at `scale`, label uint8 [1, H, W] at full size[,
    name]) of `split`, in file order, with a known length (the progress bar's total)."""
    dataset = dataset_for(cfg)
    dataset.check_split(split, labelled=False)
    if split not in dataset.labelled_splits:
        return unlabelled_frames(cfg, split, scale, with_names)
    frames = build_dataset(cfg, split, training=False, batch_size=1, scale=scale,
                           with_names=with_names)
    return frames.apply(tf.data.experimental.assert_cardinality(num_frames(cfg, split)))


def unlabelled_frames(cfg: DataConfig, split: str, scale: float = 1.0,
                      with_names: bool = True) -> tf.data.Dataset:
    """`build_dataset`'s evaluation elements for a split without labels: the label is all
    IGNORE_LABEL at the image's full size, so predictions come back at full resolution."""
    if cfg.source != "folder":
        raise ValueError("predictions for an unlabelled split read image files: pass "
                         "--source folder --data-dir DIR")
    dataset = dataset_for(cfg)
    paths = dataset.list_images(cfg.data_dir, split)
    names = [dataset.frame_name(path) for path in paths]

    def load(path, name):
        image = decode.decode_image(tf.io.read_file(path), path)
        label = tf.fill(tf.shape(image)[:2], tf.constant(IGNORE_LABEL, tf.uint8))
        image = evaluation_image(image, scale)
        return (image, label, name) if with_names else (image, label)

    frames = tf.data.Dataset.from_tensor_slices(
        (tf.constant(paths, tf.string), tf.constant(names, tf.string))).map(load).batch(1)
    return frames.prefetch(tf.data.AUTOTUNE)
