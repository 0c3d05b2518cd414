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

Pixel accuracy (correct / labelled pixels, "global accuracy" in CamVid papers) is the usual
definition; the official script's optional per-image pixel statistics are off by default and not
reproduced. Mean class accuracy ("class average accuracy" in SegNet and ENet) is the mean over
classes present in the labels of TP / (TP + FN).

Other datasets use the same rules over their own class table; category IoU is computed where the
table defines categories (Cityscapes).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from fast_scnn_tf.data.cityscapes_labels import CLASSES as CITYSCAPES
from fast_scnn_tf.data.classes import ClassTable


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
    counts = tf.math.bincount(
        index,
        minlength=num_classes * num_classes,
        maxlength=num_classes * num_classes,
        dtype=tf.int64,
    )
    return tf.reshape(counts, [num_classes, num_classes])


def iou_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Per-row IoU = TP / (TP + FP + FN); NaN where TP + FP + FN == 0 (the official rule)."""
    confusion = np.asarray(confusion, np.float64)
    tp = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, tp / np.maximum(denominator, 1), np.nan)


def category_confusion(confusion: np.ndarray, classes: ClassTable = CITYSCAPES) -> np.ndarray:
    """Merge a class confusion matrix to the category matrix (Cityscapes: 19x19 -> 7x7)."""
    membership = np.zeros((classes.num_classes, len(classes.categories)), np.int64)
    membership[np.arange(classes.num_classes), classes.class_category] = 1
    return membership.T @ np.asarray(confusion, np.int64) @ membership


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else None


def _as_dict(names: Sequence[str], values: np.ndarray) -> dict[str, float | None]:
    return {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, values)}


def compute_metrics(confusion: np.ndarray, classes: ClassTable | None = None) -> dict:
    """All reported numbers from an accumulated confusion matrix.

    Returns a dict with `miou`, `class_iou` (name -> IoU or None), `category_miou` and
    `category_iou` (None and {} unless the class table has categories), `pixel_accuracy`,
    `mean_accuracy` and `class_accuracy` (name -> recall or None for classes absent from the
    labels) and `num_pixels` (labelled pixels counted). Means are None when no class has a value.
    `classes=None`: Cityscapes for a 19-class matrix, else classes named `class_0`, `class_1`, ...
    """
    confusion = np.asarray(confusion, np.int64)
    num_classes = confusion.shape[0]
    if confusion.shape != (num_classes, num_classes):
        raise ValueError(f"confusion matrix must be square, got shape {confusion.shape}")
    if classes is None:
        classes = (
            CITYSCAPES
            if num_classes == CITYSCAPES.num_classes
            else ClassTable(
                names=tuple(f"class_{i}" for i in range(num_classes)),
                colors=((0, 0, 0),) * num_classes,
            )
        )
    if classes.num_classes != num_classes:
        raise ValueError(
            f"{classes.num_classes} class names for a {num_classes}-class confusion matrix"
        )
    class_iou = iou_from_confusion(confusion)
    present = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_accuracy = np.where(present > 0, np.diag(confusion) / np.maximum(present, 1), np.nan)
    total = int(confusion.sum())
    result = {
        "miou": _mean(class_iou),
        "class_iou": _as_dict(classes.names, class_iou),
        "category_miou": None,
        "category_iou": {},
        "pixel_accuracy": float(np.trace(confusion)) / total if total else None,
        "mean_accuracy": _mean(class_accuracy),
        "class_accuracy": _as_dict(classes.names, class_accuracy),
        "num_pixels": total,
    }
    if classes.categories:
        category_iou = iou_from_confusion(category_confusion(confusion, classes))
        result["category_miou"] = _mean(category_iou)
        result["category_iou"] = _as_dict(classes.categories, category_iou)
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
    lines.append(row("mean class acc.", metrics["mean_accuracy"]))
    return "\n".join(lines)
