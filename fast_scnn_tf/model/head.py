"""The one inference head: a model's low-resolution logits -> labels ("cls") or probabilities and
labels ("prob") at a requested size (the paper's "Fast-SCNN cls" and "Fast-SCNN prob").

`head_outputs` is the head, written once on tensors. Everything that turns images into
predictions calls it: `build_head` (the Keras model that export, predict and the Keras speed row
use), `head_at_size` (evaluation, where the label is larger than a reduced-scale input) and the
tf_keras QAT head (`export/qat.py`, through a Lambda: tfmot cannot hold Keras 3 layers).

Every model of `families.py` ends in a `ResizeLike` layer named `logits` (bilinear to the
input's size; `contract.py`); the head starts from that layer's input (`low_res_logits`: 1/8 of
the input for Fast-SCNN, 1/4 or 1/8 for FFNet) and does the resize itself, so a prediction at
another size (the label's) is one bilinear resize, not two.

The cls head is one bilinear resize of the C low-resolution channels to the output size,
then ARG_MAX over them. The SavedModel computes it in two bands of rows (`two_band_labels`), which
TensorFlow runs side by side; TFLite runs one op at a time and keeps the one-piece form.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fast_scnn_tf.model.contract import LOGITS as MODEL_LOGITS
from fast_scnn_tf.model.layers import spatial_size

CLS, PROB = "cls", "prob"
MODES = (CLS, PROB)
# Output names of the heads (and of the SavedModel signatures).
LABELS = "labels"  # uint8 [batch, H, W] train ids 0..num_classes-1
PROBABILITIES = "probabilities"  # float32 [batch, H, W, num_classes], softmax over classes


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")


def _labels(logits):
    return tf.cast(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.uint8)


def two_band_labels(logits: tf.Tensor, size) -> tf.Tensor:
    """The cls labels of `head_outputs`, bit for bit, as two independent halves (the top and
    bottom rows of the output), each resized and argmaxed on its own, so that TensorFlow's
    executor runs them on two cores at once.

    Each half takes one extra low-res row beyond its edge (the rows its output interpolates
    from) and is resized at the same scale as the whole, then cropped to its rows. The
    interpolation positions and weights are then the whole resize's exactly when the output
    height is the low-res height times a power of two (Fast-SCNN's 8, FFNet's 4 or 8: the
    positions are exact binary fractions); any other size takes the one-piece head."""
    height, width = size[0], size[1]
    low = tf.shape(logits)[1]
    factor = height // low
    half = low // 2
    power_of_two = tf.bitwise.bitwise_and(factor, factor - 1) == 0
    exact = (factor * low == height) & power_of_two & (low >= 2)

    def whole():
        return _labels(tf.image.resize(logits, size, method="bilinear"))

    def halves():
        top = tf.image.resize(logits[:, : half + 1], ((half + 1) * factor, width), "bilinear")
        bottom = tf.image.resize(
            logits[:, half - 1 :], ((low - half + 1) * factor, width), "bilinear"
        )
        return tf.concat([_labels(top)[:, : half * factor], _labels(bottom)[:, factor:]], axis=1)

    return tf.cond(exact, halves, whole)


def head_outputs(logits: tf.Tensor, size, mode: str = CLS, two_bands: bool = False):
    """The head on tensors: `logits` float32 [B, h, w, C] resized bilinearly (half-pixel centres,
    as `ResizeLike`) to `size` (height, width), then "cls" -> uint8 labels [B, H, W] (argmax), or
    "prob" -> {"probabilities": float32 softmax [B, H, W, C], "labels": uint8 [B, H, W]}.
    `two_bands`: the cls labels by `two_band_labels` (the same labels, faster in TensorFlow)."""
    check_mode(mode)
    if mode == CLS and two_bands:
        return two_band_labels(logits, size)
    logits = tf.image.resize(logits, size, method="bilinear")
    labels = _labels(logits)
    if mode == CLS:
        return labels
    return {PROBABILITIES: tf.nn.softmax(logits, axis=-1), LABELS: labels}


class InferenceHead(keras.layers.Layer):
    """`head_outputs` as a Keras 3 layer: [logits, reference] -> the head at reference's size."""

    def __init__(self, mode: str = CLS, two_bands: bool = False, **kwargs):
        super().__init__(**kwargs)
        check_mode(mode)
        self.mode = mode
        self.two_bands = two_bands

    def call(self, inputs):
        logits, reference = inputs
        return head_outputs(logits, spatial_size(reference), self.mode, self.two_bands)

    def compute_output_spec(self, inputs):
        logits, reference = inputs
        shape = (logits.shape[0], *reference.shape[1:3])
        labels = keras.KerasTensor(shape, dtype="uint8")
        if self.mode == CLS:
            return labels
        return {
            PROBABILITIES: keras.KerasTensor((*shape, logits.shape[-1]), dtype="float32"),
            LABELS: labels,
        }

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "two_bands": self.two_bands}


class CastToFloat(keras.layers.Layer):
    """uint8 frames to float32 (the model normalises them itself)."""

    def call(self, x):
        return tf.cast(x, tf.float32)

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype="float32")


def low_res_logits(model: keras.Model) -> keras.Model:
    """The sub-model from the image to the logits before their resize to the input (1/8 of the
    input for Fast-SCNN, 1/4 or 1/8 for FFNet): every model ends in `ResizeLike` named `logits`."""
    resize = model.get_layer(MODEL_LOGITS)
    return keras.Model(model.input, resize.input[0], name=f"{model.name}_low_res")


def build_head(
    model: keras.Model,
    mode: str,
    input_size: tuple[int, int] | None = None,
    two_bands: bool = False,
) -> keras.Model:
    """The inference model that ships: uint8 RGB image [B, H, W, 3] named "image" -> the head
    (`head_outputs`) at the input's size.

    Args:
        model: an aux-free model of `families.py` (`checkpoint.load_run(...).model`, `build_model`).
        mode: "cls" -> uint8 label map [B, H, W]; "prob" -> {"probabilities": float32 softmax
            [B, H, W, C], "labels": uint8 [B, H, W]}.
        input_size: (height, width) for a fixed-size graph (TFLite); None keeps it dynamic.
        two_bands: cls labels by `two_band_labels` (the SavedModel's; same labels).

    Shares `model`'s weights. Auxiliary heads are never part of it.
    """
    check_mode(mode)
    height, width = input_size if input_size is not None else (None, None)
    image = keras.Input(shape=(height, width, 3), dtype="uint8", name="image")
    logits = low_res_logits(model)(CastToFloat(name="to_float")(image))
    name = LABELS if mode == CLS else "head"
    outputs = InferenceHead(mode, two_bands, name=name)([logits, image])
    if mode == PROB:  # named outputs, in the order the SavedModel signature lists them
        outputs = {
            key: keras.layers.Identity(name=key)(outputs[key]) for key in (PROBABILITIES, LABELS)
        }
    return keras.Model(image, outputs, name=f"{model.name}_{mode}")


def head_at_size(model: keras.Model, mode: str = CLS):
    """A tf.function (images, size) -> the head at `size` (height, width), for predictions at
    another size than the input: evaluation at a reduced scale scores them at the label's size.
    `images` RGB 0..255 of any dtype (the pipeline gives float32); shapes are dynamic, so frames
    of any size share one trace. At the input's size it returns what `build_head` returns."""
    check_mode(mode)
    features = low_res_logits(model)

    @tf.function(reduce_retracing=True)
    def at_size(images, size):
        return head_outputs(features(tf.cast(images, tf.float32), training=False), size, mode)

    return at_size
