"""Quantisation-aware fine-tuning (tensorflow-model-optimization) and its int8 TFLite export.

tfmot 0.8.1 only accepts tf_keras models, so the trained Keras 3 graph is mirrored layer by layer
in tf_keras (`mirror_model`, weights copied by layer name), wrapped with fake-quant by
`quantize_model` (our resize/pool/normalise layers get a no-op QuantizeConfig: they carry no
weights and TFLite quantises their outputs from the calibration data), fine-tuned for a few steps
with training's masked cross-entropy, and converted to full-integer int8.

Importing tfmot sets TF_USE_LEGACY_KERAS=1 for the whole process (`tf.keras` becomes tf_keras),
so it is imported only inside these functions and never on the training path. BatchNorm is frozen
(inference mode, fixed statistics) during QAT: the batches are tiny and the model is trained.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf
import tf_keras

from fast_scnn_tf.config import Config
from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.exporter import write_tflite
from fast_scnn_tf.export.sample_frames import SYNTHETIC, data_config, synthetic_frames
from fast_scnn_tf.model import layers as k3
from fast_scnn_tf.model.contract import LOGITS
from fast_scnn_tf.model.head import CLS, LABELS, PROBABILITIES, build_head, head_outputs
from fast_scnn_tf.training.losses import masked_cross_entropy

log = logging.getLogger(__name__)


# tf_keras twins of the custom layers; the maths is the Keras 3 layers' own `call`.
class Normalize(tf_keras.layers.Layer):
    def __init__(self, mean=k3.IMAGENET_MEAN, std=k3.IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.std = tuple(mean), tuple(std)

    call = k3.Normalize.call

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}


class ResizeLike(tf_keras.layers.Layer):
    def __init__(self, mode=k3.BILINEAR, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    call = k3.ResizeLike.call

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class AdaptiveAveragePooling2D(tf_keras.layers.Layer):
    def __init__(self, bins, **kwargs):
        super().__init__(**kwargs)
        self.bins = int(bins)

    call = k3.AdaptiveAveragePooling2D.call

    def get_config(self):
        return {**super().get_config(), "bins": self.bins}


CUSTOM_LAYERS = {
    "Normalize": Normalize,
    "ResizeLike": ResizeLike,
    "AdaptiveAveragePooling2D": AdaptiveAveragePooling2D,
}
# Constructor arguments copied from each Keras 3 layer's config.
_BUILTIN_ARGS = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "dilation_rate", "use_bias"),
    "DepthwiseConv2D": (
        "kernel_size",
        "strides",
        "padding",
        "depth_multiplier",
        "dilation_rate",
        "use_bias",
    ),
    "BatchNormalization": ("axis", "momentum", "epsilon"),
    "ReLU": (),
    "Add": (),
    "Concatenate": ("axis",),
    "Dropout": ("rate",),
}


def _mirror_layer(layer):
    kind = type(layer).__name__
    config = layer.get_config()
    if kind == "Normalize":
        return Normalize(config["mean"], config["std"], name=layer.name)
    if kind == "AdaptiveAveragePooling2D":
        return AdaptiveAveragePooling2D(config["bins"], name=layer.name)
    if kind == "ResizeLike":
        return ResizeLike(config["mode"], name=layer.name)
    if isinstance(layer, keras.layers.BatchNormalization):  # layers.BatchNorm included
        kind = "BatchNormalization"
    if kind not in _BUILTIN_ARGS:
        raise ValueError(f"no tf_keras mirror for layer '{layer.name}' of type {kind}")
    args = {key: config[key] for key in _BUILTIN_ARGS[kind]}
    return getattr(tf_keras.layers, kind)(name=layer.name, **args)


def mirror_model(model: keras.Model, input_size=None) -> tf_keras.Model:
    """The same functional graph as the Keras 3 inference `model`, built with tf_keras, with
    `model`'s weights. Architecture drift fails here (unknown layer) or in the equality test."""
    height, width = input_size if input_size is not None else (None, None)
    tensors = {}
    for layer in model.layers:
        node = layer._inbound_nodes[0]
        if isinstance(layer, keras.layers.InputLayer):
            out = tf_keras.Input(shape=(height, width, 3), name=layer.name)
        else:
            args = tf.nest.map_structure(lambda t: tensors[id(t)], node.arguments.args)
            out = _mirror_layer(layer)(*args)
        tensors[id(node.outputs[0])] = out
    mirror = tf_keras.Model(
        tensors[id(model.inputs[0])], tensors[id(model.outputs[0])], name=model.name
    )
    for layer in model.layers:
        if layer.weights:
            mirror.get_layer(layer.name).set_weights(layer.get_weights())
    return mirror


