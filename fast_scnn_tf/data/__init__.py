"""Dataset input: folder layouts or tfds, class tables, decoding, the paper's augmentations.

The tables and layouts are plain Python; the tf.data pipeline imports TensorFlow, so its names are
imported when first asked for (the synthetic-scene writer uses the layout without TensorFlow).
"""

from fast_scnn_tf.data.labels import (
    CATEGORY_NAMES,
    CITYSCAPES_LABELS,
    CLASS_NAMES,
    IGNORE_LABEL,
    NUM_CLASSES,
    PALETTE,
    TRAIN_ID_TO_CATEGORY,
)
from fast_scnn_tf.data.layout import frame_name, list_frames, list_images

_PIPELINE = ("build_dataset", "evaluation_image", "num_frames")
__all__ = ["CATEGORY_NAMES", "CITYSCAPES_LABELS", "CLASS_NAMES", "IGNORE_LABEL", "NUM_CLASSES",
           "PALETTE", "TRAIN_ID_TO_CATEGORY", "frame_name", "list_frames", "list_images",
           *_PIPELINE]


def __getattr__(name):
    if name in _PIPELINE:
        from fast_scnn_tf.data import pipeline
        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
