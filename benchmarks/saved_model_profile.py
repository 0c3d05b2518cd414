"""Where the TF Serving SavedModel's frame goes: TensorFlow's profiler over `serving_default` (the
cls head), op types summed over every thread, for the graph export.py writes
(`exporter.serving_head`: fast_graph's rewrites with the BatchNorms folded) and the plain one
(`build_head` of the model as is), beside whole-frame medians of the two timed in interleaved
rounds without the profiler.

    python -m benchmarks.saved_model_profile                     # 1024x2048, random weights
    python -m benchmarks.saved_model_profile --size 512 1024 --frames 5

Writes `benchmarks/results/saved_model_profile.json`; `report.py` renders it beside the TFLite
profile.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import record, speed  # noqa: E402
from benchmarks.train_profile import op_times  # noqa: E402
from fast_scnn_tf.export import saved_model  # noqa: E402
from fast_scnn_tf.export.exporter import serving_head  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402
from fast_scnn_tf.model.head import CLS, build_head  # noqa: E402

GRAPHS = ("served", "plain")


def serving_functions(model, directory: str) -> dict:
    """{graph: the reloaded SavedModel's serving_default} for the two graphs of GRAPHS."""
    heads = {"served": serving_head(model, CLS), "plain": build_head(model, CLS)}
    functions = {}
    for graph in GRAPHS:
        path = os.path.join(directory, graph)
        saved_model.write_saved_model(heads[graph], path)
        functions[graph] = tf.saved_model.load(path).signatures[saved_model.DEFAULT_SIGNATURE]
    return functions


def profile(function, images, frames: int) -> list[dict]:
    """Op types of `frames` calls of `function`, ms per frame summed over threads, largest
    first."""
    with tempfile.TemporaryDirectory() as logdir:
        options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3)
        tf.profiler.experimental.start(logdir, options=options)
        for _ in range(frames):
            function(images=images)
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    total = sum(totals.values())
    return [
        {"op": name, "ms": ms / frames, "share": ms / total} for name, ms in totals.most_common()
    ]


def run(model, size, frames: int, warmup: int, rounds: int) -> dict:
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (1, *size, 3), np.uint8))
    with tempfile.TemporaryDirectory(prefix="fast_scnn_sm_profile_") as directory:
        functions = serving_functions(model, directory)
        calls = {graph: functools.partial(f, images=images) for graph, f in functions.items()}
        timings = speed.time_interleaved(calls, warmup, rounds)
        graphs = [
            {
                "graph": graph,
                "median_ms": timings[graph]["median_ms"],
                "op_types": profile(function, images, frames),
            }
            for graph, function in functions.items()
        ]
    return {
        "size": list(size),
        "frames": frames,
        "warmup": warmup,
        "rounds": rounds,
        "graphs": graphs,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(1024, 2048),
        metavar=("H", "W"),
        help="frame size [1024 2048]",
    )
    parser.add_argument("--frames", type=int, default=5, help="profiled frames [%(default)s]")
    parser.add_argument("--warmup", type=int, default=5, help="untimed frames [%(default)s]")
    parser.add_argument(
        "--rounds", type=int, default=10, help="interleaved timing rounds [%(default)s]"
    )
    parser.add_argument("--top", type=int, default=12, help="op types printed [%(default)s]")
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="trained weights from this run (default: random, 19 classes)",
    )
    parser.add_argument("--output", default=record.default_output("saved_model_profile"))
    args = parser.parse_args(argv)
    if (
        min(args.size) < saved_model.MIN_SIZE
        or min(args.frames, args.rounds) < 1
        or args.warmup < 0
    ):
        parser.error(
            f"need --size of at least {saved_model.MIN_SIZE}, --frames >= 1, "
            "--rounds >= 1, --warmup >= 0"
        )
    speed.configure_threads(0)
    speed.keep_freed_memory()  # as inference.py times every runtime; recorded in the JSON
    if args.checkpoint:
        from fast_scnn_tf.training.checkpoint import load_run

        model = load_run(args.checkpoint).model
    else:
        model = build_fast_scnn()
    result = run(model, tuple(args.size), args.frames, args.warmup, args.rounds)
    result["weights"] = args.checkpoint or "random"
    for graph in result["graphs"]:
        print(f"== {graph['graph']}: median {graph['median_ms']:.1f} ms per frame")
        for op in graph["op_types"][: args.top]:
            print(f"{op['op']:<40}{op['ms']:8.1f} ms {100 * op['share']:6.1f}%")
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
