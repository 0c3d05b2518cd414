"""One writer per run folder: training holds an exclusive lock on `<model_dir>/train.lock`.

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
import socket

log = logging.getLogger(__name__)

LOCK_FILE = "train.lock"


class RunFolderBusy(ValueError):
    """Another process holds the run folder's lock."""


@contextlib.contextmanager
def locked_run_folder(model_dir: str):
    """Create `model_dir` if needed and hold its lock while the block runs. A file in its place, a
    folder that cannot be written, or another holder is a one-line ValueError."""
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"model dir '{model_dir}' is a file: expected a folder for the run")
    path = os.path.join(model_dir, LOCK_FILE)
    try:
        os.makedirs(model_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(f"model dir '{model_dir}' cannot be written ({e.strerror}): expected a "
                         "writable folder for the run") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunFolderBusy(f"model dir '{model_dir}' is in use by another training process "
                                f"({_holder(fd)}): wait for it to end, or use another "
                                "--model-dir") from None
        except OSError as e:  # a filesystem without locks: train, but say so
            if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
                raise
            log.warning("cannot lock '%s' (%s): nothing stops a second process from training "
                        "into this folder", path, e.strerror)
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                  "started": started}).encode(), 0)
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