def quantize_model(mirror: tf_keras.Model) -> tf_keras.Model:
    """Fake-quant (tfmot default 8-bit scheme) version of a mirror; BatchNorm frozen."""
    import tensorflow_model_optimization as tfmot

    qk = tfmot.quantization.keras

    class NoOpQuantizeConfig(qk.QuantizeConfig):
        """Leave the layer as it is (no weights; its output range comes from calibration)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    def annotate(layer):
        if isinstance(layer, tuple(CUSTOM_LAYERS.values())):
            return qk.quantize_annotate_layer(layer, NoOpQuantizeConfig())
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            layer.trainable = False
        return layer

    annotated = tf_keras.models.clone_model(mirror, clone_function=annotate)
    annotated.set_weights(mirror.get_weights())
    with qk.quantize_scope({**CUSTOM_LAYERS, "NoOpQuantizeConfig": NoOpQuantizeConfig}):
        return qk.quantize_model(annotated)


def calibrate_ranges(qat_model: tf_keras.Model, mirror: tf_keras.Model, frames) -> None:
    """Start the fake-quant activation ranges at the float model's observed min/max.

    tfmot starts them at [-6, 6] (or [0, 0] for the input) and moves them by an EMA with decay
    0.999, so a short fine-tune would export ranges that clip most activations. Each quantised
    output belongs to a QuantizeWrapper around a mirror layer with the same name and output.
    """
    targets = {}  # mirror layer name ("" = the model input) -> [(variable, is_min)]
    for layer in qat_model.layers:
        name = (
            ""
            if type(layer).__name__ == "QuantizeLayer"
            else getattr(getattr(layer, "layer", None), "name", None)
        )
        for var in layer.non_trainable_variables:
            leaf = var.name.split("/")[-1].split(":")[0]
            suffixes = (
                ("_min", "_max")
                if name == ""
                else ("output_min", "output_max", "post_activation_min", "post_activation_max")
            )
            if name is not None and leaf.endswith(suffixes):
                targets.setdefault(name, []).append((var, leaf.endswith("_min")))
    names = [n for n in targets if n]
    probe = tf_keras.Model(mirror.input, [mirror.get_layer(n).output for n in names])
    lows, highs = {n: 0.0 for n in targets}, {n: 0.0 for n in targets}
    for frame in frames:
        image = np.asarray(frame, np.float32)
        outputs = probe(image, training=False)
        for name, value in [("", image), *zip(names, outputs)]:
            lows[name] = min(lows[name], float(np.min(value)))
            highs[name] = max(highs[name], float(np.max(value)))
    for name, pairs in targets.items():
        for var, is_min in pairs:
            var.assign(tf.fill(tf.shape(var), lows[name] if is_min else highs[name]))


def training_batches(
    model: keras.Model, config: Config, source: str, size, batch_size: int, seed: int = 0
):
    """Endless (images float32, labels uint8) batches at `size` for QAT. From a dataset folder:
    the train split with the paper's augmentation cropped to `size`. From "synthetic": synthetic
    frames labelled by the float model itself (the fine-tune then learns to mimic it)."""
    if source == SYNTHETIC:
        frames = np.concatenate(synthetic_frames(size, 4 * batch_size, seed))
        labels = np.argmax(model.predict(frames.astype(np.float32), verbose=0), -1)
        dataset = tf.data.Dataset.from_tensor_slices(
            (frames.astype(np.float32), labels.astype(np.uint8))
        )
        return iter(dataset.repeat().batch(batch_size))
    from fast_scnn_tf.data import build_dataset

    cfg = data_config(config.override("data", "crop_size", size), source)
    dataset = build_dataset(
        cfg, "train", training=True, batch_size=batch_size, repeat=True, seed=seed
    )
    return (element[:2] for element in dataset)


def fine_tune(qat_model: tf_keras.Model, batches, steps: int, learning_rate: float) -> list[float]:
    """`steps` SGD steps (momentum 0.9) of training's masked cross-entropy (255 ignored);
    returns the losses."""
    optimizer = tf_keras.optimizers.SGD(learning_rate, momentum=0.9)

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = masked_cross_entropy(labels, qat_model(images, training=True))
        grads = tape.gradient(loss, qat_model.trainable_variables)
        optimizer.apply_gradients(zip(grads, qat_model.trainable_variables))
        return loss

    progress = keras.utils.Progbar(steps, unit_name="step")
    losses = []
    for _ in range(steps):
        images, labels = next(batches)
        losses.append(float(step(images, labels)))
        progress.add(1, [("loss", losses[-1])])
    return losses


def qat_head(qat_model: tf_keras.Model, mode: str, input_size) -> tf_keras.Model:
    """uint8 image -> labels (cls) or {probabilities, labels} (prob) around the QAT model: the
    shared head (`head_outputs`) in a tf_keras Lambda, on the logits before the model's last
    resize (the input of the wrapped layer named `logits`), as `build_head` does."""
    (resize,) = [
        layer for layer in qat_model.layers if getattr(layer, "layer", layer).name == LOGITS
    ]
    low_res = tf_keras.Model(qat_model.input, resize.input[0])
    image = tf_keras.Input(shape=(*input_size, 3), dtype="uint8", name="image")
    logits = low_res(tf_keras.layers.Lambda(lambda x: tf.cast(x, tf.float32))(image))
    outputs = tf_keras.layers.Lambda(
        lambda x: head_outputs(x, tuple(input_size), mode), name=LABELS if mode == CLS else "head"
    )(logits)
    if mode == CLS:
        return tf_keras.Model(image, outputs)
    return tf_keras.Model(image, {key: outputs[key] for key in (PROBABILITIES, LABELS)})


def convert_qat(head: tf_keras.Model, representative) -> bytes:
    """Full-integer int8 TFLite from a QAT head (calibration fills ranges fake-quant lacks).
    A prob head stays int8 to the end, unlike post-training int8: TensorFlow's selective
    quantisation, which keeps that tail in float, leaves a QAT graph's ops as they are (tried)."""
    return tflite.convert_with(
        lambda: tf.lite.TFLiteConverter.from_keras_model(head), "int8", representative
    )


