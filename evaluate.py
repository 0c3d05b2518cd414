"""Evaluate a trained model on its dataset (Cityscapes as the paper and the benchmark count it,
CamVid, your own folder). Timing lives in `benchmarks/inference.py`.

    python evaluate.py --checkpoint runs/paper --data-dir /data/cityscapes
    python evaluate.py --checkpoint models/camvid --dataset camvid --data-dir data/CamVid \
        --split test
    python evaluate.py --checkpoint runs/paper --scale 0.5            # Table 7, reduced input
    python evaluate.py --checkpoint runs/paper --ablate-skip          # §4.2, no LtD skip
    python evaluate.py --checkpoint models/camvid --dataset camvid --data-dir data/CamVid \
        --split test --tta-scales 0.75 1 1.25 --tta-flip                # test-time augmentation
    python evaluate.py --checkpoint runs/paper --save-predictions preds --save-overlays overlays
    python evaluate.py --checkpoint exports/fast_scnn_cls_int8_360x480.tflite --split test
    python evaluate.py --checkpoint exports/fast_scnn --split test     # the SavedModel

Metrics go to `<output>/metrics.json` for the val split at scale 1; other runs get their own name
(`metrics_scale0.5.json`, `metrics_noskip.json`, `metrics_train.json`, ...) so they never replace
each other. Existing files are never overwritten without --overwrite, which in prediction and
overlay folders replaces only the PNGs evaluate.py wrote (each carries its marker), and prediction
folders may not lie inside the dataset (their files take the images' names).

An export (a .tflite file or a SavedModel) is scored through the file itself, as a client would
run it (`predict.py`'s predictor: frames resized to its input, labels resized back to the
label's size), with the config exported beside it; its metrics go beside it as
`<name>_metrics[_split].json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from fast_scnn_tf import cli, files
from fast_scnn_tf.config import DATASETS, SOURCES, WHICH

SCALES = (1.0, 0.5, 0.25)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Evaluate a trained model on its dataset: per-class IoU, mIoU, pixel (global) "
        "accuracy, mean class accuracy, and for Cityscapes category mIoU, counted as "
        "the official cityscapesScripts count them. To time inference, run "
        "benchmarks/inference.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint",
        default=cli.DEFAULT_RUN_DIR,
        help="model directory written by train.py, a checkpoint prefix like "
        "DIR/best/ckpt-12, or an export: a .tflite file or a SavedModel "
        "(scored through the exported file)",
    )
    parser.add_argument(
        "--which",
        choices=WHICH,
        default="best",
        help="which checkpoint of a model directory to load",
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        help="what --data-dir holds; default: the dataset the model was trained "
        "on (its classes must match the model's)",
    )
    parser.add_argument("--data-dir", help="dataset root; default: data_dir of the saved config")
    parser.add_argument(
        "--source", choices=SOURCES, help="dataset source; default: source of the saved config"
    )
    parser.add_argument(
        "--split",
        default="val",
        help="split to evaluate, one of the dataset's: train, val, test (CamVid also "
        "trainval); Cityscapes test has no public labels: with --save-predictions it "
        "writes a benchmark-server submission [%(default)s]",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        choices=SCALES,
        help="input scale (Table 7): the image is downscaled, the prediction "
        "upsampled and scored against full-resolution labels; relative to "
        "the scale the model was trained for (train.py --input-scale)",
    )
    cli.add_tta_arguments(
        parser,
        "relative to --scale, as mmsegmentation's --aug-test; metrics go to *_tta.json. Single "
        "scale stays the number a model is compared by",
    )
    parser.add_argument(
        "--output", help="folder for the metrics file; default: the model directory"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing metrics file, and in prediction and overlay "
        "folders the PNGs evaluate.py wrote (marked; any other PNG there is "
        "refused)",
    )
    parser.add_argument(
        "--ablate-skip",
        action="store_true",
        help="zero the Learning-to-Downsample skip in the fusion module (§4.2)",
    )
    parser.add_argument(
        "--save-predictions",
        metavar="DIR",
        help="write a label PNG per frame into DIR in the dataset's label "
        "format: for Cityscapes <city>_<seq>_<frame>_leftImg8bit.png of "
        "label ids (benchmark-server format); for your own folder dataset "
        "the image's path below images/<split>/ (cam_a/f0.png)",
    )
    parser.add_argument(
        "--save-overlays",
        metavar="DIR",
        help="write <frame>_overlay.png colour overlays into DIR (kept apart from "
        "the predictions: the official evaluation rejects two PNGs per frame)",
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=0,
        help="evaluate only the first N frames (0: all); for quick checks",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up log (hidden by default)"
    )
    args = parser.parse_args(argv)
    if args.max_frames < 0:
        parser.error("--max-frames must be >= 0")
    try:
        cli.check_model_path(
            args.checkpoint,
            "--checkpoint",
            also=", a .tflite file or a SavedModel folder",
            files=(".tflite",),
        )
    except (FileNotFoundError, ValueError) as e:
        parser.error(str(e))
    try:
        args.tta_scales = cli.check_tta_scales(args.tta_scales)
    except ValueError as e:
        parser.error(f"--tta-scales: {e}")
    cli.import_tensorflow(args.verbose)  # quietly, before main imports the package
    return args


def metrics_filename(split: str, scale: float, ablate_skip: bool, tta: bool = False) -> str:
    """metrics.json for val at scale 1; a suffix per departure from that (never a clash)."""
    parts = ["metrics"]
    if split != "val":
        parts.append(split)
    if scale != 1.0:
        parts.append(f"scale{scale:g}")
    if ablate_skip:
        parts.append("noskip")
    if tta:
        parts.append("tta")
    return "_".join(parts) + ".json"


def prediction_folders(args) -> dict:
    """{flag: folder} of the prediction folders asked for."""
    folders = {"--save-predictions": args.save_predictions, "--save-overlays": args.save_overlays}
    return {flag: folder for flag, folder in folders.items() if folder}


def check_prediction_folders(args) -> None:
    """Refuse, before the model is loaded, prediction folders that cannot be written, that
    already hold files without --overwrite (with it, PredictionWriter checks that it would
    replace only its own PNGs), or that are one folder (the official evaluation rejects two PNGs
    per frame)."""
    for flag, folder in prediction_folders(args).items():
        files.check_output_dir(folder, flag, args.overwrite, empty=True)
    predictions, overlays = args.save_predictions, args.save_overlays
    if (
        predictions
        and overlays
        and (files.is_inside(predictions, overlays) or files.is_inside(overlays, predictions))
    ):
        raise ValueError(
            f"--save-predictions '{predictions}' and --save-overlays '{overlays}' "
            "must be two separate folders: the official evaluation rejects two "
            "PNGs per frame"
        )


def check_outside_dataset(args, data_dir: str) -> None:
    """Prediction folders inside the dataset are refused: their files take the images' names
    (with --overwrite they replaced them)."""
    for flag, folder in prediction_folders(args).items():
        if data_dir and files.is_inside(folder, data_dir):
            raise ValueError(
                f"{flag} '{folder}' is inside the dataset '{data_dir}': its files "
                "would take the images' names; choose a folder outside it"
            )


def tta(args) -> bool:
    return args.tta_scales != (1.0,) or args.tta_flip


def load_model(args):
    """(Keras model or an export's predict function, config, what was loaded, default output
    folder, metrics file prefix) for --checkpoint."""
    from fast_scnn_tf.predict.predictor import export_config, find_export, load_predictor
    from fast_scnn_tf.training.checkpoint import load_run

    kind, found = find_export(args.checkpoint)
    if kind is None:
        run = load_run(args.checkpoint, args.which)
        return run.model, run.config, run.checkpoint, run.directory, ""
    if args.scale != 1.0 or args.ablate_skip or tta(args):
        raise ValueError(
            "--scale, --ablate-skip, --tta-scales and --tta-flip change the network: "
            f"they need a checkpoint, not the export '{args.checkpoint}'"
        )
    config = export_config(args.checkpoint)
    if config is None:
        raise ValueError(
            f"the export '{args.checkpoint}' has no config beside it (export.py "
            "writes one): its dataset and classes are unknown"
        )
    predict, description, _ = load_predictor(args.checkpoint)
    where = os.path.normpath(args.checkpoint)
    return (
        predict,
        config,
        description,
        os.path.dirname(where) or ".",
        os.path.basename(where).removesuffix(".tflite") + "_",
    )


def run_evaluation(args) -> int:
    from fast_scnn_tf.data.datasets import dataset_for
    from fast_scnn_tf.evaluation import (
        PredictionWriter,
        ablate_skip,
        evaluate,
        evaluation_frames,
        format_table,
    )
    from fast_scnn_tf.files import write_json

    check_prediction_folders(args)
    model, config, loaded, default_output, prefix = load_model(args)
    scale = args.scale * config.data.input_scale if prefix == "" else 1.0  # exports scale frames
    data = dataclasses.replace(
        config.data,
        **{
            k: v
            for k, v in (
                ("data_dir", args.data_dir),
                ("source", args.source),
                ("dataset", args.dataset),
            )
            if v
        },
    )
    if data.source == "folder" and not data.data_dir:
        raise ValueError("no dataset: pass --data-dir (the saved config has none)")
    check_outside_dataset(args, data.data_dir)
    dataset = dataset_for(data)
    classes = config.class_table()
    if dataset.classes.names != classes.names:
        raise ValueError(
            f"the model '{args.checkpoint}' predicts {classes.num_classes} classes "
            f"({', '.join(classes.names[:4])}, ...), but {dataset.name} in "
            f"'{data.data_dir}' has {dataset.classes.num_classes} "
            f"({', '.join(dataset.classes.names[:4])}, ...): pass the --dataset it "
            "was trained on"
        )
    dataset.check_split(args.split, labelled=False)
    # A split without public labels (Cityscapes test) is predicted for the benchmark server and
    # scored not at all.
    labelled = args.split in dataset.labelled_splits
    if not labelled and not args.save_predictions:
        raise ValueError(
            f"split '{args.split}' of {dataset.name} has no public labels, so it "
            "cannot be scored: evaluate another split, or write predictions "
            "(for the benchmark server) with --save-predictions DIR"
        )
    output_dir = args.output or default_output
    metrics_path = os.path.join(
        output_dir, prefix + metrics_filename(args.split, args.scale, args.ablate_skip, tta(args))
    )
    # A model folder's own metrics file (a shipped model's metrics_test.json) is kept as it is
    # when the default output would replace it: the scores are printed, nothing is written.
    keep = not args.output and not args.overwrite and os.path.isfile(metrics_path)
    if labelled:
        flag = "--output" if args.output else "--output (default: the model directory)"
        files.check_output_dir(
            output_dir,
            flag,
            args.overwrite,
            outputs=[] if keep else [metrics_path],
            instead=", or --output DIR to write elsewhere",
        )
    saving = bool(args.save_predictions or args.save_overlays)
    # A checkpoint sees frames at the scale it was trained for (train.py --input-scale), reduced
    # further by --scale; an export's predictor resizes them itself. Labels stay at full size.
    frames = evaluation_frames(data, args.split, scale, with_names=saving, dataset=dataset)
    writer = (
        PredictionWriter(dataset, args.save_predictions, args.save_overlays, args.overwrite)
        if saving
        else None
    )
    if args.ablate_skip:
        ablate_skip(model)
    metrics = evaluate(
        model,
        frames,
        classes,
        progress=not args.no_progress,
        max_frames=args.max_frames,
        on_prediction=writer,
        tta_scales=args.tta_scales,
        tta_flip=args.tta_flip,
    )
    if not labelled:
        print(
            f"wrote {args.split} predictions of {writer.count} frames to "
            f"{args.save_predictions}: zip that folder and submit it to the benchmark server"
        )
        return 0
    if metrics["num_pixels"] == 0:
        raise ValueError(f"split '{args.split}' has no labelled pixels (all 255): nothing to score")
    metrics.update(
        split=args.split,
        scale=args.scale,
        input_scale=data.input_scale,
        ablate_skip=args.ablate_skip,
        tta_scales=list(args.tta_scales),
        tta_flip=args.tta_flip,
        checkpoint=loaded,
        which=args.which,
        dataset=data.dataset,
        data_dir=data.data_dir,
        source=data.source,
    )
    print(format_table(metrics))
    print(
        f"{metrics['num_frames']} frames, {dataset.name} split {args.split}, scale "
        f"{args.scale:g}"
        + (f" of the model's input scale {data.input_scale:g}" if data.input_scale != 1 else "")
        + (", LtD skip ablated" if args.ablate_skip else "")
        + (
            f", test-time augmentation over scales {' '.join(f'{s:g}' for s in args.tta_scales)}"
            + (" and a flip" if args.tta_flip else "")
            if tta(args)
            else ""
        )
    )
    if keep:
        print(
            f"kept '{metrics_path}' as it was (--overwrite replaces it, --output DIR writes "
            "elsewhere)",
            file=sys.stderr,
        )
    else:
        os.makedirs(output_dir, exist_ok=True)
        write_json(metrics_path, metrics)
        print(f"wrote {metrics_path}")
    if writer is not None:
        print(
            f"wrote predictions of {writer.count} frames"
            + (f" to {args.save_predictions}" if args.save_predictions else "")
            + (f", overlays to {args.save_overlays}" if args.save_overlays else "")
        )
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import tensorflow as tf

    try:
        return run_evaluation(args)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        message = str(e)
    except tf.errors.OpError as e:  # a bad file met inside tf.data: its check names the file
        message = cli.error_line(e)
    except OSError as e:
        message = f"cannot write {cli.os_error_line(e)}"
    print(f"evaluate.py: error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
