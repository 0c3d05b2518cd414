"""TFLite conversion (float32, float16, dynamic-range and full-integer int8) and running.

Conversion goes through Keras' own `model.export` (a SavedModel) -> `from_saved_model`, the route
`from_keras_model` uses internally, minus its printout: with TF 2.21 it is numerically correct for
this model, while `from_concrete_functions` and a hand-written `tf.function` SavedModel gave NaN.
Every variant takes uint8 [1, H, W, 3] RGB (the cast and normalisation are in the graph). For int8
the weights and activations are int8; the uint8 input is cast and quantised with the calibrated
scale, which is exact for 0..255 ints. Models run with `ai_edge_litert` (the `tf.lite.Interpreter`
is deprecated).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.quiet import native_output_hidden

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
# Ops that may stay in float in an int8 model: the uint8 input cast/quantise and output dequantise,
# and in a prob model the full-size tail after the low-resolution logits (`convert_with`).
INT8_BOUNDARY_OPS = {"CAST", "QUANTIZE", "DEQUANTIZE"}
FLOAT_TAIL_OPS = {"RESIZE_BILINEAR", "SOFTMAX", "ARG_MAX"}


def variant_name(quantize: str) -> str:
    """The name a quantisation mode goes by in file names and tables ("none" -> "float32")."""
    return "float32" if quantize == "none" else quantize


def convert(
    head: keras.Model,
    quantize: str = "none",
    representative_images: Callable[[], Iterable[np.ndarray]] | None = None,
) -> bytes:
    """Convert a fixed-size head model (`model.head.build_head(..., input_size=...)`) to TFLite.

    Args:
        head: Keras 3 model taking uint8 [1, H, W, 3].
        quantize: "none" (float32), "float16" (float16 weights), "dynamic" (int8 weights, float
            activations) or "int8" (full-integer post-training quantisation; a prob head keeps
            its full-size tail in float, see `convert_with`).
        representative_images: for "int8", a callable returning an iterable of uint8
            [1, H, W, 3] frames used to calibrate activation ranges (~100 real frames).
    """
    with tempfile.TemporaryDirectory() as tmp:

        def make_converter():  # exports on first use: after convert_with has checked the args
            if not os.listdir(tmp):
                head.export(tmp, format="tf_saved_model", verbose=False)
            return tf.lite.TFLiteConverter.from_saved_model(tmp)

        return convert_with(
            make_converter, quantize, representative_images, float_tail=len(head.outputs) > 1
        )


def convert_with(
    make_converter: Callable[[], tf.lite.TFLiteConverter],
    quantize: str,
    representative_images=None,
    float_tail: bool = False,
) -> bytes:
    """Convert with the converters `make_converter()` returns (a fresh one per call).

    `float_tail` (int8 only; the prob heads): everything up to the low-resolution logits is int8,
    and the full-size tail (the bilinear upsample of the logits, the softmax and the argmax) stays
    float32. Quantised, that tail costs more than the whole network (1024x2048 on 2 threads: int8
    prob 169 ms against 64 ms for int8 cls and 113 ms for float32 prob), because the int8 softmax
    over 40M values and the dequantisation of its output run outside XNNPACK's fast paths.
    """
    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}, got {quantize!r}")
    if quantize == "int8" and representative_images is None:
        raise ValueError("int8 quantisation needs representative images for calibration")
    converter = make_converter()
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":

        def dataset():
            for image in representative_images():
                yield [np.asarray(image, np.uint8)]

        converter.representative_dataset = dataset
        if float_tail:
            with native_output_hidden():
                return _int8_with_float_tail(make_converter, converter, dataset)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with native_output_hidden():  # the converter prints "fully_quantize: 0, ..." lines
        return converter.convert()


def _int8_with_float_tail(make_converter, converter, dataset) -> bytes:
    """int8 with the head's final upsample, softmax and argmax left in float (TensorFlow's
    selective quantisation). The final upsample is found by name in the float conversion: the
    last RESIZE_BILINEAR (the network's own resizes stay int8)."""
    ops = _ops_with_outputs(interpreter(make_converter().convert(), delegate=False))
    upsample = [name for op, name in ops if op == "RESIZE_BILINEAR"][-1]
    with warnings.catch_warnings():  # the debugger runs the deprecated tf.lite.Interpreter
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=dataset,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(
                denylisted_ops=sorted(FLOAT_TAIL_OPS - {"RESIZE_BILINEAR"}),
                denylisted_nodes=[upsample],
            ),
        )
        return debugger.get_nondebug_quantized_model()


