"""Timing helpers of the benchmarks (benchmarks/speed.py): statistics, heads, TFLite timing."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import speed
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


@pytest.mark.slow  # two SavedModel exports, ~20 s on 2 cores
def test_keras_row_times_the_head_that_ships(tmp_path):
    """The Keras function returns exactly what the exported SavedModel returns, for both heads."""
    from fast_scnn_tf.export.saved_model import write_saved_model
    from fast_scnn_tf.model.head import build_head

    model = build_fast_scnn(num_classes=5)
    image = tf.constant(np.random.default_rng(0).integers(0, 256, (1, 40, 72, 3)), tf.uint8)
    for mode in ("cls", "prob"):
        write_saved_model(build_head(model, mode), str(tmp_path / mode))
        serve = tf.saved_model.load(str(tmp_path / mode)).signatures["serving_default"]
        shipped = serve(images=image)
        got = speed.head_function(model, mode)(image)
        got = got if isinstance(got, dict) else {"labels": got}
        assert sorted(got) == sorted(shipped)
        for key in got:
            assert got[key].dtype == shipped[key].dtype
            np.testing.assert_array_equal(got[key].numpy(), shipped[key].numpy())


def test_time_calls_times_each_call_after_the_warm_up(monkeypatch):
    clock = [0.0]
    durations = iter([5.0, 5.0, 0.010, 0.020, 0.060])  # two slow warm-up calls, three timed

    def call():
        clock[0] += next(durations)

    monkeypatch.setattr(speed.time, "perf_counter", lambda: clock[0])
    stats = speed.time_calls(call, warmup=2, iters=3)
    assert stats["mean_ms"] == pytest.approx(30.0) and stats["median_ms"] == pytest.approx(20.0)
    assert (stats["warmup"], stats["iters"]) == (2, 3)


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_time_keras_times_the_head_on_frames_of_the_requested_size(monkeypatch):
    """warmup + iters calls of the exported head, each on one uint8 frame of height x width."""
    calls = []
    real = speed.head_function

    def recorded(model, mode):
        run = real(model, mode)

        def record(image):
            calls.append((tuple(image.shape), image.dtype, mode))
            return run(image)

        return record

    monkeypatch.setattr(speed, "head_function", recorded)
    stats = speed.time_keras(build_fast_scnn(num_classes=5), 64, 96, "prob", warmup=1, iters=3)
    assert calls == [((1, 64, 96, 3), tf.uint8, "prob")] * 4
    assert stats["iters"] == 3 and stats["fps"] == pytest.approx(1000 / stats["mean_ms"])


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
