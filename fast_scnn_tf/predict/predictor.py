"""Segment user images with any of the three things the project produces: a training model
directory (checkpoint), an exported SavedModel, or a TFLite file.

`load_predictor(path)` picks the right loader; every predictor maps an RGB uint8 image (H, W, 3)
of any size to a class-id label map (H, W) uint8 at the same size. The class table (names and
colours) and the frame size the model was trained to see (`ModelConfig.input_size`) come from
the config saved with the run or the export: an image is first resized to that scale (its shorter
side onto the training frames' shorter side), as a model trained on 360x480 CamVid frames finds
objects 2-3x larger in a 1024x2048 photo hard to read; `native=True` keeps the image's own size.

An export is checked against what export.py writes before any frame is predicted (a TFLite file:
one uint8 frame in, uint8 labels out; a SavedModel: `serving_default` taking uint8 `images` and
giving `labels`), and against the config beside it (the class count, where the model shows it);
labels outside the class range are an error (`LabelsOutOfRange`), never a silently wrong score.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Callable

import cv2
import numpy as np
import tensorflow as tf

from fast_scnn_tf.config import CONFIG_FILE, Config
from fast_scnn_tf.data.cityscapes_labels import CLASSES as CITYSCAPES
from fast_scnn_tf.data.classes import ClassTable
from fast_scnn_tf.evaluation.tta import tta_at_size
from fast_scnn_tf.export import memory, tflite
from fast_scnn_tf.export.saved_model import DEFAULT_SIGNATURE, EXTRA_DIR, IMAGES_INPUT
from fast_scnn_tf.model.head import LABELS, PROBABILITIES

Predictor = Callable[[np.ndarray], np.ndarray]
log = logging.getLogger(__name__)


MODEL_EXPECTED = (
    "expected a model directory written by train.py, a checkpoint prefix like "
    "DIR/best/ckpt-12, an exported SavedModel (its version folder, the model-name "
    "folder above it, or export.py's --output folder) or a .tflite file"
)


class LabelsOutOfRange(ValueError):
    """An export predicted a label its class table does not have: every frame is suspect, so the
    tools stop instead of skipping the frame."""


def load_predictor(
    path: str,
    which: str = "best",
    native: bool = False,
    max_pixels: int | None = None,
    tta_scales=(1.0,),
    tta_flip: bool = False,
) -> tuple[Predictor, str, ClassTable]:
    """Load what `path` names: a .tflite file, a checkpoint prefix, a SavedModel (version folder,
    model-name folder or export root) or a training model directory. Returns (predict,
    description, class table); a path that is none of these is an error saying what was expected.
    `native`: run at each image's own size instead of the model's training scale. `max_pixels`:
    the largest frame a checkpoint's model runs at (default: what fits the memory budget,
    `memory.serving_max_pixels`); an export holds its own limit (a SavedModel's in its graph, a
    TFLite file's fixed size). `tta_scales` and `tta_flip`: test-time augmentation
    (`evaluation.tta`), which needs a checkpoint's logits; an export is then a ValueError.
    """
    kind, found = find_export(path)
    tta = tuple(tta_scales) != (1.0,) or tta_flip
    if kind and tta:
        raise ValueError(
            f"--tta-scales and --tta-flip need a checkpoint (the model's logits): '{path}' is "
            f"{'a TFLite file' if kind == 'tflite' else 'a SavedModel'}, which returns labels"
        )
    if kind == "tflite":
        config = export_config(path)
        predict = _tflite_predictor(found, config)
        return (
            _in_range(predict, found, _class_table(config)),
            f"TFLite {found}",
            _class_table(config),
        )
    if kind == "saved_model":
        config = export_config(path)
        predict = _at_scale(_saved_model_predictor(found, config), config, native)
        return (
            _in_range(predict, found, _class_table(config)),
            f"SavedModel {found}",
            _class_table(config),
        )
    is_prefix = os.path.isfile(path + ".index")
    if not is_prefix and not os.path.isfile(os.path.join(path, CONFIG_FILE)):
        raise FileNotFoundError(
            f"model '{path}' holds no {CONFIG_FILE}, SavedModel or checkpoint: {MODEL_EXPECTED}"
        )
    from fast_scnn_tf.training.checkpoint import load_run

    run = load_run(path, which=which)
    limit = max_pixels or memory.serving_max_pixels(
        "prob" if tta else "cls", run.config.model.num_classes
    )
    head = tta_at_size(run.model, tta_scales, tta_flip)
    config = None if native else run.config
    description = f"checkpoint {run.checkpoint}"
    if tta:  # the network on its largest view; ~2x a prob head's probabilities at the frame's size
        predict = _keras_predictor(head, config, limit, max(tta_scales) ** 2, limit // 2)
        views = " ".join(f"{s:g}" for s in tta_scales) + (", mirrored" if tta_flip else "")
        description += f", test-time augmentation over scales {views}"
    else:
        predict = _keras_predictor(head, config, limit)
    return predict, description, run.config.class_table()


def find_export(path: str) -> tuple[str | None, str | None]:
    """("tflite", file) or ("saved_model", version folder) for an export; (None, None) for a
    checkpoint prefix or a training run folder; a path that is none of these is an error."""
    if path.endswith(".tflite"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TFLite file '{path}' does not exist")
        return "tflite", path
    is_prefix = os.path.isfile(path + ".index")
    if not is_prefix and not os.path.isdir(path):
        what = "is a file" if os.path.exists(path) else "does not exist"
        raise FileNotFoundError(f"model '{path}' {what}: {MODEL_EXPECTED}")
    saved_model = None if is_prefix else _find_saved_model(path)
    return ("saved_model", saved_model) if saved_model else (None, None)


def export_config(path: str) -> Config | None:
    """The run config saved with the export `path` names (a .tflite file: `<name>.json` beside
    it; a SavedModel: `assets.extra/config.json`); None, with a warning (Cityscapes' classes,
    images predicted at their own size), for a model exported elsewhere without one."""
    kind, found = find_export(path)
    if kind is None:
        raise ValueError(f"'{path}' is not an export: {MODEL_EXPECTED}")
    config_json = _config_json(kind, found)
    config_of = (lambda d: d["config"]) if kind == "tflite" else (lambda d: d)
    if not os.path.isfile(config_json):
        log.warning(
            "no '%s' beside the model: Cityscapes class names and colours assumed, "
            "images predicted at their own size",
            config_json,
        )
        return None
    with open(config_json) as f:
        try:
            config = Config.from_dict(config_of(json.load(f)))
            config.class_table()
            return config
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"'{config_json}' is not a config written by this project: {e}") from e


def _config_json(kind: str, found: str) -> str:
    """Where an export keeps its run config: `<name>.json` beside a .tflite file (the config
    under "config"), `assets.extra/config.json` in a SavedModel."""
    if kind == "tflite":
        return found[: -len(".tflite")] + ".json"
    return os.path.join(found, EXTRA_DIR, CONFIG_FILE)


def _check_class_count(kind: str, found: str, scored: int | None, config: Config | None) -> None:
    """Raise ValueError naming the model and its config file if the model scores another number
    of classes than the config describes (`scored` None: the model does not show it)."""
    if scored is None or config is None or scored == config.model.num_classes:
        return
    raise ValueError(
        f"the model '{found}' scores {scored} classes but "
        f"'{_config_json(kind, found)}' describes {config.model.num_classes}: that "
        "config belongs to another model; put the model's own config beside it "
        "(export.py writes both)"
    )


def _in_range(predict: Predictor, found: str, classes: ClassTable) -> Predictor:
    """`predict`, raising LabelsOutOfRange (naming the model and the range) for labels outside
    0..num_classes-1: they would be counted in other classes' cells of the confusion matrix."""
    count = classes.num_classes

    def checked(image):
        labels = predict(image)
        if labels.size and int(labels.max()) >= count:
            raise LabelsOutOfRange(
                f"the model '{found}' predicted the label {int(labels.max())}, outside the "
                f"range 0..{count - 1} of its {count} classes: expected an export whose labels "
                "index the classes of the config beside it"
            )
        return labels

    return checked


def _class_table(config: Config | None) -> ClassTable:
    return CITYSCAPES if config is None else config.class_table()


def scaled_size(image_size, config: Config | None) -> tuple[int, int]:
    """The size an image of `image_size` (height, width) is predicted at: the model's training
    scale (`Config.scale_for`), at least 32 pixels a side (the network's 1/32 branch)."""
    scale = 1.0 if config is None else config.scale_for(image_size)
    return tuple(max(32, round(s * scale)) for s in image_size)


def resize_image(image: np.ndarray, size) -> np.ndarray:
    """An RGB uint8 image resized to `size` (height, width): area averaging when shrinking,
    bilinear when enlarging."""
    shrink = size[0] < image.shape[0]
    return cv2.resize(
        image,
        (int(size[1]), int(size[0])),
        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
    )


def _at_scale(predict: Predictor, config: Config | None, native: bool) -> Predictor:
    """`predict` on the image resized to the model's scale (`native`: kept at its own size, but a
    side under 32 pixels, which no export takes, is still enlarged to 32); labels resized back
    (nearest)."""

    def at_scale(image):
        size = image.shape[:2]
        scaled = scaled_size(size, None if native else config)
        if scaled == size:
            return predict(image)
        labels = predict(resize_image(image, scaled))
        return cv2.resize(labels, size[::-1], interpolation=cv2.INTER_NEAREST)

    return at_scale


def _find_saved_model(path: str) -> str | None:
    """`path` itself if it holds saved_model.pb, else its highest numbered version folder, else
    (an export.py --output folder) the highest version of its one model-name folder."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    found = {
        name: _highest_version(os.path.join(path, name))
        for name in os.listdir(path)
        if os.path.isdir(os.path.join(path, name))
    }
    found = {name: version for name, version in found.items() if version}
    if len(found) > 1:
        raise ValueError(
            f"'{path}' holds several exported models ({', '.join(sorted(found))}): "
            "pass one of their folders"
        )
    return _highest_version(path) or next(iter(found.values()), None)


def _highest_version(path: str) -> str | None:
    versions = [
        d
        for d in os.listdir(path)
        if d.isdigit() and os.path.isfile(os.path.join(path, d, "saved_model.pb"))
    ]
    return os.path.join(path, max(versions, key=int)) if versions else None


def _keras_predictor(
    at_size,
    config: Config | None,
    max_pixels: int,
    view_area: float = 1.0,
    max_output_pixels: int | None = None,
) -> Predictor:
    """A checkpoint's head `at_size` (images, size) -> labels (`head_at_size`: the cls head that
    export ships; or `tta_at_size`), one frame at a time: on the image resized to the model's
    scale (unless `config` is None), with the logits resized straight to the image's own size
    (one bilinear resize, as evaluation at a reduced scale). A frame the model would run at more
    than `max_pixels` (its largest view `view_area` times the frame) is a ValueError: its memory
    grows with those pixels (`memory.serving_peak`), and at the 64 MP the tools decode it needs
    about 10 GB; so is a frame over `max_output_pixels` of its own, where given."""

    def predict(image):
        size = image.shape[:2]
        scaled = scaled_size(size, config)
        pixels = round(scaled[0] * scaled[1] * max(view_area, 1.0))
        if pixels > max_pixels:
            raise ValueError(
                f"the model would run at {scaled[1]}x{scaled[0]}"
                + (f" (its largest view {pixels} pixels)" if view_area > 1 else "")
                + f" = {pixels} pixels, over the {max_pixels} that fit the memory budget of "
                f"{memory.MEMORY_BUDGET / 1e9:g} GB; --max-pixels raises the limit"
            )
        if max_output_pixels and size[0] * size[1] > max_output_pixels:
            raise ValueError(
                f"test-time augmentation at {size[1]}x{size[0]} holds more than the "
                f"{max_output_pixels} pixels of probabilities that fit the memory budget of "
                f"{memory.MEMORY_BUDGET / 1e9:g} GB"
            )
        if scaled != size:
            image = resize_image(image, scaled)
        return at_size(tf.constant(image[None]), tf.constant(size, tf.int32))[0].numpy()

    return predict


def _serving_signature(directory: str):
    """The SavedModel's `serving_default` signature, once it is known to take uint8 `images`
    [batch, height, width, 3] and give `labels`; else a ValueError naming the folder and the
    signatures it has (calling another signature dumped the whole image in a traceback)."""
    signatures = tf.saved_model.load(directory).signatures
    serve = signatures.get(DEFAULT_SIGNATURE)
    spec = serve.structured_input_signature[1].get(IMAGES_INPUT) if serve else None
    if (
        spec is not None
        and spec.dtype == tf.uint8
        and spec.shape.rank == 4
        and LABELS in serve.structured_outputs
    ):
        return serve
    has = "; ".join(_described(name, fn) for name, fn in signatures.items())
    raise ValueError(
        f"the SavedModel '{directory}' has no signature '{DEFAULT_SIGNATURE}' taking "
        f"uint8 '{IMAGES_INPUT}' [batch, height, width, 3] and giving '{LABELS}' "
        f"(it has {has or 'no signatures'}): expected a SavedModel written by "
        "export.py"
    )


def _described(name: str, signature) -> str:
    """A signature as `name(input: dtype shape, ...) -> output, ...`."""
    inputs = sorted(signature.structured_input_signature[1].items())
    return (
        f"{name}({', '.join(f'{k}: {v.dtype.name} {v.shape}' for k, v in inputs)}) -> "
        f"{', '.join(sorted(signature.structured_outputs))}"
    )


def _saved_model_predictor(directory: str, config: Config | None = None) -> Predictor:
    """The export's own signature; a frame its entry check refuses (e.g. over the export's
    --max-pixels) is a ValueError with the check's words, not a graph-execution traceback. The
    class count of a prob head's probabilities is checked against `config`."""
    serve = _serving_signature(directory)
    probabilities = serve.structured_outputs.get(PROBABILITIES)
    _check_class_count(
        "saved_model",
        directory,
        probabilities.shape[-1] if probabilities is not None else None,
        config,
    )

    def predict(image):
        try:
            return serve(images=tf.constant(image[None]))[LABELS].numpy()[0]
        except tf.errors.InvalidArgumentError as e:
            reason = e.message.split("assertion failed: ")[-1].splitlines()[0]
            raise ValueError(
                f"the SavedModel '{directory}' refused a {image.shape[0]}x"
                f"{image.shape[1]} frame: {reason}"
            ) from None

    return predict


def _tflite_predictor(path: str, config: Config | None = None) -> Predictor:
    """TFLite models have a fixed input size: frames are resized to it, labels resized back. The
    model must take and give what export.py's do (`tflite.check_head`) and score the classes
    `config` describes."""
    interp = tflite.interpreter(path, num_threads=os.cpu_count())
    tflite.check_head(interp, path)
    _check_class_count("tflite", path, tflite.num_classes(interp), config)
    _, height, width, _ = interp.get_input_details()[0]["shape"]

    def predict(image):
        size = image.shape[:2]
        if (height, width) != size:
            image = cv2.resize(image, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
        labels = tflite.run(interp, image[None])[LABELS][0]
        if labels.shape != size:
            labels = cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        return labels

    return predict