def _ops_with_outputs(interp) -> list[tuple[str, str]]:
    """(op name, name of its first output tensor) for every op, in execution order."""
    names = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    return [(op["op_name"], names[op["outputs"][0]]) for op in interp._get_ops_details()]


def interpreter(model: bytes | str, num_threads: int = 2, delegate: bool = True):
    """An allocated `ai_edge_litert` interpreter for TFLite bytes or a .tflite path.
    `delegate=False` skips the default XNNPACK delegate, so the op list shows the model's ops."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kwargs = {"model_content": model} if isinstance(model, bytes) else {"model_path": model}
    if not delegate:
        kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    try:
        with native_output_hidden():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interp = Interpreter(num_threads=num_threads, **kwargs)
            interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:  # the runtime's message does not name the file
        what = "these bytes are" if isinstance(model, bytes) else f"'{model}' is"
        reason = " ".join(str(e).split())
        raise ValueError(
            f"{what} not a TFLite model the runtime can load "
            f"(empty, truncated or damaged?): {reason}"
        ) from None
    return interp


HEAD_EXPECTED = (
    "expected a TFLite model written by export.py, taking uint8 [1, H, W, 3] RGB "
    "frames and giving uint8 labels [1, H, W]"
)


def check_head(interp, path: str) -> None:
    """Raise ValueError (one line naming `path`) unless the model takes what `run` feeds, one
    uint8 [1, H, W, 3] frame, and gives a uint8 [1, H, W] labels output."""

    def described(details):
        return ", ".join(f"{np.dtype(d['dtype']).name} {d['shape'].tolist()}" for d in details)

    inputs, outputs = interp.get_input_details(), interp.get_output_details()
    if (
        len(inputs) != 1
        or inputs[0]["dtype"] != np.uint8
        or len(inputs[0]["shape"]) != 4
        or inputs[0]["shape"][-1] != 3
    ):
        raise ValueError(f"'{path}' takes {described(inputs)}: {HEAD_EXPECTED}")
    if not any(d["dtype"] == np.uint8 and len(d["shape"]) == 3 for d in outputs):
        raise ValueError(f"'{path}' gives {described(outputs)}, no labels: {HEAD_EXPECTED}")


def num_classes(interp) -> int | None:
    """The number of classes a head scores: the last axis of its probabilities output, else of
    the input of its last ARG_MAX (the cls head's argmax over the logits); None if neither."""
    for detail in interp.get_output_details():
        if len(detail["shape"]) == 4:
            return int(detail["shape"][-1])
    shapes = {t["index"]: t["shape"] for t in interp.get_tensor_details()}
    argmax = [op for op in interp._get_ops_details() if op["op_name"] == "ARG_MAX"]
    return int(shapes[argmax[-1]["inputs"][0]][-1]) if argmax else None


def run(interp, image: np.ndarray) -> dict[str, np.ndarray]:
    """Run one uint8 [1, H, W, 3] frame; returns outputs keyed "labels" / "probabilities"."""
    interp.set_tensor(interp.get_input_details()[0]["index"], np.asarray(image, np.uint8))
    interp.invoke()
    outputs = {}
    for detail in interp.get_output_details():
        value = interp.get_tensor(detail["index"])
        key = "labels" if value.ndim == 3 else "probabilities"
        outputs[key] = value
    return outputs


def op_types(interp) -> set[str]:
    """The builtin op names in a model (custom or Flex ops would show up here too)."""
    return {op["op_name"] for op in interp._get_ops_details()}
