"""benchmarks/onnx_reference.py: the PyTorch Fast-SCNN as ONNX Runtime runs it (float32, int8)."""

import numpy as np
import onnx
import pytest
import torch

from benchmarks import onnx_reference


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    return onnx_reference.export(str(tmp_path_factory.mktemp("onnx")), 64, 128)


@pytest.mark.slow  # an ONNX export and a static int8 quantisation (~6 s)
def test_onnx_runtime_float32_labels_are_pytorchs(exported):
    torch.manual_seed(0)  # the weights export() drew
    reference = onnx_reference.ClsHead()
    frame = onnx_reference.frames(64, 128, 1, seed=2)[0]
    with torch.inference_mode():
        want = reference(torch.from_numpy(frame)).numpy()
    got = onnx_reference.session_runner(exported["float32"], 1)()
    assert got.dtype == np.uint8 and got.shape == (1, 64, 128)
    assert (got == want).mean() > 0.999


@pytest.mark.slow  # an ONNX export and a static int8 quantisation (~6 s)
def test_int8_file_is_quantised_per_channel_and_runs(exported):
    graph = onnx.load(exported["int8"]).graph
    ops = {node.op_type for node in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    scales = [init for init in graph.initializer if init.name.endswith("_scale")]
    assert any(len(s.dims) == 1 and s.dims[0] > 1 for s in scales)  # one scale per channel
    labels = onnx_reference.session_runner(exported["int8"], 1)()
    assert labels.dtype == np.uint8 and labels.shape == (1, 64, 128)


def test_report_states_each_export_against_onnx_runtime_and_its_target():
    from benchmarks import report_inference, report_template
    from test_benchmarks import _inference, _row

    rows = [
        _row("savedmodel", "cls", "float32", "1024x2048", 240.0, 4.0),
        _row("tflite", "cls", "float32", "1024x2048", 100.0, 10.0),
        _row("tflite", "cls", "int8", "1024x2048", 60.0, 16.0),
        _row("onnxruntime", "cls", "float32", "1024x2048", 120.0, 8.0),
        _row("onnxruntime", "cls", "int8", "1024x2048", 105.0, 9.5),
    ]
    lines = report_inference.onnxruntime_lines(rows, "1024x2048")
    assert len(lines) == 3
    assert lines[0].startswith("SavedModel") and "0.50× (240.0 against 120.0 ms)" in lines[0]
    assert "(missed)" in lines[0]
    assert "1.20×" in lines[1] and "(met)" in lines[1]
    assert "1.75×" in lines[2] and "1.17 × the 1.5× target (met)" in lines[2]
    assert set(lines) <= set(report_inference.target_lines(_inference(rows=rows)))
    assert report_inference.onnxruntime_lines(rows[:3], "1024x2048") == [
        report_template.SPEC["targets"]["onnxruntime_missing"]
    ]
