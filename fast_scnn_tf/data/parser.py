"""One parser for every kind of frame: a decoded frame, from either source, -> the model's input.

train       augmented as in the paper (`augment.py`), cropped or padded to `cfg.crop_size`
eval        the image resized by `scale` (bilinear), the label at full size
unlabelled  as eval, with a label that is all IGNORE_LABEL at the image's full size (splits
            without public labels: predictions come back at full resolution, no pixel scored)
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from fast_scnn_tf.data import augment
from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.data.config import DataConfig

MODES = ("train", "eval", "unlabelled")


def evaluation_image(image: tf.Tensor, scale: float = 1.0) -> tf.Tensor:
    """A decoded uint8 image [H, W, 3] as evaluation feeds it: float32, resized by `scale`
    (bilinear, to round(H * scale) x round(W * scale)); the label stays at full size."""
    if scale == 1.0:
        return tf.cast(image, tf.float32)
    size = tf.cast(tf.round(tf.cast(tf.shape(image)[:2], tf.float32) * scale), tf.int32)
    return tf.image.resize(image, size, method="bilinear")


@dataclasses.dataclass(frozen=True)
class Parser:
    """`parser(position, image, label)` -> (float32 [h, w, 3] image, uint8 label) in `mode`.

    `position` is the frame's place in the stream: with `augment_key` it draws the frame's
    augmentation (train). `label` is None in mode unlabelled."""

    cfg: DataConfig
    mode: str
    scale: float = 1.0
    augment_key: tf.Tensor | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(
                f"unknown parser mode '{self.mode}': expected one of {', '.join(MODES)}"
            )

    def __call__(
        self, position: tf.Tensor, image: tf.Tensor, label: tf.Tensor | None
    ) -> tuple[tf.Tensor, tf.Tensor]:
        cfg = self.cfg
        if self.mode == "train":
            return augment.augment(
                image,
                label,
                crop_size=tuple(cfg.crop_size),
                min_scale=cfg.min_scale * cfg.input_scale,
                max_scale=cfg.max_scale * cfg.input_scale,
                flip=cfg.flip,
                color_noise_std=cfg.color_noise,
                brightness=cfg.brightness,
                seed=tf.random.experimental.stateless_fold_in(self.augment_key, position),
            )
        if self.mode == "unlabelled":
            label = tf.fill(tf.shape(image)[:2], tf.constant(IGNORE_LABEL, tf.uint8))
        return evaluation_image(image, self.scale), label
