"""What the trainer learns from the data before the first step: the class table, the class
weights, and whether the label files hold what the dataset says they hold."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import CLASS_WEIGHTINGS, Config
from fast_scnn_tf.data import decode
from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.data.contract import Dataset, describe_bad_values
from fast_scnn_tf.data.datasets import dataset_for
from fast_scnn_tf.data.images import image_size
from fast_scnn_tf.data.pipeline import label_pixel_counts
from fast_scnn_tf.training.losses import enet_class_weights

log = logging.getLogger(__name__)

TFDS_FRAME_SIZE = (1024, 2048)  # the tfds cityscapes builder fixes it
LABEL_CHECK_FRAMES = 16  # label files read before training to catch data that holds no labels


def with_dataset_classes(config: Config, dataset: Dataset | None = None) -> Config:
    """The config with the class count and class table of the dataset it names (`dataset`:
    `dataset_for(config.data)`, when the caller has it), and the frame size the model will be
    trained to see (`model.input_size`: the first training frame's size times
    `data.input_scale`)."""
    dataset = dataset or dataset_for(config.data)
    classes = dataset.classes
    config = config.override("model", "num_classes", classes.num_classes).override(
        "model", "classes", classes.to_dict()
    )
    if config.data.source == "tfds":
        frame = TFDS_FRAME_SIZE
    else:
        first_image = dataset.list_frames(config.data.data_dir, config.data.train_split)[0][0]
        frame = image_size(first_image)
    size = tuple(round(s * config.data.input_scale) for s in frame)
    return config.override("model", "input_size", size)


def class_weights_for(config: Config, dataset: Dataset | None = None) -> np.ndarray | None:
    """Per-class loss weights (`train.class_weighting`), from the train split's label pixels.

    Also refuses data whose labels hold no labelled pixel (e.g. every value ignored): such a run
    would only learn the L2 term. Without weighting only the first label files are read."""
    weighting = config.train.class_weighting
    if weighting not in CLASS_WEIGHTINGS:
        raise ValueError(
            f"unknown class weighting '{weighting}': expected one of {', '.join(CLASS_WEIGHTINGS)}"
        )
    if config.data.source != "folder":
        if weighting != "none":
            raise ValueError("class weighting counts label files: needs source 'folder'")
        return None
    frames = 0 if weighting != "none" else LABEL_CHECK_FRAMES
    counts = label_pixel_counts(config.data, config.data.train_split, frames, dataset)[:-1]
    if counts.sum() == 0:
        read = f"the first {frames} label files" if frames else "the label files"
        raise ValueError(
            f"{read} of split 'train' in '{config.data.data_dir}' hold no labelled "
            f"pixel (every value is the ignore value or maps to it): check that the "
            f"labels are {config.data.dataset} labels"
        )
    if weighting == "none":
        return None
    weights = enet_class_weights(counts, CLASS_WEIGHTINGS[weighting])
    names = config.class_table().names
    log.info(
        "class weights (%s): %s",
        weighting,
        ", ".join(f"{n} {w:.2f}" for n, w in zip(names, weights)),
    )
    return weights


def warn_if_class_indices(config: Config, dataset: Dataset | None = None) -> None:
    """Warn when the first train label files hold only class indices (0..C-1, and the ignore
    value) of a dataset whose files store other values: Cityscapes train ids (0..18) saved as
    `*_gtFine_labelIds.png`, a common mix-up, would train silently on a wrong mapping (road,
    train id 0, read as label id 0 'unlabeled'; sidewalk as 'ego vehicle'). Real labelIds
    frames almost always hold vegetation (21), sky (23) or car (26)."""
    dataset = dataset or dataset_for(config.data)
    n = dataset.classes.num_classes
    if config.data.source != "folder" or np.array_equal(dataset.label_values[:n], np.arange(n)):
        return  # the files store class indices themselves: nothing to mix up
    paths = [
        label for _, label in dataset.list_frames(config.data.data_dir, config.data.train_split)
    ]
    values = set()
    for path in paths[:LABEL_CHECK_FRAMES]:
        values.update(np.unique(decode.decode_label_values(tf.io.read_file(path), path)).tolist())
    values.discard(IGNORE_LABEL)
    if values and max(values) < n:
        log.warning(
            "the first %d train label files in '%s' (e.g. '%s') hold only values %d..%d: "
            "they look like class indices (train ids) saved as label files, but %s label "
            "files store %s; convert them, or training learns a wrong mapping",
            min(len(paths), LABEL_CHECK_FRAMES),
            config.data.data_dir,
            paths[0],
            min(values),
            max(values),
            dataset.name,
            describe_bad_values(dataset),
        )
