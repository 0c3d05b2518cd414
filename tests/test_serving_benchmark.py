"""benchmarks/serving.py: the serving path and its ONNX Runtime peer timed in one interleaved run,
and the report's ratios against the peer."""

import json

import pytest

from benchmarks import report_inference, serving
from benchmarks.report_template import SPEC


def _row(runtime, precision, ms, graph="served"):
    return {"runtime": runtime, "precision": precision, "graph": graph, "median_ms": ms}


def test_each_row_is_compared_with_the_peer_in_its_precision():
    result = {
        "rows": [
            _row("savedmodel", "float32", 200.0),
            _row("tflite", "float32", 100.0),
            _row("tflite", "int8", 50.0),
            _row("tflite", "int8", 75.0, "plain"),
            _row("onnxruntime", "float32", 150.0),
            _row("onnxruntime", "int8", 100.0),
        ],
        "onnxruntime_float32_spinning_alone": {"median_ms": 140.0},
    }
    values = report_inference.serving(result, SPEC["sections"]["serving"])
    assert [round(r["vs_peer"], 2) for r in values["rows"]] == [0.75, 1.5, 2.0, 1.33, 1.0, 1.0]
    lines = values["targets"].splitlines()
    assert "**0.75×** (missed)" in lines[0]
    assert "**1.50×** (met)" in lines[1] and "**2.00×** (met)" in lines[2]
    assert values["alone_ms"] == 140.0


@pytest.mark.slow  # exports a SavedModel, two TFLite files and two ONNX files (~20 s)
def test_a_small_race_times_every_runtime_in_turn(tmp_path):
    output = tmp_path / "serving.json"
    argv = ["--size", "64", "128", "--warmup", "1", "--rounds", "2"]
    assert serving.main([*argv, "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    timed = {(r["runtime"], r["precision"], r["graph"]) for r in result["rows"]}
    assert timed == set(serving.OURS + serving.PEER)
    assert all(r["iters"] == 2 and r["median_ms"] > 0 for r in result["rows"])
    assert result["onnxruntime_float32_spinning_alone"]["iters"] == 2
    assert result["command"].startswith("python -m benchmarks.serving --size 64 128")
