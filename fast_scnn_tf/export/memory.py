"""The memory budget the tools' size limits are set against, and what serving a frame costs.

A limit on pixels alone said nothing about what a server can afford: 64 megapixels passed, and
an 8000x8000 frame through the SavedModel's `serving_default` needs more than 6 GB. The default
limit of an exported SavedModel is instead the largest frame whose predicted peak memory fits
MEMORY_BUDGET. Imports nothing heavy: export.py reads it before TensorFlow.

The cost model comes from the peak RSS of a process that loaded an export.py SavedModel
(Fast-SCNN) and served one frame through `serving_default` (2 CPU cores; the numbers are in
tests/test_export_saved_model.py): a fixed 0.74-0.76 GB (TensorFlow and the loaded model), plus
per pixel 137 bytes (cls) and 212 bytes (prob) with 19 classes, 300 and 544 bytes with 59. So
per pixel about 60 bytes of feature maps plus, per class, 4 bytes (cls: the logits upsampled to
the frame before the argmax) or 8 bytes (prob: those and the probabilities). The constants below
round each term up, which puts the prediction 4-8% above every measured peak.
"""

from __future__ import annotations

import math
from fractions import Fraction

from fast_scnn_tf.data.images import MAX_PIXELS

# The memory a tool may use, in bytes: 6 GB, the cap the project is probed under.
MEMORY_BUDGET = 6 * 10**9

# Serving one frame: fixed bytes, bytes per pixel, and bytes per pixel and class by head mode.
SERVING_FIXED = 800 * 10**6
SERVING_PER_PIXEL = Fraction(64)
SERVING_PER_PIXEL_CLASS = {"cls": Fraction(42, 10), "prob": Fraction(84, 10)}


def _per_pixel(mode: str, num_classes: int) -> Fraction:
    return SERVING_PER_PIXEL + SERVING_PER_PIXEL_CLASS[mode] * num_classes


def serving_peak(mode: str, num_classes: int, pixels: int) -> int:
    """Predicted peak memory, in bytes, of serving one frame of `pixels` (height x width) through
    the SavedModel's `serving_default` of a `mode` head ("cls" or "prob") with `num_classes`."""
    return SERVING_FIXED + math.ceil(_per_pixel(mode, num_classes) * pixels)


def serving_max_pixels(mode: str, num_classes: int, budget: int = MEMORY_BUDGET) -> int:
    """The SavedModel's default pixel limit: the largest frame whose `serving_peak` fits `budget`,
    and never more than an image the tools decode (`images.MAX_PIXELS`)."""
    return min(MAX_PIXELS, math.floor((budget - SERVING_FIXED) / _per_pixel(mode, num_classes)))


def over_budget(mode: str, num_classes: int, max_pixels: int, budget: int = MEMORY_BUDGET) -> str:
    """An empty string when serving a frame of `max_pixels` fits `budget`; else one line saying
    what it needs."""
    peak = serving_peak(mode, num_classes, max_pixels)
    if peak <= budget:
        return ""
    return (
        f"--max-pixels {max_pixels}: serving a frame that large through the {mode} head of "
        f"{num_classes} classes needs about {peak / 1e9:.1f} GB of memory, over the "
        f"{budget / 1e9:g} GB budget the default limit "
        f"({serving_max_pixels(mode, num_classes, budget)} pixels) is set against"
    )
