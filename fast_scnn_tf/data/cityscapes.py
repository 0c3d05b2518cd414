"""Cityscapes (Cordts et al., CVPR 2016): the official folder layout (`layout.py`) and label table
(`labels.py`) as a Dataset. Label files hold labelIds 0..33; the 19 evaluated classes are the
train ids, every other id is ignored, and any value above 33 is an error."""

from __future__ import annotations

from fast_scnn_tf.data import cityscapes_labels as labels
from fast_scnn_tf.data import cityscapes_layout as layout
from fast_scnn_tf.data.contract import Dataset, value_table

# The tensorflow-datasets builders holding Cityscapes (`--data-source tfds`, data/tfds_source.py):
# the fine annotations, and train_extra with coarse ones (gtCoarse.zip +
# leftImg8bit_trainextra.zip).
TFDS_NAME = "cityscapes/semantic_segmentation"
TFDS_COARSE_NAME = "cityscapes/semantic_segmentation_extra"


def dataset(use_coarse: bool = False) -> Dataset:
    """`use_coarse` adds gtCoarse/train_extra to the train split (the paper's coarse experiment)."""
    return Dataset(
        name="cityscapes",
        classes=labels.CLASSES,
        label_values=value_table(
            {label.id: label.train_id for label in labels.CITYSCAPES_LABELS if label.id >= 0}
        ),
        list_frames=lambda data_dir, split: layout.list_frames(data_dir, split, use_coarse),
        list_images=layout.list_images,
        frame_name=layout.frame_name,
        splits=("train", "val", "test"),
        labelled_splits=("train", "val"),
        layout=layout.EXPECTED_LAYOUT,
        prediction_suffix=layout.IMAGE_SUFFIX,
    )
