"""Writing files and folders so that a crash or a failed step never leaves a half-written one:
everything is written to a temporary name beside the target and renamed into place (`staging_dir`
for whole folders: exports, which also replace an old one without a moment with none). A temporary
file is created exclusively under a random name, so a link planted in an output folder is never
written through. And what a tool may write over: `check_output_dir` (the one "pass --overwrite"
check), `check_replaceable` (a whole folder replaced: only one this project wrote),
`check_export_replaceable` (a SavedModel version: only what export.py writes, nothing else inside)
and `has_png_marker` (a PNG a tool marked as its own when it wrote it). Paths that are not regular
files (a FIFO, a device) are recognised without being opened: `not_a_regular_file`."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import socket
import stat
import struct
import tempfile
import time
import zlib

import cv2
import numpy as np


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` to a new temporary file beside `path`, then rename it into place. The
    temporary file is created exclusively under a random name (`_create_beside`), so a link
    planted in the folder is never written through; a link at `path` itself is replaced, not
    followed. On any error the temporary file is removed and `path` is left as it was."""
    tmp, fd = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _create_beside(path: str) -> tuple[str, int]:
    """A new file `.<name>.<random>.tmp` in `path`'s folder, open for writing: created with
    O_EXCL (which never follows a link, dangling or not) and O_NOFOLLOW, with the permissions
    of the user's umask like any file written. Returns its path and descriptor."""
    folder, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue  # a name taken (or planted): draw another
    raise FileExistsError(errno.EEXIST, "no free temporary name beside it", path)


# What a path that is not a regular file is, for the message that refuses it.
_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)


def not_a_regular_file(path: str) -> str:
    """ "" if `path` is a regular file (links followed) or does not exist; else why it may not be
    read, e.g. "is not a regular file (a FIFO)". Read from the path's status, without opening it:
    opening a FIFO for reading waits, forever, for something to write into it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return ""
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _KINDS if test(mode)), "")
    return "is not a regular file" + (f" ({kind})" if kind else "")


def write_json(path: str, data) -> None:
    """Indented JSON with sorted keys."""
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def write_png(path: str, array: np.ndarray, marker: bytes = b"") -> None:
    """A PNG of a (H, W) label map or an (H, W, 3) RGB image; with `marker`, a tEXt chunk
    "Software" holding it right after the IHDR chunk, which decoders skip and `has_png_marker`
    reads: how --overwrite recognises a tool's own output."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"could not encode '{path}' as PNG")
    encoded = encoded.tobytes()
    if marker:
        encoded = encoded[:_IHDR_END] + _png_text(marker) + encoded[_IHDR_END:]
    write_bytes(path, encoded)


# A PNG's 8-byte signature and IHDR chunk (length, type, 13 bytes of data, CRC) end here.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 33


def _png_text(marker: bytes) -> bytes:
    data = b"tEXt" + b"Software\0" + marker
    return struct.pack(">I", len(data) - 4) + data + struct.pack(">I", zlib.crc32(data))


def has_png_marker(path: str, marker: bytes) -> bool:
    """True if `path` is a regular file (not a link) holding a PNG written by `write_png` with
    `marker`."""
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    chunk = _png_text(marker)
    try:
        with open(path, "rb") as f:
            head = f.read(_IHDR_END + len(chunk))
    except OSError:
        return False
    return head.startswith(_PNG_SIGNATURE) and head[_IHDR_END:] == chunk


STALE_AFTER_SECONDS = 86400  # staging folders whose process cannot be checked (another host)


