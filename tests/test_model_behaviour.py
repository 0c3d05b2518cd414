"""What callers rely on: output sizes, input types, the aux model, serialisation."""

import keras
import numpy as np
import pytest

from fast_scnn_tf import FastSCNN, build_fast_scnn, inference_model
from fast_scnn_tf.model import AUX_GFE, AUX_LTD, LOGITS


@pytest.fixture(scope="module")
def model():
    return build_fast_scnn()


def _images(height, width, batch=1, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (batch, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "height,width",
    [
        pytest.param(1024, 2048, marks=pytest.mark.slow),  # ~5 s
        (512, 1024),
        (256, 512),
        (250, 370),
        (32, 32),
        (33, 95),
    ],
)
def test_logits_match_input_size(model, height, width):
    logits = model(_images(height, width), training=False)
    assert tuple(logits.shape) == (1, height, width, 19)


def test_uint8_and_float_inputs_agree(model):
    images = _images(64, 96)
    a = model(images, training=False)
    b = model(images.astype(np.float32), training=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_batch_items_are_independent(model):
    images = _images(64, 64, batch=2)
    both = model(images, training=False).numpy()
    one = model(images[1:], training=False).numpy()
    np.testing.assert_allclose(both[1:], one, atol=1e-5)


def test_num_classes_sets_output_channels():
    assert build_fast_scnn(num_classes=7)(_images(64, 64), training=False).shape[-1] == 7


@pytest.mark.parametrize("shape", [(31, 64, 3), (64, 64, 1)])
def test_invalid_input_shape_is_rejected(shape):
    with pytest.raises(ValueError, match="input"):
        build_fast_scnn(input_shape=shape)


def test_call_without_training_flag_keeps_batchnorm_statistics(model):
    """Regression guard for the Keras 3.15.1 Resizing bug that ran BatchNorm in training mode."""
    bn = model.get_layer("cls_dsconv2_pw_bn")
    before = bn.moving_mean.numpy().copy()
    model(_images(64, 64))
    np.testing.assert_array_equal(bn.moving_mean.numpy(), before)


def test_aux_model_outputs_three_logits_at_input_size():
    outputs = build_fast_scnn(aux=True)(_images(65, 97), training=False)
    assert set(outputs) == {LOGITS, AUX_LTD, AUX_GFE}
    for value in outputs.values():
        assert tuple(value.shape) == (1, 65, 97, 19)


def test_inference_model_shares_weights_with_training_model():
    train_model = build_fast_scnn(aux=True)
    infer = inference_model(train_model)
    train_ids = {id(w) for w in train_model.weights}
    assert all(id(w) in train_ids for w in infer.weights)
    assert not any(layer.name.startswith("aux_") for layer in infer.layers)
    kernel = train_model.get_layer("cls_logits").kernel
    kernel.assign(kernel + 1.0)  # a change through one model shows in the other
    images = _images(64, 64)
    np.testing.assert_array_equal(
        infer(images, training=False), train_model(images, training=False)[LOGITS]
    )


def test_aux_free_model_has_fewer_weights_than_training_model():
    train_model = build_fast_scnn(aux=True)
    infer = inference_model(train_model)
    assert len(infer.weights) < len(train_model.weights)  # without the two aux heads
    assert len(infer.weights) == len(build_fast_scnn().weights)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_get_config_round_trips():
    original = build_fast_scnn(num_classes=5, aux=True, dropout=0.2, input_shape=(64, 128, 3))
    config = original.get_config()
    clone = FastSCNN.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == original.count_params()


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_keras_file_round_trip(tmp_path):
    original = build_fast_scnn(num_classes=5)
    path = tmp_path / "fast_scnn.keras"
    original.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, FastSCNN)
    images = _images(48, 80)
    np.testing.assert_allclose(
        loaded(images, training=False), original(images, training=False), atol=1e-6
    )
