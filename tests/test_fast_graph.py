"""export/fast_graph.py: the export-time rewrite computes what the model computes, converts to the
ops it promises (one dilated DEPTHWISE_CONV_2D, no full-size MUL, fewer XNNPACK partitions) and
leaves the model and its variables alone."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.export import tflite
from fast_scnn_tf.export.fast_graph import SubtractMean, fast_graph
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.families import FAMILIES, build_model
from fast_scnn_tf.model.head import LABELS, build_head

SIZE = (64, 96)  # tests/conftest.py TRAINED_SIZE


def _frame(seed=0, size=SIZE):
    return np.random.default_rng(seed).integers(0, 256, (1, *size, 3), dtype=np.uint8)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_rewritten_model_computes_the_same_logits(family):
    model = build_model(FAMILIES[family].test_variant, num_classes=5)
    before = [w.numpy().copy() for w in model.weights]
    fast = fast_graph(model)
    frame = _frame()
    want = model(frame, training=False).numpy()
    got = fast(frame, training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    assert all(np.array_equal(w.numpy(), b) for w, b in zip(model.weights, before))
    assert any(isinstance(layer, SubtractMean) for layer in fast.layers)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_fast_scnn_rewrites_the_dilated_conv_and_the_normalisation_only():
    model = build_fast_scnn(num_classes=5)
    fast = fast_graph(model)
    assert [layer.name for layer in fast.layers] == [layer.name for layer in model.layers]
    changed = {
        layer.name: type(layer).__name__
        for layer, old in zip(fast.layers, model.layers)
        if type(layer) is not type(old)
    }
    assert changed == {"normalize": "SubtractMean", "ffm_dw": "NativeDilatedDepthwiseConv2D"}
    conv, original = fast.get_layer("ltd_conv_conv"), model.get_layer("ltd_conv_conv")
    std = np.array(model.get_layer("normalize").std, np.float32)
    np.testing.assert_allclose(
        conv.kernel.numpy() * std[None, None, :, None], original.kernel.numpy(), rtol=1e-6
    )


def test_fixed_size_subtraction_runs_on_rows_and_is_bit_identical():
    model = build_fast_scnn(num_classes=5, input_shape=(*SIZE, 3))
    frame = _frame(1).astype(np.float32)
    normalize, subtract = model.get_layer("normalize"), fast_graph(model).get_layer("normalize")
    want = (frame - np.float32(normalize.mean)) * np.float32([1 / s for s in normalize.std])
    got = subtract(frame).numpy()
    np.testing.assert_array_equal(got, frame - np.float32(normalize.mean))
    np.testing.assert_allclose(got * np.float32([1 / s for s in normalize.std]), want, rtol=1e-6)


def test_any_size_subtraction_also_runs_on_rows_and_is_bit_identical():
    # The SavedModel's signatures take any frame size: the width is known only at run time.
    subtract = SubtractMean((123.675, 116.28, 103.53))
    spec = tf.TensorSpec([None, None, None, 3], tf.uint8)
    run = tf.function(subtract, input_signature=[spec])
    for size in [(37, 53), (64, 96)]:
        frame = _frame(2, size)
        want = frame.astype(np.float32) - np.float32(subtract.mean)
        np.testing.assert_array_equal(run(frame).numpy(), want)
    subs = [op for op in run.get_concrete_function().graph.get_operations() if op.type == "Sub"]
    # [N, H, W*3] - [W*3], not [..., 3] - [3]
    assert [op.inputs[0].shape.rank for op in subs] == [3]


def test_a_model_with_nothing_to_rewrite_comes_back_as_it_is():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs))
    assert fast_graph(model) is model


@pytest.mark.slow  # the session's two float32 conversions (~10 s) when it is the first to ask
def test_tflite_of_the_rewrite_has_one_dilated_depthwise_conv_and_agrees(
    trained_model, scene_frames, plain_cls_tflite, fast_cls_tflite
):
    """The float32 file export.py writes (the head of fast_graph) against the plain head's."""
    from ai_edge_litert.tools import flatbuffer_utils

    plain, fast = plain_cls_tflite, fast_cls_tflite
    plain_ops = tflite.op_types(tflite.interpreter(plain, delegate=False))
    fast_ops = tflite.op_types(tflite.interpreter(fast, delegate=False))
    assert {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "MUL"} <= plain_ops
    assert not {"SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND", "MUL"} & fast_ops
    interp = tflite.interpreter(fast, delegate=False)
    shapes = {t["index"]: list(t["shape"]) for t in interp.get_tensor_details()}
    subs = [shapes[op["outputs"][0]] for op in interp._get_ops_details() if op["op_name"] == "SUB"]
    assert subs == [[1, SIZE[0], SIZE[1] * 3]]  # the mean subtracted from rows of W x 3 values

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(fast))
    dilations = [
        (op.builtinOptions.dilationHFactor, op.builtinOptions.dilationWFactor)
        for op in obj.subgraphs[0].operators
        if flatbuffer_utils.opcode_to_name(obj, op.opcodeIndex) == "DEPTHWISE_CONV_2D"
    ]
    assert dilations.count((4, 4)) == 1 and dilations.count((1, 1)) == len(dilations) - 1

    def partitions(model):
        return sum(
            op["op_name"] == "DELEGATE" for op in tflite.interpreter(model)._get_ops_details()
        )

    assert partitions(fast) < partitions(plain)
    head = build_head(trained_model, "cls", SIZE)
    for frame in scene_frames[:4]:
        got = tflite.run(tflite.interpreter(fast), frame)[LABELS]
        assert np.mean(got == head(frame).numpy()) >= 0.999


def _random_batch_norm_statistics(model, seed=0):
    """Moving statistics and affine parameters far from an untrained model's 0 and 1."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, gamma.shape),
                    rng.normal(0, 0.5, beta.shape),
                    rng.normal(0, 0.5, mean.shape),
                    rng.uniform(0.2, 3, variance.shape),
                ]
            )


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_folded_batch_norms_compute_the_same_logits(family):
    model = build_model(FAMILIES[family].test_variant, num_classes=5)
    _random_batch_norm_statistics(model)
    fast = fast_graph(model, fold_batch_norms=True)
    frame = _frame(2)
    want = model(frame, training=False).numpy()
    got = fast(frame, training=False).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    left = [layer for layer in fast.layers if isinstance(layer, keras.layers.BatchNormalization)]
    folded = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        and not isinstance(fast.get_layer(layer.name), keras.layers.BatchNormalization)
    ]
    assert folded and len(left) + len(folded) == sum(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers
    )


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_fast_scnn_folds_every_batch_norm_that_follows_a_conv():
    model = build_fast_scnn(num_classes=5)
    fast = fast_graph(model, fold_batch_norms=True)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in fast.layers)
    assert all(
        layer.use_bias
        for layer in fast.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
    )
    # without the flag the BatchNorms stay (the TFLite converter folds them itself)
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in fast_graph(model).layers
    )
