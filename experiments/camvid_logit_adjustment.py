"""Calibrated class priors, a diagnostic: a trained model's logits shifted per class by
−α·ln(w_c), where w_c is the class weight its loss used (`train.class_weighting`), with α chosen
on val and the test split scored once at that α.

A loss that weighs class c by w_c trains the model towards a prior tilted by w_c: rare classes,
weighted up, are predicted more often than they occur, and IoU punishes the false positives.
Subtracting α·ln(w_c) from the logits undoes the tilt post hoc (logit adjustment; Menon et al.,
"Long-tail learning via logit adjustment", ICLR 2021); α = 0 is the model as trained.

    python -m experiments.camvid_logit_adjustment --checkpoint models/camvid \\
        --data-dir data/CamVid --output experiments/results/camvid_logit_adjustment.json

Each frame's low-resolution logits are computed once and resized to the label's size; every α
then costs one argmax. The result lists val mIoU per α, the chosen α, and test mIoU at α = 0 and
at the chosen α.

`--per-class` also fits each class's offset on val, starting from the chosen α's: a model
trained with flatter weights can over-predict some weighted classes and under-predict others
(docs/camvid.md), which no single α corrects. One offset per class fitted on CamVid's 101 val
frames can fit val rather than the task: the test score at the fit is its own row.

`--write-model DIR` also writes the run with the chosen offsets folded into the bias of its last
convolution (the layer whose output the head resizes). Bilinear weights sum to one, so a per-class
constant added before the resize is the same constant after it: `evaluate.py`, `predict.py`,
`export.py` and the browser page then all carry the offset with no code of their own, and
`logit_adjustment.json` beside `config.json` records α and the offsets in class order.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys

from fast_scnn_tf import cli, files

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)
# What --per-class tries adding to one class's offset at a time (0: keep it)
STEPS = (-1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0)


def low_res_frames(model, config, split: str):
    """(low-resolution logits, label) of each frame of `split`: the network runs once a frame."""
    from fast_scnn_tf.evaluation import evaluation_frames
    from fast_scnn_tf.model.head import low_res_logits

    features = low_res_logits(model)
    for images, labels in evaluation_frames(config.data, split, config.data.input_scale):
        yield features(images, training=False), labels


@functools.cache
def _score_step(num_classes: int):
    """(logits, label, offsets [A, C]) -> [A, C, C] confusion matrices (rows ground truth,
    void pixels left out, as `evaluation.confusion_matrix`); one trace for every A and size."""
    import tensorflow as tf

    squared = num_classes * num_classes

    @tf.function(reduce_retracing=True)
    def step(logits, labels, offsets):
        logits = tf.image.resize(logits, tf.shape(labels)[1:3], method="bilinear")
        logits = tf.reshape(logits, [-1, num_classes])
        labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
        valid = labels < num_classes
        logits, labels = tf.boolean_mask(logits, valid), tf.boolean_mask(labels, valid)
        shifted = logits[None] + offsets[:, None, :]  # [A, pixels, C]
        predictions = tf.argmax(shifted, axis=-1, output_type=tf.int32)
        rows = tf.shape(offsets)[0]
        index = tf.range(rows)[:, None] * squared + labels[None] * num_classes + predictions
        counts = tf.math.bincount(tf.reshape(index, [-1]), minlength=rows * squared)
        return tf.reshape(tf.cast(counts, tf.int64), [rows, num_classes, num_classes])

    return step


def score(frames, offsets, num_classes: int) -> list:
    """One confusion matrix per row of `offsets` ([A, C]) over `frames` (`low_res_frames`), each
    counting the argmax of the logits, resized to the label, plus that row."""
    import numpy as np
    import tensorflow as tf

    step = _score_step(num_classes)
    offsets = tf.constant(offsets, tf.float32)
    total = np.zeros((offsets.shape[0], num_classes, num_classes), np.int64)
    for logits, labels in frames:
        total += step(logits, labels, offsets).numpy()
    return list(total)


def confusions(model, config, split: str, offsets) -> list:
    """`score` of `offsets` over `split`."""
    return score(low_res_frames(model, config, split), offsets, config.model.num_classes)


def per_class_offsets(model, config, start, steps=STEPS, rounds: int = 2):
    """Offsets fitted class by class on val, from `start` ([C]): each round tries every value of
    `steps` added to one class's offset at a time and keeps the best val mIoU (the current one
    on ties). Each try is one pass of the network over val: nothing is kept between passes, so
    memory does not grow with the split. Returns (offsets, val mIoU)."""
    import numpy as np

    from fast_scnn_tf.evaluation import compute_metrics

    classes = config.class_table()
    offsets = np.asarray(start, np.float64)
    best = None
    for _ in range(rounds):
        for c in range(len(offsets)):
            rows = np.repeat(offsets[None], len(steps), axis=0)
            rows[:, c] += steps
            mious = [
                compute_metrics(m, classes)["miou"] for m in confusions(model, config, "val", rows)
            ]
            pick = int(np.argmax(mious))
            if best is None or mious[pick] > best:
                offsets, best = rows[pick], mious[pick]
    return offsets, best


def adjust(
    checkpoint: str, which: str, data_dir: str | None, alphas, per_class: bool = False
) -> dict:
    import numpy as np

    from fast_scnn_tf.evaluation import compute_metrics
    from fast_scnn_tf.training.checkpoint import load_run
    from fast_scnn_tf.training.data_checks import class_weights_for

    run = load_run(checkpoint, which)
    config = run.config
    if data_dir:
        config = dataclasses.replace(
            config, data=dataclasses.replace(config.data, data_dir=data_dir)
        )
    weights = class_weights_for(config)
    if weights is None:
        raise ValueError(
            f"'{checkpoint}' was trained without class weights "
            "(train.class_weighting none): there is no tilt to undo"
        )
    log_weights = np.log(np.asarray(weights, np.float64))
    offsets = -np.outer(alphas, log_weights)
    classes = config.class_table()
    val = [compute_metrics(c, classes) for c in confusions(run.model, config, "val", offsets)]
    best = int(np.argmax([m["miou"] for m in val]))
    chosen = (0, best) if best else (0,)
    rows = offsets[list(chosen)]
    if per_class:
        fitted, fitted_val = per_class_offsets(run.model, config, offsets[best])
        rows = np.concatenate([rows, fitted[None]])
    test = [compute_metrics(c, classes) for c in confusions(run.model, config, "test", rows)]

    def scores(m):
        keys = ("miou", "class_iou", "pixel_accuracy", "mean_accuracy")
        return {key: m[key] for key in keys}

    result = {
        "checkpoint": run.checkpoint,
        "class_weighting": config.train.class_weighting,
        "class_weights": dict(zip(classes.names, map(float, weights))),
        "val": [
            {"alpha": a, "miou": m["miou"], "class_iou": m["class_iou"]}
            for a, m in zip(alphas, val)
        ],
        "alpha": alphas[best],
        "offsets": offsets[best].tolist(),
        "test": [{"alpha": alphas[i], **scores(m)} for i, m in zip(chosen, test)],
    }
    if per_class:
        result["per_class"] = {
            "steps": list(STEPS),
            "offsets": fitted.tolist(),
            "val_miou": fitted_val,
            "test": scores(test[-1]),
        }
    return result


def logits_layer(model):
    """The layer whose output the head resizes (every family ends in a biased 1x1 Conv2D)."""
    from fast_scnn_tf.model.head import MODEL_LOGITS

    layer = model.get_layer(MODEL_LOGITS).input[0]._keras_history.operation
    if not getattr(layer, "use_bias", False):
        raise ValueError(f"the logits come from '{layer.name}', which has no bias to shift")
    return layer


def write_adjusted(checkpoint: str, which: str, directory: str, result: dict) -> str:
    """Write `checkpoint`'s run to the new folder `directory` with the chosen offsets (the
    per-class fit where there is one, else −α·ln(w_c) at the chosen α) added to its logits'
    bias, and `logit_adjustment.json` recording them."""
    import numpy as np

    from fast_scnn_tf.training.checkpoint import BEST_DIR, load_run, write_run

    files.check_replaceable(directory, "--write-model", False)
    run = load_run(checkpoint, which, aux=True)
    weights = np.array(list(result["class_weights"].values()), np.float64)
    fit = result.get("per_class", result)
    offsets = np.asarray(fit["offsets"], np.float32)
    layer = logits_layer(run.model)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + offsets])
    step = int(run.checkpoint.rsplit("-", 1)[-1])
    with files.staging_dir(directory) as tmp:
        write_run(tmp, run.config, run.model, folder=BEST_DIR, number=step)
        files.write_json(
            os.path.join(tmp, "logit_adjustment.json"),
            {
                "source": run.checkpoint,
                "alpha": result["alpha"],
                "per_class": "per_class" in result,
                "classes": list(result["class_weights"]),
                "class_weights": weights.tolist(),
                "offsets": offsets.tolist(),
                "layer": layer.name,
            },
        )
    return directory


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--checkpoint",
        default="models/camvid",
        help="run folder or checkpoint prefix [%(default)s]",
    )
    parser.add_argument("--which", default="best", help="best or latest [%(default)s]")
    parser.add_argument("--data-dir", help="CamVid root; default: the run's data_dir")
    parser.add_argument(
        "--alphas",
        type=float,
        nargs="+",
        default=ALPHAS,
        metavar="A",
        help="the α grid, chosen from on val [%(default)s]",
    )
    parser.add_argument(
        "--per-class",
        action="store_true",
        help="also fit each class's offset on val, from the chosen alpha's, one class at a time "
        f"(steps {' '.join(f'{x:g}' for x in STEPS)}, two rounds), and score test at the fit",
    )
    parser.add_argument("--output", help="JSON file for the result (default: print only)")
    parser.add_argument(
        "--write-model",
        metavar="DIR",
        help="also write the run with the chosen offsets folded into its logits' bias to this "
        "new folder",
    )
    args = parser.parse_args(argv)
    if 0.0 not in args.alphas or any(a < 0 for a in args.alphas):
        parser.error("--alphas: expected values >= 0 including 0 (the model as trained)")
    cli.import_tensorflow(False)
    from benchmarks import record

    try:
        if args.write_model:
            files.check_replaceable(args.write_model, "--write-model", False)
        result = adjust(
            args.checkpoint, args.which, args.data_dir, tuple(args.alphas), args.per_class
        )
        for entry in result["val"]:
            print(f"val  alpha {entry['alpha']:g}: mIoU {100 * entry['miou']:.2f}")
        for entry in result["test"]:
            print(f"test alpha {entry['alpha']:g}: mIoU {100 * entry['miou']:.2f}")
        if args.per_class:
            fit = result["per_class"]
            print(f"val  per class: mIoU {100 * fit['val_miou']:.2f}")
            print(f"test per class: mIoU {100 * fit['test']['miou']:.2f}")
        if args.write_model:
            write_adjusted(args.checkpoint, args.which, args.write_model, result)
            print(f"wrote {args.write_model} (alpha {result['alpha']:g})")
    except (FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"camvid_logit_adjustment.py: error: {e}", file=sys.stderr)
        return 1
    if args.output:
        record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
