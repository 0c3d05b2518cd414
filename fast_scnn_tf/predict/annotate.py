"""Label maps and colour overlays for image files, folders and videos: what `predict.py` runs.

Inputs are expanded (folders recursively), each gets a unique output name, and images are written
as `<name>_labels.png` (class ids, one byte per pixel) and `<name>_overlay.png`, videos as
`<name>_overlay.mp4`. Unreadable inputs, and inputs whose header declares more than `max_pixels`
(refused before decoding: `fast_scnn_tf.data.images.MAX_PIXELS`), are reported and skipped; the
caller counts them. No output may replace an input (`check_outputs_apart`), and --overwrite
replaces only files predict.py wrote (`check_ours`): each carries a marker (`MARKER`) that image
and video decoders ignore, a PNG text chunk or a trailing MP4 'free' box, so a user's own
`street_labels.png` beside `street.png` is never taken for an output.
Finding inputs and naming outputs import nothing heavy, so a script can check them before it
imports TensorFlow (`cli.import_tensorflow`).
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fast_scnn_tf.data.classes import ClassTable
    from fast_scnn_tf.predict.predictor import Predictor

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")

# What marks a file as predict.py's output: in a PNG a text chunk (`files.write_png`); in an MP4
# a 'free' box appended at the end, a top-level box players skip.
MARKER = b"fast-scnn-tf predict.py"
_MP4_BOX = struct.pack(">I", 8 + len(MARKER)) + b"free" + MARKER


def collect_inputs(inputs):
    """Expand folders; returns (images, videos, skipped), each file once. `skipped`: (path, why)
    for an input that does not exist and for a file that is not a regular file (a FIFO, a
    device), in a folder or given itself: such a file is never opened (reading a FIFO waits for
    a writer, forever)."""
    from fast_scnn_tf.files import not_a_regular_file

    images, videos, skipped, seen = [], [], [], set()
    for path in inputs:
        if os.path.isdir(path):
            found = [
                os.path.join(root, f)
                for root, _, files in sorted(os.walk(path))
                for f in sorted(files)
                if f.lower().endswith(IMAGE_EXTENSIONS)
            ]
        elif not os.path.exists(path):
            skipped.append((path, "does not exist"))
            continue
        else:
            found = [path]
        for file in found:
            if os.path.realpath(file) in seen:
                continue
            seen.add(os.path.realpath(file))
            problem = not_a_regular_file(file)
            if problem:
                skipped.append((file, problem))
                continue
            # any file that is not a video is tried as an image
            (videos if file.lower().endswith(VIDEO_EXTENSIONS) else images).append(file)
    return images, videos, skipped


def output_names(paths):
    """A unique output stem per input, as short as it can be: the file name without its
    extension; where that clashes, with the extension kept (`a_png`, `a_jpg`), then with its
    folders in front (`x_a`, `x_a_png`, ...). Compared ignoring case, as macOS and Windows disks
    do, so no output replaces another."""

    def candidate(index, level):
        stem, ext = os.path.splitext(os.path.basename(paths[index]))
        folders = os.path.dirname(os.path.abspath(paths[index])).split(os.sep)[1:]
        depth, with_ext = divmod(level, 2)
        name = "_".join(folders[len(folders) - depth :] + [stem + ("_" + ext[1:]) * with_ext])
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


def planned_outputs(stem: str, is_video: bool, output: str, overlay: bool = True) -> list[str]:
    """The files an input writes into `output`: a video its overlay; an image its label map, then
    its overlay unless `overlay` is False."""
    if is_video:
        return [os.path.join(output, stem + "_overlay.mp4")]
    return [
        os.path.join(output, stem + suffix)
        for suffix in ("_labels.png",) + (("_overlay.png",) if overlay else ())
    ]


def check_outputs_apart(inputs, jobs, output: str) -> None:
    """Raise ValueError (one line) if `output` is an input folder or inside one (the predictions
    would be predicted on by the next run over that folder, and --overwrite could replace a
    user's own files), or if a planned output is an input file. `jobs`: (input path, output
    paths)."""
    from fast_scnn_tf.files import is_inside

    for folder in inputs:
        if os.path.isdir(folder) and is_inside(output, folder):
            raise ValueError(
                f"--output '{output}' is inside the input folder '{folder}': the "
                "predictions would land among the images; choose a folder outside it"
            )
    planned = {os.path.realpath(p): p for _, outputs in jobs for p in outputs}
    for path, _ in jobs:
        if os.path.realpath(path) in planned:
            raise ValueError(
                f"the input '{path}' would be replaced by a prediction "
                f"('{planned[os.path.realpath(path)]}'): choose another --output"
            )


def write_png(path: str, array) -> None:
    """A PNG of a (H, W) label map or an (H, W, 3) RGB image, with predict.py's marker."""
    from fast_scnn_tf.files import write_png

    write_png(path, array, MARKER)


def mark_video(path: str) -> None:
    """Append predict.py's marker to the MP4 file `path` (a 'free' box, skipped by players)."""
    with open(path, "ab") as f:
        f.write(_MP4_BOX)


