"""The tf.data input pipeline for training and evaluation.

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

from fast_scnn_tf.config import SOURCES, DataConfig
from fast_scnn_tf.data import augment, decode
from fast_scnn_tf.data.datasets import dataset_for, tfds_datasets

AUTOTUNE = tf.data.AUTOTUNE


def num_frames(cfg: DataConfig, split: str) -> int:
    """Frames in a split (for dataset sizes and steps per epoch); coarse frames counted for
    `train` when `cfg.use_coarse`."""
    if cfg.source == "tfds":
        from fast_scnn_tf.data import tfds_source
        return tfds_source.num_examples(cfg, split)
    _check_source(cfg)
    return len(dataset_for(cfg).list_frames(cfg.data_dir, split))


def _check_source(cfg: DataConfig) -> None:
    if cfg.source not in SOURCES:
        raise ValueError(f"unknown DataConfig.source '{cfg.source}': expected one of "
                         f"{', '.join(SOURCES)}")
    if cfg.source == "tfds" and cfg.dataset not in tfds_datasets():
        raise ValueError(f"the tfds source holds {', '.join(tfds_datasets())} only, not "
                         f"'{cfg.dataset}': use source 'folder'")


def _resolve_seed(cfg: DataConfig, seed: int | None) -> int:
    if seed is not None:
        return seed
    if cfg.deterministic:
        return cfg.seed
    seed = random.SystemRandom().randrange(2**31)
    logging.info("data seed %d (DataConfig.deterministic is off)", seed)
    return seed


def _epoch_order(n: int, key: tf.Tensor | None, epoch: tf.Tensor) -> tf.Tensor:
    """Frame indices of one epoch: a permutation drawn from (key, epoch), or 0..n-1 without key."""
    if key is None:
        return tf.range(n)
    epoch_key = tf.random.experimental.stateless_fold_in(key, epoch)
    return tf.argsort(tf.random.stateless_uniform([n], epoch_key))


def _folder_frames(cfg: DataConfig, split: str, order_key: tf.Tensor | None, start: int,
                   repeat: bool) -> tuple[tf.data.Dataset, int]:
    """(image_path, label_path, name) per frame, from element `start` of the (epoch) stream."""
    dataset = dataset_for(cfg)
    pairs = dataset.list_frames(cfg.data_dir, split)
    n = len(pairs)
    image_paths = tf.constant([image for image, _ in pairs])
    label_paths = tf.constant([label for _, label in pairs])
    names = tf.constant([dataset.frame_name(image) for image, _ in pairs])
    first_epoch, offset = divmod(start, n)

    def one_epoch(epoch):
        order = _epoch_order(n, order_key, epoch)
        order = order[tf.where(epoch == first_epoch, offset, 0):]
        return tf.data.Dataset.from_tensor_slices(order)

    epochs = (tf.data.Dataset.counter(first_epoch) if repeat
              else tf.data.Dataset.range(first_epoch, first_epoch + 1))
    ds = epochs.flat_map(one_epoch).map(
        lambda i: (image_paths[i], label_paths[i], names[i]))
    return ds, n


def _tfds_frames(cfg: DataConfig, split: str, order_key: tf.Tensor | None, seed: int, start: int,
                 repeat: bool) -> tuple[tf.data.Dataset, int]:
    """(image_png, label_png, image_id) per frame, from element `start` of the (epoch) stream."""
    from fast_scnn_tf.data import tfds_source  # imported only when the tfds source is used
    n = tfds_source.num_examples(cfg, split)
    if n == 0:
        raise ValueError(f"split '{split}' of the tfds source has zero frames")
    base = tfds_source.records(cfg, split, shuffle_seed=seed if order_key is not None else None)
    first_epoch, offset = divmod(start, n)
    buffer = max(1, cfg.shuffle_buffer)

    def one_epoch(epoch):
        ds = base
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

            ds = ds.batch(buffer).enumerate().map(permute).unbatch()
        return ds.skip(tf.where(epoch == first_epoch, tf.cast(offset, tf.int64), 0))

    epochs = (tf.data.Dataset.counter(first_epoch) if repeat
              else tf.data.Dataset.range(first_epoch, first_epoch + 1))
    return epochs.flat_map(one_epoch), n


def evaluation_image(image: tf.Tensor, scale: float = 1.0) -> tf.Tensor:
    """A decoded uint8 image [H, W, 3] as evaluation feeds it: float32, resized by `scale`
    (bilinear, to round(H * scale) x round(W * scale)); the label stays at full size."""
    if scale == 1.0:
        return tf.cast(image, tf.float32)
    size = tf.cast(tf.round(tf.cast(tf.shape(image)[:2], tf.float32) * scale), tf.int32)
    return tf.image.resize(image, size, method="bilinear")


def build_dataset(cfg: DataConfig, split: str, training: bool, batch_size: int, *,
                  scale: float = 1.0, repeat: bool = False, with_names: bool = False,
                  seed: int | None = None, skip_batches: int = 0) -> tf.data.Dataset:
    """Batches of (image float32 [B,H,W,3] RGB 0..255, label uint8 [B,H,W] class ids, 255 ignore),
    plus the frame name (e.g. `aachen_000000_000019`) when `with_names`. `cfg.dataset` says
    which dataset (layout, class table, label values) `cfg.data_dir` holds.

    training: shuffled every epoch, augmented as in the paper (resized by `cfg.input_scale` times
      a factor in `cfg.min_scale`..`cfg.max_scale`), cropped to `cfg.crop_size`, partial
      batches dropped.
    evaluation: frames in file order, no augmentation; the image is resized by `scale` (bilinear)
      while the label stays at full resolution. Frames of different sizes need batch_size 1.
    repeat: an endless stream of epochs, each in a new order (for step-counted training);
      without it, one epoch (epoch 0: iterating the dataset again gives the same epoch).
    seed: overrides `cfg.seed`; without either and with `cfg.deterministic` off, a random seed.
    skip_batches: resume position, the number of batches already consumed (see module doc).
    """
    _check_source(cfg)
    label_values = dataset_for(cfg).label_values
    dataset_for(cfg).check_split(split, labelled=True)
    if batch_size < 1 or skip_batches < 0:
        raise ValueError(f"need batch_size >= 1 and skip_batches >= 0, got {batch_size}, "
                         f"{skip_batches}")
    if scale <= 0 or (training and scale != 1.0):
        raise ValueError(f"scale must be > 0, and 1 for training (which uses cfg.min_scale/"
                         f"max_scale), got {scale}")
    seed = _resolve_seed(cfg, seed)
    order_key, augment_key = tf.unstack(
        tf.random.experimental.stateless_split(tf.constant([seed, 0], tf.int64), 2))
    if not training:
        order_key = None
    start = skip_batches * batch_size

    if cfg.source == "folder":
        frames, n = _folder_frames(cfg, split, order_key, start, repeat)
        where = f"'{cfg.data_dir}'"
    else:
        frames, n = _tfds_frames(cfg, split, order_key, seed, start, repeat)
        where = "the tfds source"
    if not repeat and training and n - start < batch_size:
        raise ValueError(f"split '{split}' in {where} has {n} frames: not one full batch of "
                         f"{batch_size} after skipping {start}")
    if not repeat and start >= n:
        raise ValueError(f"skip_batches={skip_batches} skips all {n} frames of split '{split}'")

    def load(position, image_ref, label_ref, name):
        if cfg.source == "folder":
            image_png, label_png = tf.io.read_file(image_ref), tf.io.read_file(label_ref)
            image_src, label_src = image_ref, label_ref
        else:
            image_png, label_png = image_ref, label_ref
            image_src = tf.strings.join(["tfds image_left of ", name])
            label_src = tf.strings.join(["tfds segmentation_label of ", name])
        image, label = decode.decode_frame(image_png, label_png, image_src, label_src,
                                           label_values)
        if training:
            image, label = augment.augment(
                image, label, crop_size=tuple(cfg.crop_size),
                min_scale=cfg.min_scale * cfg.input_scale,
                max_scale=cfg.max_scale * cfg.input_scale, flip=cfg.flip, color_noise_std=cfg.color_noise,
                brightness=cfg.brightness,
                seed=tf.random.experimental.stateless_fold_in(augment_key, position))
        else:
            image = evaluation_image(image, scale)
        return (image, label, name) if with_names else (image, label)

    deterministic = cfg.deterministic or not training
    ds = frames.enumerate(start).map(lambda position, frame: load(position, *frame),
                                     num_parallel_calls=AUTOTUNE, deterministic=deterministic)
    ds = ds.batch(batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE,
                  deterministic=deterministic)
    options = tf.data.Options()
    options.deterministic = deterministic
    return ds.prefetch(AUTOTUNE).with_options(options)


def label_pixel_counts(cfg: DataConfig, split: str, max_frames: int = 0) -> np.ndarray:
    """int64 [num_classes + 1]: labelled pixels per class over a split's label files (the first
    `max_frames` when > 0), and the ignored ones last. Decodes labels only, through the same
    checks as training (a value outside the class table stops it, naming the file)."""
    _check_source(cfg)
    if cfg.source != "folder":
        raise ValueError("pixel counts read label files: source 'folder' only")
    dataset = dataset_for(cfg)
    paths = [label for _, label in dataset.list_frames(cfg.data_dir, split)]
    paths = paths[:max_frames or None]
    num_classes = dataset.classes.num_classes

    def count(path):
        values = decode.decode_label_values(tf.io.read_file(path), path)
        ids = tf.cast(decode.to_class_ids(values, dataset.label_values, path), tf.int32)
        ids = tf.where(ids < num_classes, ids, num_classes)
        return tf.math.bincount(tf.reshape(ids, [-1]), minlength=num_classes + 1,
                                maxlength=num_classes + 1, dtype=tf.int64)

    counts = tf.data.Dataset.from_tensor_slices(paths).map(count, num_parallel_calls=AUTOTUNE)
    return counts.reduce(tf.zeros([num_classes + 1], tf.int64), lambda a, b: a + b).numpy()
