"""The PyTorch Fast-SCNN (`pytorch_reference.py`) as a PyTorch user deploys it on a CPU: exported
to ONNX and run by ONNX Runtime, in float32 and statically quantised to int8, for the serving
comparison in `inference.py` (optional: needs `torch`, `onnx`, `onnxscript` and `onnxruntime`,
all in requirements-torch.txt).

The exported graph is the cls head: RGB 0..255 float32 NCHW in, argmax as uint8 out, as the
PyTorch rows time it. int8 is ONNX Runtime's static QDQ quantisation, per channel, calibrated on
synthetic frames (speed does not depend on the weights or the calibration).
"""

from __future__ import annotations

import logging
import os
import warnings

import numpy as np
import torch
from torch import nn

from benchmarks.pytorch_reference import FastSCNN

PRECISIONS = ("float32", "int8")


class ClsHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = FastSCNN().eval()

    def forward(self, x):
        return self.model(x).argmax(1).to(torch.uint8)


def frames(height: int, width: int, count: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(0, 255, (1, 3, height, width)).astype(np.float32) for _ in range(count)]


def export(directory: str, height: int, width: int, calibration_frames: int = 2) -> dict:
    """Write the float32 and int8 ONNX files of the cls head at height x width into `directory`;
    {precision: path}."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    float_path = os.path.join(directory, f"pytorch_cls_float32_{height}x{width}.onnx")
    example = torch.from_numpy(frames(height, width, 1)[0])
    # The exporter's notes (torchvision ops it skips, deprecations of its own internals) are not
    # about this model.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(ClsHead().eval(), (example,), dynamo=True, verbose=False)
    program.save(float_path)
    prepared = float_path.replace(".onnx", "_prepared.onnx")
    quant_pre_process(float_path, prepared)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.inputs = iter([{"x": f} for f in frames(height, width, calibration_frames, 1)])

        def get_next(self):
            return next(self.inputs, None)

    int8_path = os.path.join(directory, f"pytorch_cls_int8_{height}x{width}.onnx")
    quantize_static(
        prepared,
        int8_path,
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    return {"float32": float_path, "int8": int8_path}


def session_runner(path: str, threads: int, spinning: bool = True):
    """A no-argument callable running one random frame through the ONNX file at `path` on
    `threads` intra-op threads (one inter-op thread, sequential execution). `spinning`: ONNX
    Runtime's default, its threads busy-wait for work after each run; off where runtimes take
    turns, so that they do not take the cores from the next runtime's frame."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    _, _, height, width = session.get_inputs()[0].shape
    image = frames(height, width, 1, 2)[0]

    def run():
        return session.run(None, {name: image})[0]

    return run
