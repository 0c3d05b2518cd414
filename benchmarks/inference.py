"""Inference speed of Fast-SCNN as §4.1 of the paper timed it (batch 1, warm-up, then the mean),
for the Keras tf.function cls (argmax) and prob (softmax) outputs at the paper's three input sizes
(Table 7), plus TFLite files and a SavedModel when given. Writes JSON with device, versions,
date and thread counts.

    python benchmarks/inference.py                       # 100 warm-up + 100 frames, random weights
    python benchmarks/inference.py --warmup 10 --iters 20 --tflite model.tflite --saved-model DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fast_scnn_tf.checkpoint import load_model  # noqa: E402
from fast_scnn_tf.evaluation import speed  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402

DEFAULT_OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                              "inference.json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", nargs="+", default=["1024x2048", "512x1024", "256x512"],
                        metavar="HxW", help="input sizes (default: the paper's three)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up frames (default 100)")
    parser.add_argument("--iters", type=int, default=100, help="timed frames (default 100)")
    parser.add_argument("--threads", type=int, default=0, help="TF/TFLite threads; 0: one with "
                        "a GPU (the paper), all cores on CPU (default 0)")
    parser.add_argument("--checkpoint", help="time trained weights (speed does not depend on "
                        "them); default: random weights")
    parser.add_argument("--tflite", nargs="+", default=[], metavar="FILE",
                        help="TFLite files to time too")
    parser.add_argument("--saved-model", metavar="DIR", help="a SavedModel to time too")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help=f"JSON file ({DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)
    try:
        resolutions = [speed.parse_resolution(r) for r in args.resolutions]
    except ValueError as e:
        parser.error(str(e))

    threads = speed.configure_threads(args.threads)
    if args.checkpoint:
        model, _ = load_model(args.checkpoint)
    else:
        model = build_fast_scnn()
    rows = speed.benchmark(model, resolutions, args.warmup, args.iters, tuple(args.tflite),
                           args.saved_model, args.threads or None)
    result = {"environment": speed.environment(), "threads": threads,
              "weights": args.checkpoint or "random", "batch": 1, "results": rows}
    print(speed.format_results(rows))
    print(json.dumps(result["environment"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
