"""Inference speed of Fast-SCNN in every form this project ships, in one run: Keras (tf.function),
the TF Serving SavedModel, TFLite float32 and TFLite int8, each with the cls output (uint8 label
map) and the prob output (softmax), at the paper's three input sizes (Table 7), batch 1, timed as
§4.1 of the paper did (warm-up frames, then the mean; median, p90 and FPS = 1 / mean too).
At the first size it also times TFLite float16 and dynamic-range cls, and the cls head alone
(bilinear x8 of 19 channels + ARG_MAX fed 1/8-size logits: what the full-size upsample costs).

Every row times the head export.py ships (`fast_scnn_tf.model.head.build_head`: uint8 frames in;
prob returns the softmax and the label map): in Keras as a tf.function, and as SavedModel and
TFLite files written by `fast_scnn_tf.export` into a temporary folder (--keep DIR keeps them).
Random weights unless --checkpoint, and int8 is calibrated on synthetic frames: speed depends on
neither. TFLite always runs on the CPU (XNNPACK), also on a GPU machine. When `torch` is
installed (not a project requirement) it also times a minimal PyTorch Fast-SCNN
(`pytorch_reference.py`) on the CPU, in PyTorch's default NCHW layout and channels-last,
for the "five times faster than the PyTorch port" comparison, and, when `onnxruntime` is installed
too, that model exported to ONNX and run by ONNX Runtime in float32 and static int8
(`onnx_reference.py`): what a PyTorch user deploys on a CPU. Prints the table and the speed
targets as ratios measured in this run; writes JSON with device, versions, date, threads and the
command, from which `benchmarks/report.py` builds the README table.

--runtimes times some of them: a run that leaves one out writes its JSON only to --output (the
default file holds the full run the README table comes from).

    python -m benchmarks.inference                          # 100 warm-up + 100 frames (the paper)
    python -m benchmarks.inference --warmup 20 --iters 50   # the README's run: ~6 min on 2 cores
    python -m benchmarks.inference --runtimes keras --checkpoint runs/paper   # §4.1: Keras only
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import record, report_inference, report_template, speed  # noqa: E402
from fast_scnn_tf.export import saved_model, tflite  # noqa: E402
from fast_scnn_tf.export.exporter import serving_head  # noqa: E402
from fast_scnn_tf.export.sample_frames import synthetic_frames  # noqa: E402
from fast_scnn_tf.model import build_fast_scnn  # noqa: E402
from fast_scnn_tf.model.head import CLS, MODES, InferenceHead  # noqa: E402

RESOLUTIONS = ("1024x2048", "512x1024", "256x512")
# pytorch: eager NCHW and channels-last; onnxruntime: that model exported to ONNX, cls only
RUNTIMES = ("keras", "savedmodel", "tflite", "pytorch", "onnxruntime")
OPTIONAL = {"pytorch": ("torch",), "onnxruntime": ("torch", "onnxscript", "onnxruntime")}
MAIN_PRECISIONS = ("none", "int8")  # tflite.QUANTIZATIONS names; "none" is float32
EXTRA_PRECISIONS = ("float16", "dynamic")  # cls only, first size only
DEFAULT_OUTPUT = record.default_output("inference")  # the full run; README table source
SHIPPED_HEADS = "shipped"  # the JSON's `heads`: every runtime timed the heads export.py ships
HEAD_ALONE = "cls head alone"  # the bilinear x8 upsample + argmax, without the network


def format_header() -> str:
    return (
        f"{'runtime':<12}{'output':<15}{'precision':<10}{'size':>10}{'median ms':>11}"
        f"{'mean':>9}{'p90':>9}{'FPS':>8}{'file':>11}"
    )


def format_row(row: dict) -> str:
    """One row as a fixed-width line (all of median, mean, p90, FPS and the file size)."""
    return (
        f"{row['runtime']:<12}{row['head']:<15}{row['precision']:<10}{row['resolution']:>10}"
        f"{row['median_ms']:>11.1f}{row['mean_ms']:>9.1f}{row['p90_ms']:>9.1f}"
        f"{row['fps']:>8.1f}{report_template.megabytes(row.get('bytes')):>11}"
    )


def head_alone(num_classes: int, size: tuple[int, int]) -> keras.Model:
    """The cls head alone (`InferenceHead`): 1/8-size logits -> bilinear to `size` -> ARG_MAX ->
    uint8."""
    logits = keras.Input(shape=(size[0] // 8, size[1] // 8, num_classes))
    reference = keras.Input(shape=(*size, 1), dtype="uint8")
    return keras.Model([logits, reference], InferenceHead(CLS)([logits, reference]))


def time_every_input(path: str, warmup: int, iters: int, threads: int) -> dict:
    """Time a TFLite file with several inputs (`speed.time_tflite` fills only the first)."""
    interp = tflite.interpreter(path, threads)
    rng = np.random.default_rng(0)
    for detail in interp.get_input_details():
        interp.set_tensor(detail["index"], rng.normal(size=detail["shape"]).astype(detail["dtype"]))
    return {**speed.time_calls(interp.invoke, warmup, iters), "threads": threads}


def bytes_on_disk(path: str) -> int:
    """Size of a file, or of every file under a directory."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, names in os.walk(path)
        for name in names
    )


