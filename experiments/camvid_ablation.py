"""The CamVid recipe ablation: short runs of `train.py` that differ in one choice each, all with the
same epoch budget, scored by validation mIoU (the test split is not looked at).

    python -m experiments.camvid_ablation --data-dir data/CamVid --epochs 15 paper adam
    python -m experiments.camvid_ablation --data-dir data/CamVid --epochs 15 --seed 1 adam
    python -m experiments.camvid_ablation --epochs 100 --eval-every 10 --runs runs/ablation100 \
        paper dabnet paper_wd5e-4 paper_wd5e-4_erfnet

Each row is a named set of `train.py` flags (ROWS below) on top of the common ones: batch 8,
crop 360x480, ENet class weights, the paper's SGD 0.045 poly, augmentation 0.5-2, validation
every `--eval-every` epochs, deterministic data. A row whose run folder
(`--runs/<row>_s<seed>`) already finished is read, not trained again, so an interrupted
ablation continues where it stopped.
Results (per row: the flags, the val curve, the final and best val mIoU, wall time) are merged
into `experiments/results/camvid_ablation.json` after every row; `benchmarks/report.py` renders
the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from benchmarks import record

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMMON = [
    "--dataset",
    "camvid",
    "--batch-size",
    "8",
    "--crop-size",
    "360",
    "480",
    "--class-weighting",
    "enet",
    "--deterministic",
    "--checkpoint-every",
    "1000",
    "--no-progress",
]
# Each row changes the previous best in one place; the reason is the CamVid networks' recipe.
ROWS = {
    "paper": ([], "the paper's SGD 0.045 poly, ENet weights (the shipped model's recipe)"),
    "adam": (
        ["--optimizer", "adam", "--learning-rate", "0.001"],
        "Adam 1e-3 poly, as CGNet and DABNet train on CamVid",
    ),
    "adam_erfnet": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--class-weighting", "erfnet"],
        "+ ERFNet's class weights 1/ln(1.10 + p) (ESPNet, CGNet, DABNet)",
    ),
    "adam_scale1.5": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--input-scale", "1.5"],
        "+ frames seen at 1.5x (540x720): the 1/32 branch gets 17x23 cells",
    ),
    "adam_scale2": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--input-scale", "2"],
        "+ frames seen at 2x (720x960): the 1/32 branch gets 23x30 cells",
    ),
    "sgd_scale2": (["--input-scale", "2"], "the paper's SGD with frames seen at 2x"),
    "adam_aux1": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--aux-weight", "1.0"],
        "+ auxiliary losses weighted 1.0 instead of 0.4",
    ),
    "adam_crop360": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--crop-size", "360", "360"],
        "+ 360x360 crops (CGNet's), batch 8",
    ),
    "adam_wd5e-4": (
        ["--optimizer", "adam", "--learning-rate", "0.001", "--weight-decay", "5e-4"],
        "+ weight decay 5e-4 (CGNet's; DABNet 2e-4) instead of the paper's 4e-5",
    ),
    "paper_wd5e-4": (
        ["--weight-decay", "5e-4"],
        "the paper's SGD with weight decay 5e-4 (CGNet's, ESPNet's) for 367 frames",
    ),
    "paper_wd5e-4_erfnet": (
        ["--weight-decay", "5e-4", "--class-weighting", "erfnet"],
        "+ ERFNet's class weights 1/ln(1.10 + p) (ESPNet, CGNet, DABNet)",
    ),
    "dabnet": (
        [
            "--optimizer",
            "adam",
            "--learning-rate",
            "0.001",
            "--weight-decay",
            "2e-4",
            "--warmup-steps",
            "500",
            "--class-weighting",
            "erfnet",
        ],
        "DABNet's CamVid recipe: Adam 1e-3, weight decay 2e-4, 500-step warm-up + poly, "
        "1/ln(1.10 + p)",
    ),
}


def read_curve(run_dir: str) -> list[dict]:
    path = os.path.join(run_dir, "train_log.jsonl")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [{"epoch": round(e["epoch"], 2), "miou": e["miou"]} for e in map(json.loads, f)]


def run_row(name: str, args) -> dict:
    flags, why = ROWS[name]
    run_dir = os.path.join(args.runs, f"{name}_s{args.seed}")
    command = [
        sys.executable,
        os.path.join(ROOT, "train.py"),
        "--data-dir",
        args.data_dir,
        "--model-dir",
        run_dir,
        "--epochs",
        str(args.epochs),
        "--seed",
        str(args.seed),
        "--eval-every",
        str(args.eval_every),
        *COMMON,
        *flags,
    ]
    curve = read_curve(run_dir)
    wall = None
    if not curve or curve[-1]["epoch"] < args.epochs:
        print(f"== {name} (seed {args.seed}): {' '.join(command[2:])}", flush=True)
        tic = time.perf_counter()
        subprocess.run(command, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        wall = time.perf_counter() - tic
        curve = read_curve(run_dir)
    final = curve[-1]
    print(
        f"== {name} (seed {args.seed}): val mIoU {final['miou']:.4f} after {final['epoch']} epochs",
        flush=True,
    )
    shown = ["python", "train.py", *command[2:]]
    return {
        "row": name,
        "seed": args.seed,
        "why": why,
        "command": shlex.join(shown),
        "epochs": args.epochs,
        "final_val_miou": final["miou"],
        "best_val_miou": max(e["miou"] for e in curve),
        "val_curve": curve,
        "wall_seconds": wall,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "rows",
        nargs="+",
        choices=sorted(ROWS),
        metavar="ROW",
        help=f"rows to run, in order: {', '.join(ROWS)}",
    )
    parser.add_argument("--data-dir", default="data/CamVid", help="CamVid root [%(default)s]")
    parser.add_argument("--epochs", type=int, default=15, help="budget of every row [15]")
    parser.add_argument("--seed", type=int, default=0, help="seed of these rows [0]")
    parser.add_argument(
        "--eval-every", type=int, default=5, help="epochs between validation mIoU points [5]"
    )
    parser.add_argument("--runs", default="runs/ablation", help="run folders [%(default)s]")
    parser.add_argument("--output", default=record.default_output("camvid_ablation", "experiments"))
    args = parser.parse_args(argv)
    for name in args.rows:
        row = run_row(name, args)
        previous = {}
        if os.path.isfile(args.output):
            with open(args.output) as f:
                previous = json.load(f)
        rows = [
            r
            for r in previous.get("rows", [])
            if (r["row"], r["seed"], r["epochs"]) != (name, args.seed, args.epochs)
        ]
        # The setup line is written once: notes added to it later (which rows shared the CPU
        # with another job) stay.
        setup = previous.get(
            "setup",
            "CamVid train (367 frames) -> val (101 frames), 11 "
            "classes; common flags: " + " ".join(COMMON),
        )
        result = {"setup": setup, "rows": rows + [row]}
        record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
