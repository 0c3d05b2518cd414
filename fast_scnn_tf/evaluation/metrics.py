"""Segmentation metrics as the Cityscapes benchmark counts them.

Everything is derived from one confusion matrix accumulated over the whole split (rows: ground
truth train id, columns: predicted train id), never from per-image averages. The rules follow the
official `cityscapesScripts` (`evaluation/evalPixelLevelSemanticLabeling.py`):

- Pixels whose ground truth is ignored (train id 255, i.e. every label id with `ignoreInEval`)
  count nowhere: not as false positives, not as false negatives.
- IoU of a class = TP / (TP + FP + FN). A class with TP + FP + FN == 0 (absent from both the
  labels and the predictions) gets NaN there and is left out of the mean: it counts neither as
  0 nor as 1. We report it as None in the dicts (JSON has no NaN).
- Category IoU uses the same formula on the confusion matrix merged to the 7 categories: TP are
  all pixels whose label and prediction lie in the category, whatever the classes inside it.
- Class mIoU and category mIoU are plain means over the classes / categories that have an IoU.

Pixel accuracy (correct / labelled pixels) is the usual definition; the official script's
optional per-image pixel statistics are off by default and not reproduced.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from fast_scnn_tf.data.labels import CATEGORY_NAMES, CLASS_NAMES, NUM_CLASSES, TRAIN_ID_TO_CATEGORY


def confusion_matrix(labels, predictions, num_classes: int) -> tf.Tensor:
    """int64 [num_classes, num_classes] counts: rows ground truth, columns prediction.

    `labels` and `predictions` are integer tensors of the same shape (any rank). Pixels whose
    label is outside 0..num_classes-1 (the ignore value 255 in particular) are left out.
    Predictions must lie in 0..num_classes-1, as an argmax over the logits does. Works eagerly
    and inside `tf.function`.
    """
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    predictions = tf.reshape(tf.cast(predictions, tf.int32), [-1])
    valid = (labels >= 0) & (labels < num_classes)
    index = tf.boolean_mask(labels, valid) * num_classes + tf.boolean_mask(predictions, valid)
    counts = tf.math.bincount(index, minlength=num_classes * num_classes,
                              maxlength=num_classes * num_classes, dtype=tf.int64)
    return tf.reshape(counts, [num_classes, num_classes])


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-row IoU = TP / (TP + FP + FN); NaN where TP + FP + FN == 0 (the official rule)."""
    confusion = np.asarray(confusion, np.float64)
    tp = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, tp / np.maximum(denominator, 1), np.nan)


def category_confusion(confusion: np.ndarray) -> np.ndarray:
    """Merge a 19x19 Cityscapes train-id confusion matrix to the 7x7 category matrix."""
    membership = np.zeros((NUM_CLASSES, len(CATEGORY_NAMES)), np.int64)
    membership[np.arange(NUM_CLASSES), TRAIN_ID_TO_CATEGORY] = 1
    return membership.T @ np.asarray(confusion, np.int64) @ membership


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def _as_dict(names: Sequence[str], values: np.ndarray) -> dict[str, float | None]:
    return {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, values)}


def compute_metrics(confusion: np.ndarray,
                    class_names: Sequence[str] | None = CLASS_NAMES) -> dict:
    """All reported numbers from an accumulated confusion matrix.

    Returns a dict with `miou`, `class_iou` (name -> IoU or None), `category_miou` and
    `category_iou` (Cityscapes' 7 categories; None and {} unless the matrix is the 19-class
    Cityscapes one), `pixel_accuracy` and `num_pixels` (labelled pixels counted). Means are None
    when no class has an IoU. `class_names=None` names classes `class_0`, `class_1`, ...
    """
    confusion = np.asarray(confusion, np.int64)
    num_classes = confusion.shape[0]
    if confusion.shape != (num_classes, num_classes):
        raise ValueError(f"confusion matrix must be square, got shape {confusion.shape}")
    if class_names is None:
        class_names = CLASS_NAMES if num_classes == NUM_CLASSES else [
            f"class_{i}" for i in range(num_classes)]
    if len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a {num_classes}-class "
                         "confusion matrix")
    class_iou = iou_from_confusion(confusion)
    total = int(confusion.sum())
    result = {
        "miou": _mean(class_iou),
        "class_iou": _as_dict(class_names, class_iou),
        "category_miou": None,
        "category_iou": {},
        "pixel_accuracy": float(np.trace(confusion)) / total if total else None,
        "num_pixels": total,
    }
    if num_classes == NUM_CLASSES and tuple(class_names) == CLASS_NAMES:
        category_iou = iou_from_confusion(category_confusion(confusion))
        result["category_miou"] = _mean(category_iou)
        result["category_iou"] = _as_dict(CATEGORY_NAMES, category_iou)
    return result


def format_table(metrics: dict) -> str:
    """A per-class and per-category IoU table for the terminal ('-' where a class has no IoU)."""
    def row(name, value):
        return f"  {name:<16}{'-' if value is None else f'{100 * value:6.2f}':>8}"

    lines = ["class               IoU %"]
    lines += [row(name, iou) for name, iou in metrics["class_iou"].items()]
    lines.append(row("mIoU (class)", metrics["miou"]))
    if metrics["category_iou"]:
        lines.append("category            IoU %")
        lines += [row(name, iou) for name, iou in metrics["category_iou"].items()]
        lines.append(row("mIoU (category)", metrics["category_miou"]))
    lines.append(row("pixel accuracy", metrics["pixel_accuracy"]))
    return "\n".join(lines)
