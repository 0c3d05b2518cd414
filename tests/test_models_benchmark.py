"""benchmarks/models.py: the timed files of every model share interleaved rounds."""

import os

import numpy as np
import tensorflow as tf

from benchmarks import models


def _tiny_tflite(path):
    @tf.function(input_signature=[tf.TensorSpec([1, 512, 512, 3], tf.float32)])
    def double(x):
        return x * 2.0

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [double.get_concrete_function()], double
    )
    with open(path, "wb") as f:
        f.write(converter.convert())


def test_time_files_gives_every_file_one_time_per_round(tmp_path):
    paths = [str(tmp_path / f"{name}.tflite") for name in ("a", "b")]
    for path in paths:
        _tiny_tflite(path)
    rows = [
        {"model": "a", "files": {"tflite_float32": paths[0]}},
        {"model": "b", "files": {"tflite_int8": paths[1]}},
        {"model": "untimed"},
    ]
    models.time_files(rows, threads=1, rounds=3, iters=2)
    assert "files" not in rows[0] and rows[2] == {"model": "untimed"}
    for row, key, path in (
        (rows[0], "tflite_float32", paths[0]),
        (rows[1], "tflite_int8", paths[1]),
    ):
        timing = row[key]
        assert len(timing["rounds_ms"]) == 3 and all(t > 0 for t in timing["rounds_ms"])
        assert timing["median_ms"] == round(float(np.median(timing["rounds_ms"])), 2)
        assert timing["bytes"] == os.path.getsize(path)
