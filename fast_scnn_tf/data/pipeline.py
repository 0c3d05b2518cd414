"""The tf.data input pipeline for training and evaluation: a source's records (`FolderSource`:
files on disk, `TfdsSource`: tensorflow-datasets records), decoded by the source, then one
`Parser` (train, eval or unlabelled frames) — Model Garden's decoder + parser split.

Order and augmentation are stateless functions of (seed, epoch) and (seed, position in the stream),
so with `DataConfig.deterministic` a pipeline is reproducible and can be resumed exactly:
`build_dataset(..., repeat=True, skip_batches=k)` yields the same batches as the k-th onwards of
a fresh pipeline, without reading the first k (for the folder source; the tfds source reads, but
does not decode, the records of the current epoch before the resume point). `dataset.skip(n)` on
the built dataset would decode and augment every skipped frame, and a tf.data iterator checkpoint
would store the prefetched full-size batches.
"""

from __future__ import annotations

import logging
import random

import numpy as np
import tensorflow as tf

from fast_scnn_tf.data import decode
from fast_scnn_tf.data.config import SOURCES, DataConfig
from fast_scnn_tf.data.contract import Dataset
from fast_scnn_tf.data.datasets import dataset_for, tfds_datasets
from fast_scnn_tf.data.folder_source import FolderSource
from fast_scnn_tf.data.parser import Parser, evaluation_image  # noqa: F401 (data.evaluation_image)

AUTOTUNE = tf.data.AUTOTUNE


def num_frames(cfg: DataConfig, split: str, dataset: Dataset | None = None) -> int:
    """Frames in a split (for dataset sizes and steps per epoch); coarse frames counted for
    `train` when `cfg.use_coarse`. `dataset`: `dataset_for(cfg)`, when the caller has it."""
    return open_source(cfg, split, dataset=dataset).num_frames


def _check_source(cfg: DataConfig) -> None:
    if cfg.source not in SOURCES:
        raise ValueError(
            f"unknown DataConfig.source '{cfg.source}': expected one of {', '.join(SOURCES)}"
        )
    if cfg.source == "tfds" and cfg.dataset not in tfds_datasets():
        raise ValueError(
            f"the tfds source holds {', '.join(tfds_datasets())} only, not "
            f"'{cfg.dataset}': use source 'folder'"
        )


def open_source(
    cfg: DataConfig,
    split: str,
    labelled: bool = True,
    shuffle_seed: int | None = None,
    dataset: Dataset | None = None,
):
    """The reader of `cfg.source` for one split: `FolderSource` or `TfdsSource` (tfds, slow to
    import, imported only for it). `shuffle_seed`: the tfds source's shard order."""
    _check_source(cfg)
    dataset = dataset or dataset_for(cfg)
    if cfg.source == "folder":
        return FolderSource(cfg, dataset, split, labelled)
    from fast_scnn_tf.data.tfds_source import TfdsSource

    return TfdsSource(cfg, dataset, split, labelled, shuffle_seed)


def _resolve_seed(cfg: DataConfig, seed: int | None) -> int:
    if seed is not None:
        return seed
    if cfg.deterministic:
        return cfg.seed
    seed = random.SystemRandom().randrange(2**31)
    logging.info("data seed %d (DataConfig.deterministic is off)", seed)
    return seed


