"""Record a CamVid training run as `experiments/results/camvid.json`: the training stages
(epochs, schedule, wall time, exact commands), the validation curve from the run's
`train_log.jsonl`, the test-split metrics of the shipped model (from `evaluate.py`) and the
published peers. `benchmarks/report.py` renders the README's CamVid table from it.

    python -m experiments.camvid --run runs/camvid --stages stages.json \\
        --test-metrics models/camvid/metrics_test.json --shipped models/camvid

`--stages` is a JSON list, one entry per `train.py` invocation of the run:
`{"command": "...", "start_step": 0, "end_step": 420, "wall_seconds": 736}`, or the plan of a
run that `experiments.long_run` ran in stages (its "stages" are such entries).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchmarks import record
from fast_scnn_tf import cli
from fast_scnn_tf.config import WHICH

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Published CamVid results, all trained from scratch at 360x480 and scored as class-average IoU
# on the 233 test frames: on the 367 train frames, or on train + val (468 frames).
TRAIN, TRAINVAL = "train (367)", "train+val (468)"
PEERS = (
    {
        "model": "SegNet",
        "test_miou": 0.464,
        "protocol": TRAIN,
        "source": "ENet paper (Paszke et al. 2016), CamVid table",
    },
    {
        "model": "ENet",
        "test_miou": 0.513,
        "protocol": TRAIN,
        "source": "ENet paper (Paszke et al. 2016), CamVid table",
    },
    {
        "model": "ESPNet",
        "test_miou": 0.5564,
        "protocol": TRAIN,
        "source": "ESPNet's published CamVid model (Mehta et al., ECCV 2018)",
    },
    {
        "model": "CGNet M3N21",
        "test_miou": 0.656,
        "protocol": TRAINVAL,
        "source": "CGNet README and Table 12 (Wu et al. 2020): 800 epochs, Adam 1e-3",
    },
    {
        "model": "DABNet",
        "test_miou": 0.664,
        "protocol": TRAINVAL,
        "source": "DABNet (Li et al., BMVC 2019): 1000 epochs, Adam 1e-3",
    },
    {
        "model": "LMFFNet",
        "test_miou": 0.691,
        "protocol": TRAINVAL,
        "source": "LMFFNet README (Shi et al. 2022): 1000 epochs",
    },
)
KEEP = (
    "miou",
    "class_iou",
    "pixel_accuracy",
    "mean_accuracy",
    "class_accuracy",
    "num_frames",
    "split",
    "scale",
    "checkpoint",
)


def val_curve(run_dir: str) -> list[dict]:
    """One entry per validation of the run: epoch, step and the three headline numbers."""
    curve = []
    with open(os.path.join(run_dir, "train_log.jsonl")) as f:
        for line in f:
            entry = json.loads(line)
            curve.append(
                {
                    "epoch": round(entry["epoch"], 2),
                    "step": entry["step"],
                    "miou": entry["miou"],
                    "pixel_accuracy": entry["pixel_accuracy"],
                    "mean_accuracy": entry.get("mean_accuracy"),
                }
            )
    return curve


def ship(run_dir: str, directory: str, data_dir: str, which: str = "best") -> str:
    """Write the run's `which` checkpoint (weights only) and its config into `directory`: the
    best on val for a run on train, the last for one on train + val (val is not held out)."""
    import dataclasses

    from fast_scnn_tf.files import staging_dir
    from fast_scnn_tf.training.checkpoint import BEST_DIR, load_run, write_run

    run = load_run(run_dir, which=which, aux=True)
    model, config, prefix = run.model, run.config, run.checkpoint
    config = dataclasses.replace(config, data=dataclasses.replace(config.data, data_dir=data_dir))
    step = int(prefix.rsplit("-", 1)[1])
    with staging_dir(directory) as staging:  # never half-written
        written = write_run(staging, config, model, folder=BEST_DIR, number=step)
    path = os.path.join(directory, os.path.relpath(written, staging))
    print(f"shipped {prefix} as {path}")
    return path


def read_frame(image_path: str, label_path: str):
    """A CamVid frame: the RGB image and its train-id labels (void 255)."""
    import cv2

    from fast_scnn_tf.data import camvid
    from fast_scnn_tf.data.images import read_image

    truth = cv2.imread(label_path, cv2.IMREAD_UNCHANGED)
    return read_image(image_path), camvid.DATASET.label_values[truth].astype("uint8")


def figure(model_dir: str, data_dir: str, names: list[str], path: str, scale: float = 0.5) -> None:
    """One row per CamVid test frame: the frame, the shipped model's prediction and the ground
    truth (void black), each as an overlay, downscaled by `scale`, written as a PNG."""
    import cv2
    import numpy as np

    from fast_scnn_tf.files import write_png
    from fast_scnn_tf.predict.predictor import load_predictor

    predict, _, classes = load_predictor(model_dir)
    rows = []
    for name in names:
        image, truth = read_frame(
            os.path.join(data_dir, "test", name + ".png"),
            os.path.join(data_dir, "testannot", name + ".png"),
        )
        tiles = [
            image,
            classes.overlay(image, predict(image), 0.6),
            classes.overlay(image, truth, 0.6),
        ]
        row = np.concatenate(
            [cv2.resize(t, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for t in tiles],
            axis=1,
        )
        rows.append(row)
    write_png(path, np.concatenate(rows, axis=0))
    print(f"wrote {path}")


def sequence(image_path: str) -> str:
    """A CamVid frame's sequence, the drive it was filmed on: its name's prefix (0001TP)."""
    from fast_scnn_tf.data import camvid

    return camvid.frame_name(image_path).split("_")[0]


def metrics_by_sequence(model: str, data_dir: str, split: str = "test") -> dict:
    """{sequence: (frames, metrics)}: what `model` (a model folder or an export) scores on each
    sequence's frames of `split`, in file order."""
    from fast_scnn_tf.data import camvid
    from fast_scnn_tf.evaluation.metrics import compute_metrics, confusion_matrix
    from fast_scnn_tf.predict.predictor import load_predictor

    predict, _, classes = load_predictor(model)
    confusions, frames = {}, {}
    for image_path, label_path in camvid.list_frames(data_dir, split):
        image, truth = read_frame(image_path, label_path)
        counts = confusion_matrix(truth, predict(image), classes.num_classes).numpy()
        key = sequence(image_path)
        confusions[key] = confusions.get(key, 0) + counts
        frames[key] = frames.get(key, 0) + 1
    return {
        key: (frames[key], compute_metrics(counts, classes)) for key, counts in confusions.items()
    }