def export_qat_tflite(
    model: keras.Model,
    config: Config,
    output: str,
    mode: str,
    input_size,
    frames,
    source: str,
    steps: int,
    batch_size: int = 2,
    learning_rate: float = 1e-4,
    overwrite: bool = False,
    min_agreement: float | None = None,
    calibration_steps: int = 20,
) -> dict:
    """QAT-fine-tune `model` for `steps`, export int8 TFLite validated against the float Keras
    model (the one the user trained), write `fast_scnn_<mode>_qat_int8_<H>x<W>.tflite`."""
    from fast_scnn_tf.export.sample_frames import frames_for

    mirror = mirror_model(model, input_size)
    qat = quantize_model(mirror)
    calibrate_ranges(
        qat, mirror, frames_for(config, source, input_size, calibration_steps, split="train")
    )
    losses = fine_tune(
        qat, training_batches(model, config, source, input_size, batch_size), steps, learning_rate
    )
    log.info("QAT: %d steps, loss %.4f -> %.4f", steps, losses[0], losses[-1])
    content = convert_qat(
        qat_head(qat, mode, input_size),
        lambda: frames_for(config, source, input_size, calibration_steps, split="train"),
    )
    return write_tflite(
        content,
        build_head(model, mode, input_size),
        config,
        output,
        mode,
        "qat_int8",
        input_size,
        frames,
        overwrite,
        min_agreement,
        qat={
            "steps": steps,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "first_loss": losses[0],
            "last_loss": losses[-1],
        },
    )
