"""Segment your own images, folders of images or videos with a trained or exported model.

    python predict.py --model runs/demo photos/ street.jpg drive.mp4 --output predictions/

For every image it writes `<name>_labels.png` (class ids 0..N-1 of the model's dataset, one byte per
pixel) and `<name>_overlay.png` (the dataset's class colours blended over the image); for every
video `<name>_overlay.mp4`. `<name>` is the file name without its extension; where two inputs
share it, the extension is kept (`a_png`, `a_jpg`), then folders are put in front, so no output
replaces another. Any size, grayscale, RGBA and 16-bit PNGs are accepted; files that cannot be
read are reported and skipped, videos that end early are reported as partial, with counts at the
end (exit code 1 if any). Images are predicted at the scale the model was trained for (a 1024x2048
photo goes to a model trained on 360x480 CamVid frames at 360x720) and labelled at their own size;
`--native-size` feeds them as they are. `--tta-scales` and `--tta-flip` (a training run only)
average the prediction over resized and mirrored views, as evaluate.py's flags do.

An image or video whose header declares more pixels than --max-pixels (64 megapixels, 8192x8192, by
default) is refused before it is decoded: a 1 kB PNG can declare gigapixels. A checkpoint runs on a
frame only up to what fits a 6 GB memory budget (about 36 megapixels with 19 classes, at the
model's scale or, with --native-size, the image's); an explicit --max-pixels sets both limits. The
output folder may not be an input folder or lie inside one, and no output may replace an input.
--overwrite replaces only files predict.py wrote, which carry its marker (a PNG text chunk, a
trailing MP4 'free' box): never a file of the same name from elsewhere, such as your own ground
truth.
"""

from __future__ import annotations

import argparse
import os
import sys

from fast_scnn_tf import cli, files
from fast_scnn_tf.config import WHICH
from fast_scnn_tf.data.images import MAX_PIXELS
from fast_scnn_tf.predict.annotate import (
    VIDEO_EXTENSIONS,
    check_ours,
    check_outputs_apart,
    collect_inputs,
    output_names,
    planned_outputs,
    predict_images,
    predict_video,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders (searched recursively for images) or videos "
        f"({', '.join(VIDEO_EXTENSIONS)})",
    )
    parser.add_argument(
        "--model",
        default=cli.DEFAULT_RUN_DIR,
        help="a model directory from train.py or a checkpoint prefix in it "
        "(DIR/best/ckpt-12), an exported SavedModel (version folder, the "
        "model-name folder above it, highest version wins, or export.py's "
        "--output folder) or a .tflite file (images are resized to its input "
        f"size and labels resized back) (default: {cli.DEFAULT_RUN_DIR})",
    )
    parser.add_argument("--output", required=True, help="folder for the label maps and overlays")
    parser.add_argument(
        "--which",
        choices=WHICH,
        default="best",
        help="checkpoint to use from a training model directory (default: best)",
    )
    parser.add_argument(
        "--native-size",
        action="store_true",
        help="predict at each image's own size; by default an image is first "
        "resized to the scale the model was trained for (its shorter side "
        "onto the training frames' shorter side, e.g. 360 rows for the "
        "CamVid model) and the labels are returned at the image's size",
    )
    cli.add_tta_arguments(
        parser,
        "relative to the size it is predicted at (a training run only, not an export); slower "
        "by about the sum of the scales squared",
        " (twice the work)",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.5,
        help="opacity of the class colours in overlays, 0..1 (default: 0.5)",
    )
    parser.add_argument("--no-overlay", action="store_true", help="write label maps only")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing output files that predict.py wrote (default: "
        "refuse); never an input or any other file",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="refuse images and videos whose header declares more pixels "
        "(height x width) than this, before decoding them: a small file can "
        f"declare gigapixels (default: {MAX_PIXELS}, 8192x8192); and frames "
        "a checkpoint would run at more pixels (default: what fits a 6 GB "
        "memory budget, about 36 megapixels with 19 classes)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show TensorFlow's start-up log (hidden by default)"
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.max_pixels is not None and args.max_pixels < 1:
        parser.error(f"--max-pixels must be a positive number of pixels, got {args.max_pixels}")
    try:
        args.tta_scales = cli.check_tta_scales(args.tta_scales)
    except ValueError as e:
        parser.error(f"--tta-scales: {e}")
    return args


def main(argv=None):
    args = parse_args(argv)
    images, videos, skipped = collect_inputs(args.inputs)
    for path, why in skipped:
        print(f"skipped: '{path}' {why}", file=sys.stderr)
    if not images and not videos:
        sys.exit("predict.py: error: no images or videos found in the inputs")
    paths = images + videos
    jobs = [
        (path, planned_outputs(stem, i >= len(images), args.output, not args.no_overlay))
        for i, (path, stem) in enumerate(zip(paths, output_names(paths)))
    ]
    try:
        check_outputs_apart(args.inputs, jobs, args.output)
        outputs = [p for _, planned in jobs for p in planned]
        files.check_output_dir(args.output, "--output", args.overwrite, outputs=outputs)
        check_ours(outputs)
        cli.import_tensorflow(args.verbose)
        from fast_scnn_tf.predict.predictor import load_predictor

        predict, description, classes = load_predictor(
            args.model,
            which=args.which,
            native=args.native_size,
            max_pixels=args.max_pixels,
            tta_scales=args.tta_scales,
            tta_flip=args.tta_flip,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        sys.exit(f"predict.py: error: {e}")
    print(f"model: {description} ({classes.num_classes} classes: {', '.join(classes.names)})")
    os.makedirs(args.output, exist_ok=True)
    failures, partial = [path for path, _ in skipped], []
    try:
        predict_images(predict, classes, jobs[: len(images)], args.alpha, failures, args.max_pixels)
        for path, (out_path,) in jobs[len(images) :]:
            predict_video(
                predict, classes, path, out_path, args.alpha, failures, partial, args.max_pixels
            )
    except OSError as e:
        sys.exit(f"predict.py: error: cannot write {cli.os_error_line(e)}")
    except ValueError as e:  # the model's labels are outside its classes (LabelsOutOfRange)
        sys.exit(f"predict.py: error: {e}")
    written = len(jobs) - len(failures) + len(skipped) - len(partial)
    print(
        f"{written} written to {args.output}"
        + (f", {len(partial)} partial ({'; '.join(partial)})" if partial else "")
        + f", {len(failures)} failed"
        + (": " + ", ".join(failures) if failures else "")
    )
    return 1 if failures or partial else 0


if __name__ == "__main__":
    sys.exit(main())
