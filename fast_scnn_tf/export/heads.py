"""Inference heads: wrap the Fast-SCNN inference model as `uint8 image -> labels / probabilities`.

Both the SavedModel and the TFLite exports start from these Keras models, so every deployment
artefact takes raw RGB uint8 frames and returns results at the input's size (the paper's
"Fast-SCNN cls" and "Fast-SCNN prob"). Auxiliary heads are never exported.

The cls head upsamples the 19-channel 1/8-resolution logits bilinearly to full size and takes the
argmax; in TFLite at 1024x2048 on 2 threads that costs ~20 ms (resize) + ~25 ms (ARG_MAX) of the
~155 ms float frame. Two exact reformulations were measured and rejected, both slower:
- 64 interpolation phases as one depthwise 2x2 conv (multiplier 64), argmax, DEPTH_TO_SPACE:
  189 ms vs 35 ms for the head alone.
- Argmax only where it is unknown: where the 4 low-res neighbours of an 8x8 output cell share an
  argmax, every interpolated pixel has that class (a convex combination of vectors that all peak
  at class k peaks at k), so only disagreeing cells need interpolating (WHERE/GATHER_ND/
  SCATTER_ND). 55 ms with 20% disagreeing cells, 125 ms with random weights, vs 23-27 ms: the
  dynamic-shape ops and the full-size int32 assembly cost more than they save.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.model.fast_scnn import LOGITS as MODEL_LOGITS
from fast_scnn_tf.model.layers import ResizeLike

CLS, PROB = "cls", "prob"
MODES = (CLS, PROB)
# Output names of the heads (and of the SavedModel signatures).
LABELS = "labels"  # uint8 [batch, H, W] train ids 0..num_classes-1
PROBABILITIES = "probabilities"  # float32 [batch, H, W, num_classes], softmax over classes


class ArgmaxLabels(keras.layers.Layer):
    """Class index of the largest value along the last axis, as uint8 train ids."""

    def call(self, x):
        return tf.cast(tf.argmax(x, axis=-1, output_type=tf.int32), tf.uint8)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape[:-1], dtype="uint8")


class CastToFloat(keras.layers.Layer):
    """uint8 frames to float32 (the model normalises them itself)."""

    def call(self, x):
        return tf.cast(x, tf.float32)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype="float32")


def low_res_logits(model: keras.Model) -> keras.Model:
    """The sub-model from the image to the logits before their resize to the input (1/8 of the
    input for Fast-SCNN, 1/4 or 1/8 for FFNet): every model ends in `ResizeLike` named LOGITS."""
    resize = model.get_layer(MODEL_LOGITS)
    return keras.Model(model.input, resize.input[0], name=f"{model.name}_low_res")


def build_head(model: keras.Model, mode: str, input_size: tuple[int, int] | None = None,
               with_labels: bool = True) -> keras.Model:
    """Wrap the inference `model` with an inference head.

    Args:
        model: the aux-free Fast-SCNN (`checkpoint.load_model` or `inference_model`).
        mode: "cls" -> uint8 label map [B, H, W]; "prob" -> {"probabilities": float32 softmax
            [B, H, W, C], "labels": uint8 [B, H, W]} (labels only with `with_labels`).
        input_size: (height, width) for a fixed-size graph (TFLite); None keeps it dynamic.
        with_labels: for "prob", also return the label map.

    The returned model takes `uint8 [B, H, W, 3]` RGB named "image" and shares `model`'s weights.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    height, width = input_size if input_size is not None else (None, None)
    image = keras.Input(shape=(height, width, 3), dtype="uint8", name="image")
    logits = low_res_logits(model)(CastToFloat(name="to_float")(image))
    logits = ResizeLike(name="upsample", dtype="float32")([logits, image])
    if mode == CLS:
        return keras.Model(image, ArgmaxLabels(name=LABELS)(logits), name="fast_scnn_cls")
    outputs = {PROBABILITIES: keras.layers.Softmax(name=PROBABILITIES)(logits)}
    if with_labels:
        outputs[LABELS] = ArgmaxLabels(name=LABELS)(logits)
    return keras.Model(image, outputs, name="fast_scnn_prob")
