"""The folder source: a split's frames as files on disk, listed by the dataset
(the Dataset's `list_frames`), ordered per epoch and decoded into tensors.

`TfdsSource` (`tfds_source.py`) is the other source; both offer `num_frames`, `where`, `epoch` and
`decode`, and `pipeline.build_dataset` reads either through them.
"""

from __future__ import annotations

import tensorflow as tf

from fast_scnn_tf.data import decode
from fast_scnn_tf.data.config import DataConfig
from fast_scnn_tf.data.contract import Dataset


def epoch_order(n: int, key: tf.Tensor | None, epoch: tf.Tensor) -> tf.Tensor:
    """Frame indices of one epoch: a permutation drawn from (key, epoch), or 0..n-1 without key."""
    if key is None:
        return tf.range(n)
    epoch_key = tf.random.experimental.stateless_fold_in(key, epoch)
    return tf.argsort(tf.random.stateless_uniform([n], epoch_key))


class FolderSource:
    """The image (and, when `labelled`, label) files of one split of `cfg.data_dir`; records are
    (image path, label path or "", frame name) string scalars."""

    def __init__(self, cfg: DataConfig, dataset: Dataset, split: str, labelled: bool = True):
        if labelled:
            pairs = dataset.list_frames(cfg.data_dir, split)
        else:
            pairs = [(image, "") for image in dataset.list_images(cfg.data_dir, split)]
        self.labelled = labelled
        self.label_values = dataset.label_values
        self.num_frames = len(pairs)
        self.where = f"'{cfg.data_dir}'"
        self._images = tf.constant([image for image, _ in pairs])
        self._labels = tf.constant([label for _, label in pairs])
        self._names = tf.constant([dataset.frame_name(image) for image, _ in pairs])

    def epoch(
        self, epoch: tf.Tensor, order_key: tf.Tensor | None, skip: tf.Tensor
    ) -> tf.data.Dataset:
        """The records of one epoch in its order (`epoch_order`), the first `skip` left out."""
        order = epoch_order(self.num_frames, order_key, epoch)[skip:]
        return tf.data.Dataset.from_tensor_slices(order).map(
            lambda i: (self._images[i], self._labels[i], self._names[i])
        )

    def decode(
        self, image_path: tf.Tensor, label_path: tf.Tensor, name: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        """(uint8 [H, W, 3] image, uint8 [H, W] class ids, or None when not `labelled`)."""
        image_data = tf.io.read_file(image_path)
        if not self.labelled:
            return decode.decode_image(image_data, image_path), None
        return decode.decode_frame(
            image_data, tf.io.read_file(label_path), image_path, label_path, self.label_values
        )
