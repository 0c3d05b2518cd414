"""The frames `evaluate` iterates over: a split at an input scale, with or without public labels.

Both come from the input pipeline (`build_dataset(..., training=False)`); a split without public
labels (Cityscapes test) through its parser's unlabelled mode, with a full-size label that is all
IGNORE_LABEL: `evaluate` then writes its predictions at full resolution (for the benchmark
server) through the same head and loop, and scores no pixel.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data.contract import Dataset
from fast_scnn_tf.data.datasets import dataset_for


def evaluation_frames(
    cfg: DataConfig,
    split: str,
    scale: float = 1.0,
    with_names: bool = False,
    dataset: Dataset | None = None,
) -> tf.data.Dataset:
    """Batches of one (image float32 [1, h, w, 3] at `scale`, label uint8 [1, H, W] at full size[,
    name]) of `split`, in file order, with a known length (the progress bar's total).
    `dataset`: `dataset_for(cfg)`, when the caller has it."""
    dataset = dataset or dataset_for(cfg)
    dataset.check_split(split, labelled=False)
    if split not in dataset.labelled_splits:
        return unlabelled_frames(cfg, split, scale, with_names, dataset)
    frames = _frames(cfg, split, scale, with_names, True, dataset)
    count = num_frames(cfg, split, dataset)
    return frames.apply(tf.data.experimental.assert_cardinality(count))


def unlabelled_frames(
    cfg: DataConfig,
    split: str,
    scale: float = 1.0,
    with_names: bool = True,
    dataset: Dataset | None = None,
) -> tf.data.Dataset:
    """`build_dataset`'s evaluation elements for a split without labels: the label is all
    IGNORE_LABEL at the image's full size, so predictions come back at full resolution."""
    return _frames(cfg, split, scale, with_names, False, dataset)


def _frames(cfg, split, scale, with_names, labelled, dataset):
    return build_dataset(
        cfg,
        split,
        training=False,
        batch_size=1,
        scale=scale,
        with_names=with_names,
        labelled=labelled,
        dataset=dataset,
    )
