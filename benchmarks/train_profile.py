"""Where a CPU training step spends its time: TensorFlow's profiler over a few train steps of the
loop's own step (random batch in memory, so the input pipeline is not in it), summed per op type
over every thread. The CamVid shape by default: batch 8 at 360x480, 11 classes, ENet-like class
weights.

    python -m benchmarks.train_profile
    python -m benchmarks.train_profile --batch-size 2 --crop-size 512 1024 --classes 19

Writes `benchmarks/results/train_profile.json` (the op types by share of op time, and ms/step);
`report.py` renders the top of it beside the CamVid epoch row.
"""

from __future__ import annotations

import argparse
import collections
import glob
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import record, speed  # noqa: E402
from fast_scnn_tf.config import Config  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402
from fast_scnn_tf.training.step import make_train_step  # noqa: E402

# Host events that wrap whole steps or functions rather than name one op.
WRAPPERS = {
    "ExecutorState::Process",
    "train_step",
    "TFE_Py_ExecuteCancelable",
    "EagerExecute",
    "EagerKernelExecute",
    "KernelAndDeviceFunc::Run",
    "FunctionRun",
    "ParallelFor",
}


def op_times(logdir: str) -> collections.Counter:
    """Milliseconds per op type in the profiler trace under `logdir`, summed over threads."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            for event in line.events:
                meta = plane.event_metadata[event.metadata_id]
                full = (meta.display_name or meta.name).strip()
                if full in WRAPPERS or full.startswith(
                    (
                        "EagerLocalExecute",
                        "__inference",
                        "Iterator",
                        "MakeIterator",
                        "signature_wrapper",
                    )
                ):
                    continue
                totals[full.rsplit(":", 1)[-1].strip()] += event.duration_ps / 1e9
    return totals


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=8, help="[%(default)s]")
    parser.add_argument("--crop-size", type=int, nargs=2, default=(360, 480), metavar=("H", "W"))
    parser.add_argument("--classes", type=int, default=11, help="[%(default)s]")
    parser.add_argument("--steps", type=int, default=5, help="profiled steps [%(default)s]")
    parser.add_argument("--top", type=int, default=12, help="op types printed [%(default)s]")
    parser.add_argument("--output", default=record.default_output("train_profile"))
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    model = build_fast_scnn(num_classes=args.classes, aux=True)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    weights = 1.0 / np.log(1.02 + rng.dirichlet(np.ones(args.classes)))
    step = make_train_step(
        model,
        optimizer,
        tf.distribute.get_strategy(),
        Config(),
        tf.Variable(0, dtype=tf.int64),
        weights.astype(np.float32),
    )
    batch = (
        rng.uniform(0, 255, (args.batch_size, *args.crop_size, 3)).astype(np.float32),
        rng.integers(0, args.classes, (args.batch_size, *args.crop_size)).astype(np.uint8),
    )
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())

    def one_step():
        float(step(iterator)["loss"])  # the value waits for the step

    for _ in range(3):  # tracing, before the profiler starts
        one_step()
    with tempfile.TemporaryDirectory() as logdir:
        options = tf.profiler.experimental.ProfilerOptions(host_tracer_level=3)
        tf.profiler.experimental.start(logdir, options=options)
        ms_per_step = speed.time_calls(one_step, 0, args.steps)["mean_ms"]
        tf.profiler.experimental.stop()
        totals = op_times(logdir)
    total = sum(totals.values())
    ops = [
        {"op": name, "ms_per_step": ms / args.steps, "share": ms / total}
        for name, ms in totals.most_common()
    ]
    print(
        f"{ms_per_step:.0f} ms/step; op time summed over threads {total / args.steps:.0f} ms/step"
    )
    for op in ops[: args.top]:
        print(f"{op['op']:<48}{op['ms_per_step']:8.1f} ms {100 * op['share']:6.1f}%")
    record.save(
        {
            "batch_size": args.batch_size,
            "crop": list(args.crop_size),
            "classes": args.classes,
            "steps": args.steps,
            "ms_per_step": ms_per_step,
            "ops": ops[:40],
        },
        args.output,
        __file__,
        argv,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
