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

`--write-model DIR` also writes the run with the chosen offsets folded into the bias of its last
convolution (the layer whose output the head resizes). Bilinear weights sum to one, so a per-class
constant added before the resize is the same constant after it: `evaluate.py`, `predict.py`,
`export.py` and the browser page then all carry the offset with no code of their own, and
`logit_adjustment.json` beside `config.json` records α and the offsets in class order.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from fast_scnn_tf import cli, files

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def confusions(model, config, split: str, offsets) -> list:
    """One confusion matrix per row of `offsets` ([A, C]) over `split`, each counting the argmax
    of the logits plus that row."""
    import numpy as np
    import tensorflow as tf

    from fast_scnn_tf.evaluation import confusion_matrix, evaluation_frames
    from fast_scnn_tf.model.head import low_res_logits

    features = low_res_logits(model)
    num_classes = config.model.num_classes
    offsets = tf.constant(offsets, tf.float32)

    @tf.function(reduce_retracing=True)
    def step(images, labels):
        logits = tf.image.resize(
            features(images, training=False), tf.shape(labels)[1:3], method="bilinear"
        )
        shifted = logits[None] + offsets[:, None, None, None, :]
        predictions = tf.argmax(shifted, axis=-1, output_type=tf.int32)
        return tf.stack(
            [confusion_matrix(labels, predictions[a], num_classes) for a in range(offsets.shape[0])]
        )

    total = np.zeros((offsets.shape[0], num_classes, num_classes), np.int64)
    for images, labels in evaluation_frames(config.data, split, config.data.input_scale):
        total += step(images, labels).numpy()
    return list(total)


def adjust(checkpoint: str, which: str, data_dir: str | None, alphas) -> dict:
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
    test = [
        compute_metrics(c, classes)
        for c in confusions(run.model, config, "test", offsets[list(chosen)])
    ]
    return {
        "checkpoint": run.checkpoint,
        "class_weighting": config.train.class_weighting,
        "class_weights": dict(zip(classes.names, map(float, weights))),
        "val": [
            {"alpha": a, "miou": m["miou"], "class_iou": m["class_iou"]}
            for a, m in zip(alphas, val)
        ],
        "alpha": alphas[best],
        "test": [
            {
                "alpha": alphas[i],
                "miou": m["miou"],
                "class_iou": m["class_iou"],
                "pixel_accuracy": m["pixel_accuracy"],
                "mean_accuracy": m["mean_accuracy"],
            }
            for i, m in zip(chosen, test)
        ],
    }


def logits_layer(model):
    """The layer whose output the head resizes (every family ends in a biased 1x1 Conv2D)."""
    from fast_scnn_tf.model.head import MODEL_LOGITS

    layer = model.get_layer(MODEL_LOGITS).input[0]._keras_history.operation
    if not getattr(layer, "use_bias", False):
        raise ValueError(f"the logits come from '{layer.name}', which has no bias to shift")
    return layer


def write_adjusted(checkpoint: str, which: str, directory: str, result: dict) -> str:
    """Write `checkpoint`'s run to the new folder `directory` with −α·ln(w_c) at the chosen α
    added to its logits' bias, and `logit_adjustment.json` recording α and the offsets."""
    import numpy as np

    from fast_scnn_tf import files
    from fast_scnn_tf.training.checkpoint import BEST_DIR, load_run, write_run

    files.check_replaceable(directory, "--write-model", False)
    run = load_run(checkpoint, which, aux=True)
    weights = np.array(list(result["class_weights"].values()), np.float64)
    offsets = (-result["alpha"] * np.log(weights)).astype(np.float32)
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
        result = adjust(args.checkpoint, args.which, args.data_dir, tuple(args.alphas))
        for entry in result["val"]:
            print(f"val  alpha {entry['alpha']:g}: mIoU {100 * entry['miou']:.2f}")
        for entry in result["test"]:
            print(f"test alpha {entry['alpha']:g}: mIoU {100 * entry['miou']:.2f}")
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
