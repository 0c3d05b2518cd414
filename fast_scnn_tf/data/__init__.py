"""Dataset input: folder layouts or tfds, class tables, decoding, the paper's augmentations."""

from fast_scnn_tf.data.labels import (
    CATEGORY_NAMES, CITYSCAPES_LABELS, CLASS_NAMES, IGNORE_LABEL, NUM_CLASSES, PALETTE,
    TRAIN_ID_TO_CATEGORY, colorize, id_to_train_id_table, overlay, train_id_to_id_table)
from fast_scnn_tf.data.layout import frame_name, list_frames, list_images
from fast_scnn_tf.data.pipeline import build_dataset, evaluation_image, num_frames