def written_by_predict(path: str) -> bool:
    """True if `path` is a regular file (not a link) carrying predict.py's marker."""
    from fast_scnn_tf.files import has_png_marker

    if has_png_marker(path, MARKER):
        return True
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size < len(_MP4_BOX):
                return False
            f.seek(size - len(_MP4_BOX))
            return f.read() == _MP4_BOX
    except OSError:
        return False


def check_ours(outputs) -> None:
    """Raise FileExistsError (one line) for the first of `outputs` that exists and is not
    predict.py's own output (`written_by_predict`): --overwrite replaces only those."""
    for path in outputs:
        if os.path.lexists(path) and not written_by_predict(path):
            raise FileExistsError(
                f"'{path}' exists and was not written by predict.py: --overwrite replaces only "
                "predict.py's own outputs; move that file or choose another --output"
            )


def too_large(error: ValueError) -> str:
    """`error` as a line, with the flag that raises the limit when it is the pixel limit."""
    from fast_scnn_tf.data.images import TooManyPixels

    return f"{error}" + (
        "; --max-pixels raises the limit" if isinstance(error, TooManyPixels) else ""
    )


def predict_images(
    predict: Predictor,
    classes: ClassTable,
    jobs,
    alpha: float,
    failures: list,
    max_pixels: int | None = None,
) -> None:
    """`jobs`: (image path, output paths from `planned_outputs`); unreadable images and images
    over `max_pixels` (default `images.MAX_PIXELS`) are reported on stderr, added to `failures`
    and skipped."""
    import keras

    from fast_scnn_tf.data.images import MAX_PIXELS, read_image
    from fast_scnn_tf.predict.predictor import LabelsOutOfRange

    bar = keras.utils.Progbar(len(jobs), unit_name="image")
    for done, (path, outputs) in enumerate(jobs, start=1):
        try:
            image = read_image(path, max_pixels or MAX_PIXELS)
        except ValueError as e:
            print(f"\nskipped: {too_large(e)}", file=sys.stderr)
            failures.append(path)
            continue
        try:
            labels = predict(image)
        except LabelsOutOfRange:  # the model is wrong, not the frame: stop
            raise
        except ValueError as e:  # the model refused the frame (an export's own size bounds)
            print(f"\nskipped '{path}': {e}", file=sys.stderr)
            failures.append(path)
            continue
        write_png(outputs[0], labels)
        if len(outputs) > 1:
            write_png(outputs[1], classes.overlay(image, labels, alpha))
        bar.update(done)


def predict_video(
    predict: Predictor,
    classes: ClassTable,
    path: str,
    out_path: str,
    alpha: float,
    failures: list,
    partial: list,
    max_pixels: int | None = None,
) -> None:
    """Overlay every frame into `out_path`; a video that ends before its header's frame count
    (truncated or damaged) is kept but reported as partial (added to `partial`). A video whose
    frame size is over `max_pixels` (default `images.MAX_PIXELS`), or whose frames the model
    refuses (an export's own size bounds), is skipped and reported.

    The video is written into a private folder made beside `out_path` (mkdtemp: a new name,
    created exclusively, that no one else can write into) and renamed into place when it is
    complete; the folder is removed whatever happens, so no error leaves a partial file behind
    and a link planted in the output folder is never written through."""
    import cv2
    import keras

    from fast_scnn_tf.data.images import MAX_PIXELS, TooManyPixels, check_pixels, to_rgb_uint8
    from fast_scnn_tf.predict.predictor import LabelsOutOfRange

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        print(f"skipped: cannot open video '{path}'", file=sys.stderr)
        failures.append(path)
        return
    folder = tempfile.mkdtemp(
        prefix=f".{os.path.basename(out_path)}.", dir=os.path.dirname(os.path.abspath(out_path))
    )
    writer = None
    try:
        check_pixels(
            f"video '{path}'",
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            max_pixels or MAX_PIXELS,
        )
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        bar = keras.utils.Progbar(total, unit_name="frame")
        tmp = os.path.join(folder, "overlay.mp4")
        frames = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            image = to_rgb_uint8(frame, bgr=True)
            if writer is None:
                writer = cv2.VideoWriter(
                    tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (image.shape[1], image.shape[0])
                )
            writer.write(classes.overlay(image, predict(image), alpha)[:, :, ::-1])
            frames += 1
            bar.update(frames)
        if writer is None:
            print(f"skipped: no frames could be read from video '{path}'", file=sys.stderr)
            failures.append(path)
            return
        writer.release()
        mark_video(tmp)
        os.replace(tmp, out_path)
    except LabelsOutOfRange:  # the model is wrong, not the video: stop
        raise
    except ValueError as e:  # over --max-pixels (the message names the video), or refused
        named = isinstance(e, TooManyPixels)
        where = "" if named else f" '{path}'"
        print(f"\nskipped{where}: {too_large(e)}", file=sys.stderr)
        failures.append(path)
        return
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        shutil.rmtree(folder, ignore_errors=True)
    if total and frames < total:
        message = f"'{path}': {frames} of {total} frames read (truncated or damaged)"
        print(f"\npartial: {message}; the overlay has those {frames}", file=sys.stderr)
        partial.append(message)