def build_dataset(
    cfg: DataConfig,
    split: str,
    training: bool,
    batch_size: int,
    *,
    scale: float = 1.0,
    repeat: bool = False,
    with_names: bool = False,
    seed: int | None = None,
    skip_batches: int = 0,
    labelled: bool = True,
    dataset: Dataset | None = None,
) -> tf.data.Dataset:
    """Batches of (image float32 [B,H,W,3] RGB 0..255, label uint8 [B,H,W] class ids, 255 ignore),
    plus the frame name (e.g. `aachen_000000_000019`) when `with_names`. `cfg.dataset` says
    which dataset (layout, class table, label values) `cfg.data_dir` holds.

    training: shuffled every epoch, augmented as in the paper (resized by `cfg.input_scale` times
      a factor in `cfg.min_scale`..`cfg.max_scale`), cropped to `cfg.crop_size`, partial
      batches dropped.
    evaluation: frames in file order, no augmentation; the image is resized by `scale` (bilinear)
      while the label stays at full resolution. Frames of different sizes need batch_size 1.
    labelled=False (evaluation only): the split's images, labels or not (Cityscapes test), each
      with an all-IGNORE_LABEL label at full size; folder source only.
    repeat: an endless stream of epochs, each in a new order (for step-counted training);
      without it, one epoch (epoch 0: iterating the dataset again gives the same epoch).
    seed: overrides `cfg.seed`; without either and with `cfg.deterministic` off, a random seed.
    skip_batches: resume position, the number of batches already consumed (see module doc).
    dataset: `dataset_for(cfg)`, when the caller has resolved it (a command resolves it once).
    """
    _check_source(cfg)
    dataset = dataset or dataset_for(cfg)
    dataset.check_split(split, labelled=labelled)
    if batch_size < 1 or skip_batches < 0:
        raise ValueError(
            f"need batch_size >= 1 and skip_batches >= 0, got {batch_size}, {skip_batches}"
        )
    if scale <= 0 or (training and scale != 1.0):
        raise ValueError(
            f"scale must be > 0, and 1 for training (which uses cfg.min_scale/"
            f"max_scale), got {scale}"
        )
    if training and not labelled:
        raise ValueError("training needs labels: build_dataset(training=True, labelled=False)")
    seed = _resolve_seed(cfg, seed)
    order_key, augment_key = tf.unstack(
        tf.random.experimental.stateless_split(tf.constant([seed, 0], tf.int64), 2)
    )
    if not training:
        order_key = None
    start = skip_batches * batch_size

    source = open_source(cfg, split, labelled, seed if training else None, dataset)
    n = source.num_frames
    if n == 0:
        raise ValueError(f"split '{split}' in {source.where} has zero frames")
    if not repeat and training and n - start < batch_size:
        raise ValueError(
            f"split '{split}' in {source.where} has {n} frames: not one full batch "
            f"of {batch_size} after skipping {start}"
        )
    if not repeat and start >= n:
        raise ValueError(f"skip_batches={skip_batches} skips all {n} frames of split '{split}'")

    first_epoch, offset = divmod(start, n)
    epochs = (
        tf.data.Dataset.counter(first_epoch)
        if repeat
        else tf.data.Dataset.range(first_epoch, first_epoch + 1)
    )
    records = epochs.flat_map(
        lambda epoch: source.epoch(
            epoch, order_key, skip=tf.where(epoch == first_epoch, tf.constant(offset, tf.int64), 0)
        )
    )

    parse = Parser(
        cfg, "train" if training else "eval" if labelled else "unlabelled", scale, augment_key
    )

    def load(position, image_ref, label_ref, name):
        image, label = parse(position, *source.decode(image_ref, label_ref, name))
        return (image, label, name) if with_names else (image, label)

    deterministic = cfg.deterministic or not training
    ds = records.enumerate(start).map(
        lambda position, record: load(position, *record),
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    ds = ds.batch(
        batch_size,
        drop_remainder=training,
        num_parallel_calls=AUTOTUNE,
        deterministic=deterministic,
    )
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(AUTOTUNE).with_options(options)


def label_pixel_counts(
    cfg: DataConfig, split: str, max_frames: int = 0, dataset: Dataset | None = None
) -> np.ndarray:
    """int64 [num_classes + 1]: labelled pixels per class over a split's label files (the first
    `max_frames` when > 0), and the ignored ones last. Decodes labels only, through the same
    checks as training (a value outside the class table stops it, naming the file)."""
    _check_source(cfg)
    if cfg.source != "folder":
        raise ValueError("pixel counts read label files: source 'folder' only")
    dataset = dataset or dataset_for(cfg)
    paths = [label for _, label in dataset.list_frames(cfg.data_dir, split)]
    paths = paths[: max_frames or None]
    num_classes = dataset.classes.num_classes

    def count(path):
        values = decode.decode_label_values(tf.io.read_file(path), path)
        ids = tf.cast(decode.to_class_ids(values, dataset.label_values, path), tf.int32)
        ids = tf.where(ids < num_classes, ids, num_classes)
        return tf.math.bincount(
            tf.reshape(ids, [-1]),
            minlength=num_classes + 1,
            maxlength=num_classes + 1,
            dtype=tf.int64,
        )

    counts = tf.data.Dataset.from_tensor_slices(paths).map(count, num_parallel_calls=AUTOTUNE)
    return counts.reduce(tf.zeros([num_classes + 1], tf.int64), lambda a, b: a + b).numpy()