def run(
    model: keras.Model,
    resolutions,
    warmup: int,
    iters: int,
    threads: int,
    calibration_frames: int,
    directory: str,
    runtimes: tuple[str, ...],
) -> list[dict]:
    """Export and time every (runtime, head, precision) of `runtimes` at every resolution; rows as
    measured."""
    rows = []

    def add(runtime, head, precision, resolution, timing, path=None):
        rows.append(
            {
                "runtime": runtime,
                "head": head,
                "precision": precision,
                "resolution": f"{resolution[0]}x{resolution[1]}",
                "bytes": bytes_on_disk(path) if path else None,
                **timing,
            }
        )
        print(format_row(rows[-1]), flush=True)

    pytorch = None
    if "pytorch" in runtimes:
        from benchmarks import pytorch_reference as pytorch
    saved_models = {}
    for mode in MODES if "savedmodel" in runtimes else ():  # one per head: dynamic input size
        saved_models[mode] = os.path.join(directory, f"saved_model_{mode}")
        saved_model.write_saved_model(serving_head(model, mode), saved_models[mode])
    for index, size in enumerate(resolutions):
        for mode in MODES if "keras" in runtimes else ():
            add("keras", mode, "float32", size, speed.time_keras(model, *size, mode, warmup, iters))
        for mode in saved_models:
            add(
                "savedmodel",
                mode,
                "float32",
                size,
                speed.time_saved_model(saved_models[mode], *size, warmup, iters),
                saved_models[mode],
            )
        if "tflite" in runtimes:
            time_tflite_variants(
                model, size, index == 0, warmup, iters, threads, calibration_frames, directory, add
            )
        for mode in MODES if pytorch else ():  # eager NCHW, then channels-last (its fastest)
            for runtime, channels_last in (("pytorch", False), ("pytorch_cl", True)):
                add(
                    runtime,
                    mode,
                    "float32",
                    size,
                    speed.time_calls(
                        pytorch.head(mode, *size, threads, channels_last), warmup, iters
                    ),
                )
        if "onnxruntime" in runtimes:
            from benchmarks import onnx_reference

            for precision, path in onnx_reference.export(
                directory, *size, calibration_frames
            ).items():
                add(
                    "onnxruntime",
                    CLS,
                    precision,
                    size,
                    speed.time_calls(onnx_reference.session_runner(path, threads), warmup, iters),
                    path,
                )
    return rows


def time_tflite_variants(
    model: keras.Model,
    size: tuple[int, int],
    first: bool,
    warmup: int,
    iters: int,
    threads: int,
    calibration_frames: int,
    directory: str,
    add,
) -> None:
    """Convert and time the TFLite cls/prob heads at `size` (float32 and int8; at the first size
    also float16 and dynamic-range cls, and the cls head alone), passing each timing to `add`."""
    frames = synthetic_frames(size, calibration_frames)
    variants = [(mode, q) for mode in MODES for q in MAIN_PRECISIONS]
    if first:
        variants += [(CLS, q) for q in EXTRA_PRECISIONS]
    for mode, quantize in variants:
        path = os.path.join(
            directory, f"{mode}_{tflite.variant_name(quantize)}_{size[0]}x{size[1]}.tflite"
        )
        with open(path, "wb") as f:  # as export.py converts it
            f.write(speed.tflite_export(model, mode, quantize, size, frames))
        add(
            "tflite",
            mode,
            tflite.variant_name(quantize),
            size,
            speed.time_tflite(path, warmup, iters, threads),
            path,
        )
    if first:
        path = os.path.join(directory, f"cls_head_alone_{size[0]}x{size[1]}.tflite")
        with open(path, "wb") as f:
            f.write(tflite.convert(head_alone(model.output.shape[-1], size)))
        add(
            "tflite",
            HEAD_ALONE,
            "float32",
            size,
            time_every_input(path, warmup, iters, threads),
            path,
        )


