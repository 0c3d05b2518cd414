#!/usr/bin/env python
"""Train a model of --model (Fast-SCNN by default) with the Fast-SCNN paper's recipe (§4.1),
mmsegmentation's with `--preset mmseg`, or the CamVid recipe with `--preset camvid`.

    python train.py --data-dir /data/cityscapes --model-dir runs/paper
    python train.py --data-dir demo/data --model-dir demo/run --epochs 1 --batch-size 2 \\
        --crop-size 128 256

Running it again on the same --model-dir resumes where it stopped (the saved config.json is the
starting point; flags given again override it; config.json is written with the first checkpoint,
so a run that fails its checks leaves nothing to resume from). One process trains into a run
folder at a time (it holds train.lock); docs/multi_node.md shows training on several machines.
Exit codes: 0 done; 130/143 stopped by SIGINT/SIGTERM after saving a checkpoint; 1 non-finite
loss or a data/checkpoint problem; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from fast_scnn_tf import cli  # noqa: E402

# The package imports below start TensorFlow: quietly unless --verbose (see fast_scnn_tf.cli).
cli.import_tensorflow(verbose="--verbose" in sys.argv[1:])

from fast_scnn_tf.config import (  # noqa: E402
    CLASS_WEIGHTINGS,
    CONFIG_FILE,
    DATASETS,
    OPTIMIZERS,
    SOURCES,
    STRATEGIES,
    Config,
    ConfigError,
    DataConfig,
)
from fast_scnn_tf.data.datasets import describe as describe_datasets  # noqa: E402
from fast_scnn_tf.model.families import MODEL_NAMES, names_help  # noqa: E402
from fast_scnn_tf.training.presets import PRESETS, apply_preset  # noqa: E402

# Flag -> (config section, field). Flags left unset keep the preset's (or the saved run's) value.
OVERRIDES = {
    "data_dir": ("data", "data_dir"),
    "data_source": ("data", "source"),
    "dataset": ("data", "dataset"),
    "train_split": ("data", "train_split"),
    "model": ("model", "name"),
    "crop_size": ("data", "crop_size"),
    "input_scale": ("data", "input_scale"),
    "deterministic": ("data", "deterministic"),
    "dropout": ("model", "dropout"),
    "epochs": ("train", "epochs"),
    "total_steps": ("train", "total_steps"),
    "batch_size": ("train", "batch_size"),
    "optimizer": ("train", "optimizer"),
    "learning_rate": ("train", "learning_rate"),
    "end_learning_rate": ("train", "end_learning_rate"),
    "weight_decay": ("train", "weight_decay"),
    "warmup_steps": ("train", "warmup_steps"),
    "aux_weight": ("train", "aux_weight"),
    "mixed_precision": ("train", "mixed_precision"),
    "xla": ("train", "xla"),
    "strategy": ("train", "strategy"),
    "seed": ("train", "seed"),
    "checkpoint_every": ("train", "checkpoint_every_steps"),
    "keep_checkpoints": ("train", "keep_checkpoints"),
    "eval_every": ("train", "eval_every_epochs"),
    "log_every": ("train", "log_every_steps"),
    "init_checkpoint": ("train", "init_checkpoint"),
    "class_weighting": ("train", "class_weighting"),
}


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Defaults in [brackets] are the paper preset's; --preset mmseg changes lr, steps, "
        "batch and crop (explicit flags still win).",
    )
    p.add_argument(
        "--model-dir",
        default=cli.DEFAULT_RUN_DIR,
        help="run folder: config.json, checkpoints/, best/, logs/ (TensorBoard), "
        "train_log.jsonl; resumed if it already holds a run; a folder holding "
        "anything else (an export, other files) is refused "
        f"[{cli.DEFAULT_RUN_DIR}]",
    )
    p.add_argument(
        "--model",
        choices=MODEL_NAMES,
        metavar="MODEL",
        help=f"the network, by family: {names_help()}; saved with the run [{d.model.name}]",
    )
    p.add_argument(
        "--dataset",
        choices=DATASETS,
        help=f"what --data-dir holds: {describe_datasets()}; the class count "
        f"follows it [{d.data.dataset}]",
    )
    p.add_argument(
        "--data-dir",
        help="dataset root (for --data-source tfds: the manual dir "
        "with the Cityscapes zips); a new Cityscapes run defaults to "
        f"{cli.DEFAULT_DATA_DIR}, a resumed run keeps its own",
    )
    p.add_argument(
        "--train-split",
        help="the split to train on: train, or camvid's trainval (train + val, the "
        "CGNet/DABNet protocol: val is then no held-out score, fix the epochs "
        f"in advance) [{d.data.train_split}]",
    )
    p.add_argument(
        "--data-source", choices=SOURCES, help=f"where frames come from [{d.data.source}]"
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="recipe: paper (§4.1: lr 0.045, batch 12, 1000 epochs, 1024x2048), "
        "mmseg (lr 0.12, batch 32, 160k steps, 512x1024) or camvid (chosen by "
        "ablation on CamVid val: Adam 1e-3, ENet class weights, batch 8, "
        "360x480, 80 epochs; pass --dataset camvid too) [paper]",
    )
    p.add_argument("--epochs", type=int, help=f"passes over the train split [{d.train.epochs}]")
    p.add_argument(
        "--total-steps", type=int, help="optimizer steps; > 0 overrides --epochs [0; mmseg: 160000]"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        help="global batch, split over replicas; changed on resume, the step counter "
        "is converted to keep the frames seen, so epochs count on "
        f"[{d.train.batch_size}]",
    )
    p.add_argument(
        "--crop-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help=f"training crop [{' '.join(map(str, d.data.crop_size))}]",
    )
    p.add_argument(
        "--input-scale",
        type=float,
        help="resize the dataset's frames by this factor wherever the model sees "
        "them (validation, evaluate.py, predict.py); the random training resize "
        "is relative to it; saved with the run, so predict.py feeds photos at "
        f"the same scale [{d.data.input_scale}]",
    )
    p.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        help=f"sgd (the paper, momentum 0.9) or adam [{d.train.optimizer}]",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        help=f"base rate of the poly schedule [{d.train.learning_rate}]",
    )
    p.add_argument(
        "--end-learning-rate",
        type=float,
        help=f"where the poly schedule ends [{d.train.end_learning_rate}]",
    )
    p.add_argument(
        "--warmup-steps",
        type=int,
        metavar="STEPS",
        help="linear warm-up from the learning rate/3 before the poly schedule, as "
        f"DABNet trains CamVid (500) [{d.train.warmup_steps}]",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        help=f"L2 on non-depthwise kernels, as wd*sum(w^2)/2 [{d.train.weight_decay}]",
    )
    p.add_argument(
        "--aux-weight", type=float, help=f"weight of each auxiliary loss [{d.train.aux_weight}]"
    )
    p.add_argument(
        "--class-weighting",
        choices=CLASS_WEIGHTINGS,
        help="weigh the loss per class by 1/ln(c + class share of the train pixels): "
        "enet c = 1.02 (up to ~50x), erfnet c = 1.10 (up to ~10x); for datasets "
        f"with rare classes [{d.train.class_weighting}]",
    )
    p.add_argument(
        "--dropout",
        type=float,
        help=f"Fast-SCNN's dropout before the last layer [{d.model.dropout}]",
    )
    p.add_argument(
        "--mixed-precision",
        action=argparse.BooleanOptionalAction,
        help="mixed_float16 with dynamic loss scaling (GPUs; slow on CPU) [off]",
    )
    p.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        help="XLA-compile the train step (4-7x slower on CPU) [off]",
    )
    p.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="tf.distribute strategy; auto = mirrored over several GPUs, else one "
        "device; multiworker reads TF_CONFIG [auto]",
    )
    p.add_argument(
        "--seed", type=int, help=f"weights, dropout, data order and augmentation [{d.train.seed}]"
    )
    p.add_argument(
        "--deterministic",
        action=argparse.BooleanOptionalAction,
        help="deterministic tf.data order, needed for bit-exact resumes [off]",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="STEPS",
        help=f"latest-checkpoint interval [{d.train.checkpoint_every_steps}]",
    )
    p.add_argument(
        "--keep-checkpoints", type=int, help=f"latest checkpoints kept [{d.train.keep_checkpoints}]"
    )
    p.add_argument(
        "--eval-every",
        type=int,
        metavar="EPOCHS",
        help=f"validation interval (0: only at the end) [{d.train.eval_every_epochs}]",
    )
    p.add_argument(
        "--log-every",
        type=int,
        metavar="STEPS",
        help=f"TensorBoard scalar interval [{d.train.log_every_steps}]",
    )
    p.add_argument(
        "--init-checkpoint",
        help="start from these weights (a model dir or DIR/ckpt-N); variables are "
        "matched by name and shape, the rest stay initialised [none]",
    )
    p.add_argument(
        "--stop-at-step",
        type=int,
        default=0,
        help="save and exit once this step is reached, keeping the schedule (for "
        "time-boxed jobs; run again to continue) [0: run to the end]",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up log (hidden by default)"
    )
    return p


def resolve_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Config:
    """The saved run's config (resume) or the preset's, with every flag given applied on top,
    checked by `Config.validate`: its errors name the flag, or, for a value the saved run's
    config.json holds, that file (a ValueError)."""
    resuming = os.path.isfile(os.path.join(args.model_dir, CONFIG_FILE))
    if resuming:
        config = Config.load(args.model_dir)
        if args.preset and args.preset != config.train.preset:
            config = apply_preset(config, args.preset)
    else:
        if not args.data_dir:
            parser.error(
                f"--data-dir is required for a new run (no config.json in '{args.model_dir}')"
            )
        config = apply_preset(Config(), args.preset or "paper")
    for flag, (section, field) in OVERRIDES.items():
        if getattr(args, flag) is not None:
            config = config.override(section, field, getattr(args, flag))
    try:
        config.validate()
    except ConfigError as e:
        # Name the flag only if it was given; a value from the saved run names its config.json.
        given = {
            target: "--" + flag.replace("_", "-")
            for flag, target in OVERRIDES.items()
            if getattr(args, flag) is not None
        }
        if (e.section, e.field) in given:
            parser.error(e.message_for(given[e.section, e.field]))
        if resuming:
            raise ValueError(f"'{os.path.join(args.model_dir, CONFIG_FILE)}': {e}") from None
        parser.error(str(e))
    if config.data.source == "folder" and not os.path.isdir(config.data.data_dir):
        parser.error(
            f"--data-dir '{config.data.data_dir}' is not a directory: expected a "
            f"{config.data.dataset} dataset (see --dataset)"
        )
    return config


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stop_at_step < 0:
        parser.error("--stop-at-step must be >= 0")
    new_run = not os.path.isfile(os.path.join(args.model_dir, CONFIG_FILE))
    if new_run and args.data_dir is None and args.dataset in (None, DataConfig().dataset):
        if not os.path.isdir(cli.DEFAULT_DATA_DIR):  # docs/training.md's place for Cityscapes
            parser.error(
                f"no dataset at '{cli.DEFAULT_DATA_DIR}' (the default --data-dir): "
                + cli.MISSING_DATA_HINT
            )
        args.data_dir = cli.DEFAULT_DATA_DIR
    try:
        config = resolve_config(args, parser)
    except ValueError as e:  # the run folder's config.json cannot be read
        print(f"train.py: error: {e}", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)  # per-save sharding chatter

    import tensorflow as tf

    from fast_scnn_tf.training import NonFiniteLossError, TrainingInterrupted, train

    try:
        summary = train(
            config, args.model_dir, stop_at_step=args.stop_at_step, progress=not args.no_progress
        )
    except TrainingInterrupted as e:
        logging.warning("%s", e)
        return 128 + e.signum
    except NonFiniteLossError as e:
        logging.error("%s", e)
        return 1
    except (FileNotFoundError, ValueError) as e:
        logging.debug("details", exc_info=True)
        print(f"train.py: error: {e}", file=sys.stderr)
        return 1
    except tf.errors.OpError as e:  # a bad file met inside tf.data: its check names the file
        logging.debug("details", exc_info=True)
        print(f"train.py: error: {cli.error_line(e)}", file=sys.stderr)
        return 1
    logging.info(
        "done at step %d of %d; best val mIoU %s; latest %s; best %s; weights sha256 %s",
        summary["step"],
        summary["total_steps"],
        summary["best_miou"],
        summary["latest_checkpoint"],
        summary["best_checkpoint"],
        summary["weights_sha256"][:16],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
