"""Run a model over an evaluation split and score it the way the Cityscapes benchmark does.

`evaluate` predicts frame by frame with the inference head that export ships
(`fast_scnn_tf.model.head`) and accumulates one confusion matrix over the whole split (see
`metrics.py`). Reduced-scale evaluation (Table 7 of the paper) needs nothing special here: the
dataset gives a downscaled image and the full-resolution label, and the head resizes the model's
low-resolution logits bilinearly to the label's size before the argmax (`head_at_size`), so every
score is at full resolution.
"""

from __future__ import annotations

import logging
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.evaluation.metrics import compute_metrics, confusion_matrix
from fast_scnn_tf.evaluation.tta import tta_at_size
from fast_scnn_tf.model.fast_scnn import SKIP_BN

log = logging.getLogger(__name__)

# on_prediction(name, image, prediction): name str ("" when the dataset has none), image uint8
# [H, W, 3] as fed to the model, prediction uint8 [H_label, W_label] train ids.
PredictionCallback = Callable[[str, np.ndarray, np.ndarray], None]


def make_predict_step(
    model: keras.Model, num_classes: int, tta_scales=(1.0,), tta_flip: bool = False
):
    """A tf.function (images, labels) -> (confusion [C, C] int64, predictions uint8 [B, H, W]),
    predictions at the labels' size (the cls head, `head_at_size`; with test-time augmentation,
    `tta_at_size`)."""
    labels_at = tta_at_size(model, tta_scales, tta_flip)

    @tf.function(reduce_retracing=True)
    def step(images, labels):
        predictions = labels_at(images, tf.shape(labels)[1:3])
        return confusion_matrix(labels, predictions, num_classes), predictions

    return step


def export_predict_step(predict: Callable[[np.ndarray], np.ndarray], num_classes: int):
    """The predict step for an exported model: `predict` (a `predictor.load_predictor` function:
    uint8 image [H, W, 3] -> labels [H, W] at the image's size) frame by frame, labels resized
    to the label's size (nearest) where they differ."""

    def step(images, labels):
        size = tuple(labels.shape[1:3])
        predictions = []
        for image in np.clip(images.numpy(), 0, 255).astype(np.uint8):
            prediction = predict(image)
            if prediction.shape != size:
                prediction = tf.image.resize(prediction[:, :, None], size, "nearest")[:, :, 0]
            predictions.append(np.asarray(prediction, np.uint8))
        predictions = tf.constant(np.stack(predictions))
        return confusion_matrix(labels, predictions, num_classes), predictions

    return step


def evaluate(
    model,
    dataset: tf.data.Dataset,
    classes: ClassTable,
    progress: bool = True,
    max_frames: int = 0,
    on_prediction: PredictionCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    tta_scales=(1.0,),
    tta_flip: bool = False,
) -> dict | None:
    """Score `model` on `dataset` over the class table `classes`; returns `compute_metrics(...)`
    plus `num_frames` and `confusion`.

    `model` is a Keras model (predicted through `head_at_size` at the labels' size) or the
    predict function of an export (`export_predict_step`). `dataset` yields batches (image,
    label) or (image, label, name) as `fast_scnn_tf.data.build_dataset(..., training=False)`
    makes them. `max_frames` > 0 stops early (for quick checks); `on_prediction` is called for
    every frame (to save predictions); `should_stop`, checked after every batch, abandons the
    evaluation (the result is then None: a part of the frames is not a score). `tta_scales` and
    `tta_flip` average the prediction over views of each frame (`tta.py`; Keras models only).
    """
    num_classes = classes.num_classes
    if isinstance(model, keras.Model):
        step = make_predict_step(model, num_classes, tta_scales, tta_flip)
    elif tuple(tta_scales) != (1.0,) or tta_flip:
        raise ValueError("test-time augmentation needs a checkpoint, not an exported model")
    else:
        step = export_predict_step(model, num_classes)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    bar = (
        keras.utils.Progbar(_batch_count(dataset, max_frames), unit_name="batch")
        if progress
        else None
    )
    frames = batches = 0
    for element in dataset:
        images, labels = element[0], element[1]
        names = element[2] if len(element) > 2 else None
        batch_confusion, predictions = step(images, labels)
        confusion += batch_confusion.numpy()
        batch = int(images.shape[0])
        if on_prediction is not None:
            images_np = images.numpy()
            predictions_np = predictions.numpy()
            for i in range(batch):
                name = names[i].numpy().decode() if names is not None else ""
                on_prediction(
                    name, np.clip(images_np[i], 0, 255).astype(np.uint8), predictions_np[i]
                )
        frames += batch
        batches += 1
        if bar is not None:
            bar.update(batches)
        if max_frames and frames >= max_frames:
            break
        if should_stop is not None and should_stop():
            log.info("evaluation stopped after %d frames", frames)
            return None
    log.info("evaluated %d frames", frames)
    result = compute_metrics(confusion, classes)
    result["num_frames"] = frames
    result["confusion"] = confusion.tolist()
    return result


def _batch_count(dataset: tf.data.Dataset, max_frames: int) -> int | None:
    """Batches the progress bar expects (frames, for evaluation's batches of one); None: unknown."""
    count = int(dataset.cardinality())
    if count < 0:
        return max_frames or None
    return min(count, max_frames) if max_frames else count


def ablate_skip(model: keras.Model) -> None:
    """Zero the LtD skip's contribution to the Feature Fusion Module (§4.2 of the paper), in place.

    Sets gamma and beta of the skip branch's last BatchNorm to 0, so in inference mode that
    branch outputs exactly 0 and the fusion sees only the global-feature branch. Use it on a
    loaded copy: the saved weights are untouched unless you save this model again.
    """
    try:
        layer = model.get_layer(SKIP_BN)
    except ValueError as e:
        raise ValueError(
            f"model has no layer '{SKIP_BN}': not a Fast-SCNN from this project"
        ) from e
    layer.gamma.assign(tf.zeros_like(layer.gamma))
    layer.beta.assign(tf.zeros_like(layer.beta))
