"""Export a trained model for deployment: a TF Serving SavedModel or TFLite files.

    python export.py --mode cls                  # runs/fast_scnn -> exports/fast_scnn/<version>/
    python export.py --mode cls --tflite         # -> exports/fast_scnn_cls_float32_1024x2048.tflite
    python export.py --checkpoint runs/fast_scnn --mode cls --output exports
    python export.py --checkpoint runs/fast_scnn --mode cls --output exports --tflite \
        --quantize none int8 --calibration-data data/cityscapes
    python export.py --checkpoint runs/fast_scnn --output exports --tflite --qat-steps 200 \
        --calibration-data data/cityscapes --input-size 512 1024
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from fast_scnn_tf import cli
from fast_scnn_tf.config import WHICH
from fast_scnn_tf.data.datasets import describe as describe_datasets
from fast_scnn_tf.files import check_output_dir

# model.head.MODES and export.tflite.QUANTIZATIONS, spelled here because those modules import
# TensorFlow and the arguments are parsed before it (test_export_cli checks that they agree).
MODES = ("cls", "prob")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
# The largest --input-size, in pixels (2048x2048, twice the paper's 1024x2048). An export's memory
# grows with its input: about 0.9 GB plus 1.2 kB per pixel for a prob TFLite export (peaks of
# 1.5 and 3.3 GB measured at 512x1024 and 1024x2048; cls 1.3 and 2.7 GB), so 4 megapixels peak
# near 6 GB, the memory budget every size limit of the tools is set against.
MAX_INPUT_PIXELS = 2048 * 2048
MODES_HELP = (
    "cls: the label map only (uint8 train ids [B, H, W], argmax of the upsampled logits; "
    "the paper's 'Fast-SCNN cls'). prob: softmax probabilities float32 [B, H, W, C] plus "
    "the label map ('Fast-SCNN prob'). Both at the input's size; no auxiliary heads"
)
QUANT_HELP = (
    "TFLite variants (one or more): none = float32; float16 = float16 weights; dynamic = "
    "int8 weights with float activations; int8 = full-integer post-training "
    "quantisation calibrated on --calibration-data (all variants take uint8 input)"
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Export a trained run. Without --tflite: a TF Serving SavedModel in "
        "OUTPUT/MODEL_NAME/VERSION/ with signatures 'serving_default' (uint8 images [B,H,W,3], "
        "any H/W -> 'labels'[, 'probabilities']) and 'serving_bytes' (encoded PNG/JPEG strings "
        "'image_bytes' -> PNG label maps 'label_png_bytes'). With --tflite: fixed-size .tflite "
        "files OUTPUT/MODEL_MODE_VARIANT_HxW.tflite (MODEL: the run's model, e.g. fast_scnn). "
        "Every export is checked against the Keras model (label-map pixel agreement, max "
        "probability difference) and not written if it falls below its threshold; config.json "
        "and metadata travel with it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--checkpoint",
        default=cli.DEFAULT_RUN_DIR,
        help="model directory written by train.py, or a checkpoint prefix",
    )
    parser.add_argument(
        "--which",
        choices=WHICH,
        default="best",
        help="which checkpoint of a model directory to export",
    )
    parser.add_argument("--mode", choices=MODES, default="cls", help=MODES_HELP)
    parser.add_argument(
        "--output", default=cli.DEFAULT_EXPORT_DIR, help="directory to write the export into"
    )
    parser.add_argument(
        "--tflite",
        action="store_true",
        help="write TFLite files (fixed --input-size) instead of the SavedModel",
    )
    parser.add_argument(
        "--quantize",
        nargs="+",
        choices=QUANTIZATIONS,
        help=QUANT_HELP + " (default: none; needs --tflite)",
    )
    parser.add_argument(
        "--input-size",
        nargs=2,
        type=int,
        default=None,
        metavar=("H", "W"),
        help="TFLite input height and width (the SavedModel takes any size; this "
        "is then only the size of its validation frames); default: the frame "
        "size the model was trained to see (config.json's model.input_size, "
        "e.g. 360 480 for CamVid), 1024 2048 for runs that did not record it; "
        f"at most {MAX_INPUT_PIXELS} pixels (2048x2048) in all, which an export "
        "can afford in about 6 GB of memory",
    )
    parser.add_argument(
        "--calibration-data",
        default=None,
        help="a root of the dataset the model was trained on, in its layout "
        f"({describe_datasets()}): train frames calibrate int8 and "
        "fine-tune QAT, val frames validate. 'synthetic' = random smooth frames "
        "(for tests only). Without it, validation uses synthetic frames and int8 "
        "/ QAT refuse to run",
    )
    parser.add_argument(
        "--calibration-steps",
        type=int,
        default=100,
        help="frames used to calibrate int8 activation ranges",
    )
    parser.add_argument(
        "--validation-frames",
        type=int,
        default=4,
        help="frames each export is compared with the Keras model on",
    )
    parser.add_argument(
        "--min-agreement",
        type=float,
        default=None,
        help="override the label-agreement threshold (a fraction 0..1, e.g. "
        "0.95); "
        "defaults: SavedModel/float32 0.999, float16 0.995, dynamic 0.97, "
        "int8/QAT 0.95 (thresholds assume a trained model)",
    )
    parser.add_argument(
        "--qat-steps",
        type=int,
        default=0,
        help="> 0: quantisation-aware fine-tuning for this many steps on the "
        "--calibration-data train split, then export an int8 TFLite "
        "(fast_scnn_MODE_qat_int8_HxW.tflite) instead of the SavedModel; the "
        "--quantize variants are written too only with --tflite",
    )
    parser.add_argument("--qat-batch-size", type=int, default=2, help="QAT batch size")
    parser.add_argument(
        "--qat-learning-rate", type=float, default=1e-4, help="QAT SGD learning rate (momentum 0.9)"
    )
    parser.add_argument(
        "--model-name",
        help="SavedModel name: the folder TF Serving's --model_name points at "
        "(default: the run's model, e.g. fast_scnn; SavedModel only)",
    )
    parser.add_argument(
        "--version",
        type=int,
        default=None,
        help="SavedModel version number (default: next free integer; SavedModel only)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="the largest frame (height x width) the SavedModel's signatures "
        "take; larger requests, and PNG/JPEG bytes whose header declares more, "
        "are refused before decoding (default: the largest frame that serving "
        "can afford in a 6 GB memory budget, from the head and its class count: "
        "about 36 megapixels for a 19-class cls head, 23 for prob; a larger "
        "value is taken, with a warning of the memory it needs; SavedModel only)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing SavedModel version (only one export.py "
        "wrote, with nothing else inside) or TFLite file",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up log (hidden by default)"
    )
    args = parser.parse_args(argv)
    # Flags that would do nothing in this combination are refused, not ignored.
    if args.quantize and not args.tflite:
        parser.error(
            "--quantize picks TFLite variants: add --tflite (without it the export is a "
            "SavedModel"
            + (", and --qat-steps writes its int8 TFLite alone)" if args.qat_steps else ")")
        )
    writes_saved_model = not args.tflite and not args.qat_steps
    for flag, value in (
        ("--version", args.version),
        ("--model-name", args.model_name),
        ("--max-pixels", args.max_pixels),
    ):
        if value is not None and not writes_saved_model:
            parser.error(
                f"{flag} names a SavedModel, but --tflite/--qat-steps write TFLite files "
                f"({flag} would be ignored)"
            )
    name = args.model_name
    if name is not None and (name in ("", ".", "..") or os.sep in name or "/" in name):
        parser.error(
            f"--model-name must be a plain folder name (it is created inside "
            f"--output), got {name!r}"
        )
    args.quantize = args.quantize or ["none"]
    if args.input_size is not None:
        try:
            check_input_size(args.input_size, "--input-size")
        except ValueError as e:
            parser.error(str(e))
    if args.min_agreement is not None and not 0 <= args.min_agreement <= 1:
        parser.error(
            f"--min-agreement must be a fraction between 0 and 1, got {args.min_agreement}"
        )
    if args.qat_steps < 0 or args.calibration_steps < 1 or args.validation_frames < 1:
        parser.error("--qat-steps must be >= 0, --calibration-steps and --validation-frames >= 1")
    if args.max_pixels is not None and args.max_pixels < 32 * 32:
        parser.error(
            f"--max-pixels must be at least 1024 (32x32, the smallest frame), got {args.max_pixels}"
        )
    if args.version is not None and args.version < 1:
        parser.error(f"--version must be a positive integer, got {args.version}")
    needs_data = args.qat_steps > 0 or (args.tflite and "int8" in args.quantize)
    if needs_data and not args.calibration_data:
        parser.error(
            "int8 quantisation and QAT need --calibration-data DIR (a root of the "
            "run's dataset), or --calibration-data synthetic for a test export"
        )
    if args.calibration_data not in (None, "synthetic") and not os.path.isdir(
        args.calibration_data
    ):
        parser.error(f"--calibration-data '{args.calibration_data}' is not a directory")
    return args


def check_input_size(size, name: str) -> None:
    """Raise ValueError (one line naming `name`) unless `size` (height, width) is at least 32x32
    and at most MAX_INPUT_PIXELS in all: checked before anything of that size is allocated."""
    height, width = size
    if min(height, width) < 32:
        raise ValueError(f"{name} must be at least 32x32, got {height}x{width}")
    if height * width > MAX_INPUT_PIXELS:
        raise ValueError(
            f"{name} must be at most {MAX_INPUT_PIXELS} pixels (2048x2048) in all, "
            f"got {height}x{width} = {height * width}: an export needs about 1.2 kB "
            "of memory per input pixel"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cli.check_model_path(args.checkpoint, "--checkpoint")
        check_output_dir(args.output, "--output")
    except (FileNotFoundError, ValueError) as e:
        print(f"export.py: error: {e}", file=sys.stderr)
        return 1
    tf = cli.import_tensorflow(args.verbose)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from fast_scnn_tf.export import exporter
    from fast_scnn_tf.export.memory import over_budget
    from fast_scnn_tf.export.sample_frames import frames_for
    from fast_scnn_tf.export.validate import ValidationError
    from fast_scnn_tf.model.families import FAMILIES, family_of
    from fast_scnn_tf.training.checkpoint import load_run

    try:
        run = load_run(args.checkpoint, args.which)
        model, config = run.model, run.config
        size = tuple(
            args.input_size
            or (config.model.input_size if min(config.model.input_size) else (1024, 2048))
        )
        if not args.input_size:
            check_input_size(
                size,
                f"the run's model.input_size (in {run.directory}/config.json;"
                " --input-size overrides it)",
            )
        if args.qat_steps and not family_of(config.model.name).qat:
            qat_models = [
                name for family in FAMILIES.values() if family.qat for name in family.variants
            ]
            raise ValueError(
                f"--qat-steps: quantisation-aware training is implemented for "
                f"{', '.join(qat_models)} only, not {config.model.name}; "
                "post-training int8 (--tflite --quantize int8) works for every model"
            )
        frames = frames_for(
            config, args.calibration_data, size, args.validation_frames, split="val", seed=1
        )
        if not args.tflite and not args.qat_steps:
            note = args.max_pixels and over_budget(
                args.mode, config.model.num_classes, args.max_pixels
            )
            if note:
                logging.warning("warning: %s", note)
            exporter.export_saved_model(
                model,
                config,
                args.output,
                args.mode,
                frames,
                args.model_name or config.model.name,
                args.version,
                args.overwrite,
                args.min_agreement,
                args.max_pixels,
            )
            return 0

        def calibration():
            return frames_for(
                config, args.calibration_data, size, args.calibration_steps, split="train"
            )

        for quantize in args.quantize if args.tflite else []:
            exporter.export_tflite(
                model,
                config,
                args.output,
                args.mode,
                quantize,
                size,
                frames,
                calibration,
                args.overwrite,
                args.min_agreement,
            )
        if args.qat_steps:
            from fast_scnn_tf.export import qat

            qat.export_qat_tflite(
                model,
                config,
                args.output,
                args.mode,
                size,
                frames,
                args.calibration_data,
                args.qat_steps,
                args.qat_batch_size,
                args.qat_learning_rate,
                args.overwrite,
                args.min_agreement,
                args.calibration_steps,
            )
    except (FileNotFoundError, FileExistsError, ValueError, ValidationError) as e:
        print(f"export.py: error: {e}", file=sys.stderr)
        return 1
    except tf.errors.OpError as e:  # a bad calibration/validation file, met inside tf.data
        print(f"export.py: error: {cli.error_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"export.py: error: cannot write {cli.os_error_line(e)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
