"""Cityscapes from tensorflow-datasets (`cityscapes/semantic_segmentation`) as undecoded records.

tfds cannot download Cityscapes (registration needed): the zips must already be in the manual dir
(`DataConfig.data_dir`); `prepare` only extracts and converts them, once. Images and labels are left
as PNG bytes (`SkipDecoding`) so decoding runs in our parallel map, and skipped records are cheap.
The labels are label ids 0..33, mapped to train ids by the same table as the folder source.
"""

from __future__ import annotations

import logging

import tensorflow as tf
import tensorflow_datasets as tfds

from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data.cityscapes import TFDS_COARSE_NAME as COARSE
from fast_scnn_tf.data.cityscapes import TFDS_NAME as FINE
_TFDS_SPLITS = {"train": "train", "val": "validation", "test": "test", "train_extra": "train_extra"}


def _prepared_builder(cfg: DataConfig, name: str) -> tfds.core.DatasetBuilder:
    builder = tfds.builder(name, data_dir=cfg.tfds_data_dir or None)
    # Never downloads: Cityscapes needs manual zips, and the prepared copy must not come from GCS.
    config = tfds.download.DownloadConfig(manual_dir=cfg.data_dir or None,
                                          try_download_gcs=False)
    try:
        builder.download_and_prepare(download_config=config)
    except AssertionError as e:  # tfds' way of saying the manual zips are missing
        raise FileNotFoundError(f"tfds '{name}' cannot be prepared from manual_dir "
                                f"'{cfg.data_dir}' (DataConfig.data_dir): {e}") from e
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
    later, per epoch, by the caller); without it the order is tfds' fixed order."""
    datasets = []
    for name, tfds_split in _parts(cfg, split):
        read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed)
        ds = _prepared_builder(cfg, name).as_dataset(
            split=tfds_split, shuffle_files=shuffle_seed is not None, read_config=read_config,
            decoders={"image_left": tfds.decode.SkipDecoding(),
                      "segmentation_label": tfds.decode.SkipDecoding()})
        datasets.append(ds.map(lambda ex: (ex["image_left"], ex["segmentation_label"],
                                           ex["image_id"])))
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
                raise ValueError(f"tfds '{name}' has no split '{tfds_split}' "
                                 f"(has {sorted(builder.info.splits)})")
            total += builder.info.splits[tfds_split].num_examples
        else:
            logging.info("tfds '%s' has no split metadata; counting '%s' by reading", name,
                         tfds_split)
            ds = builder.as_dataset(split=tfds_split, decoders={
                "image_left": tfds.decode.SkipDecoding(),
                "segmentation_label": tfds.decode.SkipDecoding()})
            total += int(ds.reduce(0, lambda n, _: n + 1))
    return total
