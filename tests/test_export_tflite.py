"""TFLite variants of a trained model: float agreement with Keras, int8 PTQ with builtin int8 ops
only and agreement at the documented threshold."""

import json
import os

import numpy as np
import pytest

from fast_scnn_tf.config import Config
from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.exporter import export_tflite
from fast_scnn_tf.export.validate import MIN_AGREEMENT, ValidationError
from fast_scnn_tf.model.head import LABELS, PROBABILITIES, build_head

SIZE = (64, 96)  # tests/conftest.py TRAINED_SIZE

# Every test here converts the whole network (~10 s each on 2 cores) or needs the trained model.
pytestmark = pytest.mark.slow


def float_ops(interp) -> set[str]:
    """Ops with a float32 input or output tensor: in a full-integer model only the boundary ops
    (`INT8_BOUNDARY_OPS`) should appear here."""
    tensors = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    result = set()
    for op in interp._get_ops_details():
        indices = [i for i in list(op["inputs"]) + list(op["outputs"]) if i >= 0]
        if any(tensors.get(i) == np.float32 for i in indices):
            result.add(op["op_name"])
    return result


@pytest.fixture(scope="module")
def model(trained_model):
    """Trained (tests/conftest.py): a random model's near-tied logits flip under int8 rounding
    far more than a trained model's, so only a trained one can be held to the int8 threshold."""
    return trained_model


@pytest.fixture(scope="module")
def frame(scene_frames):
    return scene_frames[0]


@pytest.fixture(scope="module")
def int8_exports(trained_cls_export, model, scene_frames, calibration_frames, tmp_path_factory):
    """mode -> report of `export_tflite(..., "int8")`, validated at the default threshold (cls:
    the session's export, tests/conftest.py)."""
    output = str(tmp_path_factory.mktemp("int8"))
    prob = export_tflite(
        model, Config(), output, "prob", "int8", SIZE, scene_frames, lambda: calibration_frames
    )
    return {"cls": trained_cls_export("int8"), "prob": prob}


def test_float32_cls_matches_keras(model, plain_cls_tflite, frame):
    head = build_head(model, "cls", SIZE)
    out = tflite.run(tflite.interpreter(plain_cls_tflite), frame)
    assert out[LABELS].dtype == np.uint8 and out[LABELS].shape == (1, *SIZE)
    assert np.mean(out[LABELS] == head(frame).numpy()) >= 0.999


def test_float32_prob_matches_keras(model, frame):
    head = build_head(model, "prob", SIZE)
    out = tflite.run(tflite.interpreter(tflite.convert(head, "none")), frame)
    want = head(frame)
    np.testing.assert_allclose(out[PROBABILITIES], want[PROBABILITIES].numpy(), atol=1e-4)
    assert np.mean(out[LABELS] == want[LABELS].numpy()) >= 0.999


@pytest.mark.parametrize("mode", ["cls", "prob"])
def test_int8_of_a_trained_model_agrees_at_the_documented_threshold(
    int8_exports, model, frame, mode
):
    report = int8_exports[mode]
    assert report["threshold"] == MIN_AGREEMENT["int8"] == 0.95
    assert report["agreement"] >= MIN_AGREEMENT["int8"] and report["frames"] == 8
    want = build_head(model, "cls", SIZE)(frame).numpy()
    got = tflite.run(tflite.interpreter(report["path"]), frame)[LABELS]
    assert len(np.unique(want)) >= 3 and np.mean(got == want) >= MIN_AGREEMENT["int8"]


def test_int8_calibrated_on_blank_frames_fails_the_threshold(model, scene_frames, tmp_path):
    """The threshold can fail: activation ranges from all-zero frames clip the real ones
    (about 16% of the pixels agree)."""
    blank = [np.zeros_like(scene_frames[0])] * 4
    with pytest.raises(ValidationError, match="int8 export agrees"):
        export_tflite(
            model, Config(), str(tmp_path), "cls", "int8", SIZE, scene_frames, lambda: blank
        )
    assert os.listdir(tmp_path) == []


def test_int8_ptq_uses_builtin_int8_ops_only(int8_exports, frame):
    interp = tflite.interpreter(int8_exports["cls"]["path"], delegate=False)
    assert interp.get_input_details()[0]["dtype"] == np.uint8
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ARG_MAX"} <= tflite.op_types(interp)
    assert float_ops(interp) <= tflite.INT8_BOUNDARY_OPS
    assert tflite.run(interp, frame)[LABELS].shape == (1, *SIZE)


@pytest.mark.parametrize("mode", ["cls", "prob"])
def test_export_converts_the_fast_graph(int8_exports, mode):
    """export_tflite hands the converter `fast_graph(model)`: the dilated depthwise conv is one
    DEPTHWISE_CONV_2D (no SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND) and neither the input scale nor
    that conv's BatchNorm is left as a MUL."""
    ops = tflite.op_types(tflite.interpreter(int8_exports[mode]["path"], delegate=False))
    assert "DEPTHWISE_CONV_2D" in ops
    assert not {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "MUL"} & ops


def test_int8_prob_is_int8_up_to_the_logits_and_float_after(int8_exports, frame):
    """The full-size upsample, softmax and argmax stay float (quantised they cost more than the
    network); every other op, the network's own resizes included, is int8."""
    interp = tflite.interpreter(int8_exports["prob"]["path"], delegate=False)
    assert float_ops(interp) == tflite.INT8_BOUNDARY_OPS | tflite.FLOAT_TAIL_OPS
    tensors = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    resizes = [
        tensors[op["outputs"][0]]
        for op in interp._get_ops_details()
        if op["op_name"] == "RESIZE_BILINEAR"
    ]
    assert len(resizes) > 1 and resizes[:-1] == [np.int8] * (len(resizes) - 1)
    assert resizes[-1] == np.float32
    out = tflite.run(interp, frame)
    assert out[PROBABILITIES].dtype == np.float32 and out[PROBABILITIES].shape == (1, *SIZE, 19)
    np.testing.assert_allclose(out[PROBABILITIES].sum(-1), 1.0, atol=1e-5)


def test_int8_needs_representative_frames(model):
    with pytest.raises(ValueError, match="representative"):
        tflite.convert(build_head(model, "cls", SIZE), "int8")


def test_export_writes_validated_file_and_metadata(model, scene_frames, tmp_path):
    config = Config()
    report = export_tflite(model, config, str(tmp_path), "cls", "float16", SIZE, scene_frames[:2])
    assert os.path.basename(report["path"]) == "fast_scnn_cls_float16_64x96.tflite"
    with open(report["path"][: -len(".tflite")] + ".json") as f:
        meta = json.load(f)
    assert meta["input"]["size"] == list(SIZE) and meta["num_classes"] == 19
    assert meta["validation"]["agreement"] >= 0.995 and meta["config"]["model"]["num_classes"] == 19
    assert sorted(os.listdir(tmp_path)) == [
        "fast_scnn_cls_float16_64x96.json",
        "fast_scnn_cls_float16_64x96.tflite",
    ]
