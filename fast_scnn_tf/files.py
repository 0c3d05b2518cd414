"""Writing files and folders so that a crash or a failed step never leaves a half-written one:
everything is written to a temporary name beside the target and renamed into place
(`staging_dir` for whole folders: exports, which also replace an old one without a moment with
none)."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import socket
import tempfile
import time

import cv2
import numpy as np


def write_bytes(path: str, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_json(path: str, data) -> None:
    """Indented JSON with sorted keys."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_png(path: str, array: np.ndarray) -> None:
    """A PNG of a (H, W) label map or an (H, W, 3) RGB image."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"could not encode '{path}' as PNG")
    write_bytes(path, encoded.tobytes())


STAGING_MARKS = (".tmp-", ".old-")  # `.<name>.tmp-<host>-<pid>-<random>`: staging, old version
STALE_AFTER_SECONDS = 86400  # staging folders whose process cannot be checked (another host)


@contextlib.contextmanager
def staging_dir(final_path: str):
    """Yield a fresh temp directory beside `final_path`; on success it replaces `final_path`, on
    any error it is removed, so `final_path` is never half-written.

    An existing `final_path` (the caller checked --overwrite) is swapped with the new one in one
    atomic exchange (Linux `renameat2`), so a TF Serving poll finds the old model or the new,
    never none; where the system has no exchange, it is moved aside, the new one moved in (a
    moment without either) and moved back if that fails. The old one is deleted last. The folder
    gets the permissions of the user's umask, like any file written (not mkdtemp's 0700, which
    a server running as another user cannot read). Staging folders of killed exports are removed
    first (`remove_stale_staging`).
    """
    parent = os.path.dirname(os.path.abspath(final_path))
    os.makedirs(parent, exist_ok=True)
    remove_stale_staging(parent)
    prefix = f".{os.path.basename(final_path)}%s{socket.gethostname()}-{os.getpid()}-"
    tmp = tempfile.mkdtemp(prefix=prefix % ".tmp-", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())
    old = None
    try:
        yield tmp
        if os.path.isdir(final_path) and _exchange(tmp, final_path):
            return  # `tmp` now holds the old version, removed below
        if os.path.isdir(final_path):
            old = tempfile.mkdtemp(prefix=prefix % ".old-", dir=parent)
            os.replace(final_path, old)
        try:
            os.replace(tmp, final_path)
        except OSError:
            if old:
                os.replace(old, final_path)
            raise
    finally:
        for folder in (tmp, old):
            if folder and os.path.isdir(folder):
                shutil.rmtree(folder, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where the C library or
    the file system has no such call, and nothing was changed."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def remove_stale_staging(parent: str) -> None:
    """Remove the staging (and set-aside) folders of exports that were killed.

    A folder is stale when the process named in it (host and PID) no longer runs on this host:
    exact, so a long export (QAT) is never touched. Folders of another host, or from versions
    that did not name the process, are stale after a day, longer than any export takes."""
    pattern = re.compile(r"\..+?\.(?:tmp|old)-(?:(?P<host>.+)-(?P<pid>\d+)-[^-]+$)?")
    host = socket.gethostname()
    for name in os.listdir(parent):
        match = pattern.match(name)
        path = os.path.join(parent, name)
        if not match or not os.path.isdir(path):
            continue
        if match.group("host") == host:
            stale = not _running(int(match.group("pid")))
        else:
            stale = time.time() - os.path.getmtime(path) > STALE_AFTER_SECONDS
        if stale:
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
