"""TFLite variants: float agreement with Keras, int8 PTQ with builtin int8 ops only."""

import json
import os

import numpy as np
import pytest

from fast_scnn_tf.config import Config, ModelConfig
from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.exporter import export_tflite
from fast_scnn_tf.export.frames import synthetic_frames
from fast_scnn_tf.model.head import LABELS, PROBABILITIES, build_head
from fast_scnn_tf.model import build_fast_scnn

SIZE = (64, 96)


@pytest.fixture(scope="module")
def model():
    return build_fast_scnn(num_classes=5)


@pytest.fixture(scope="module")
def frame():
    return synthetic_frames(SIZE, 1, seed=3)[0]


def test_float32_cls_matches_keras(model, frame):
    head = build_head(model, "cls", SIZE)
    out = tflite.run(tflite.interpreter(tflite.convert(head, "none")), frame)
    assert out[LABELS].dtype == np.uint8 and out[LABELS].shape == (1, *SIZE)
    assert np.mean(out[LABELS] == head(frame).numpy()) >= 0.999


def test_float32_prob_matches_keras(model, frame):
    head = build_head(model, "prob", SIZE)
    out = tflite.run(tflite.interpreter(tflite.convert(head, "none")), frame)
    want = head(frame)
    np.testing.assert_allclose(out[PROBABILITIES], want[PROBABILITIES].numpy(), atol=1e-4)
    assert np.mean(out[LABELS] == want[LABELS].numpy()) >= 0.999


def test_int8_ptq_uses_builtin_int8_ops_only(model, frame):
    content = tflite.convert(build_head(model, "cls", SIZE), "int8",
                             lambda: synthetic_frames(SIZE, 4))
    interp = tflite.interpreter(content, delegate=False)
    assert interp.get_input_details()[0]["dtype"] == np.uint8
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ARG_MAX"} <= tflite.op_types(interp)
    assert tflite.float_ops(interp) <= tflite.INT8_BOUNDARY_OPS
    assert tflite.run(interp, frame)[LABELS].shape == (1, *SIZE)


def test_int8_prob_is_int8_up_to_the_logits_and_float_after(model, frame):
    """The full-size upsample, softmax and argmax stay float (quantised they cost more than the
    network); every other op, the network's own resizes included, is int8."""
    content = tflite.convert(build_head(model, "prob", SIZE), "int8",
                             lambda: synthetic_frames(SIZE, 4))
    interp = tflite.interpreter(content, delegate=False)
    assert tflite.float_ops(interp) == tflite.INT8_BOUNDARY_OPS | tflite.FLOAT_TAIL_OPS
    tensors = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    resizes = [tensors[op["outputs"][0]] for op in interp._get_ops_details()
               if op["op_name"] == "RESIZE_BILINEAR"]
    assert len(resizes) > 1 and resizes[:-1] == [np.int8] * (len(resizes) - 1)
    assert resizes[-1] == np.float32
    out = tflite.run(interp, frame)
    assert out[PROBABILITIES].dtype == np.float32 and out[PROBABILITIES].shape == (1, *SIZE, 5)
    np.testing.assert_allclose(out[PROBABILITIES].sum(-1), 1.0, atol=1e-5)


def test_int8_needs_representative_frames(model):
    with pytest.raises(ValueError, match="representative"):
        tflite.convert(build_head(model, "cls", SIZE), "int8")


@pytest.mark.slow
def test_export_writes_validated_file_and_metadata(model, tmp_path):
    config = Config(model=ModelConfig(num_classes=5))
    report = export_tflite(model, config, str(tmp_path), "cls", "float16", SIZE,
                           synthetic_frames(SIZE, 2))
    assert os.path.basename(report["path"]) == "fast_scnn_cls_float16_64x96.tflite"
    with open(report["path"][:-len(".tflite")] + ".json") as f:
        meta = json.load(f)
    assert meta["input"]["size"] == list(SIZE) and meta["num_classes"] == 5
    assert meta["validation"]["agreement"] >= 0.995 and meta["config"]["model"]["num_classes"] == 5
    assert sorted(os.listdir(tmp_path)) == ["fast_scnn_cls_float16_64x96.json",
                                            "fast_scnn_cls_float16_64x96.tflite"]
