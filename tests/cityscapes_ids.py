"""Cityscapes label id <-> train id lookup tables built from `data/cityscapes_labels.py`'s table,
for tests that fabricate or check label files (the pipeline itself reads
`cityscapes.dataset().label_values`, where an unknown id is an error, and writes predictions with
`Dataset.stored_values`)."""

import numpy as np

from fast_scnn_tf.data.cityscapes_labels import CITYSCAPES_LABELS, IGNORE_LABEL


def id_to_train_id_table() -> np.ndarray:
    """A 256-entry uint8 lookup table: label id -> train id; unknown ids -> IGNORE_LABEL."""
    table = np.full(256, IGNORE_LABEL, np.uint8)
    for label in CITYSCAPES_LABELS:
        if label.id >= 0:
            table[label.id] = label.train_id
    return table


def train_id_to_id_table() -> np.ndarray:
    """A 256-entry uint8 lookup table: train id -> label id (benchmark-format predictions).
    IGNORE_LABEL and ids outside 0..18 map to 0 ("unlabeled")."""
    table = np.zeros(256, np.uint8)
    for label in CITYSCAPES_LABELS:
        if label.train_id != IGNORE_LABEL:
            table[label.train_id] = label.id
    return table
