"""The tfds source: Cityscapes from tensorflow-datasets (`cityscapes/semantic_segmentation`) as
undecoded records, ordered per epoch and decoded into tensors (`TfdsSource`, read by
`pipeline.build_dataset` as it reads `folder_source.FolderSource`).

tfds cannot download Cityscapes (registration needed): the zips must already be in the manual dir
(`DataConfig.data_dir`); `prepare` only extracts and converts them, once. Images and labels are left
as PNG bytes (`SkipDecoding`) so decoding runs in our parallel map, and skipped records are cheap.
The labels are label ids 0..33, mapped to train ids by the same table as the folder source.
"""

from __future__ import annotations

import logging

import tensorflow as tf
import tensorflow_datasets as tfds

from fast_scnn_tf.data import decode
from fast_scnn_tf.data.cityscapes import TFDS_COARSE_NAME as COARSE
from fast_scnn_tf.data.cityscapes import TFDS_NAME as FINE
from fast_scnn_tf.data.config import DataConfig
from fast_scnn_tf.data.contract import Dataset

_TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test", "train_extra": "train_extra"}


def _prepared_builder(cfg: DataConfig, name: str) -> tfds.core.DatasetBuilder:
    builder = tfds.builder(name, data_dir=cfg.tfds_data_dir or None)
    # Never downloads: Cityscapes needs manual zips, and the prepared copy must not come from GCS.
    config = tfds.download.DownloadConfig(manual_dir=cfg.data_dir or None, try_download_gcs=False)
    try:
        builder.download_and_prepare(download_config=config)
    except AssertionError as e:  # tfds' way of saying the manual zips are missing
        raise FileNotFoundError(
            f"tfds '{name}' cannot be prepared from manual_dir "
            f"'{cfg.data_dir}' (DataConfig.data_dir): {e}"
        ) from e
    return builder


def _parts(cfg: DataConfig, split: str) -> list[tuple[str, str]]:
    """(builder name, tfds split) pieces that make up one of our splits."""
    if split not in _TFDS_SPLITS:
        raise ValueError(f"unknown split '{split}': expected one of {tuple(_TFDS_SPLITS)}")
    if split == "train_extra":
        return [(COARSE, "train_extra")]
    parts = [(FINE, _TFDS_SPLITS[split])]
    if cfg.use_coarse and split == "train":
        parts.append((COARSE, "train_extra"))
    return parts


def records(cfg: DataConfig, split: str, shuffle_seed: int | None) -> tf.data.Dataset:
    """Dataset of (image_png, label_png, image_id) string scalars, in one pass over the split.

    With `shuffle_seed` the shard order is shuffled with that seed (the element order is shuffled
    later, per epoch, by `TfdsSource.epoch`); without it the order is tfds' fixed order."""
    datasets = []
    for name, tfds_split in _parts(cfg, split):
        read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed)
        ds = _prepared_builder(cfg, name).as_dataset(
            split=tfds_split,
            shuffle_files=shuffle_seed is not None,
            read_config=read_config,
            decoders={
                "image_left": tfds.decode.SkipDecoding(),
                "segmentation_label": tfds.decode.SkipDecoding(),
            },
        )
        datasets.append(
            ds.map(lambda ex: (ex["image_left"], ex["segmentation_label"], ex["image_id"]))
        )
    ds = datasets[0]
    for other in datasets[1:]:
        ds = ds.concatenate(other)
    return ds


def num_examples(cfg: DataConfig, split: str) -> int:
    """Frames in a split, from tfds' metadata (counted by reading when it has none, as under
    `tfds.testing.mock_data`)."""
    total = 0
    for name, tfds_split in _parts(cfg, split):
        builder = _prepared_builder(cfg, name)
        if builder.info.splits:
            if tfds_split not in builder.info.splits:
                raise ValueError(
                    f"tfds '{name}' has no split '{tfds_split}' (has {sorted(builder.info.splits)})"
                )
            total += builder.info.splits[tfds_split].num_examples
        else:
            logging.info(
                "tfds '%s' has no split metadata; counting '%s' by reading", name, tfds_split
            )
            ds = builder.as_dataset(
                split=tfds_split,
                decoders={
                    "image_left": tfds.decode.SkipDecoding(),
                    "segmentation_label": tfds.decode.SkipDecoding(),
                },
            )
            total += int(ds.reduce(0, lambda n, _: n + 1))
    return total


class TfdsSource:
    """The records of one split; with `shuffle_seed` the shards are read in an order drawn from it.
    Records are (image PNG, label PNG, image id) string scalars."""

    def __init__(
        self,
        cfg: DataConfig,
        dataset: Dataset,
        split: str,
        labelled: bool = True,
        shuffle_seed: int | None = None,
    ):
        if not labelled:
            raise ValueError(
                "predictions for an unlabelled split read image files: pass "
                "--source folder --data-dir DIR"
            )
        self.label_values = dataset.label_values
        self.num_frames = num_examples(cfg, split)
        self.where = "the tfds source"
        self._records = records(cfg, split, shuffle_seed)
        self._buffer = max(1, cfg.shuffle_buffer)

    def epoch(
        self, epoch: tf.Tensor, order_key: tf.Tensor | None, skip: tf.Tensor
    ) -> tf.data.Dataset:
        """The records of one epoch, the first `skip` left out: in tfds' order without
        `order_key`, else shuffled within windows of `cfg.shuffle_buffer` records."""
        ds = self._records
        if order_key is not None:
            # tfrecords have no random access: shuffle within windows of `buffer` records, each
            # permuted by a stateless draw from (seed, epoch, window), so that the order is a
            # function of the seed, as the folder source's. Not `Dataset.shuffle`: its seed
            # cannot be a tensor once a global seed is set (the trainer sets one; with 0, TF
            # compares the tensor in Python and stops with OperatorNotAllowedInGraphError).
            epoch_key = tf.random.experimental.stateless_fold_in(order_key, epoch)

            def permute(window, records):
                key = tf.random.experimental.stateless_fold_in(epoch_key, window)
                order = tf.argsort(tf.random.stateless_uniform(tf.shape(records[0]), key))
                return tuple(tf.gather(r, order) for r in records)

            ds = ds.batch(self._buffer).enumerate().map(permute).unbatch()
        return ds.skip(skip)

    def decode(
        self, image_png: tf.Tensor, label_png: tf.Tensor, image_id: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(uint8 [H, W, 3] image, uint8 [H, W] class ids); errors name the frame's image id."""
        return decode.decode_frame(
            image_png,
            label_png,
            tf.strings.join(["tfds image_left of ", image_id]),
            tf.strings.join(["tfds segmentation_label of ", image_id]),
            self.label_values,
        )
