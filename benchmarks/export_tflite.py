"""Speed and size of the exported TFLite variants at 1024x2048 (batch 1, `ai_edge_litert`,
2 threads by default), with the cls head's own cost split out.

Rows: cls float32 / float16 / dynamic / int8, prob float32, and, for reference, the float cls
head alone (bilinear x8 of 19 channels + ARG_MAX, fed 1/8-size logits): what the full-size
upsample before the argmax costs. Random weights unless --checkpoint is given; int8 is calibrated on
synthetic frames (speed does not depend on the calibration). Writes JSON with device, versions,
date.

    python benchmarks/export_tflite.py                     # 5 warm-up + 20 frames, 2 threads
    python benchmarks/export_tflite.py --iters 100 --warmup 100 --checkpoint runs/fast_scnn
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fast_scnn_tf.evaluation import speed  # noqa: E402
from fast_scnn_tf.export import tflite  # noqa: E402
from fast_scnn_tf.export.frames import synthetic_frames  # noqa: E402
from fast_scnn_tf.export.heads import ArgmaxLabels, build_head  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402

DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                              "export_tflite.json")


def head_only(num_classes, size):
    """The cls head alone: 1/8-size logits -> bilinear to `size` -> ARG_MAX -> uint8."""
    from fast_scnn_tf.model.layers import ResizeLike

    logits = keras.Input(shape=(size[0] // 8, size[1] // 8, num_classes))
    reference = keras.Input(shape=(*size, 1), dtype="uint8")
    labels = ArgmaxLabels()(ResizeLike()([logits, reference]))
    return keras.Model([logits, reference], labels)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input-size", nargs=2, type=int, default=(1024, 2048))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--checkpoint", default=None, help="model directory (default: random "
                        "weights, 19 classes)")
    parser.add_argument("--keep", default=None, help="keep the .tflite files in this directory")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    size = tuple(args.input_size)
    if args.checkpoint:
        from fast_scnn_tf.checkpoint import load_model
        model, _ = load_model(args.checkpoint)
    else:
        model = build_fast_scnn(num_classes=19)
    frames = synthetic_frames(size, 4)
    calibration = lambda: frames  # noqa: E731
    variants = [("cls", q) for q in ("none", "float16", "dynamic", "int8")] + [("prob", "none")]
    directory = args.keep or tempfile.mkdtemp()
    os.makedirs(directory, exist_ok=True)
    rows = []
    jobs = [(f"{mode} {tflite.variant_name(q)}", build_head(model, mode, size), q)
            for mode, q in variants]
    jobs += [("head only: resize+argmax", head_only(model.output.shape[-1], size), "none")]
    for name, head, quantize in jobs:
        content = tflite.convert(head, quantize, calibration)
        path = os.path.join(directory, name.replace(" ", "_").replace(":", "").replace(
            "+", "_") + ".tflite")
        with open(path, "wb") as f:
            f.write(content)
        if name.startswith("head only"):
            timing = _time_multi_input(path, args)
        else:
            timing = speed.time_tflite(path, args.warmup, args.iters, args.threads)
        rows.append({"name": name, "bytes": len(content), **timing})
        print(f"{name:28s} {len(content) / 1e6:6.2f} MB  median {timing['median_ms']:7.1f} ms  "
              f"mean {timing['mean_ms']:7.1f} ms", flush=True)
    result = {"environment": speed.environment(), "input_size": list(size),
              "threads": args.threads, "weights": args.checkpoint or "random", "rows": rows}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.output}")
    return 0


def _time_multi_input(path, args):
    interp = tflite.interpreter(path, args.threads)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], np.random.default_rng(0).normal(
            size=detail["shape"]).astype(detail["dtype"]))
    return speed._time_calls(interp.invoke, args.warmup, args.iters)


if __name__ == "__main__":
    sys.exit(main())
