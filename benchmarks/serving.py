"""The serving path against ONNX Runtime in one interleaved run: the cls head as TF Serving runs
it (the SavedModel's `serving_default`), as float32 and int8 TFLite, and the PyTorch Fast-SCNN
exported to ONNX and run by ONNX Runtime (float32, and static int8 QDQ), called in turn frame
after frame, so that a slow phase of the machine slows all of them alike.

    python -m benchmarks.serving [--size 1024 2048] [--warmup 10] [--rounds 40]

The exports are `benchmarks.inference`'s (random weights, int8 calibrated on synthetic frames;
`onnx_reference.py` for the peer); ours also as the plain graph of the model as it trains (no
`fast_graph` rewrites, BatchNorm unfolded), which is what export.py wrote before them. ONNX
Runtime's threads do not busy-wait between runs here (they would take the cores from the next
runtime's frame); ONNX Runtime float32 with its default busy-waiting is timed once more alone
after the race, for comparison. Needs torch, onnx and
onnxruntime (pip install -r requirements-torch.txt). Writes benchmarks/results/serving.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from benchmarks import onnx_reference, record, speed
from fast_scnn_tf.export import saved_model
from fast_scnn_tf.export.exporter import serving_head
from fast_scnn_tf.export.sample_frames import synthetic_frames
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.head import CLS, build_head

DEFAULT_OUTPUT = record.default_output("serving")
# (runtime, precision, graph) of the race: ours as export.py writes them ("served": with
# fast_graph's rewrites) and, for comparison, the plain graph of the model as it trains; then
# the peer's.
OURS = tuple(
    (runtime, precision, graph)
    for graph in ("served", "plain")
    for runtime, precision in (("savedmodel", "float32"), ("tflite", "float32"), ("tflite", "int8"))
)
PEER = (("onnxruntime", "float32", "peer"), ("onnxruntime", "int8", "peer"))


def runners(model, size, threads: int, calibration_frames: int, directory: str):
    """({(runtime, precision, graph): a no-argument callable running one frame} for OURS and
    PEER, the float32 ONNX file)."""
    runs = {}
    frames = synthetic_frames(size, calibration_frames)
    for graph, saved_head, tflite_graph in (
        ("served", serving_head(model, CLS), "fast"),  # as export.py writes them
        ("plain", build_head(model, CLS), "plain"),
    ):
        path = os.path.join(directory, f"saved_model_cls_{graph}")
        saved_model.write_saved_model(saved_head, path)
        runs[("savedmodel", "float32", graph)] = speed.saved_model_runner(path, *size)
        for precision in ("float32", "int8"):
            path = os.path.join(directory, f"cls_{precision}_{graph}.tflite")
            with open(path, "wb") as f:
                f.write(speed.tflite_export(model, CLS, precision, size, frames, tflite_graph))
            runs[("tflite", precision, graph)] = speed.tflite_runner(path, threads)[0]
    paths = onnx_reference.export(directory, *size, calibration_frames)
    for precision, path in paths.items():
        runs[("onnxruntime", precision, "peer")] = onnx_reference.session_runner(
            path, threads, spinning=False
        )
    return runs, paths["float32"]


def race(model, size, warmup: int, rounds: int, threads: int, calibration_frames: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="fast_scnn_serving_") as directory:
        runs, onnx_float = runners(model, size, threads, calibration_frames, directory)
        timings = speed.time_interleaved(
            {" ".join(key): run for key, run in runs.items()}, warmup, rounds
        )
        # Each alone, one after the other, as a user would run it: ours, then ONNX Runtime
        # with its default busy-waiting (which the race turns off).
        saved_alone = speed.time_calls(runs[OURS[0]], warmup, rounds)
        alone = speed.time_calls(onnx_reference.session_runner(onnx_float, threads), warmup, rounds)
    rows = [
        {"runtime": key[0], "precision": key[1], "graph": key[2], **timings[" ".join(key)]}
        for key in OURS + PEER
    ]
    return {
        "rows": rows,
        "savedmodel_float32_served_alone": saved_alone,
        "onnxruntime_float32_spinning_alone": alone,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"), help="frame size"
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed frames each [%(default)s]")
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds [%(default)s]")
    parser.add_argument(
        "--threads", type=int, default=0, help="threads of every runtime; 0: all cores"
    )
    parser.add_argument("--calibration-frames", type=int, default=8, help="int8 calibration")
    parser.add_argument("--note", default="", help="recorded with the results")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="JSON results file")
    args = parser.parse_args(argv)
    if min(args.size) < 32 or args.rounds < 1 or args.warmup < 0 or args.threads < 0:
        parser.error("need --size >= 32, --rounds >= 1, --warmup >= 0, --threads >= 0")
    if args.calibration_frames < 1:
        parser.error("need --calibration-frames >= 1")
    speed.configure_threads(args.threads)
    speed.keep_freed_memory()  # as inference.py times every runtime
    threads = args.threads or os.cpu_count()
    result = race(
        build_fast_scnn(),
        tuple(args.size),
        args.warmup,
        args.rounds,
        threads,
        args.calibration_frames,
    )
    result = {
        "size": list(args.size),
        "warmup": args.warmup,
        "rounds": args.rounds,
        "threads": threads,
        "weights": "random",
        "note": args.note,
        **result,
    }
    for row in result["rows"]:
        print(
            f"{row['runtime']:12s} {row['precision']:8s} {row['graph']:7s} "
            f"{row['median_ms']:8.1f} ms"
        )
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
