"""Export a trained model: a versioned SavedModel for TF Serving and TFLite files.

Every export is validated against the Keras model before it is moved into place, and carries the
resolved run config and a metadata JSON (classes, palette, input size, mean/std, validation).

    <output>/<model_name>/<version>/saved_model.pb, variables/, assets.extra/{config,metadata}.json
    <output>/<model>_<mode>_<variant>_<H>x<W>.tflite  (+ .json beside it; <model>: the run's)
"""

from __future__ import annotations

import logging
import os

import keras
import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import Config
from fast_scnn_tf.export import saved_model, tflite
from fast_scnn_tf.export.fast_graph import fast_graph
from fast_scnn_tf.export.memory import MEMORY_BUDGET, serving_max_pixels, serving_peak
from fast_scnn_tf.export.metadata import METADATA_FILE, export_metadata
from fast_scnn_tf.export.validate import validate
from fast_scnn_tf.files import (
    check_export_replaceable,
    check_output_dir,
    staging_dir,
    write_bytes,
    write_json,
)
from fast_scnn_tf.model.head import LABELS, build_head

log = logging.getLogger(__name__)


def _numpy_outputs(outputs) -> dict[str, np.ndarray]:
    if not isinstance(outputs, dict):
        outputs = {LABELS: outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


def keras_fn(head: keras.Model):
    """A frame -> output dict callable for a Keras head (the validation reference)."""
    return lambda frame: _numpy_outputs(head(frame, training=False))


def saved_model_dir(output: str, model_name: str, version: int | None, overwrite: bool) -> str:
    """`<output>/<model_name>/<version>`; the next free version when `version` is None. An existing
    version is an error unless `overwrite`, and even then unless it holds what export.py writes
    and nothing else (`files.check_export_replaceable`)."""
    root = os.path.join(output, model_name)
    version = saved_model.next_version(root) if version is None else version
    path = os.path.join(root, str(version))
    check_output_dir(
        root, "SavedModel folder", overwrite, outputs=[path], instead=", or another --version"
    )
    check_export_replaceable(path, "SavedModel version", overwrite)
    return path


def serving_head(model: keras.Model, mode: str) -> keras.Model:
    """The head the SavedModel serves: `fast_graph`'s rewrites with the BatchNorms folded into
    the convolutions and the cls labels in two bands of rows (the same function, in ops
    TensorFlow fuses and runs side by side)."""
    return build_head(fast_graph(model, fold_batch_norms=True), mode, two_bands=True)


def export_saved_model(
    model: keras.Model,
    config: Config,
    output: str,
    mode: str,
    frames,
    model_name: str = "fast_scnn",
    version: int | None = None,
    overwrite: bool = False,
    min_agreement: float | None = None,
    max_pixels: int | None = None,
) -> dict:
    """Write, reload and validate the TF Serving SavedModel, whose signatures refuse frames of
    more than `max_pixels` (height * width; default: the largest frame serving this head can
    afford in the memory budget, `memory.serving_max_pixels`); returns the export report. The
    graph written is `serving_head(model, mode)`; it is validated against `model` itself."""
    num_classes = config.model.num_classes
    if max_pixels is None:
        max_pixels = serving_max_pixels(mode, num_classes)
    path = saved_model_dir(output, model_name, version, overwrite)
    head = build_head(model, mode)
    with staging_dir(path) as tmp:
        saved_model.write_saved_model(serving_head(model, mode), tmp, max_pixels)
        serve = tf.saved_model.load(tmp).signatures[saved_model.DEFAULT_SIGNATURE]
        report = validate(
            "saved_model",
            keras_fn(head),
            lambda frame: _numpy_outputs(serve(images=tf.constant(frame))),
            frames,
            min_agreement,
        )
        extra = os.path.join(tmp, saved_model.EXTRA_DIR)
        os.makedirs(extra)
        config.save(extra)
        write_json(
            os.path.join(extra, METADATA_FILE),
            export_metadata(
                config,
                mode,
                None,
                min_size=saved_model.MIN_SIZE,
                max_pixels=max_pixels,
                format="saved_model",
                validation=report,
                serving_memory={
                    "budget_bytes": MEMORY_BUDGET,
                    "peak_bytes_at_max_pixels": serving_peak(mode, num_classes, max_pixels),
                },
                signatures={
                    saved_model.DEFAULT_SIGNATURE: saved_model.IMAGES_INPUT,
                    saved_model.BYTES_SIGNATURE: saved_model.BYTES_INPUT,
                },
            ),
        )
    log.info("SavedModel written to %s", path)
    return {"path": path, **report}


def tflite_filename(
    mode: str, variant: str, input_size: tuple[int, int], model_name: str = "fast_scnn"
) -> str:
    """`<model>_<mode>_<variant>_<H>x<W>.tflite`, e.g. fast_scnn_cls_int8_1024x2048.tflite."""
    return f"{model_name}_{mode}_{variant}_{input_size[0]}x{input_size[1]}.tflite"


def write_tflite(
    content: bytes,
    head: keras.Model,
    config: Config,
    output: str,
    mode: str,
    variant: str,
    input_size: tuple[int, int],
    frames,
    overwrite: bool = False,
    min_agreement: float | None = None,
    **metadata,
) -> dict:
    """Validate TFLite `content` against the Keras `head`, then write it and then its JSON, each
    atomically."""
    path = os.path.join(output, tflite_filename(mode, variant, input_size, config.model.name))
    check_output_dir(output, "--output", overwrite, outputs=[path])
    interp = tflite.interpreter(content)
    report = validate(
        variant, keras_fn(head), lambda frame: tflite.run(interp, frame), frames, min_agreement
    )
    os.makedirs(output, exist_ok=True)
    write_bytes(path, content)  # first: a JSON beside it always describes a model that is there
    write_json(
        path[: -len(".tflite")] + ".json",
        {
            **export_metadata(
                config,
                mode,
                input_size,
                format="tflite",
                quantization=variant,
                validation=report,
                **metadata,
            ),
            "config": config.to_dict(),
        },
    )
    log.info("TFLite %s written to %s (%.1f MB)", variant, path, len(content) / 1e6)
    return {"path": path, "bytes": len(content), **report}


def export_tflite(
    model: keras.Model,
    config: Config,
    output: str,
    mode: str,
    quantize: str,
    input_size: tuple[int, int],
    frames,
    calibration=None,
    overwrite: bool = False,
    min_agreement: float | None = None,
) -> dict:
    """Convert the fixed-size head with post-training quantisation `quantize`, validate, write.
    `calibration`: callable returning uint8 frames (needed for "int8"). The converter is handed
    `fast_graph(model)` (the same function, in a form that converts to fewer, faster ops); the
    file is validated against `model` itself."""
    head = build_head(model, mode, input_size)
    content = tflite.convert(build_head(fast_graph(model), mode, input_size), quantize, calibration)
    return write_tflite(
        content,
        head,
        config,
        output,
        mode,
        tflite.variant_name(quantize),
        input_size,
        frames,
        overwrite,
        min_agreement,
    )
