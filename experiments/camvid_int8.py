"""Where post-training int8 loses on CamVid, a diagnostic: the float32 and int8 exports scored per
drive (a frame name's prefix: 0016E5 is val, 0001TP and Seq05VD are test), beside each drive's
mean brightness and the int8 model's per-layer signal-to-quantisation-noise ratio (SQNR) on its
frames. The SQNR compares each quantised layer's output with the float layer's output for the same
input (TensorFlow's QuantizationDebugger), with the calibration `export.py` uses (the first
`--calibration-steps` train frames). Nothing here picks a model: it explains a row.

    python -m experiments.camvid_int8 --checkpoint models/camvid --data-dir data/CamVid \\
        --float exports/camvid/fast_scnn_cls_float32_360x480.tflite \\
        --int8 exports/camvid/fast_scnn_cls_int8_360x480.tflite
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import warnings

import numpy as np

from benchmarks import record
from fast_scnn_tf import cli

# The layers whose SQNR is summarised: where int8 arithmetic adds noise. Exact ops (slices,
# concatenations) report ~150 dB, and a layer whose float output is near zero a meaningless one.
NOISY_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "RESIZE_BILINEAR"}
SPLITS = ("val", "test")


def drives(data_dir: str) -> dict[str, list[tuple[str, str]]]:
    """val and test frames grouped by drive ("<split> <sequence>"), in file order."""
    from experiments.camvid import sequence
    from fast_scnn_tf.data import camvid

    groups: dict[str, list] = {}
    for split in SPLITS:
        for image_path, label_path in camvid.list_frames(data_dir, split):
            groups.setdefault(f"{split} {sequence(image_path)}", []).append(
                (image_path, label_path)
            )
    return groups


def scores(model: str, data_dir: str) -> dict[str, float]:
    """mIoU of the export `model` on each drive ("<split> <sequence>")."""
    from experiments.camvid import metrics_by_sequence

    return {
        f"{split} {key}": metrics["miou"]
        for split in SPLITS
        for key, (_, metrics) in metrics_by_sequence(model, data_dir, split).items()
    }


def sqnr(reference: np.ndarray, quantised: np.ndarray, scale: float, zero_point: int) -> float:
    """10 log10(signal power / error power) in dB of an int8 tensor against its float reference."""
    error = reference - (quantised.astype(np.float64) - zero_point) * scale
    with np.errstate(divide="ignore"):  # an exact layer: inf, left out of the summary
        return float(
            10 * np.log10(np.sum(np.square(reference, dtype=np.float64)) / np.sum(error**2))
        )


def layer_sqnr(
    checkpoint: str, data_dir: str, groups: dict, calibration_steps: int, per_drive: int
):
    """{drive: {layer: SQNR dB}} for the int8 conversion of the checkpoint's cls head, on
    `per_drive` frames spread over each drive."""
    import tensorflow as tf

    from experiments.camvid import read_frame
    from fast_scnn_tf.export.fast_graph import fast_graph
    from fast_scnn_tf.export.sample_frames import frames_for
    from fast_scnn_tf.model.head import build_head
    from fast_scnn_tf.training.checkpoint import load_run

    run = load_run(checkpoint, "best")
    size = tuple(run.config.model.input_size)
    calibration = frames_for(run.config, data_dir, size, calibration_steps, split="train")
    result = {}
    with tempfile.TemporaryDirectory() as saved:
        build_head(fast_graph(run.model), "cls", size).export(
            saved, format="tf_saved_model", verbose=False
        )
        for key, frames in groups.items():
            picked = frames[:: max(1, len(frames) // per_drive)][:per_drive]
            images = [read_frame(*frame)[0] for frame in picked]
            images = [
                tf.image.resize(image, size).numpy().round().astype(np.uint8) for image in images
            ]
            converter = tf.lite.TFLiteConverter.from_saved_model(saved)
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([frame] for frame in calibration)
            with warnings.catch_warnings():  # the debugger runs the deprecated tf.lite.Interpreter
                warnings.simplefilter("ignore")
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter,
                    debug_dataset=lambda images=images: ([image[np.newaxis]] for image in images),
                    debug_options=tf.lite.experimental.QuantizationDebugOptions(
                        layer_direct_compare_metrics={"sqnr": sqnr}
                    ),
                )
                debugger.run()
            dump = io.StringIO()
            debugger.layer_statistics_dump(dump)
            dump.seek(0)
            result[key] = {
                row["tensor_name"]: float(row["sqnr"])
                for row in csv.DictReader(dump)
                if row["op_name"] in NOISY_OPS
            }
    return result


def summary(per_layer: dict) -> dict[str, float]:
    """Each drive's median SQNR over the layers finite on every drive."""
    layers = [
        name
        for name in next(iter(per_layer.values()))
        if all(np.isfinite(drive.get(name, np.nan)) for drive in per_layer.values())
    ]
    return {
        key: float(np.median([drive[name] for name in layers])) for key, drive in per_layer.items()
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", default="models/camvid", help="[%(default)s]")
    parser.add_argument("--data-dir", default="data/CamVid", help="[%(default)s]")
    parser.add_argument("--float", required=True, help="the float32 .tflite export")
    parser.add_argument("--int8", required=True, help="the int8 .tflite export of the same model")
    parser.add_argument("--calibration-steps", type=int, default=100, help="[%(default)s]")
    parser.add_argument("--frames", type=int, default=8, help="frames per drive for the SQNR")
    parser.add_argument("--output", default=record.default_output("camvid_int8", "experiments"))
    args = parser.parse_args(argv)
    cli.import_tensorflow(False)
    from experiments.camvid import read_frame

    groups = drives(args.data_dir)
    float_miou, int8_miou = scores(args.float, args.data_dir), scores(args.int8, args.data_dir)
    median = summary(
        layer_sqnr(args.checkpoint, args.data_dir, groups, args.calibration_steps, args.frames)
    )
    result = {"checkpoint": args.checkpoint, "float": args.float, "int8": args.int8, "drives": {}}
    for key, frames in groups.items():
        brightness = np.mean([read_frame(*frame)[0].mean() for frame in frames])
        result["drives"][key] = {
            "frames": len(frames),
            "mean_brightness": float(brightness),
            "float_miou": float_miou[key],
            "int8_miou": int8_miou[key],
            "median_layer_sqnr_db": median[key],
        }
        print(
            f"{key:<13} {len(frames):>3} frames  brightness {brightness:5.1f}  "
            f"float {100 * float_miou[key]:.2f}  int8 {100 * int8_miou[key]:.2f}  "
            f"SQNR {median[key]:.1f} dB"
        )
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
