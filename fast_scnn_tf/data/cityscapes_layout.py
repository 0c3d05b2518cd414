"""The official Cityscapes folder layout and file naming: the one module that knows them. The
reader (`list_frames`), the synthetic-scene writer and the prediction writer (through
`cityscapes.dataset().prediction_suffix`) all take the names from here.

    <root>/leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png
    <root>/gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png
    <root>/gtCoarse/train_extra/<city>/<city>_<seq>_<frame>_gtCoarse_labelIds.png  (coarse only)
"""

from __future__ import annotations

import glob
import os

from fast_scnn_tf.data.contract import find_images, pair_with_labels

SPLITS = ("train", "val", "test", "train_extra")
IMAGE_DIR, IMAGE_SUFFIX = "leftImg8bit", "_leftImg8bit.png"
FINE_DIR, FINE_SUFFIX = "gtFine", "_gtFine_labelIds.png"
COARSE_DIR, COARSE_SUFFIX = "gtCoarse", "_gtCoarse_labelIds.png"

EXPECTED_LAYOUT = (
    "expected the official Cityscapes layout: "
    f"<data_dir>/{IMAGE_DIR}/<split>/<city>/<city>_<seq>_<frame>{IMAGE_SUFFIX} with labels in "
    f"<data_dir>/{FINE_DIR}/<split>/<city>/<city>_<seq>_<frame>{FINE_SUFFIX} "
    f"({COARSE_DIR}/.../{COARSE_SUFFIX} for train_extra)"
)


def _label_dir_and_suffix(split: str) -> tuple[str, str]:
    # train_extra only has coarse annotations; every other split has fine ones.
    if split == "train_extra":
        return COARSE_DIR, COARSE_SUFFIX
    return FINE_DIR, FINE_SUFFIX


def frame_stem(city: str, sequence: int, frame: int) -> str:
    """`<city>_<seq>_<frame>` with six-digit numbers, e.g. `aachen_000000_000019`."""
    return f"{city}_{sequence:06d}_{frame:06d}"


def frame_paths(data_dir: str, split: str, stem: str) -> tuple[str, str]:
    """(image, label) paths of frame `stem` (from `frame_stem`) of `split` under `data_dir`."""
    city = stem.rsplit("_", 2)[0]
    label_dir, label_suffix = _label_dir_and_suffix(split)
    return (
        os.path.join(data_dir, IMAGE_DIR, split, city, stem + IMAGE_SUFFIX),
        os.path.join(data_dir, label_dir, split, city, stem + label_suffix),
    )


def frame_name(image_path: str) -> str:
    """The frame's file stem, e.g. `aachen_000000_000019` (names benchmark-format predictions)."""
    base = os.path.basename(image_path)
    return base[: -len(IMAGE_SUFFIX)] if base.endswith(IMAGE_SUFFIX) else os.path.splitext(base)[0]


def list_images(data_dir: str, split: str) -> list[str]:
    """Sorted image paths of one split (labels not needed: the test split has none public)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split '{split}': expected one of {SPLITS}")
    return find_images(
        data_dir,
        os.path.join(data_dir, IMAGE_DIR, split),
        split,
        lambda folder: glob.glob(os.path.join(folder, "*", "*" + IMAGE_SUFFIX)),
        f"'*/*{IMAGE_SUFFIX}'",
        EXPECTED_LAYOUT,
    )


def _list_split(data_dir: str, split: str) -> list[tuple[str, str]]:
    images = list_images(data_dir, split)
    label_root, label_suffix = _label_dir_and_suffix(split)
    image_dir = os.path.join(data_dir, IMAGE_DIR, split)
    label_dir = os.path.join(data_dir, label_root, split)

    def label_path(image_path: str) -> str:
        city = os.path.basename(os.path.dirname(image_path))
        return os.path.join(label_dir, city, frame_name(image_path) + label_suffix)

    def image_path(label: str) -> str:
        city = os.path.basename(os.path.dirname(label))
        return os.path.join(
            image_dir, city, os.path.basename(label)[: -len(label_suffix)] + IMAGE_SUFFIX
        )

    return pair_with_labels(
        images, image_dir, label_dir, label_path, EXPECTED_LAYOUT, label_suffix, image_path
    )


def list_frames(data_dir: str, split: str, use_coarse: bool = False) -> list[tuple[str, str]]:
    """Sorted (image_path, label_path) pairs of a split in the official layout.

    `use_coarse` adds the coarsely labelled `train_extra` frames to the `train` split (the paper's
    coarse-data experiment). Raises FileNotFoundError/ValueError naming the paths and the expected
    layout when the folder is wrong, empty, or an image and its label do not pair up.
    """
    pairs = _list_split(data_dir, split)
    if use_coarse and split == "train":
        pairs += _list_split(data_dir, "train_extra")
    return pairs
