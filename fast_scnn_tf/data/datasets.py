"""Datasets as one concept: where the frames and labels are (layout), the class table, and how the
values stored in label files map to class indices.

    cityscapes  the official layout; labelIds 0..33 -> 19 train ids (the default)
    camvid      the SegNet layout train/ trainannot/ val/ valannot/ test/ testannot/; 11 classes
    folder      your own: images/<split>/..., labels/<split>/... and classes.json

The input pipeline, the evaluation and the scripts ask `dataset_for(config)` and never branch on a
dataset's name; each dataset's file (`cityscapes.py`, `camvid.py`, `own_folder.py`) holds its
layout and class table.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from fast_scnn_tf.config import DATASETS
from fast_scnn_tf.data.classes import IGNORE_LABEL, ClassTable

# Label lookups have one entry per stored value 0..255 and a last one for every larger value
# (16-bit label PNGs): class index, IGNORE_LABEL, or INVALID (a value the class table lacks).
LABEL_TABLE_SIZE = 257
INVALID = -1


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    classes: ClassTable
    label_values: np.ndarray  # int32 [LABEL_TABLE_SIZE]: stored value -> class index / 255 / -1
    # (data_dir, split) -> sorted (image, label) paths; errors name the path and the layout
    list_frames: Callable[[str, str], list[tuple[str, str]]]
    # (data_dir, split) -> sorted image paths (also for splits without labels)
    list_images: Callable[[str, str], list[str]]
    # image path -> the name predictions are written under, unique within a split; may hold
    # folders (`cam_a/f0` for the own-folder dataset)
    frame_name: Callable[[str], str]
    splits: tuple[str, ...]
    labelled_splits: tuple[str, ...]  # splits that can be scored
    layout: str  # one line saying where the files go, for error messages and --help
    # predictions are written as <frame_name><prediction_suffix> (Cityscapes' benchmark wants
    # <city>_<seq>_<frame>_leftImg8bit.png), holding the dataset's own stored label values
    prediction_suffix: str = ".png"

    def stored_values(self) -> np.ndarray:
        """uint8 [256]: class index -> the value label files store for it (the inverse of
        `label_values`; 255 -> the stored ignore value), to write predictions in the dataset's
        own label format (Cityscapes: label ids 7..33)."""
        inverse = np.zeros(256, np.uint8)
        for value in range(LABEL_TABLE_SIZE - 2, -1, -1):  # the lowest value wins
            if self.label_values[value] != INVALID:
                inverse[self.label_values[value]] = value
        return inverse

    def check_split(self, split: str, labelled: bool = True) -> None:
        """Raise ValueError unless `split` exists (and has labels, when `labelled`)."""
        if split not in self.splits:
            raise ValueError(f"{self.name} has no split '{split}': expected one of "
                             f"{', '.join(self.splits)}")
        if labelled and split not in self.labelled_splits:
            raise ValueError(f"split '{split}' has no labels in {self.name} (not public): use one of "
                             f"{', '.join(self.labelled_splits)}")


def value_table(mapping: dict[int, int]) -> np.ndarray:
    """A label lookup from {stored value: class index or IGNORE_LABEL}; every other value INVALID."""
    table = np.full(LABEL_TABLE_SIZE, INVALID, np.int32)
    for value, class_id in mapping.items():
        table[value] = class_id
    return table


def dataset_for(data_cfg) -> Dataset:
    """The Dataset a DataConfig names (`folder` reads `<data_dir>/classes.json`)."""
    name = data_cfg.dataset
    if name == "cityscapes":
        from fast_scnn_tf.data import cityscapes
        return cityscapes.dataset(use_coarse=data_cfg.use_coarse)
    if name == "camvid":
        from fast_scnn_tf.data import camvid
        return camvid.DATASET
    if name == "folder":
        from fast_scnn_tf.data import own_folder
        return own_folder.dataset(data_cfg.data_dir)
    raise ValueError(f"unknown dataset '{name}': expected one of {', '.join(DATASETS)}")


def describe_bad_values(dataset: Dataset) -> str:
    """Which stored label values a dataset accepts, for error messages."""
    valid = [v for v in range(LABEL_TABLE_SIZE - 1) if dataset.label_values[v] != INVALID]
    runs, start = [], None
    for v in valid + [None]:
        if start is None:
            start = prev = v
        elif v is not None and v == prev + 1:
            prev = v
        else:
            runs.append(f"{start}" if start == prev else f"{start}..{prev}")
            start = prev = v
    return ", ".join(runs)


__all__ = ["Dataset", "DATASETS", "INVALID", "IGNORE_LABEL", "LABEL_TABLE_SIZE", "dataset_for",
           "value_table", "describe_bad_values"]
