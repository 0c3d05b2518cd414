"""What a dataset is: the `Dataset` every dataset file builds, the entry of the dataset table
(`datasets.DATASETS`), the label-value lookups, and the image/label listing every layout shares
(`find_images`, `pair_with_labels`). A leaf: it imports no dataset and no other module of the
package but the class tables and `files`, so the dataset files and the table import it without a
circle.

What a dataset provides (its contract): a class table; how each value stored in its label files
maps to a class index or the ignore label (`label_values`); for each split, the sorted image paths
and (image, label) pairs, with errors that name the path and the expected layout (and any file
name that is not UTF-8, and any file that is not a regular file: reading a FIFO waits forever);
a unique name per frame for written predictions.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.files import not_a_regular_file

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
            raise ValueError(
                f"{self.name} has no split '{split}': expected one of {', '.join(self.splits)}"
            )
        if labelled and split not in self.labelled_splits:
            raise ValueError(
                f"split '{split}' has no labels in {self.name} (not public): use one "
                f"of {', '.join(self.labelled_splits)}"
            )


def value_table(mapping: dict[int, int]) -> np.ndarray:
    """A label lookup from {stored value: class index or IGNORE_LABEL}; every other value
    INVALID."""
    table = np.full(LABEL_TABLE_SIZE, INVALID, np.int32)
    for value, class_id in mapping.items():
        table[value] = class_id
    return table


@dataclasses.dataclass(frozen=True)
class DatasetEntry:
    """One entry of the dataset table (`datasets.DATASETS`): what `--dataset NAME` means."""

    load: Callable  # (DataConfig) -> Dataset (the own-folder dataset reads its data_dir)
    about: str  # what --data-dir holds, in a few words, for --help and error messages
    # The tensorflow-datasets builder that holds it (`--data-source tfds`; data/tfds_source.py
    # reads Cityscapes' records); "": files on disk only.
    tfds_name: str = ""


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


def check_utf8_name(path: str) -> str:
    """`path`, if it is UTF-8 text; otherwise a one-line ValueError naming it with its bad bytes
    as \\x escapes. Python lists a name that is not UTF-8 with surrogates in it, which TensorFlow
    cannot hold in a string tensor ("Error converting unicode string", naming no file)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise ValueError(
            f"file name '{shown}' is not UTF-8 text: expected UTF-8 file names (rename it)"
        ) from None
    return path


def check_regular_file(path: str) -> str:
    """`path`, unless it exists and is not a regular file (a FIFO, a device): then a one-line
    ValueError naming it, read from its status without opening it."""
    problem = not_a_regular_file(path)
    if problem:
        raise ValueError(f"'{path}' {problem}: expected an image or label file (remove it)")
    return path


def find_images(
    data_dir: str, folder: str, split: str, find: Callable[[str], list[str]], what: str, layout: str
) -> list[str]:
    """The sorted image paths `find(folder)` returns for `split`; the errors every dataset gives,
    naming the missing folder, or `what` was looked for and where, and the expected `layout`."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"data directory '{data_dir}' does not exist; {layout}")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no folder '{folder}'; {layout}")
    paths = sorted(check_regular_file(check_utf8_name(path)) for path in find(folder))
    if not paths:
        raise ValueError(f"split '{split}' has zero frames: no {what} in '{folder}'; {layout}")
    return paths


def pair_with_labels(
    images: list[str],
    image_dir: str,
    label_dir: str,
    label_of: Callable[[str], str],
    layout: str,
    label_suffix: str = ".png",
    image_of: Callable[[str], str] | None = None,
) -> list[tuple[str, str]]:
    """(image, `label_of(image)`) for each image; the errors name a missing label folder, the
    first image without its label, or the first label (a file in `label_dir` or below ending in
    `label_suffix`) without its image (`image_of(label)`, where given, names the image expected):
    usually an image lost in a copy, which would otherwise shrink the split unnoticed."""
    if not os.path.isdir(label_dir):
        raise FileNotFoundError(
            f"no label folder '{label_dir}' for the images in '{image_dir}'; {layout}"
        )
    pairs = [(image, check_regular_file(check_utf8_name(label_of(image)))) for image in images]
    for image, label in pairs:
        if not os.path.isfile(label):
            raise FileNotFoundError(f"image '{image}' has no label: expected '{label}'")
    paired = {os.path.normpath(label) for _, label in pairs}
    for root, _, names in os.walk(label_dir):
        for name in sorted(names):
            label = os.path.normpath(os.path.join(root, name))
            if name.endswith(label_suffix) and check_utf8_name(label) not in paired:
                expected = f"expected '{image_of(label)}'" if image_of else f"in '{image_dir}'"
                raise FileNotFoundError(f"label '{label}' has no image: {expected}")
    return pairs
