"""What a run folder holds, and one writer per run folder: training refuses a folder that holds
anything else (an export, a user's files) and holds an exclusive lock on `<model_dir>/train.lock`.

Two processes training into one folder would interleave their checkpoints and logs. The lock is
`fcntl.flock` on an open file, which the kernel releases when the process ends however it ends
(kill -9 included), so a crashed run never leaves the folder locked; the file only records who
holds it (PID, host, start time) for the refusal message. On NFS, Linux maps flock to POSIX
locks, which hold across machines. In a multi-worker run only the chief takes the lock: the
other workers never write the folder.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import re
import socket

log = logging.getLogger(__name__)

LOCK_FILE = "train.lock"

# What a run folder holds besides config.json and its checkpoint folders (checkpoint.py): the
# TensorBoard logs, the val history and the lock (training/), and evaluate.py's metrics files.
RUN_FILES = re.compile(r"train_log\.jsonl|train\.lock|metrics(_[\w.]+)?\.json")
LOG_DIR, LOG_FILES = "logs", re.compile(r"events\.out\.tfevents\..+")
CHECKPOINT_FILES = re.compile(r"checkpoint|ckpt-\d+\.(index|data-\d+-of-\d+)")
# The files that mark a folder as a SavedModel (export.py's version folders).
EXPORT_FILES = re.compile(r"saved_model\.pb(txt)?")


class RunFolderBusy(ValueError):
    """Another process holds the run folder's lock."""


def foreign_entry(path: str) -> str | None:
    """The first entry of the folder `path` (as a path) that a run folder of this project does
    not hold, or None. Links are never a run's own."""
    from fast_scnn_tf.config import CONFIG_FILE
    from fast_scnn_tf.training.checkpoint import BEST_DIR, LATEST_DIR

    for name in sorted(os.listdir(path)):
        entry = os.path.join(path, name)
        if os.path.islink(entry):
            return entry
        if os.path.isdir(entry):
            pattern = {
                BEST_DIR: CHECKPOINT_FILES,
                LATEST_DIR: CHECKPOINT_FILES,
                LOG_DIR: LOG_FILES,
            }.get(name)
            if pattern is None:
                return entry
            for inner in sorted(os.listdir(entry)):
                inner_path = os.path.join(entry, inner)
                if (
                    not pattern.fullmatch(inner)
                    or os.path.islink(inner_path)
                    or not os.path.isfile(inner_path)
                ):
                    return inner_path
        elif name != CONFIG_FILE and not RUN_FILES.fullmatch(name):
            return entry
    return None


def check_run_folder(model_dir: str) -> None:
    """Refuse (one-line ValueError) a `model_dir` training must not write into: a SavedModel
    (export.py's version folder), or, without a config.json (a run's, checked when it is read),
    a folder holding anything a run folder does not hold. A missing or empty folder is new."""
    from fast_scnn_tf.config import CONFIG_FILE

    if not os.path.isdir(model_dir):
        return
    exports = sorted(n for n in os.listdir(model_dir) if EXPORT_FILES.fullmatch(n))
    if exports:
        raise ValueError(
            f"model dir '{model_dir}' holds '{exports[0]}': it is a SavedModel "
            "export, not a run; expected a run folder (config.json, checkpoints/) "
            "or a new or empty folder"
        )
    if os.path.isfile(os.path.join(model_dir, CONFIG_FILE)):
        return
    foreign = foreign_entry(model_dir)
    if foreign:
        raise ValueError(
            f"model dir '{model_dir}' holds '{foreign}' and no config.json: it is "
            "not a run folder, and training would write into it; expected a run "
            "folder or a new or empty folder"
        )


@contextlib.contextmanager
def locked_run_folder(model_dir: str):
    """Create `model_dir` if needed and hold its lock while the block runs. A file in its place, a
    folder that is not a run's (`check_run_folder`), a folder that cannot be written, or another
    holder is a one-line ValueError."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"model dir '{model_dir}' is a file: expected a folder for the run")
    check_run_folder(model_dir)
    path = os.path.join(model_dir, LOCK_FILE)
    try:
        os.makedirs(model_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(
            f"model dir '{model_dir}' cannot be written ({e.strerror}): expected a "
            "writable folder for the run"
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderBusy(
                f"model dir '{model_dir}' is in use by another training process "
                f"({_holder(fd)}): wait for it to end, or use another "
                "--model-dir"
            ) from None
        except OSError as e:  # a filesystem without locks: train, but say so
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
                raise
            log.warning(
                "cannot lock '%s' (%s): nothing stops a second process from training "
                "into this folder",
                path,
                e.strerror,
            )
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
            ).encode(),
            0,
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # an empty lock file: nobody trains here
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (ValueError, KeyError, TypeError):  # written this very moment, or by something else
        return f"holder unknown, see {LOCK_FILE}"
