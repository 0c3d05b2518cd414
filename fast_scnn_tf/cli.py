"""What the command-line tools (train.py, evaluate.py, export.py, predict.py) share: the default
paths the documented commands rely on, TensorFlow's start-up noise hidden (`quiet.py`), every error
as one line that names the file or flag. What a tool may write over is `files.py`'s
(`check_output_dir`, `check_replaceable`).

Nothing here imports TensorFlow at module level: the scripts parse their arguments first, then
call `import_tensorflow(args.verbose)`.
"""

from __future__ import annotations

import os
import re

from fast_scnn_tf.data import datasets
from fast_scnn_tf.quiet import import_tensorflow, native_output_hidden  # noqa: F401 (the tools)

DEFAULT_DATA_DIR = os.path.join("data", "cityscapes")  # where docs/training.md puts Cityscapes
DEFAULT_RUN_DIR = os.path.join("runs", "fast_scnn")  # train.py writes it; the others read it
DEFAULT_EXPORT_DIR = "exports"
MISSING_DATA_HINT = (
    "put Cityscapes there, or pass --data-dir DIR (with --dataset NAME for "
    "another dataset); what DIR holds for each NAME: " + datasets.describe()
)


def error_line(error: BaseException) -> str:
    """One line for an error. A failed `tf.debugging.Assert` (the data pipeline's checks, whose
    messages name the file) becomes its message; other TensorFlow op errors lose the graph and
    iterator context TensorFlow prefixes them with."""
    text = getattr(error, "message", None) or str(error) or type(error).__name__
    failed = re.search(r"assertion failed: (.*)", text)
    if failed:  # in a graph: "[not a PNG file:] [path]" -> "not a PNG file: path"
        return " ".join(re.findall(r"\[([^\[\]]*)\]", failed.group(1))) or failed.group(1)
    failed = re.search(r"to be true\. Summarized data: (.*)", text, flags=re.S)
    if failed:  # eager: one value per line, strings as b'...'
        return " ".join(
            re.sub(r"^b(['\"])(.*)\1$", r"\2", value.strip())
            for value in failed.group(1).splitlines()
            if value.strip()
        )
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"^.*? with iterator: \S+: ", "", text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def os_error_line(error: OSError) -> str:
    """'PATH': reason, for a file that could not be read or written."""
    where = f"'{error.filename}': " if error.filename else ""
    return f"{where}{error.strerror or error}"


TTA_MAX_SCALES = 8  # evaluate.py --tta-scales: each view is a full network pass
TTA_MAX_SCALE = 4.0


def check_tta_scales(scales) -> tuple[float, ...]:
    """`scales` as a tuple of floats, or ValueError naming what is wrong with it: at least one,
    at most TTA_MAX_SCALES, each > 0 and <= TTA_MAX_SCALE, none twice."""
    scales = tuple(float(s) for s in scales)
    if not scales:
        raise ValueError("expected at least one scale")
    if len(scales) > TTA_MAX_SCALES:
        raise ValueError(f"expected at most {TTA_MAX_SCALES} scales, got {len(scales)}")
    for scale in scales:
        if not 0 < scale <= TTA_MAX_SCALE:
            raise ValueError(
                f"scale {scale:g} is out of range: expected > 0 and <= {TTA_MAX_SCALE:g}"
            )
    if len(set(scales)) != len(scales):
        raise ValueError(f"a scale is given twice in {', '.join(f'{s:g}' for s in scales)}")
    return scales


def add_tta_arguments(parser, scales_note: str, flip_note: str = "") -> None:
    """--tta-scales S... and --tta-flip, as evaluate.py and predict.py take them (the tool checks
    the scales with `check_tta_scales` after parsing); the notes end each flag's help."""
    parser.add_argument(
        "--tta-scales",
        type=float,
        nargs="+",
        metavar="S",
        default=(1.0,),
        help="test-time augmentation: average the softmax over the frame seen at each of these "
        "scales, " + scales_note,
    )
    parser.add_argument(
        "--tta-flip",
        action="store_true",
        help="test-time augmentation: average over each view's mirror image (left-right) too"
        + flip_note,
    )


def check_model_path(path: str, flag: str, also: str = "", files: tuple = ()) -> None:
    """Raise FileNotFoundError/ValueError (one line naming `flag`) unless `path` is a folder, a
    checkpoint prefix (DIR/best/ckpt-12, beside its .index file) or a file ending in one of
    `files`; `also` names the other things the flag accepts in the message."""
    expected = (
        "expected a model directory written by train.py or a checkpoint prefix like "
        f"DIR/best/ckpt-12{also}"
    )
    if (
        os.path.isdir(path)
        or os.path.isfile(path + ".index")
        or (files and path.endswith(files) and os.path.isfile(path))
    ):
        return
    if os.path.exists(path):
        raise ValueError(f"{flag} '{path}' is a file: {expected}")
    hint = " (the default: train one with `python train.py`)" if path == DEFAULT_RUN_DIR else ""
    raise FileNotFoundError(f"{flag} '{path}' does not exist{hint}: {expected}")
