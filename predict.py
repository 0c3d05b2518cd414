"""Segment your own images, folders of images or videos with a trained or exported Fast-SCNN.

    python predict.py --model runs/demo photos/ street.jpg drive.mp4 --output predictions/

For every image it writes `<name>_labels.png` (class ids 0..N-1 of the model's dataset, one byte per
pixel) and `<name>_overlay.png` (the dataset's class colours blended over the image); for every
video `<name>_overlay.mp4`. `<name>` is the file name without its extension; where two inputs
share it, the extension is kept (`a_png`, `a_jpg`), then folders are put in front, so no output
replaces another. Any size, grayscale, RGBA and 16-bit PNGs are accepted; files that cannot be
read are reported and skipped, videos that end early are reported as partial, with counts at the
end (exit code 1 if any).
"""

from __future__ import annotations

import argparse
import os
import sys

from fast_scnn_tf import cli

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (searched recursively for images) or videos "
                             f"({', '.join(VIDEO_EXTENSIONS)})")
    parser.add_argument("--model", default=cli.DEFAULT_RUN_DIR,
                        help="a model directory from train.py or a checkpoint prefix in it "
                             "(DIR/best/ckpt-12), an exported SavedModel (version folder, the "
                             "model-name folder above it, highest version wins, or export.py's "
                             "--output folder) or a .tflite file (images are resized to its input "
                             f"size and labels resized back) (default: {cli.DEFAULT_RUN_DIR})")
    parser.add_argument("--output", required=True, help="folder for the label maps and overlays")
    parser.add_argument("--which", choices=("best", "latest"), default="best",
                        help="checkpoint to use from a training model directory (default: best)")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="opacity of the class colours in overlays, 0..1 (default: 0.5)")
    parser.add_argument("--no-overlay", action="store_true", help="write label maps only")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (default: refuse)")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up log (hidden by default)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be between 0 and 1, got {args.alpha}")
    return args


def collect_inputs(inputs):
    """Expand folders; returns (images, videos, missing), each file once."""
    images, videos, missing, seen = [], [], [], set()
    for path in inputs:
        if os.path.isdir(path):
            found = [os.path.join(root, f) for root, _, files in sorted(os.walk(path))
                     for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
        elif not os.path.isfile(path):
            missing.append(path)
            continue
        else:
            found = [path]
        for file in found:
            if os.path.realpath(file) in seen:
                continue
            seen.add(os.path.realpath(file))
            # any file that is not a video is tried as an image
            (videos if file.lower().endswith(VIDEO_EXTENSIONS) else images).append(file)
    return images, videos, missing


def output_names(paths):
    """A unique output stem per input, as short as it can be: the file name without its
    extension; where that clashes, with the extension kept (`a_png`, `a_jpg`), then with its
    folders in front (`x_a`, `x_a_png`, ...). Compared ignoring case, as macOS and Windows disks
    do, so no output replaces another."""
    def candidate(index, level):
        stem, ext = os.path.splitext(os.path.basename(paths[index]))
        folders = os.path.dirname(os.path.abspath(paths[index])).split(os.sep)[1:]
        depth, with_ext = divmod(level, 2)
        name = "_".join(folders[len(folders) - depth:] + [stem + ("_" + ext[1:]) * with_ext])
        return name if depth <= len(folders) else f"{name}_{index}"

    levels = [0] * len(paths)
    while True:
        names = [candidate(i, level) for i, level in enumerate(levels)]
        keys = [name.lower() for name in names]
        clashing = [i for i, key in enumerate(keys) if keys.count(key) > 1]
        if not clashing:
            return names
        for i in clashing:
            levels[i] += 1


def planned_outputs(stem, is_video, args):
    if is_video:
        return [os.path.join(args.output, stem + "_overlay.mp4")]
    return [os.path.join(args.output, stem + suffix) for suffix in
            ("_labels.png",) + (() if args.no_overlay else ("_overlay.png",))]


def predict_images(predict, classes, jobs, args, failures):
    """`jobs`: (image path, output paths); unreadable images are reported and skipped."""
    import keras

    from fast_scnn_tf.files import write_png
    from fast_scnn_tf.data.images import read_image
    bar = keras.utils.Progbar(len(jobs), unit_name="image")
    for done, (path, outputs) in enumerate(jobs, start=1):
        try:
            image = read_image(path)
        except ValueError as e:
            print(f"\nskipped: {e}", file=sys.stderr)
            failures.append(path)
            continue
        labels = predict(image)
        write_png(outputs[0], labels)
        if not args.no_overlay:
            write_png(outputs[1], classes.overlay(image, labels, args.alpha))
        bar.update(done)


def predict_video(predict, classes, path, out_path, args, failures, partial):
    """Overlay every frame; a video that ends before its header's frame count (truncated or
    damaged) is kept but reported as partial."""
    import cv2
    import keras

    from fast_scnn_tf.data.images import to_rgb_uint8
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        print(f"skipped: cannot open video '{path}'", file=sys.stderr)
        failures.append(path)
        return
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    bar = keras.utils.Progbar(total, unit_name="frame")
    tmp = out_path + ".tmp.mp4"
    writer, frames = None, 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        image = to_rgb_uint8(frame, bgr=True)
        if writer is None:
            writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                     (image.shape[1], image.shape[0]))
        writer.write(classes.overlay(image, predict(image), args.alpha)[:, :, ::-1])
        frames += 1
        bar.update(frames)
    capture.release()
    if writer is None:
        print(f"skipped: no frames could be read from video '{path}'", file=sys.stderr)
        failures.append(path)
        return
    writer.release()
    os.replace(tmp, out_path)
    if total and frames < total:
        message = f"'{path}': {frames} of {total} frames read (truncated or damaged)"
        print(f"\npartial: {message}; the overlay has those {frames}", file=sys.stderr)
        partial.append(message)


def main(argv=None):
    args = parse_args(argv)
    images, videos, missing = collect_inputs(args.inputs)
    for path in missing:
        print(f"skipped: '{path}' does not exist", file=sys.stderr)
    if not images and not videos:
        sys.exit("predict.py: error: no images or videos found in the inputs")
    paths = images + videos
    jobs = [(path, planned_outputs(stem, i >= len(images), args))
            for i, (path, stem) in enumerate(zip(paths, output_names(paths)))]
    try:
        cli.check_output_dir(args.output, "--output")
        existing = [p for _, outputs in jobs for p in outputs if os.path.exists(p)]
        if existing and not args.overwrite:
            raise FileExistsError(f"'{existing[0]}' exists ({len(existing)} of the outputs do): "
                                  "pass --overwrite to replace them")
        cli.import_tensorflow(args.verbose)
        from fast_scnn_tf.predictor import load_predictor
        predict, description, classes = load_predictor(args.model, which=args.which)
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        sys.exit(f"predict.py: error: {e}")
    print(f"model: {description} ({classes.num_classes} classes: {', '.join(classes.names)})")
    os.makedirs(args.output, exist_ok=True)
    failures, partial = list(missing), []
    try:
        predict_images(predict, classes, jobs[:len(images)], args, failures)
        for path, (out_path,) in jobs[len(images):]:
            predict_video(predict, classes, path, out_path, args, failures, partial)
    except OSError as e:
        sys.exit(f"predict.py: error: cannot write {cli.os_error_line(e)}")
    written = len(jobs) - len(failures) + len(missing) - len(partial)
    print(f"{written} written to {args.output}"
          + (f", {len(partial)} partial ({'; '.join(partial)})" if partial else "")
          + f", {len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
    return 1 if failures or partial else 0


if __name__ == "__main__":
    sys.exit(main())
