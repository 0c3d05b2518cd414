"""Speed and size of every model this project builds, in one table: trainable parameters and GMACs
at each model's native Cityscapes input (all of them), TFLite float32 and int8 `cls` latency on
this CPU for the models named with --time, and the published Cityscapes val mIoU — the
speed/accuracy trade-off at a glance. Random weights (speed depends on none), int8 calibrated on
synthetic frames; batch 1. The files are what export.py writes (`fast_graph(model)` converted),
and all of them are timed in the same interleaved rounds, so the rows compare.

    python -m benchmarks.models                     # the README's run
    python -m benchmarks.models --time fast_scnn ffnet40S_BCC_mobile --rounds 3
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import record, speed  # noqa: E402
from fast_scnn_tf.export.sample_frames import synthetic_frames  # noqa: E402
from fast_scnn_tf.model.complexity import macs, trainable_parameters  # noqa: E402
from fast_scnn_tf.model.families import MODEL_NAMES, build_model, family_of  # noqa: E402
from fast_scnn_tf.model.head import CLS  # noqa: E402

DEFAULT_TIMED = (
    "fast_scnn",
    "ffnet40S_BCC_mobile",
    "ffnet46NS_CCC_mobile",
    "ffnet40S_dBBB_mobile",
    "ffnet18_dAAC",
)


def describe(name: str) -> dict:
    """The native input and published Cityscapes val mIoU, from the model families' table."""
    published = family_of(name).variants[name]
    return {
        "input_size": published.input_size,
        "val_miou": published.val_miou,
        "source": published.source,
    }


def measure(name: str, timed: bool, calibration_frames: int, directory: str) -> dict:
    """One row: size and MACs; for a timed model also its float32 and int8 cls files, converted
    from `fast_graph(model)` as export.py writes them (the paths, timed later, in `files`)."""
    row = {"model": name, **describe(name)}
    size = row["input_size"]
    model = build_model(name, input_shape=(*size, 3))
    row.update(parameters=trainable_parameters(model), gmacs=round(macs(model) / 1e9, 2))
    if timed:
        frames = synthetic_frames(size, calibration_frames)
        row["files"] = {}
        for precision in ("float32", "int8"):
            path = os.path.join(directory, f"{name}_{precision}.tflite")
            with open(path, "wb") as f:
                f.write(speed.tflite_export(model, CLS, precision, size, frames))
            row["files"][f"tflite_{precision}"] = path
        print(f"{name}: converted", flush=True)
    return row


def time_files(rows: list[dict], threads: int, rounds: int, iters: int) -> None:
    """Time every converted file in the same interleaved rounds (`speed.timed_rounds`:
    each round runs each file `iters` times, median; the result is the median over rounds)."""
    units = [
        (row, key, path, speed.Unit(open(path, "rb").read(), threads))
        for row in rows
        for key, path in row.pop("files", {}).items()
    ]
    speed.timed_rounds([unit for *_, unit in units], rounds, iters)
    for row, key, path, unit in units:
        row[key] = {
            "median_ms": round(unit.ms, 2),
            "rounds_ms": [round(t, 2) for t in unit.times],
            "bytes": os.path.getsize(path),
        }
        print(f"{row['model']} {key}: {unit.ms:.1f} ms", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--time",
        nargs="*",
        default=list(DEFAULT_TIMED),
        choices=MODEL_NAMES,
        metavar="MODEL",
        help="models to time as TFLite (default: %(default)s)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--iters", type=int, default=3, help="invocations per file and round")
    parser.add_argument("--threads", type=int, default=0, help="TFLite threads (0: all cores)")
    parser.add_argument("--calibration-frames", type=int, default=4)
    parser.add_argument("--note", default="", help="what else the machine ran, for the record")
    parser.add_argument("--output", default=record.default_output("models"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as directory:
        rows = [
            measure(name, name in args.time, args.calibration_frames, directory)
            for name in MODEL_NAMES
        ]
        load_before = os.getloadavg()[0]
        time_files(rows, args.threads or os.cpu_count(), args.rounds, args.iters)
    record.save(
        {
            "batch": 1,
            "rounds": args.rounds,
            "iters": args.iters,
            "head": CLS,
            "graph": "fast",
            "weights": "random",
            "calibration": "synthetic",
            "note": args.note,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "models": rows,
        },
        args.output,
        __file__,
        argv,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
