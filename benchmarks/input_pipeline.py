"""Throughput of the training input pipeline (read, decode, augment, batch) in images/s.

Without --data-dir it first writes synthetic frames of --size (default the Cityscapes 1024x2048)
into a temporary folder. After warm-up batches it times --batches batches of the training
pipeline with the paper's augmentations and crop, and for comparison the evaluation pipeline
(decode only). With --train-step it also times one Fast-SCNN training step on this machine at the
same batch, to say whether the pipeline keeps up with it. Writes JSON with device, versions, date.

    python -m benchmarks.input_pipeline                          # 16 synthetic 1024x2048 frames
    python -m benchmarks.input_pipeline --data-dir /data/cityscapes --batches 20 --train-step
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from benchmarks import record, speed  # noqa: E402
from fast_scnn_tf import synthetic  # noqa: E402
from fast_scnn_tf.config import DataConfig  # noqa: E402
from fast_scnn_tf.data import build_dataset, num_frames  # noqa: E402


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_batches(dataset: tf.data.Dataset, warmup: int, batches: int, batch_size: int) -> dict:
    """Images/s over `batches` batches after `warmup` batches, and the CPU time per image (all
    threads): on a shared or bigger machine, cores / CPU time says what the pipeline can reach."""
    iterator = iter(dataset)
    for _ in range(warmup):  # before the CPU clock starts
        next(iterator)
    cpu_start = _cpu_seconds()
    timing = speed.time_calls(lambda: next(iterator), 0, batches)
    cpu = _cpu_seconds() - cpu_start
    seconds = timing["mean_ms"] * batches / 1000
    images = batches * batch_size
    return {
        "images_per_s": images / seconds,
        "ms_per_batch": 1000 * seconds / batches,
        "cpu_ms_per_image": 1000 * cpu / images,
        "batches": batches,
        "warmup": warmup,
        "batch_size": batch_size,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir",
        help="Cityscapes root in the official layout (default: "
        "synthetic frames in a temporary folder)",
    )
    parser.add_argument(
        "--num-frames",
        type=int,
        default=16,
        help="synthetic frames to write without --data-dir (default 16)",
    )
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(1024, 2048),
        metavar=("H", "W"),
        help="synthetic frame size (default 1024 2048)",
    )
    parser.add_argument(
        "--crop",
        type=int,
        nargs=2,
        default=(1024, 2048),
        metavar=("H", "W"),
        help="training crop (default 1024 2048, the paper's)",
    )
    parser.add_argument("--batch-size", type=int, default=12, help="default 12, the paper's")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up batches (default 2)")
    parser.add_argument("--batches", type=int, default=10, help="timed batches (default 10)")
    parser.add_argument(
        "--train-step",
        action="store_true",
        help="also time a Fast-SCNN training step at the same batch and crop",
    )
    parser.add_argument(
        "--output",
        default=record.default_output("input_pipeline"),
        help="JSON results file (default %(default)s)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="synthetic_cityscapes_") as tmp:
        data_dir = args.data_dir
        if not data_dir:
            data_dir = tmp
            start = time.perf_counter()
            synthetic.generate(tmp, args.num_frames, 1, tuple(args.size), seed=0)
            print(
                f"wrote {args.num_frames} synthetic {args.size[0]}x{args.size[1]} frames in "
                f"{time.perf_counter() - start:.0f} s"
            )
        cfg = DataConfig(data_dir=data_dir, crop_size=tuple(args.crop), deterministic=False)
        frames = num_frames(cfg, "train")
        train = build_dataset(cfg, "train", True, args.batch_size, repeat=True, seed=0)
        decode_only = build_dataset(cfg, "train", False, 1, repeat=True)
        results = {
            "training_pipeline": time_batches(train, args.warmup, args.batches, args.batch_size),
            "decode_only": time_batches(
                decode_only, args.warmup, args.batches * args.batch_size, 1
            ),
        }
    if args.train_step:
        from benchmarks.train_step import time_train_step

        results["train_step"] = time_train_step(
            args.batch_size, tuple(args.crop), False, False, warmup=1, steps=3
        )

    result = {
        "data_dir": args.data_dir or "synthetic",
        "frames": frames,
        "frame_size": list(args.size) if not args.data_dir else None,
        "data_config": dataclasses.asdict(cfg) | {"data_dir": args.data_dir or "synthetic"},
        "results": results,
    }
    cores = os.cpu_count()
    for name, label in (
        (
            "training_pipeline",
            f"training pipeline ({args.crop[0]}x{args.crop[1]} crop, batch {args.batch_size})",
        ),
        ("decode_only", "decode only (full frames, no augmentation)"),
    ):
        r = results[name]
        print(
            f"{label}: {r['images_per_s']:.2f} images/s on {cores} cores; "
            f"{r['cpu_ms_per_image']:.0f} CPU-ms per image"
        )
    if args.train_step:
        step = results["train_step"]
        print(
            f"train step on this machine: {step['median_ms']:.0f} ms per batch of "
            f"{args.batch_size}, so the pipeline must deliver "
            f"{step['images_per_s']:.2f} images/s"
        )
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
