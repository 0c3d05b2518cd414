"""Carry a run's exact state from one machine to the next in at most 10 MB, for a schedule longer
than one session: the latest checkpoint (weights, optimizer slots, the step, which is also the
data position, the best val mIoU, the dropout RNG), `config.json` and the val history. That is
all `train.py --model-dir` needs to go on bit-exactly; `best/` (a second full checkpoint) and the
TensorBoard logs stay behind.

    python -m fast_scnn_tf.carry pack runs/camvid_long carry/camvid_long
    (commit carry/camvid_long; on the next machine:)
    python -m fast_scnn_tf.carry unpack carry/camvid_long runs/camvid_long
    python train.py --model-dir runs/camvid_long

A packed folder holds `carry.json` (the step and a SHA-256 of every file), checked on unpack.
With SGD a Fast-SCNN state is ~9 MB; Adam's two slots per weight make ~14 MB, over the limit:
an Adam run has to finish within one session.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys

from fast_scnn_tf import cli, files

tf = cli.import_tensorflow()  # quietly: the run-folder constants below come with it too

from fast_scnn_tf.checkpoint import LATEST_DIR  # noqa: E402
from fast_scnn_tf.config import CONFIG_FILE  # noqa: E402
from fast_scnn_tf.training.loop import HISTORY_FILE  # noqa: E402

LIMIT_BYTES = 10 * 1024 * 1024
MANIFEST = "carry.json"
INDEX = "checkpoint"  # the CheckpointManager's index file


def latest_prefix(run_dir: str) -> str:
    """The latest checkpoint's name (`ckpt-N`) from the run's checkpoint index."""
    prefix = tf.train.latest_checkpoint(os.path.join(run_dir, LATEST_DIR))
    if prefix is None:
        raise ValueError(f"'{run_dir}' has no checkpoint to carry (no index in "
                         f"{os.path.join(run_dir, LATEST_DIR)}): expected a run folder written "
                         "by train.py")
    return os.path.basename(prefix)


def pack(run_dir: str, dest: str, limit: int = LIMIT_BYTES) -> dict:
    """Copy the run's latest state into `dest` (replacing an earlier pack there); returns the
    manifest. Refuses, before writing anything, a state over `limit` bytes."""
    prefix = latest_prefix(run_dir)
    checkpoints = os.path.join(run_dir, LATEST_DIR)
    names = [os.path.join(LATEST_DIR, n) for n in sorted(os.listdir(checkpoints))
             if n.startswith(prefix + ".")]
    names += [n for n in (CONFIG_FILE, HISTORY_FILE) if os.path.isfile(os.path.join(run_dir, n))]
    size = sum(os.path.getsize(os.path.join(run_dir, n)) for n in names)
    if size > limit:
        raise ValueError(f"the state of '{run_dir}' ({prefix}) is {size / 2**20:.1f} MB, over the "
                         f"{limit / 2**20:.0f} MB a carry may hold (Adam's slots make a "
                         "Fast-SCNN state ~14 MB; SGD's ~9 MB)")
    if os.path.exists(dest) and not os.path.isfile(os.path.join(dest, MANIFEST)):
        raise ValueError(f"'{dest}' exists and is not a carry folder: choose another destination")
    with files.staging_dir(dest) as tmp:
        os.makedirs(os.path.join(tmp, LATEST_DIR))
        for name in names:
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(tmp, name))
        with open(os.path.join(tmp, LATEST_DIR, INDEX), "w") as f:
            f.write(f'model_checkpoint_path: "{prefix}"\n'
                    f'all_model_checkpoint_paths: "{prefix}"\n')
        manifest = {"checkpoint": prefix, "step": int(prefix.rsplit("-", 1)[1]),
                    "sha256": {n: _sha256(os.path.join(tmp, n)) for n in names}}
        files.write_json(os.path.join(tmp, MANIFEST), manifest)
    return manifest


def unpack(source: str, run_dir: str) -> dict:
    """Copy a packed state into a new (or empty) run folder after checking every file's hash."""
    try:
        with open(os.path.join(source, MANIFEST)) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"'{source}' is not a carry folder ({MANIFEST} unreadable: {e})") from e
    for name, digest in manifest["sha256"].items():
        path = os.path.join(source, name)
        if not os.path.isfile(path) or _sha256(path) != digest:
            raise ValueError(f"'{path}' is missing or differs from what was packed: the carried "
                             "state is damaged")
    if os.path.exists(run_dir) and os.listdir(run_dir):
        raise ValueError(f"run folder '{run_dir}' exists and is not empty: unpack into a new one")
    with files.staging_dir(run_dir) as tmp:
        os.makedirs(os.path.join(tmp, LATEST_DIR))
        for name in [*manifest["sha256"], os.path.join(LATEST_DIR, INDEX)]:
            shutil.copyfile(os.path.join(source, name), os.path.join(tmp, name))
    return manifest


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fast_scnn_tf.carry",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="run folder -> carry folder (latest state, <= 10 MB)")
    p.add_argument("run_dir")
    p.add_argument("dest")
    u = sub.add_parser("unpack", help="carry folder -> new run folder that train.py resumes")
    u.add_argument("source")
    u.add_argument("run_dir")
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
