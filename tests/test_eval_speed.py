"""Timing helpers: statistics, heads, TFLite timing (speed targets live in benchmarks/)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf.evaluation import speed
from fast_scnn_tf.model import build_fast_scnn


def test_summarize_statistics():
    stats = speed.summarize([0.010, 0.020, 0.030, 0.040], warmup=5)
    assert stats["mean_ms"] == pytest.approx(25.0)
    assert stats["median_ms"] == pytest.approx(25.0)
    assert stats["p90_ms"] == pytest.approx(37.0)
    assert stats["fps"] == pytest.approx(40.0)
    assert (stats["warmup"], stats["iters"]) == (5, 4)


def test_parse_resolution():
    assert speed.parse_resolution("512x1024") == (512, 1024)
    for bad in ("512", "axb", "16x16"):
        with pytest.raises(ValueError):
            speed.parse_resolution(bad)


def test_heads_give_labels_and_probabilities():
    def model(images, training=False):  # logits whose argmax is known: red > 128 -> class 1
        red = images[..., :1] - 128.0
        return tf.concat([-red, red, tf.zeros_like(red)], axis=-1)

    image = tf.random.uniform((1, 13, 17, 3), 0, 255)
    labels = speed.head_function(model, "cls")(image)
    probs = speed.head_function(model, "prob")(image)
    assert labels.dtype == tf.uint8 and labels.shape == (1, 13, 17)
    np.testing.assert_array_equal(labels.numpy(), (image[..., 0].numpy() > 128).astype(np.uint8))
    assert probs.shape == (1, 13, 17, 3)
    np.testing.assert_allclose(tf.reduce_sum(probs, -1).numpy(), 1.0, rtol=1e-5)


def test_time_keras_reports_the_requested_frames():
    stats = speed.time_keras(build_fast_scnn(num_classes=5), 64, 64, "cls", warmup=1, iters=3)
    assert stats["iters"] == 3 and stats["mean_ms"] > 0 and stats["fps"] > 0


def test_time_tflite_resizes_dynamic_input(tmp_path):
    # A one-layer model: what is tested is the timing, and Fast-SCNN takes 30 s to convert.
    model = keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3)])
    path = tmp_path / "m.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    stats = speed.time_tflite(str(path), warmup=1, iters=2, threads=1, height=64, width=96)
    assert stats["input_shape"] == [1, 64, 96, 3] and stats["threads"] == 1
    assert stats["iters"] == 2


def test_environment_names_device_and_versions():
    env = speed.environment()
    assert env["device"].startswith(("CPU", "GPU"))
    assert env["tensorflow"] == tf.__version__ and env["date"]
