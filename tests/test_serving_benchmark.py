"""benchmarks/serving.py: the serving path and its ONNX Runtime peer timed in one interleaved run,
and the report's ratios against the peer."""

import json

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
    assert values["alone_ms"] == 140.0 and values["alone_note"] == ""  # not recorded then
    result["savedmodel_float32_served_alone"] = {"median_ms": 175.0}
    values = report_inference.serving(result, SPEC["sections"]["serving"])
    assert "SavedModel 175 ms" in values["alone_note"] and "(0.80×)" in values["alone_note"]


def test_the_race_times_every_runtime_in_turn_and_records_it(tmp_path, monkeypatch):
    """race() and main() over stand-ins for the exports (which inference.py's and
    onnx_reference.py's tests export for real): every runtime is called once per round, in
    turn, and recorded with its graph."""
    calls = []

    def runners(model, size, threads, calibration_frames, directory):
        runs = {key: (lambda key=key: calls.append(key)) for key in serving.OURS + serving.PEER}
        return runs, "peer.onnx"

    monkeypatch.setattr(serving, "runners", runners)
    monkeypatch.setattr(
        serving.onnx_reference,
        "session_runner",
        lambda path, threads: lambda: calls.append(("alone", path)),
    )
    output = tmp_path / "serving.json"
    argv = ["--size", "64", "128", "--warmup", "1", "--rounds", "2"]
    assert serving.main([*argv, "--output", str(output)]) == 0
    keys = list(serving.OURS + serving.PEER)
    # warm-up, 2 rounds; then the served SavedModel alone, then the peer alone
    assert calls == keys * 3 + [serving.OURS[0]] * 3 + [("alone", "peer.onnx")] * 3
    assert serving.OURS[0] == ("savedmodel", "float32", "served")
    result = json.loads(output.read_text())
    timed = [(r["runtime"], r["precision"], r["graph"]) for r in result["rows"]]
    assert timed == keys and all(r["iters"] == 2 for r in result["rows"])
    assert result["onnxruntime_float32_spinning_alone"]["iters"] == 2
    assert result["savedmodel_float32_served_alone"]["iters"] == 2
    assert result["command"].startswith("python -m benchmarks.serving --size 64 128")