def installed(runtime: str) -> bool:
    """Whether the optional packages `runtime` needs are installed (always, for the others)."""
    return all(importlib.util.find_spec(p) is not None for p in OPTIONAL.get(runtime, ()))


def runtimes_to_time(requested) -> tuple[str, ...]:
    """--runtimes in `RUNTIMES` order; by default all whose optional packages are installed."""
    if requested:
        return tuple(r for r in RUNTIMES if r in requested)
    return tuple(r for r in RUNTIMES if installed(r))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--resolutions",
        nargs="+",
        default=list(RESOLUTIONS),
        metavar="HxW",
        help=f"input sizes (default: the paper's {' '.join(RESOLUTIONS)})",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="untimed frames per row (default %(default)s, the paper's)",
    )
    parser.add_argument(
        "--iters",
        type=int,
        default=100,
        help="timed frames per row (default %(default)s, the paper's)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow and TFLite threads; 0: TensorFlow's default (all cores) "
        "on CPU, one thread with a GPU (the paper's setting), TFLite all cores "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="time trained weights from this model directory (default: random weights, 19 classes)",
    )
    parser.add_argument(
        "--calibration-frames",
        type=int,
        default=2,
        help="synthetic frames to calibrate int8 on (default %(default)s)",
    )
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the SavedModels and .tflite files in DIR (default: a temporary folder, deleted)",
    )
    parser.add_argument(
        "--runtimes",
        nargs="+",
        choices=RUNTIMES,
        metavar="RUNTIME",
        help=f"time only these, of {' '.join(RUNTIMES)} (default: all; pytorch "
        "when torch is installed)",
    )
    parser.add_argument(
        "--output",
        help=f"JSON results file (default {DEFAULT_OUTPUT}, for a run of every "
        "runtime; a run of some --runtimes writes only to --output)",
    )
    args = parser.parse_args(argv)
    runtimes = runtimes_to_time(args.runtimes)
    for runtime in runtimes:
        if not installed(runtime):
            parser.error(
                f"--runtimes {runtime} needs {', '.join(OPTIONAL[runtime])} (pip "
                "install -r requirements-torch.txt; not needed to train or export)"
            )
    # The default file holds the full run the README table is rendered from: a run of some
    # runtimes writes JSON only where --output says, and never there.
    partial = runtimes != runtimes_to_time(None)
    output = args.output or (None if partial else DEFAULT_OUTPUT)
    if partial and output and os.path.abspath(output) == os.path.abspath(DEFAULT_OUTPUT):
        parser.error(
            f"--output {args.output}: the README table is rendered from that file, "
            "and a run of some --runtimes would replace the full run in it"
        )
    try:
        resolutions = [speed.parse_resolution(r) for r in args.resolutions]
    except ValueError as e:
        parser.error(str(e))
    if args.warmup < 0 or args.iters < 1 or args.threads < 0 or args.calibration_frames < 1:
        parser.error("need --warmup >= 0, --iters >= 1, --threads >= 0, --calibration-frames >= 1")

    speed.configure_threads(args.threads)  # recorded in the JSON's environment
    speed.keep_freed_memory()  # likewise; PyTorch's frames stop page-faulting
    tflite_threads = args.threads or os.cpu_count()
    if args.checkpoint:
        from fast_scnn_tf.training.checkpoint import load_run

        model = load_run(args.checkpoint).model
    else:
        model = build_fast_scnn()
    print(format_header())
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    folder = (
        contextlib.nullcontext(args.keep)
        if args.keep
        else tempfile.TemporaryDirectory(prefix="fast_scnn_bench_")
    )
    with folder as keep:
        rows = run(
            model,
            resolutions,
            args.warmup,
            args.iters,
            tflite_threads,
            args.calibration_frames,
            keep,
            runtimes,
        )
    result = {
        "batch": 1,
        "warmup": args.warmup,
        "iters": args.iters,
        "heads": SHIPPED_HEADS,
        "tflite_threads": tflite_threads,
        "weights": args.checkpoint or "random",
        "calibration": "synthetic",
        "results": rows,
    }
    if output:
        result = record.save(result, output, __file__, argv)
    else:
        result["environment"] = speed.environment()
        print(speed.setup_line(args.warmup, args.iters))
        print(f"timed {', '.join(runtimes)} only: no JSON written (pass --output FILE to keep it)")
    print("\n".join(report_inference.target_lines(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
