"""Carry a run's exact state from one machine to the next in at most 15 MiB, for a schedule longer
than one session: the latest checkpoint (weights, optimizer slots, the step, which is also the
data position, the best val mIoU, the dropout RNG), `config.json` and the val history. That is
all `train.py --model-dir` needs to go on bit-exactly; `best/` (a second full checkpoint) and the
TensorBoard logs stay behind.

    python -m fast_scnn_tf.training.carry pack runs/camvid_long carry/camvid_long
    (commit carry/camvid_long; on the next machine:)
    python -m fast_scnn_tf.training.carry unpack carry/camvid_long runs/camvid_long
    python train.py --model-dir runs/camvid_long

A packed folder holds `carry.json` (the step and a SHA-256 of every file, the checkpoint index's
too). It arrives from elsewhere, so unpack trusts none of it: before writing anything it checks
the manifest's shape, every file's hash and size, that every name stays inside the folders (no
`..`, no absolute path, no link followed) and that the index names only the carried checkpoint.
pack replaces only a folder it wrote, holding nothing its manifest does not list.
With SGD a Fast-SCNN state is ~9 MB; Adam's two slots per weight make ~14 MB. The limit keeps a
carried state within the 16 MB a repository's carry/ folder may hold.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import sys

from fast_scnn_tf import cli, files

tf = cli.import_tensorflow()  # quietly: the run-folder constants below come with it too

from fast_scnn_tf.config import CONFIG_FILE  # noqa: E402
from fast_scnn_tf.training.checkpoint import LATEST_DIR  # noqa: E402
from fast_scnn_tf.training.loop import HISTORY_FILE  # noqa: E402

LIMIT_BYTES = 15 * 1024 * 1024
MANIFEST = "carry.json"
INDEX = "checkpoint"  # the CheckpointManager's index file
INDEX_PATH = os.path.join(LATEST_DIR, INDEX)
CHECKPOINT_NAME = re.compile(r"ckpt-(\d+)")  # the CheckpointManager's names
SHAPE = (
    'expected {"checkpoint": "ckpt-N", "step": N, "sha256": {"<file>": "<SHA-256 hex>", ...}} '
    "listing ckpt-N's .index and .data files, as pack writes it"
)


def latest_prefix(run_dir: str) -> str:
    """The latest checkpoint's name (`ckpt-N`) from the run's checkpoint index."""
    prefix = tf.train.latest_checkpoint(os.path.join(run_dir, LATEST_DIR))
    if prefix is None:
        raise ValueError(
            f"'{run_dir}' has no checkpoint to carry (no index in "
            f"{os.path.join(run_dir, LATEST_DIR)}): expected a run folder written "
            "by train.py"
        )
    if not CHECKPOINT_NAME.fullmatch(os.path.basename(prefix)):
        raise ValueError(
            f"'{os.path.join(run_dir, INDEX_PATH)}' names '{prefix}': expected a "
            "checkpoint like ckpt-N, as train.py writes"
        )
    return os.path.basename(prefix)


def index_text(prefix: str) -> bytes:
    """The checkpoint index of a carried run: it names the carried checkpoint and nothing else."""
    return (f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n').encode()


def pack(run_dir: str, dest: str, limit: int = LIMIT_BYTES) -> dict:
    """Copy the run's latest state into `dest` (empty, new, or an earlier pack holding nothing
    else); returns the manifest. Refuses, before writing anything, a state over `limit` bytes."""
    prefix = latest_prefix(run_dir)
    checkpoints = os.path.join(run_dir, LATEST_DIR)
    names = [
        os.path.join(LATEST_DIR, n)
        for n in sorted(os.listdir(checkpoints))
        if n.startswith(prefix + ".")
    ]
    names += [n for n in (CONFIG_FILE, HISTORY_FILE) if os.path.isfile(os.path.join(run_dir, n))]
    index = index_text(prefix)
    size = sum(os.path.getsize(os.path.join(run_dir, n)) for n in names) + len(index)
    if size > limit:
        raise ValueError(
            f"the state of '{run_dir}' ({prefix}) is {size / 2**20:.1f} MB, over the "
            f"{limit / 2**20:.0f} MB a carry may hold (Adam's slots make a "
            "Fast-SCNN state ~14 MB; SGD's ~9 MB)"
        )
    _check_pack_destination(dest)
    with files.staging_dir(dest) as tmp:
        os.makedirs(os.path.join(tmp, LATEST_DIR))
        for name in names:
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(tmp, name))
        files.write_bytes(os.path.join(tmp, INDEX_PATH), index)
        manifest = {
            "checkpoint": prefix,
            "step": int(prefix.rsplit("-", 1)[1]),
            "sha256": {n: _sha256_file(os.path.join(tmp, n)) for n in [*names, INDEX_PATH]},
        }
        files.write_json(os.path.join(tmp, MANIFEST), manifest)
    return manifest


def _check_pack_destination(dest: str) -> None:
    """Refuse a destination pack would replace although it did not write it: a link, a file, or
    a folder holding anything but an earlier pack's files (those its carry.json lists)."""
    if os.path.islink(dest):
        raise ValueError(f"'{dest}' is a link: pack into a folder, not a link")
    if not os.path.exists(dest) or (os.path.isdir(dest) and not os.listdir(dest)):
        return
    if not os.path.isdir(dest) or not os.path.lexists(os.path.join(dest, MANIFEST)):
        raise ValueError(f"'{dest}' exists and is not a carry folder: choose another destination")
    foreign = _unlisted(dest, read_manifest(dest))
    if foreign:
        raise ValueError(
            f"'{dest}' holds '{foreign}', which pack did not write (its {MANIFEST} "
            "does not list it): move it away or choose another destination"
        )


