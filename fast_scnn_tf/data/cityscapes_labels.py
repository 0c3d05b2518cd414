"""The Cityscapes label table: label ids, the 19 train ids, categories and colours.

This is the one place that knows how Cityscapes label ids map to train ids and where the ignore
value lives. Values follow `cityscapesscripts/helpers/labels.py` of the official toolkit.
"""

from __future__ import annotations

from typing import NamedTuple

from fast_scnn_tf.data.classes import IGNORE_LABEL, ClassTable

NUM_CLASSES = 19


class Label(NamedTuple):
    name: str
    id: int
    train_id: int  # 255: not evaluated
    category: str
    category_id: int
    color: tuple[int, int, int]


CITYSCAPES_LABELS: tuple[Label, ...] = (
    Label("unlabeled", 0, 255, "void", 0, (0, 0, 0)),
    Label("ego vehicle", 1, 255, "void", 0, (0, 0, 0)),
    Label("rectification border", 2, 255, "void", 0, (0, 0, 0)),
    Label("out of roi", 3, 255, "void", 0, (0, 0, 0)),
    Label("static", 4, 255, "void", 0, (0, 0, 0)),
    Label("dynamic", 5, 255, "void", 0, (111, 74, 0)),
    Label("ground", 6, 255, "void", 0, (81, 0, 81)),
    Label("road", 7, 0, "flat", 1, (128, 64, 128)),
    Label("sidewalk", 8, 1, "flat", 1, (244, 35, 232)),
    Label("parking", 9, 255, "flat", 1, (250, 170, 160)),
    Label("rail track", 10, 255, "flat", 1, (230, 150, 140)),
    Label("building", 11, 2, "construction", 2, (70, 70, 70)),
    Label("wall", 12, 3, "construction", 2, (102, 102, 156)),
    Label("fence", 13, 4, "construction", 2, (190, 153, 153)),
    Label("guard rail", 14, 255, "construction", 2, (180, 165, 180)),
    Label("bridge", 15, 255, "construction", 2, (150, 100, 100)),
    Label("tunnel", 16, 255, "construction", 2, (150, 120, 90)),
    Label("pole", 17, 5, "object", 3, (153, 153, 153)),
    Label("polegroup", 18, 255, "object", 3, (153, 153, 153)),
    Label("traffic light", 19, 6, "object", 3, (250, 170, 30)),
    Label("traffic sign", 20, 7, "object", 3, (220, 220, 0)),
    Label("vegetation", 21, 8, "nature", 4, (107, 142, 35)),
    Label("terrain", 22, 9, "nature", 4, (152, 251, 152)),
    Label("sky", 23, 10, "sky", 5, (70, 130, 180)),
    Label("person", 24, 11, "human", 6, (220, 20, 60)),
    Label("rider", 25, 12, "human", 6, (255, 0, 0)),
    Label("car", 26, 13, "vehicle", 7, (0, 0, 142)),
    Label("truck", 27, 14, "vehicle", 7, (0, 0, 70)),
    Label("bus", 28, 15, "vehicle", 7, (0, 60, 100)),
    Label("caravan", 29, 255, "vehicle", 7, (0, 0, 90)),
    Label("trailer", 30, 255, "vehicle", 7, (0, 0, 110)),
    Label("train", 31, 16, "vehicle", 7, (0, 80, 100)),
    Label("motorcycle", 32, 17, "vehicle", 7, (0, 0, 230)),
    Label("bicycle", 33, 18, "vehicle", 7, (119, 11, 32)),
    Label("license plate", -1, 255, "vehicle", 7, (0, 0, 142)),
)

_TRAIN_LABELS = sorted(
    (label for label in CITYSCAPES_LABELS if label.train_id != IGNORE_LABEL),
    key=lambda label: label.train_id,
)
CLASS_NAMES: tuple[str, ...] = tuple(label.name for label in _TRAIN_LABELS)
# The 7 evaluated categories (void is not evaluated), in category-id order.
CATEGORY_NAMES: tuple[str, ...] = (
    "flat",
    "construction",
    "object",
    "nature",
    "sky",
    "human",
    "vehicle",
)
# category index (0..6 over CATEGORY_NAMES) of every train id
TRAIN_ID_TO_CATEGORY: tuple[int, ...] = tuple(label.category_id - 1 for label in _TRAIN_LABELS)

CLASSES = ClassTable(
    names=CLASS_NAMES,
    colors=tuple(label.color for label in _TRAIN_LABELS),
    categories=CATEGORY_NAMES,
    class_category=TRAIN_ID_TO_CATEGORY,
)
# RGB colour of every train id, and IGNORE_LABEL drawn black.
PALETTE = CLASSES.palette
