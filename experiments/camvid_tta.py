"""Test-time augmentation on CamVid, as its own row: `evaluate.py --tta-scales ... --tta-flip` on
val for each candidate set of views, the best on val scored once on test. Single scale stays the
number a model is shipped and compared by.

    python -m experiments.camvid_tta --checkpoint models/camvid --data-dir data/CamVid \\
        --runs out/tta --output experiments/results/camvid_tta.json

Each evaluation writes its metrics under `--runs/<candidate>/`; one already there is read, not
evaluated again.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys

from benchmarks import record
from fast_scnn_tf import cli

# name -> (scales, flip): the frame mirrored; then mmsegmentation's 3 and 6 scales with the flip.
CANDIDATES = {
    "flip": ((1.0,), True),
    "s3flip": ((0.75, 1.0, 1.25), True),
    "s6flip": ((0.5, 0.75, 1.0, 1.25, 1.5, 1.75), True),
}


def evaluate(args, name: str, split: str) -> tuple[dict, str]:
    """The metrics of candidate `name` on `split` and the command that writes them: read from
    the metrics file when it scored the checkpoint --checkpoint names now (a stopped run
    resumes), else evaluated (a model shipped into the folder of one scored before it)."""
    from fast_scnn_tf.training.checkpoint import find_checkpoint

    scales, flip = CANDIDATES[name]
    folder = os.path.join(args.runs, name)
    argv = [
        "--checkpoint",
        args.checkpoint,
        "--dataset",
        "camvid",
        "--data-dir",
        args.data_dir,
        "--split",
        split,
        "--output",
        folder,
        "--no-progress",
        "--overwrite",
        "--tta-scales",
        *(f"{s:g}" for s in scales),
    ] + (["--tta-flip"] if flip else [])
    path = os.path.join(
        folder, "metrics_tta.json" if split == "val" else f"metrics_{split}_tta.json"
    )
    command = shlex.join(["python", "evaluate.py", *argv])
    if os.path.isfile(path):
        with open(path) as f:
            metrics = json.load(f)
        if metrics.get("checkpoint") == find_checkpoint(args.checkpoint):
            return metrics, command
    import evaluate as evaluate_cli

    if evaluate_cli.main(argv) != 0:
        raise SystemExit(f"camvid_tta.py: {command} failed")
    with open(path) as f:
        return json.load(f), command


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="models/camvid", help="[%(default)s]")
    parser.add_argument("--data-dir", default="data/CamVid", help="[%(default)s]")
    parser.add_argument("--runs", default="out/tta", help="metrics folders [%(default)s]")
    parser.add_argument("--output", default=record.default_output("camvid_tta", "experiments"))
    args = parser.parse_args(argv)
    cli.import_tensorflow(False)
    val = {name: evaluate(args, name, "val") for name in CANDIDATES}
    best = max(val, key=lambda name: val[name][0]["miou"])
    test, command = evaluate(args, best, "test")
    keep = ("miou", "class_iou", "pixel_accuracy", "mean_accuracy")
    result = {
        "checkpoint": args.checkpoint,
        "val": [
            {
                "views": name,
                "scales": list(CANDIDATES[name][0]),
                "flip": CANDIDATES[name][1],
                "command": cmd,
                **{k: metrics[k] for k in keep},
            }
            for name, (metrics, cmd) in val.items()
        ],
        "chosen": best,
        "test": {"views": best, "command": command, **{k: test[k] for k in keep}},
    }
    for entry in result["val"]:
        print(f"val  {entry['views']:<8} mIoU {100 * entry['miou']:.2f}")
    print(f"test {best:<8} mIoU {100 * test['miou']:.2f}")
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