def check_output_dir(
    folder: str,
    name: str,
    overwrite: bool = False,
    outputs=(),
    empty: bool = False,
    instead: str = "",
) -> None:
    """Refuse, before any work and in one line naming `name` (the flag, or what the folder is) or
    the file, to write into `folder` where that would fail or replace earlier output:
    - ValueError: `folder` is a file, inside one, or read-only (it need not exist yet);
    - FileExistsError, unless `overwrite`: one of `outputs` (the paths the tool will write)
      exists, or with `empty`, the folder already holds files. `instead` adds another way out
      to the message, e.g. ", or another --version"."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = (
            "is a file"
            if existing == os.path.abspath(folder)
            else f"is inside the file '{existing}'"
        )
        raise ValueError(f"{name} '{folder}' {what}: expected a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"{name} '{folder}' is read-only ('{existing}' cannot be written): "
            "choose a folder you can write to"
        )
    if overwrite:
        return
    if empty and os.path.isdir(folder) and os.listdir(folder):
        raise FileExistsError(
            f"{name} '{folder}' already holds files: pass --overwrite to "
            f"replace them{instead or ', or choose an empty or new folder'}"
        )
    found = [path for path in outputs if os.path.exists(path)]
    if found:
        many = len(found) > 1
        raise FileExistsError(
            f"'{found[0]}' already exists"
            + (f" ({len(found)} of the outputs do)" if many else "")
            + f": pass --overwrite to replace {'them' if many else 'it'}"
            + instead
        )


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
        check_output_dir(path, flag)
        return
    if not os.path.isdir(path):
        raise FileExistsError(f"{flag} '{path}' is a file: expected a folder")
    if is_inside(os.getcwd(), path):
        raise FileExistsError(
            f"{flag} '{path}' is the current folder or holds it: it cannot be "
            "replaced; choose a new folder"
        )
    check_output_dir(path, flag, overwrite, empty=True)
    if os.listdir(path) and not written_by_this_project(path):
        raise FileExistsError(
            f"{flag} '{path}' is not a run folder or an export this project wrote (config.json "
            "with best/ or checkpoints/; saved_model.pb with assets.extra/config.json): "
            "--overwrite replaces only those; choose a new or empty folder"
        )


# An exported SavedModel version as export.py writes it (export/saved_model.py, exporter.py):
# these files, the variables' shards, an empty assets/ (the SavedModel's own), nothing else.
SAVED_MODEL_REQUIRED = (
    "saved_model.pb",
    os.path.join("assets.extra", "config.json"),
    os.path.join("assets.extra", "metadata.json"),
)
SAVED_MODEL_FILES = SAVED_MODEL_REQUIRED + ("fingerprint.pb",)
SAVED_MODEL_FOLDERS = ("assets", "assets.extra", "variables")
_VARIABLES = re.compile(r"variables\.(index|data-\d{5}-of-\d{5})")


def not_an_export(path: str) -> str:
    """ "" if the folder `path` holds what export.py writes into a SavedModel version and nothing
    else (`SAVED_MODEL_FILES`); else the first file, folder or link that it would not have written,
    or the first of its files that is missing, as one phrase naming it."""
    for root, folders, names in os.walk(path):
        folders.sort()
        relative = os.path.relpath(root, path)
        for name in sorted(folders + names):
            full = os.path.join(root, name)
            inside = os.path.normpath(os.path.join(relative, name))
            if os.path.islink(full):
                return f"'{full}' is a link"
            if os.path.isdir(full):
                expected = relative == "." and name in SAVED_MODEL_FOLDERS
            elif relative == "variables":
                expected = bool(_VARIABLES.fullmatch(name))
            else:
                expected = inside in SAVED_MODEL_FILES
            if not expected:
                return f"it holds '{full}'"
    for name in SAVED_MODEL_REQUIRED:
        if not os.path.isfile(os.path.join(path, name)):
            return f"'{os.path.join(path, name)}' is missing"
    return ""


def check_export_replaceable(path: str, flag: str, overwrite: bool) -> None:
    """Raise FileExistsError (one line naming `flag`) unless export.py may write a SavedModel
    version at `path`: nothing there, an empty folder, or with `overwrite` a version it wrote
    itself (`not_an_export`); a user's file among it is named, and nothing is replaced."""
    if not os.path.lexists(path):
        check_output_dir(path, flag)
        return
    if os.path.islink(path) or not os.path.isdir(path):
        raise FileExistsError(
            f"{flag} '{path}' is a {'link' if os.path.islink(path) else 'file'}: expected a folder"
        )
    if is_inside(os.getcwd(), path):
        raise FileExistsError(
            f"{flag} '{path}' is the current folder or holds it: it cannot be "
            "replaced; choose a new folder"
        )
    check_output_dir(path, flag, overwrite, empty=True)
    problem = os.listdir(path) and not_an_export(path)
    if problem:
        raise FileExistsError(
            f"{flag} '{path}' is not a SavedModel version export.py wrote ({problem}): "
            "--overwrite replaces only those; move that file or choose another --version"
        )


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
