"""Exports that are not what export.py writes, met by evaluate.py and predict.py: labels outside
the class range, a class count that disagrees with the metadata beside the model, TFLite files
with another input or output, SavedModels with another signature. Each is one line naming the
file and what was expected, never a silently wrong score. The models are fabricated (a 1x1
convolution and an argmax), so each converts in about a second."""

import json
import os

import cv2
import numpy as np
import pytest
import tensorflow as tf

import evaluate
import predict
from fast_scnn_tf.config import Config, DataConfig, ModelConfig
from fast_scnn_tf.predict.predictor import load_predictor

SIZE = (32, 32)


def _tflite(path, num_classes=19, dtype=tf.uint8, outputs="labels", constant=None):
    """A .tflite taking `dtype` [1, 32, 32, 3]: a random 1x1 convolution to `num_classes` and
    its argmax as uint8 labels ("labels"), or softmax probabilities only ("probabilities");
    `constant`: labels of that value everywhere."""
    kernel = tf.constant(np.random.default_rng(0).normal(size=(1, 1, 3, num_classes)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, *SIZE, 3], dtype)])
    def head(images):
        logits = tf.nn.conv2d(tf.cast(images, tf.float32), kernel, 1, "VALID")
        if outputs == "probabilities":
            return {"probabilities": tf.nn.softmax(logits)}
        labels = tf.argmax(logits, -1)
        if constant is not None:
            labels = labels * 0 + constant
        return {"labels": tf.cast(labels, tf.uint8)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [head.get_concrete_function()], head
    )
    path.write_bytes(converter.convert())
    return str(path)


def _metadata(tflite_path, num_classes=19, data_dir=""):
    """The .json export.py writes beside a .tflite: its metadata and the run's config."""
    config = Config(model=ModelConfig(num_classes=num_classes), data=DataConfig(data_dir=data_dir))
    with open(tflite_path[: -len(".tflite")] + ".json", "w") as f:
        json.dump({"num_classes": num_classes, "config": config.to_dict()}, f)


def test_labels_outside_the_class_range_are_an_error(tmp_path, synthetic_cityscapes, capsys):
    """A model that outputs 200 everywhere was scored: its labels landed in other classes'
    cells of the confusion matrix ("sky 55.01")."""
    data_dir = synthetic_cityscapes(num_train=2, num_val=2)
    model = _tflite(tmp_path / "m.tflite", constant=200)
    _metadata(model, data_dir=data_dir)
    assert evaluate.main(["--checkpoint", model, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip()
    assert model in err and "200" in err and "0..18" in err and len(err.splitlines()) == 1
    assert not os.path.exists(tmp_path / "m_metrics.json")


def test_a_class_count_that_disagrees_with_the_metadata_names_both_files(tmp_path):
    model = _tflite(tmp_path / "m.tflite", num_classes=19)
    _metadata(model, num_classes=3)
    with pytest.raises(ValueError) as error:
        load_predictor(model)
    message = str(error.value)
    assert model in message and str(tmp_path / "m.json") in message
    assert "19" in message and "3" in message and "\n" not in message


@pytest.mark.parametrize("kind", ["float input", "no labels output"])
def test_a_tflite_file_export_py_did_not_write_is_named(tmp_path, kind):
    """A float-input model gave the runtime's 'Cannot set tensor', one without a labels output
    a KeyError, neither naming the file."""
    model = _tflite(
        tmp_path / "m.tflite",
        dtype=tf.float32 if kind == "float input" else tf.uint8,
        outputs="probabilities" if kind == "no labels output" else "labels",
    )
    _metadata(model)
    with pytest.raises(ValueError) as error:
        load_predictor(model)[0](np.zeros((*SIZE, 3), np.uint8))
    message = str(error.value)
    assert model in message and "uint8" in message and "labels" in message
    assert "\n" not in message


def test_a_saved_model_with_another_signature_is_one_line(tmp_path):
    """predict.py dumped the whole image tensor in a TypeError traceback."""
    module = tf.Module()
    module.serve = tf.function(
        lambda x: {"logits": x * 2.0}, input_signature=[tf.TensorSpec([None, 8], tf.float32)]
    )
    export = str(tmp_path / "other" / "1")
    tf.saved_model.save(module, export, signatures={"serving_default": module.serve})
    image = str(tmp_path / "a.png")
    cv2.imwrite(image, np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        predict.main([image, "--model", export, "--output", str(tmp_path / "out")])
    message = str(exit_info.value.code)
    assert export in message and "images" in message and "labels" in message
    assert "\n" not in message and "tf.Tensor" not in message


def test_predict_stops_at_labels_outside_the_class_range(tmp_path):
    """Not a frame to skip but a model to refuse: one line, and no label map written."""
    model = _tflite(tmp_path / "m.tflite", constant=200)
    _metadata(model)
    image = str(tmp_path / "a.png")
    cv2.imwrite(image, np.zeros((40, 40, 3), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        predict.main([image, "--model", model, "--output", str(tmp_path / "out")])
    message = str(exit_info.value.code)
    assert model in message and "0..18" in message and "\n" not in message
    assert os.listdir(tmp_path / "out") == []