def by_sequence(model_dir: str, data_dir: str) -> dict:
    """The model's test metrics per CamVid sequence, with how many train frames come from that
    sequence: does the score fall on footage the model never saw?"""
    from fast_scnn_tf.data import camvid

    train = [sequence(path) for path in camvid.list_images(data_dir, "train")]
    return {
        key: {
            "test_frames": count,
            "train_frames": train.count(key),
            **{k: metrics[k] for k in ("miou", "pixel_accuracy", "class_iou")},
        }
        for key, (count, metrics) in metrics_by_sequence(model_dir, data_dir).items()
    }


def merge(output: str, fields: dict) -> None:
    """Add `fields` to the recorded result, leaving the training record (stages, curve,
    environment) as it was."""
    from fast_scnn_tf.files import write_json

    with open(output) as f:
        result = json.load(f)
    write_json(output, {**result, **fields})
    print(f"added {', '.join(fields)} to {output}")


# The row name of an exported file, from the precision in its name (export.py's file names);
# "_qat_int8_" first, since it also holds "_int8_".
EXPORT_KINDS = (
    ("_qat_int8_", "TFLite int8 QAT"),
    ("_int8_", "TFLite int8"),
    ("_float32_", "TFLite float32"),
)


def add_exports(output: str, metrics_files: list[str]) -> None:
    """Merge the test metrics of the shipped model's exported files (evaluate.py on each
    `<name>_metrics_test.json`) and today's peer table into the recorded result."""
    with open(output) as f:
        exports = json.load(f).get("exports", {})
    for path in metrics_files:
        with open(path) as f:
            metrics = json.load(f)
        name = os.path.basename(path).split("_metrics")[0]
        kind = next((k for tag, k in EXPORT_KINDS if tag in name), name)
        exports[kind] = {
            **{k: metrics[k] for k in ("miou", "mean_accuracy", "pixel_accuracy", "class_iou")},
            "command": f"python evaluate.py --checkpoint exports/camvid/{name}.tflite --split test",
        }
    merge(output, {"exports": exports, "peers": list(PEERS)})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--run", help="the training run folder (train_log.jsonl); needed to record a run or ship it"
    )
    parser.add_argument(
        "--ship-to",
        metavar="DIR",
        help="write the run's best weights and config into DIR (a new folder), then stop",
    )
    parser.add_argument(
        "--which",
        choices=WHICH,
        default="best",
        help="the checkpoint --ship-to ships: best on val (train protocol) or the "
        "last (train+val, where val is not held out) [%(default)s]",
    )
    parser.add_argument(
        "--data-dir-in-config",
        default="data/CamVid",
        help="data_dir written into the shipped config (default %(default)s)",
    )
    parser.add_argument(
        "--figure",
        nargs="+",
        metavar=("PNG", "FRAME"),
        help="write PNG: test frames FRAME... (e.g. 0001TP_008550) with the "
        "--shipped model's prediction and the ground truth, then stop",
    )
    parser.add_argument(
        "--by-sequence",
        action="store_true",
        help="score the --shipped model on the test split per sequence (0001TP, "
        "Seq05VD), merge it into --output as test_by_sequence, then stop",
    )
    parser.add_argument(
        "--data-dir", default="data/CamVid", help="CamVid root, for --figure and --by-sequence"
    )
    parser.add_argument(
        "--stages", help="JSON list of the run's train.py stages, or its long_run plan"
    )
    parser.add_argument(
        "--test-metrics", help="metrics JSON of the shipped model on the test split (evaluate.py)"
    )
    parser.add_argument("--shipped", help="folder of the shipped model")
    parser.add_argument(
        "--extra",
        default=None,
        help="JSON object merged into the record (e.g. the int8 TFLite's test "
        "metrics, the class weights)",
    )
    parser.add_argument(
        "--add-exports",
        nargs="+",
        metavar="METRICS_JSON",
        help="merge these test metrics of the shipped model's exports "
        "(evaluate.py --checkpoint X.tflite --split test) into --output, "
        "then stop",
    )
    parser.add_argument("--output", default=record.default_output("camvid", "experiments"))
    args = parser.parse_args(argv)
    cli.import_tensorflow()  # quietly, before shipping, the figure and the record import it
    if args.add_exports:
        add_exports(args.output, args.add_exports)
        return 0
    if args.ship_to:
        if not args.run:
            parser.error("--ship-to needs --run")
        if os.path.lexists(args.ship_to):
            parser.error(f"--ship-to '{args.ship_to}' exists: expected a new folder")
        ship(args.run, args.ship_to, args.data_dir_in_config, args.which)
        return 0
    if args.by_sequence:
        if not args.shipped:
            parser.error("--by-sequence needs --shipped")
        merge(args.output, {"test_by_sequence": by_sequence(args.shipped, args.data_dir)})
        return 0
    if args.figure:
        figure(args.shipped, args.data_dir, args.figure[1:], args.figure[0])
        return 0
    if not (args.run and args.stages and args.test_metrics and args.shipped):
        parser.error("recording needs --run, --stages, --test-metrics and --shipped")

    with open(args.stages) as f:
        stages = json.load(f)
    if isinstance(stages, dict):  # a long_run plan
        stages = stages.get("stages")
    if not isinstance(stages, list) or not stages:
        parser.error(f"--stages '{args.stages}': expected a list of stages or a plan with some")
    with open(args.test_metrics) as f:
        test = {k: v for k, v in json.load(f).items() if k in KEEP}
    with open(os.path.join(args.shipped, "config.json")) as f:
        config = json.load(f)
    curve = val_curve(args.run)
    best = max(curve, key=lambda e: e["miou"])
    result = {
        "dataset": "CamVid, SegNet split: 367 train / 101 val / 233 test frames, 360x480, "
        "11 classes + void (Brostow et al., PRL 2009)",
        "model": config["model"]["name"],
        "stages": stages,
        "epochs": sum(s["end_step"] - s["start_step"] for s in stages)
        / max(1, curve[-1]["step"] / curve[-1]["epoch"]),
        "wall_seconds": sum(s["wall_seconds"] for s in stages),
        "config": config,
        "val_curve": curve,
        "best_val": best,
        "test": test,
        "protocol": TRAINVAL if config["data"].get("train_split") == "trainval" else TRAIN,
        "shipped": {
            "path": os.path.relpath(args.shipped, ROOT),
            "format": "TF checkpoint (float32 weights only) + config.json",
        },
        "peers": list(PEERS),
    }
    if args.extra:
        with open(args.extra) as f:
            result.update(json.load(f))
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
