"""One CamVid training epoch on this machine, for today's code and for an earlier commit, timed in
one run: the real pipeline (decode, augment, batch) feeding the loop's train step, 367 frames in
batches of 8 at 360x480 with ENet class weights (the shipped model's recipe), then the validation
pass over the 101 val frames. Each tree runs in its own process, alternating, `--rounds` times.

    python -m benchmarks.camvid_epoch --data-dir data/CamVid --baseline 23ef9bf

The baseline is checked out with `git worktree` into a temporary folder (removed afterwards).
Writes `benchmarks/results/camvid_epoch.json`; `report.py` renders the "CamVid epoch" row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, CROP = 8, (360, 480)


def time_epoch(data_dir: str, warmup: int) -> dict:
    """Runs inside the tree under test (its `fast_scnn_tf` first on the import path). Each pass
    (the epoch's steps, the validation) is timed as a whole by the wall clock: the tree may be an
    earlier commit, so this imports nothing from its benchmarks/."""
    import time

    import keras
    import tensorflow as tf

    from fast_scnn_tf.config import Config
    from fast_scnn_tf.data import build_dataset
    from fast_scnn_tf.evaluation import evaluate
    from fast_scnn_tf.model import inference_model
    from fast_scnn_tf.training.checkpoint import build_training_model
    from fast_scnn_tf.training.data_checks import class_weights_for, with_dataset_classes
    from fast_scnn_tf.training.step import make_train_step

    config = Config()
    for section, field, value in (
        ("data", "dataset", "camvid"),
        ("data", "data_dir", data_dir),
        ("data", "crop_size", CROP),
        ("data", "deterministic", True),
        ("train", "batch_size", BATCH),
        ("train", "class_weighting", "enet"),
    ):
        config = config.override(section, field, value)
    config = with_dataset_classes(config)
    keras.utils.set_random_seed(0)
    model = build_training_model(config)
    optimizer = keras.optimizers.SGD(learning_rate=0.045, momentum=0.9)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    train_step = make_train_step(
        model, optimizer, tf.distribute.get_strategy(), config, step, class_weights_for(config)
    )
    dataset = build_dataset(
        config.data, "train", training=True, batch_size=BATCH, repeat=True, seed=0
    )
    iterator = iter(dataset)
    for _ in range(warmup):  # tracing, and the pipeline's first buffers
        float(train_step(iterator)["loss"])
    steps = len(dataset_frames(config)) // BATCH
    tic = time.perf_counter()
    for _ in range(steps):
        loss = float(train_step(iterator)["loss"])  # the value waits for the step
    train_seconds = time.perf_counter() - tic
    val = build_dataset(config.data, "val", training=False, batch_size=1)
    evaluate(inference_model(model), val.take(2), config.class_table(), progress=False)  # trace
    tic = time.perf_counter()
    evaluate(inference_model(model), val, config.class_table(), progress=False)
    val_seconds = time.perf_counter() - tic
    return {
        "steps": steps,
        "train_seconds": train_seconds,
        "val_seconds": val_seconds,
        "epoch_seconds": train_seconds + val_seconds,
        "last_loss": loss,
    }


def dataset_frames(config) -> list:
    from fast_scnn_tf.data.datasets import dataset_for

    return dataset_for(config.data).list_frames(config.data.data_dir, "train")


def run_tree(tree: str, data_dir: str, warmup: int) -> dict:
    """Time one epoch of the code in `tree` in a fresh process; returns its result dict."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=tree)
    out = subprocess.run(
        [  # this file by its path: `-m` would run the tree's own copy of it
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            "--data-dir",
            os.path.abspath(data_dir),
            "--warmup",
            str(warmup),
        ],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(rows: list[dict]) -> dict:
    keys = ("train_seconds", "val_seconds", "epoch_seconds")
    return {
        **{k: statistics.median(r[k] for r in rows) for k in keys},
        "rounds": [{k: round(r[k], 2) for k in keys} for r in rows],
        "steps": rows[0]["steps"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default="data/CamVid", help="CamVid root [%(default)s]")
    parser.add_argument("--baseline", help="git commit to time beside today's code")
    parser.add_argument(
        "--rounds", type=int, default=2, help="epochs timed per tree, alternating [%(default)s]"
    )
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first [%(default)s]")
    parser.add_argument(
        "--output", default=None, help="JSON results [benchmarks/results/camvid_epoch.json]"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(time_epoch(args.data_dir, args.warmup)))
        return 0
    if not os.path.isdir(os.path.join(args.data_dir, "train")):
        parser.error(f"--data-dir '{args.data_dir}' holds no CamVid train/ folder")
    from benchmarks import record  # here, not above: the worker runs in other trees

    trees = {"today": ROOT}
    with tempfile.TemporaryDirectory(prefix="camvid_epoch_") as scratch:
        if args.baseline:
            base = os.path.join(scratch, "baseline")
            subprocess.run(
                ["git", "-C", ROOT, "worktree", "add", "--detach", base, args.baseline],
                check=True,
                capture_output=True,
            )
            trees["baseline"] = base
        try:
            rows = {name: [] for name in trees}
            for r in range(args.rounds):
                for name, tree in trees.items():
                    rows[name].append(run_tree(tree, args.data_dir, args.warmup))
                    print(f"round {r + 1} {name}: {json.dumps(rows[name][-1])}", flush=True)
        finally:
            if args.baseline:
                subprocess.run(
                    ["git", "-C", ROOT, "worktree", "remove", "--force", base], check=False
                )
    result = {
        "setup": f"CamVid train (367 frames), batch {BATCH}, crop {CROP[0]}x{CROP[1]}, "
        "ENet class weights, SGD; then validation on the 101 val frames",
        "today": summary(rows["today"]),
    }
    if args.baseline:
        result["baseline"] = {"commit": args.baseline, **summary(rows["baseline"])}
        result["speedup"] = result["baseline"]["epoch_seconds"] / result["today"]["epoch_seconds"]
        print(
            f"epoch: baseline {result['baseline']['epoch_seconds']:.1f} s, today "
            f"{result['today']['epoch_seconds']:.1f} s ({result['speedup']:.2f}x)"
        )
    record.save(result, args.output or record.default_output("camvid_epoch"), __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
