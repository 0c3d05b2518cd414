"""Segment your own images, folders of images or videos with a trained or exported Fast-SCNN.

    python predict.py --model runs/demo photos/ street.jpg drive.mp4 --output predictions/

For every image it writes `<name>_labels.png` (class ids 0..N-1 of the model's dataset, one byte per
pixel) and `<name>_overlay.png` (the dataset's class colours blended over the image); for every
video `<name>_overlay.mp4`. Any size, grayscale, RGBA and 16-bit PNGs are accepted; files that cannot be
read are reported and skipped, with a count at the end.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (searched recursively for images) or videos "
                             f"({', '.join(VIDEO_EXTENSIONS)})")
    parser.add_argument("--model", required=True,
                        help="a model directory from train.py (checkpoint), an exported SavedModel "
                             "(version folder or the model-name folder above it, highest version "
                             "wins) or a .tflite file (images are resized to its input size and "
                             "labels resized back)")
    parser.add_argument("--output", required=True, help="folder for the label maps and overlays")
    parser.add_argument("--which", choices=("best", "latest"), default="best",
                        help="checkpoint to use from a training model directory (default: best)")
    parser.add_argument("--alpha", type=float, default=0.5,
                        help="opacity of the class colours in overlays, 0..1 (default: 0.5)")
    parser.add_argument("--no-overlay", action="store_true", help="write label maps only")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (default: refuse)")
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be between 0 and 1, got {args.alpha}")
    return args


def collect_inputs(inputs):
    """Expand folders; returns (images, videos, missing)."""
    images, videos, missing = [], [], []
    for path in inputs:
        if os.path.isdir(path):
            for root, _, files in sorted(os.walk(path)):
                images += [os.path.join(root, f) for f in sorted(files)
                           if f.lower().endswith(IMAGE_EXTENSIONS)]
        elif not os.path.isfile(path):
            missing.append(path)
        elif path.lower().endswith(VIDEO_EXTENSIONS):
            videos.append(path)
        else:
            images.append(path)  # any other file is tried as an image
    return images, videos, missing


def output_names(paths):
    """A unique output stem per input: the file name, prefixed by its folder if names clash."""
    stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    clashes = {s for s in stems if stems.count(s) > 1}
    return [(os.path.basename(os.path.dirname(p)) + "_" + s) if s in clashes else s
            for p, s in zip(paths, stems)]


def _write_png(path, array, overwrite):
    from fast_scnn_tf.files import write_png
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"'{path}' exists: pass --overwrite to replace it")
    write_png(path, array)


def predict_images(predict, classes, paths, args, failures):
    from tqdm import tqdm

    from fast_scnn_tf.predictor import read_image
    for path, stem in tqdm(list(zip(paths, output_names(paths))), desc="images", unit="img"):
        try:
            image = read_image(path)
        except ValueError as e:
            tqdm.write(f"skipped: {e}")
            failures.append(path)
            continue
        labels = predict(image)
        _write_png(os.path.join(args.output, stem + "_labels.png"), labels, args.overwrite)
        if not args.no_overlay:
            blended = classes.overlay(image, labels, args.alpha)
            _write_png(os.path.join(args.output, stem + "_overlay.png"), blended, args.overwrite)


def predict_video(predict, classes, path, args, failures):
    import cv2
    from tqdm import tqdm

    from fast_scnn_tf.predictor import to_rgb_uint8
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        print(f"skipped: cannot open video '{path}'", file=sys.stderr)
        failures.append(path)
        return
    out_path = os.path.join(args.output, output_names([path])[0] + "_overlay.mp4")
    if os.path.exists(out_path) and not args.overwrite:
        raise FileExistsError(f"'{out_path}' exists: pass --overwrite to replace it")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    tmp = out_path + ".tmp.mp4"
    writer = None
    with tqdm(total=total, desc=os.path.basename(path), unit="frame") as bar:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            image = to_rgb_uint8(frame, bgr=True)
            if writer is None:
                writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                         (image.shape[1], image.shape[0]))
            writer.write(classes.overlay(image, predict(image), args.alpha)[:, :, ::-1])
            bar.update()
    capture.release()
    if writer is None:
        print(f"skipped: no frames could be read from video '{path}'", file=sys.stderr)
        failures.append(path)
        return
    writer.release()
    os.replace(tmp, out_path)


def main(argv=None):
    args = parse_args(argv)
    images, videos, missing = collect_inputs(args.inputs)
    for path in missing:
        print(f"skipped: '{path}' does not exist", file=sys.stderr)
    if not images and not videos:
        sys.exit("error: no images or videos found in the inputs")

    from fast_scnn_tf.predictor import load_predictor
    try:
        predict, description, classes = load_predictor(args.model, which=args.which)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"model: {description} ({classes.num_classes} classes: {', '.join(classes.names)})")
    os.makedirs(args.output, exist_ok=True)
    failures = list(missing)
    try:
        if images:
            predict_images(predict, classes, images, args, failures)
        for video in videos:
            predict_video(predict, classes, video, args, failures)
    except FileExistsError as e:
        sys.exit(f"error: {e}")
    done = len(images) + len(videos) + len(missing) - len(failures)
    print(f"{done} written to {args.output}, {len(failures)} failed"
          + (": " + ", ".join(failures) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
