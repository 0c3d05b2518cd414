"""What the command-line tools (train.py, evaluate.py, export.py, predict.py) share: the default
paths the README's commands rely on, TensorFlow's start-up noise hidden (`quiet.py`), every error
as one line that names the file or flag, and what --overwrite may replace (`check_replaceable`).

Nothing here imports TensorFlow at module level: the scripts parse their arguments first, then
call `import_tensorflow(args.verbose)`.
"""

from __future__ import annotations

import os
import re

from fast_scnn_tf.data import datasets
from fast_scnn_tf.quiet import import_tensorflow, native_output_hidden  # noqa: F401 (the tools)

DEFAULT_DATA_DIR = os.path.join("data", "cityscapes")  # where the README puts Cityscapes
DEFAULT_RUN_DIR = os.path.join("runs", "fast_scnn")  # train.py writes it; the others read it
DEFAULT_EXPORT_DIR = "exports"
MISSING_DATA_HINT = ("put Cityscapes there, or pass --data-dir DIR (with --dataset NAME for another "
                     "dataset); what DIR holds for each NAME: " + datasets.describe())


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
        return " ".join(re.sub(r"^b(['\"])(.*)\1$", r"\2", value.strip())
                        for value in failed.group(1).splitlines() if value.strip())
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"^.*? with iterator: \S+: ", "", text)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def os_error_line(error: OSError) -> str:
    """'PATH': reason, for a file that could not be read or written."""
    where = f"'{error.filename}': " if error.filename else ""
    return f"{where}{error.strerror or error}"


def check_output_dir(path: str, flag: str) -> None:
    """Raise ValueError (one line naming `flag`) unless `path` is, or can be created as, a
    folder this process can write into; checked before any work is done."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is a file" if existing == os.path.abspath(path) else f"is inside the file " \
               f"'{existing}'"
        raise ValueError(f"{flag} '{path}' {what}: expected a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} '{path}' is read-only ('{existing}' cannot be written): "
                         "choose a folder you can write to")


def check_model_path(path: str, flag: str, also: str = "", files: tuple = ()) -> None:
    """Raise FileNotFoundError/ValueError (one line naming `flag`) unless `path` is a folder, a
    checkpoint prefix (DIR/best/ckpt-12, beside its .index file) or a file ending in one of
    `files`; `also` names the other things the flag accepts in the message."""
    expected = ("expected a model directory written by train.py or a checkpoint prefix like "
                f"DIR/best/ckpt-12{also}")
    if (os.path.isdir(path) or os.path.isfile(path + ".index")
            or (files and path.endswith(files) and os.path.isfile(path))):
        return
    if os.path.exists(path):
        raise ValueError(f"{flag} '{path}' is a file: {expected}")
    hint = " (the default: train one with `python train.py`)" if path == DEFAULT_RUN_DIR else ""
    raise FileNotFoundError(f"{flag} '{path}' does not exist{hint}: {expected}")


def is_inside(path: str, folder: str) -> bool:
    """True if `path` is `folder` or lies inside it (symbolic links resolved)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# What --overwrite may replace: folders this project wrote, known by what they hold. A run folder
# (checkpoint.py): config.json beside best/ or checkpoints/. An exported SavedModel version
# (export/saved_model.py): saved_model.pb beside assets.extra/config.json. Named here rather than
# imported, so that the check needs no TensorFlow; a test holds them to the tools' names.
RUN_FOLDER_MARKS = ("config.json", ("best", "checkpoints"))
SAVED_MODEL_MARKS = ("saved_model.pb", os.path.join("assets.extra", "config.json"))


def written_by_this_project(path: str) -> bool:
    """True if the folder `path` is a run folder or an exported SavedModel version."""
    def has(name):
        return os.path.exists(os.path.join(path, name))
    config, checkpoints = RUN_FOLDER_MARKS
    return (has(config) and any(has(d) for d in checkpoints)) or all(map(has, SAVED_MODEL_MARKS))


def check_replaceable(path: str, flag: str, overwrite: bool) -> None:
    """Raise FileExistsError (one line naming `flag`) unless a tool may write the folder `path`
    in place of what is there: nothing, an empty folder, or, with `overwrite`, a folder this
    project wrote (`written_by_this_project`). Never the current folder or one above it, and
    never a user's own folder, whatever the flags: --overwrite replaces only our own output."""
    if not os.path.exists(path):
        return
    if not os.path.isdir(path):
        raise FileExistsError(f"{flag} '{path}' is a file: expected a folder")
    if is_inside(os.getcwd(), path):
        raise FileExistsError(f"{flag} '{path}' is the current folder or holds it: it cannot be "
                              "replaced; choose a new folder")
    if not os.listdir(path):
        return
    if not overwrite:
        raise FileExistsError(f"{flag} '{path}' is not empty: pass --overwrite to replace it")
    if not written_by_this_project(path):
        raise FileExistsError(
            f"{flag} '{path}' is not a run folder or an export this project wrote (config.json "
            "with best/ or checkpoints/; saved_model.pb with assets.extra/config.json): "
            "--overwrite replaces only those; choose a new or empty folder")
