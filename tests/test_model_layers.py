"""The custom layers: adaptive pooling as PyTorch counts it, resize to the reference's size, and
conversion to TFLite and SavedModel with static and dynamic input sizes."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.model.layers import AdaptiveAveragePooling2D, Normalize, ResizeLike


def adaptive_avg_pool_reference(x, bins):
    """NumPy version of PyTorch's AdaptiveAvgPool2d on NHWC: cell i spans
    floor(i*L/bins) .. ceil((i+1)*L/bins)."""
    n, h, w, c = x.shape
    out = np.zeros((n, bins, bins, c), np.float64)
    for i in range(bins):
        r0, r1 = (i * h) // bins, -((-(i + 1) * h) // bins)
        for j in range(bins):
            c0, c1 = (j * w) // bins, -((-(j + 1) * w) // bins)
            out[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


def _features(h, w, c=4, seed=0):
    return np.random.default_rng(seed).normal(size=(2, h, w, c)).astype(np.float32)


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
@pytest.mark.parametrize("h,w", [(32, 64), (7, 11), (5, 3), (1, 1)])
def test_adaptive_pooling_equals_reference(bins, h, w):
    x = _features(h, w)
    got = AdaptiveAveragePooling2D(bins)(x).numpy()
    np.testing.assert_allclose(got, adaptive_avg_pool_reference(x, bins), rtol=1e-5, atol=1e-6)


def test_adaptive_pooling_cells_overlap_when_bins_do_not_divide():
    # length 4 into 3 cells: rows 0-1, 1-2, 2-3 (row 1 and row 2 each count twice)
    x = np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1)
    np.testing.assert_allclose(AdaptiveAveragePooling2D(3)(x).numpy()[0, :, 0, 0], [0.5, 1.5, 2.5])


def test_adaptive_pooling_with_dynamic_shape():
    pool = AdaptiveAveragePooling2D(6)
    fn = tf.function(pool, input_signature=[tf.TensorSpec([None, None, None, 4], tf.float32)])
    for h, w in [(32, 64), (9, 13)]:
        x = _features(h, w)
        np.testing.assert_allclose(
            fn(x).numpy(), adaptive_avg_pool_reference(x, 6), rtol=1e-5, atol=1e-6
        )


def test_resize_like_takes_the_reference_size():
    x = _features(5, 7)
    ref = np.zeros((2, 33, 49, 1), np.float32)
    assert tuple(ResizeLike()([x, ref]).shape) == (2, 33, 49, 4)


def test_resize_like_uses_half_pixel_centres():
    """align_corners=False: upsampling [0, 1] by 2 gives [0, 0.25, 0.75, 1]."""
    x = np.array([0.0, 1.0], np.float32).reshape(1, 1, 2, 1)
    y = ResizeLike()([x, np.zeros((1, 1, 4, 1), np.float32)]).numpy().ravel()
    np.testing.assert_allclose(y, [0.0, 0.25, 0.75, 1.0])


def test_resize_to_match_of_older_keras_files_loads_as_resize_like():
    """FFNet's up-head resizes were saved as `ResizeToMatch` before they became ResizeLike modes."""
    saved = {
        "module": "fast_scnn_tf.model.ffnet.layers",
        "class_name": "ResizeToMatch",
        "config": {
            "name": "head_branch2_resize",
            "trainable": True,
            "dtype": "float32",
            "mode": "nearest",
        },
        "registered_name": "fast_scnn_tf>ResizeToMatch",
    }
    layer = keras.saving.deserialize_keras_object(saved)
    assert isinstance(layer, ResizeLike) and layer.mode == "nearest"


def test_normalize_standardises_per_channel():
    layer = Normalize(mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 5.0))
    y = layer(np.array([[[[12, 20, 40]]]], np.uint8)).numpy().ravel()
    np.testing.assert_allclose(y, [1.0, 0.0, 2.0])


def _pooling_model(input_shape):
    """The pyramid-pooling pattern: pool into 3x3 and 6x6 cells, resize back, concatenate."""
    x = keras.Input(input_shape)
    branches = [x] + [ResizeLike()([AdaptiveAveragePooling2D(b)(x), x]) for b in (3, 6)]
    return keras.Model(x, keras.layers.Concatenate()(branches))


def _run_tflite(content, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    inp = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_pyramid_pooling_converts_to_tflite_with_static_size():
    model = _pooling_model((32, 64, 4))
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    x = _features(32, 64)[:1]
    np.testing.assert_allclose(_run_tflite(content, x), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_pyramid_pooling_converts_to_tflite_with_dynamic_size():
    model = _pooling_model((None, None, 4))
    content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    for h, w in [(32, 64), (9, 13)]:
        x = _features(h, w)[:1]
        np.testing.assert_allclose(_run_tflite(content, x), model(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_pyramid_pooling_round_trips_through_saved_model(tmp_path):
    model = _pooling_model((None, None, 4))
    model.export(str(tmp_path / "sm"), verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "sm")).serve
    for h, w in [(32, 64), (9, 13)]:
        x = _features(h, w)
        np.testing.assert_allclose(serve(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_trains_like_keras_batch_normalization():
    """The fused training step: same output, gradients and moving statistics as Keras' layer."""
    from fast_scnn_tf.model.layers import BN_EPSILON, BN_MOMENTUM, BatchNorm

    x = tf.constant(_features(6, 10, c=5) * 3 + 2)
    ours = BatchNorm()
    keras_bn = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON)
    results = []
    for layer in (ours, keras_bn):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 5))
        layer.beta.assign(np.linspace(-1, 1, 5))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(
                y * tf.reshape(tf.range(tf.size(y), dtype=tf.float32) / 100, y.shape)
            )
        grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
        results.append(
            [y, *grads, layer.moving_mean, layer.moving_variance, layer(x, training=False)]
        )
    for a, b in zip(*results):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
    assert not np.allclose(ours.moving_variance.numpy(), 1.0)  # the update happened


@pytest.mark.parametrize(
    "small,big",
    [
        ((45, 60), (360, 480)),
        ((12, 15), (360, 480)),
        ((1, 3), (4, 12)),
        ((3, 1), (12, 2)),
        ((1, 1), (2, 2)),
        ((5, 7), (15, 14)),
    ],
)
def test_resize_like_training_gradient_equals_resize_bilinear_grad(small, big):
    # In training, whole even factors take a custom gradient (a strided depthwise convolution);
    # output and gradient must be tf.image.resize's (its ResizeBilinearGrad), edges included.
    # (15, 14) from (5, 7): an odd factor, which keeps the stock gradient.
    x = tf.random.stateless_normal([2, *small, 3], seed=[1, 2])
    upstream = tf.random.stateless_normal([2, *big, 3], seed=[3, 4])
    reference = tf.zeros([2, *big, 1])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = ResizeLike()([x, reference], training=True)
        stock = tf.image.resize(x, big, method="bilinear")
    np.testing.assert_array_equal(ours.numpy(), stock.numpy())
    np.testing.assert_allclose(
        tape.gradient(ours, x, upstream).numpy(),
        tape.gradient(stock, x, upstream).numpy(),
        rtol=1e-5,
        atol=1e-4,
    )
