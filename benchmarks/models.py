"""Speed and size of every model this project builds, in one table: trainable parameters and GMACs
at each model's native Cityscapes input (all of them), TFLite float32 and int8 `cls` latency on
this CPU for the models named with --time, and the published Cityscapes val mIoU — the
speed/accuracy trade-off at a glance. Random weights (speed depends on none), int8 calibrated on
synthetic frames; batch 1.

    python benchmarks/models.py                     # the README's run
    python benchmarks/models.py --time fast_scnn ffnet40S_BCC_mobile --warmup 2 --iters 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import record  # noqa: E402
from benchmarks import speed  # noqa: E402
from fast_scnn_tf.export import tflite  # noqa: E402
from fast_scnn_tf.export.frames import synthetic_frames  # noqa: E402
from fast_scnn_tf.model.complexity import macs, trainable_parameters  # noqa: E402
from fast_scnn_tf.model.families import MODEL_NAMES, build_model, family_of  # noqa: E402
from fast_scnn_tf.model.head import CLS, build_head  # noqa: E402

DEFAULT_TIMED = ("fast_scnn", "ffnet40S_BCC_mobile", "ffnet46NS_CCC_mobile", "ffnet40S_dBBB_mobile",
                 "ffnet18_dAAC")


def describe(name: str) -> dict:
    """The native input and published Cityscapes val mIoU, from the model families' table."""
    published = family_of(name).variants[name]
    return {"input_size": published.input_size, "val_miou": published.val_miou,
            "source": published.source}


def measure(name: str, timed: bool, warmup: int, iters: int, threads: int,
            calibration_frames: int, directory: str) -> dict:
    row = {"model": name, **describe(name)}
    size = row["input_size"]
    model = build_model(name, input_shape=(*size, 3))
    row.update(parameters=trainable_parameters(model), gmacs=round(macs(model) / 1e9, 2))
    if timed:
        head = build_head(model, CLS, size)
        frames = synthetic_frames(size, calibration_frames)
        for quantize in ("none", "int8"):
            path = os.path.join(directory, f"{name}_{quantize}.tflite")
            with open(path, "wb") as f:
                f.write(tflite.convert(head, quantize, lambda: frames))
            timing = speed.time_tflite(path, warmup, iters, threads)
            row[f"tflite_{tflite.variant_name(quantize)}"] = {
                **{k: timing[k] for k in ("median_ms", "mean_ms", "p90_ms")},
                "bytes": os.path.getsize(path)}
            print(f"{name} {tflite.variant_name(quantize)}: {timing['median_ms']:.0f} ms",
                  flush=True)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", nargs="*", default=list(DEFAULT_TIMED), choices=MODEL_NAMES,
                        metavar="MODEL", help="models to time as TFLite (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="TFLite threads (0: all cores)")
    parser.add_argument("--calibration-frames", type=int, default=4)
    parser.add_argument("--output", default=record.default_output("models"))
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for name in MODEL_NAMES:
            rows.append(measure(name, name in args.time, args.warmup, args.iters,
                                args.threads or os.cpu_count(), args.calibration_frames,
                                directory))
    record.save({"batch": 1, "warmup": args.warmup, "iters": args.iters, "head": CLS,
                 "weights": "random", "calibration": "synthetic", "models": rows},
                args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