def _unlisted(folder: str, manifest: dict) -> str | None:
    """The first file, folder or link in the carry folder `folder` that its manifest does not
    account for, relative to `folder`; None if there is none."""
    listed = {MANIFEST, INDEX_PATH, *manifest["sha256"]}
    folders = {d for n in listed for d in _ancestors(n)}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            expected = folders if name in dirs else listed
            if os.path.islink(path) or relative not in expected:
                return relative
    return None


def _ancestors(name: str) -> list[str]:
    """The folders above the relative path `name`: a/b/c -> [a/b, a]."""
    found = []
    while os.path.dirname(name):
        name = os.path.dirname(name)
        found.append(name)
    return found


def unpack(source: str, run_dir: str) -> dict:
    """Copy a packed state into a new (or empty) run folder. Everything is checked before the
    first write: the manifest's shape, every file's hash, names inside the folders (no `..`, no
    absolute path, no link), the total size; the checkpoint index is written from the manifest's
    checkpoint, so the run resumes from the carried state and nothing else."""
    if os.path.islink(run_dir):
        raise ValueError(f"run folder '{run_dir}' is a link: unpack into a new folder")
    if os.path.exists(run_dir) and (not os.path.isdir(run_dir) or os.listdir(run_dir)):
        raise ValueError(
            f"run folder '{run_dir}' exists and is not an empty folder: unpack into a new one"
        )
    manifest = read_manifest(source)
    index = index_text(manifest["checkpoint"])
    contents, budget = {}, LIMIT_BYTES
    for name, digest in manifest["sha256"].items():
        path = os.path.join(source, name)
        try:
            data = _read_plain_file(source, name, budget)
        except FileNotFoundError:
            data = None
        if data is None or hashlib.sha256(data).hexdigest() != digest:
            raise ValueError(
                f"'{path}' is missing or differs from what was packed: the carried state is damaged"
            )
        if name == INDEX_PATH and data != index:
            raise ValueError(
                f"'{path}' names other checkpoints than {manifest['checkpoint']}: "
                f"expected an index naming only the carried one ({MANIFEST}'s)"
            )
        contents[name] = data
        budget -= len(data)
    contents[INDEX_PATH] = index  # also for packs that did not list their index
    with files.staging_dir(run_dir) as tmp:
        for name, data in contents.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(name)), exist_ok=True)
            files.write_bytes(os.path.join(tmp, name), data)
    return manifest


