"""Training throughput: the loop's own train step (forward, 3 losses + L2, backward, SGD update)
on one random batch held in memory, so the input pipeline is not measured. Prints ms/step and
images/s; writes JSON with device, versions and date.

    python -m benchmarks.train_step --batch-size 2 --crop-size 256 512   # CPU
    python -m benchmarks.train_step            # GPU: batch 12 at 1024x2048, fp32 and mixed
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks import record, speed  # noqa: E402
from fast_scnn_tf.config import Config  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402
from fast_scnn_tf.training.trainer import make_train_step  # noqa: E402


def time_train_step(
    batch_size: int,
    crop: tuple[int, int],
    mixed_precision: bool,
    xla: bool,
    warmup: int,
    steps: int,
) -> dict:
    """Median/mean ms per step and images/s over `steps` steps after `warmup` (incl. tracing)."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    try:
        config = Config()
        config.train.xla = xla
        model = build_fast_scnn(num_classes=config.model.num_classes, aux=True)
        optimizer = keras.optimizers.SGD(learning_rate=config.train.learning_rate, momentum=0.9)
        if mixed_precision:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64)
        train_step = make_train_step(model, optimizer, tf.distribute.get_strategy(), config, step)
        rng = np.random.default_rng(0)
        images = rng.uniform(0, 255, (batch_size, *crop, 3)).astype(np.float32)
        labels = rng.integers(0, config.model.num_classes, (batch_size, *crop)).astype(np.uint8)
        iterator = iter(tf.data.Dataset.from_tensors((images, labels)).repeat())

        def one_step():
            float(train_step(iterator)["loss"])  # the value forces the step to finish

        timing = speed.time_calls(one_step, warmup, steps)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    return {
        "batch_size": batch_size,
        "crop": f"{crop[0]}x{crop[1]}",
        "precision": "mixed_float16" if mixed_precision else "float32",
        "xla": xla,
        "steps": steps,
        "warmup": warmup,
        "mean_ms": timing["mean_ms"],
        "median_ms": timing["median_ms"],
        "images_per_s": 1000 * batch_size / timing["mean_ms"],
    }


def main(argv=None) -> int:
    gpu = bool(tf.config.list_physical_devices("GPU"))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=12, help="batch (default 12, the paper)")
    parser.add_argument(
        "--crop-size",
        type=int,
        nargs=2,
        default=(1024, 2048),
        metavar=("H", "W"),
        help="input size (default 1024 2048, the paper's full frames)",
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "mixed", "both"),
        default="both" if gpu else "fp32",
        help="fp32, mixed_float16 or both (default: both on a GPU, else fp32)",
    )
    parser.add_argument("--xla", action="store_true", help="jit_compile the step")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps (default 3)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    parser.add_argument(
        "--output",
        default=record.default_output("train_step"),
        help="JSON results file (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.batch_size < 1 or min(args.crop_size) < 32 or args.steps < 1 or args.warmup < 1:
        parser.error("need --batch-size >= 1, --crop-size >= 32 32, --steps >= 1, --warmup >= 1")

    precisions = {"fp32": [False], "mixed": [True], "both": [False, True]}[args.precision]
    rows = [
        time_train_step(
            args.batch_size, tuple(args.crop_size), mixed, args.xla, args.warmup, args.steps
        )
        for mixed in precisions
    ]
    for r in rows:
        print(
            f"{r['precision']:<14} batch {r['batch_size']:>3} at {r['crop']:>10}: "
            f"{r['mean_ms']:9.1f} ms/step (median {r['median_ms']:.1f}), "
            f"{r['images_per_s']:7.2f} images/s"
        )
    record.save({"results": rows}, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