def read_manifest(folder: str) -> dict:
    """The manifest of the carry folder `folder`, its shape checked: a ValueError naming the
    file and what was expected, rather than a KeyError or TypeError later."""
    path = os.path.join(folder, MANIFEST)
    try:
        manifest = json.loads(_read_plain_file(folder, MANIFEST, LIMIT_BYTES))
    except (OSError, ValueError, RecursionError) as e:
        raise ValueError(f"'{folder}' is not a carry folder ({MANIFEST} unreadable: {e})") from e
    if not isinstance(manifest, dict):
        raise ValueError(f"'{path}' holds a JSON {type(manifest).__name__}: {SHAPE}")
    missing = [key for key in ("checkpoint", "step", "sha256") if key not in manifest]
    if missing:
        raise ValueError(f"'{path}' has no '{missing[0]}': {SHAPE}")
    prefix, step, digests = manifest["checkpoint"], manifest["step"], manifest["sha256"]
    match = CHECKPOINT_NAME.fullmatch(prefix) if isinstance(prefix, str) else None
    if not match:
        raise ValueError(f"'{path}' names the checkpoint {prefix!r}: {SHAPE}")
    if type(step) is not int or step != int(match.group(1)):
        raise ValueError(f"'{path}' gives the step {step!r} for {prefix}: {SHAPE}")
    if not isinstance(digests, dict) or not all(
        isinstance(d, str) and re.fullmatch(r"[0-9a-f]{64}", d) for d in digests.values()
    ):
        raise ValueError(
            f"'{path}' has a 'sha256' that is not an object of SHA-256 digests: {SHAPE}"
        )
    for name in digests:
        parts = name.split(os.sep)
        if os.path.isabs(name) or os.path.normpath(name) != name or {".", ".."} & set(parts):
            raise ValueError(
                f"'{path}' lists '{name}': expected only files inside the carry "
                "folder (relative paths without '..')"
            )
    checkpoint = os.path.join(LATEST_DIR, prefix)
    if checkpoint + ".index" not in digests or not any(
        name.startswith(checkpoint + ".data-") for name in digests
    ):
        raise ValueError(f"'{path}' lists no {checkpoint}.index or .data file: {SHAPE}")
    return manifest


def _read_plain_file(folder: str, name: str, limit: int) -> bytes:
    """The bytes of `folder/name` (`name` relative), a regular file reached through no link
    below `folder`, refused if over `limit` bytes. FileNotFoundError if it is not there."""
    path = folder
    for part in name.split(os.sep):
        path = os.path.join(path, part)
        if os.path.islink(path):
            raise ValueError(
                f"'{path}' is a link: a carry folder holds only plain files and folders"
            )
    # O_NOFOLLOW: a link made since the check is still not followed; O_NONBLOCK: a FIFO does
    # not hang the open (it is then refused as not a file).
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK), "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"'{path}' is not a file: a carry folder holds only plain files")
        data = f.read(limit + 1) if info.st_size <= limit else None
        if data is None or len(data) > limit:  # the size read, too: the file may have grown
            raise ValueError(
                f"'{path}' takes the carried files over the {LIMIT_BYTES / 2**20:.0f}"
                " MB a carry holds: expected a folder written by pack"
            )
        return data


def _sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fast_scnn_tf.training.carry",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    limit = f"<= {LIMIT_BYTES / 2**20:.0f} MiB"
    p = sub.add_parser("pack", help=f"run folder -> carry folder (the latest state, {limit})")
    p.add_argument("run_dir", help="the run folder train.py writes (--model-dir)")
    p.add_argument("dest", help="the carry folder to write: new, or one pack wrote before")
    u = sub.add_parser("unpack", help="carry folder -> new run folder that train.py resumes")
    u.add_argument("source", help="a carry folder that pack wrote")
    u.add_argument("run_dir", help="the run folder to write (must not exist or be empty)")
    args = parser.parse_args(argv)
    try:
        if args.command == "pack":
            manifest = pack(args.run_dir, args.dest)
            where = args.dest
        else:
            manifest = unpack(args.source, args.run_dir)
            where = args.run_dir
    except (OSError, ValueError) as e:
        print(f"carry: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.command}ed {manifest['checkpoint']} (step {manifest['step']}) into {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
