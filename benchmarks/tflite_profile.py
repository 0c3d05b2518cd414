"""Where a TFLite frame goes, op by op: the cls and prob exports (float32 and int8) profiled per op
and per XNNPACK partition, beside what this CPU sustains on a plain convolution (the floor).

ai_edge_litert 2.3.0 gives Python no per-op timings: its `Interpreter` has no way to attach or
read a profiler (`experimental_force_delegate_node_profiling` only changes what a profiler would
see), and the `CompiledModel` profiler (`LiteRtCompiledModelGetProfiler`,
`LiteRtGetProfileSummary` in libLiteRt.so) has no Python binding in `compiled_model.py`. So
this script measures by cutting the graph:

- Partitions. The file runs with XNNPACK (the default delegate); every DELEGATE node of the
  interpreter is traced back from its outputs to its inputs to list the ops it took. Ops in no
  partition run on TFLite's own (reference or optimised builtin) kernels.
- Ops. Every op is cut out into a one-op .tflite (same tensors, quantisation and weights; inputs
  random) and timed with the default delegate, which takes it exactly when it takes it in the
  whole graph. So is every partition, and the whole file. The op times add up to the whole
  frame within about 10-15%: alone an op starts from cold caches, and a RESHAPE that costs
  time alone is free inside an XNNPACK partition.
- Floor. A stack of plain 1x1 convolutions (128 -> 128 channels at 128x256, the classifier's
  shape) converted the same way, float32 and int8: the MAC rate XNNPACK sustains on this CPU. The
  model's MACs (counted from the graph's CONV_2D / DEPTHWISE_CONV_2D ops) at that rate is the
  compute floor each export is compared with.

Timings interleave: every round times every unit (whole, partition, op) of the exports of one
head (its fast and plain graph) once (`--iters` invocations, median), and each unit's result is
the median over `--rounds`; the whole cls frames of every export and PyTorch's are compared in
rounds of their own. Shares and ratios measured in one run compare; absolute times depend on
the host and on what else it runs (say so with `--note`).

    python -m benchmarks.tflite_profile                                   # 1024x2048 and 360x480
    python -m benchmarks.tflite_profile --sizes 1024x2048 --rounds 3 --note "training in background"
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from benchmarks import record, speed  # noqa: E402

SIZES = ("1024x2048", "360x480")
MODES = ("cls", "prob")
PRECISIONS = ("float32", "int8")
DEFAULT_OUTPUT = record.default_output("tflite_profile")
MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
# The floor's convolution: 1x1, 128 -> 128 channels on a 128x256 map (the classifier's pointwise
# convs at 1024x2048), a few in a row so the graph is one XNNPACK partition.
FLOOR_SHAPE, FLOOR_CHANNELS, FLOOR_LAYERS = (128, 256), 128, 4
# Single ops kept per export in the JSON, the slowest first (the op types sum all of them).
TOP_OPS = 12


# --- the graph ----------------------------------------------------------------------------------
def op_table(model: bytes) -> list[dict]:
    """Every op in execution order: index, op name, input/output tensor indices, the first
    output's shape and dtype, and the MACs of convolutions (0 for other ops)."""
    from fast_scnn_tf.export import tflite

    interp = tflite.interpreter(model, delegate=False)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    table = []
    for op in interp._get_ops_details():
        inputs = [int(i) for i in op["inputs"] if i >= 0]
        outputs = [int(i) for i in op["outputs"]]
        out = tensors[outputs[0]]
        macs = 0
        if op["op_name"] in MAC_OPS:  # weights [cout, kh, kw, cin] or depthwise [1, kh, kw, c]
            weights = tensors[inputs[1]]["shape"]
            per_output = int(np.prod(weights[1:3]))
            if op["op_name"] == "CONV_2D":
                per_output *= int(weights[3])
            macs = int(np.prod(out["shape"])) * per_output
        table.append(
            {
                "index": int(op["index"]),
                "op": op["op_name"],
                "inputs": inputs,
                "outputs": outputs,
                "shape": [int(d) for d in out["shape"]],
                "dtype": np.dtype(out["dtype"]).name,
                "macs": macs,
            }
        )
    return table


def partitions(model: bytes, threads: int) -> list[list[int]]:
    """The op indices each XNNPACK partition (DELEGATE node) runs, in execution order: traced
    back from the node's outputs to its inputs through the ops that produce them."""
    from fast_scnn_tf.export import tflite

    details = tflite.interpreter(model, threads)._get_ops_details()
    producer = {}
    for op in details:
        if op["op_name"] != "DELEGATE":
            for t in op["outputs"]:
                producer[int(t)] = op
    result = []
    for node in (op for op in details if op["op_name"] == "DELEGATE"):
        boundary = {int(t) for t in node["inputs"]}
        taken, stack = set(), [int(t) for t in node["outputs"]]
        while stack:
            op = producer.get(stack.pop())
            if op is None or op["index"] in taken:
                continue
            taken.add(int(op["index"]))
            stack += [int(t) for t in op["inputs"] if t >= 0 and int(t) not in boundary]
        result.append(sorted(taken))
    return result


def runtime_shapes(model: bytes) -> dict[int, list[int]]:
    """Tensor shapes after allocation: the file's own can be stale (the converter leaves the
    pre-BATCH_TO_SPACE shape of a dilated conv's batch-16 tensor at batch 1)."""
    from fast_scnn_tf.export import tflite

    return {
        int(t["index"]): [int(d) for d in t["shape"]]
        for t in tflite.interpreter(model, delegate=False).get_tensor_details()
    }


def submodel(model: bytes, indices, shapes: dict[int, list[int]] | None = None) -> bytes:
    """The ops `indices` of `model` as a .tflite of their own: inputs are the non-constant tensors
    they read and do not write, outputs the tensors they write that the rest of the graph (or its
    output) reads. `shapes`: `runtime_shapes(model)`, computed when not given."""
    from ai_edge_litert.tools import flatbuffer_utils as fb

    shapes = shapes if shapes is not None else runtime_shapes(model)

    obj = fb.convert_bytearray_to_object(bytearray(model))
    graph = obj.subgraphs[0]
    chosen = [graph.operators[i] for i in sorted(indices)]
    others = [op for i, op in enumerate(graph.operators) if i not in set(indices)]
    written = {int(t) for op in chosen for t in op.outputs}
    read_elsewhere = {int(t) for op in others for t in op.inputs} | {int(t) for t in graph.outputs}

    def constant(t):
        buffer = obj.buffers[graph.tensors[t].buffer]
        return buffer.data is not None and len(buffer.data) > 0

    inputs = list(
        dict.fromkeys(
            int(t)
            for op in chosen
            for t in op.inputs
            if t >= 0 and int(t) not in written and not constant(int(t))
        )
    )
    outputs = [
        t for t in dict.fromkeys(int(t) for op in chosen for t in op.outputs) if t in read_elsewhere
    ] or [int(chosen[-1].outputs[0])]
    for t in inputs:
        graph.tensors[t].shape = np.array(shapes[t], np.int32)
        graph.tensors[t].shapeSignature = None
    graph.operators, graph.inputs, graph.outputs = chosen, inputs, outputs
    obj.signatureDefs = []
    return bytes(fb.convert_object_to_bytearray(obj))


# --- the floor ----------------------------------------------------------------------------------
def floor_models() -> dict[str, bytes]:
    """float32 and int8 .tflite of `FLOOR_LAYERS` plain 1x1 convolutions (+ ReLU)."""
    import keras

    from fast_scnn_tf.export import tflite

    x = inputs = keras.Input((*FLOOR_SHAPE, FLOOR_CHANNELS), batch_size=1)
    for _ in range(FLOOR_LAYERS):
        x = keras.layers.Conv2D(FLOOR_CHANNELS, 1, activation="relu")(x)
    net = keras.Model(inputs, x)
    rng = np.random.default_rng(0)
    samples = [
        rng.normal(size=(1, *FLOOR_SHAPE, FLOOR_CHANNELS)).astype(np.float32) for _ in range(2)
    ]

    def make_converter():
        import tensorflow as tf

        return tf.lite.TFLiteConverter.from_keras_model(net)

    return {
        "float32": tflite.convert_with(make_converter, "none"),
        "int8": _int8_floats_in(make_converter, samples),
    }


def _int8_floats_in(make_converter, samples) -> bytes:
    """Full-integer int8 of a float-input model (the convs int8; QUANTIZE/DEQUANTIZE at the ends,
    not timed: only the CONV_2D ops are)."""
    import tensorflow as tf

    from fast_scnn_tf.quiet import native_output_hidden

    converter = make_converter()
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with native_output_hidden():
        return converter.convert()


# --- the report ---------------------------------------------------------------------------------
def summarize(
    name: dict,
    table: list[dict],
    parts: list[list[int]],
    whole: speed.Unit,
    part_units: list[speed.Unit],
    op_units: list[speed.Unit],
    floor_rate: dict,
) -> dict:
    """One export's profile: the whole frame, partitions, ops and op types by time."""
    partition_of = {i: k for k, part in enumerate(parts) for i in part}
    ops = []
    for row, unit in zip(table, op_units):
        ops.append(
            {
                "index": row["index"],
                "op": row["op"],
                "shape": row["shape"],
                "dtype": row["dtype"],
                "macs": row["macs"],
                "partition": partition_of.get(row["index"]),
                "xnnpack": row["index"] in partition_of,
                "ms": round(unit.ms, 3),
            }
        )
    op_total = sum(op["ms"] for op in ops)
    by_type = {}
    for op in ops:
        entry = by_type.setdefault(
            op["op"], {"op": op["op"], "count": 0, "ms": 0.0, "xnnpack": 0, "macs": 0}
        )
        entry["count"] += 1
        entry["ms"] += op["ms"]
        entry["xnnpack"] += op["xnnpack"]
        entry["macs"] += op["macs"]
    types = sorted(by_type.values(), key=lambda e: -e["ms"])
    for entry in types:
        entry["ms"] = round(entry["ms"], 3)
        entry["share"] = round(entry["ms"] / op_total, 4)
    outside = [op for op in ops if not op["xnnpack"]]
    macs = sum(op["macs"] for op in ops)
    rate = floor_rate.get(name["precision"])
    return {
        **name,
        "ms": round(whole.ms, 2),
        "op_count": len(ops),
        "partition_count": len(parts),
        "ops_sum_ms": round(op_total, 2),
        "gmacs": round(macs / 1e9, 3),
        "floor_ms": round(macs / rate * 1e3, 2) if rate else None,
        "outside_xnnpack": {
            "count": len(outside),
            "ms": round(sum(op["ms"] for op in outside), 2),
            "ops": sorted({op["op"] for op in outside}),
        },
        "partitions": [
            {"first": part[0], "last": part[-1], "ops": len(part), "ms": round(unit.ms, 2)}
            for part, unit in zip(parts, part_units)
        ],
        "op_types": types,
        "head": head_summary(ops),
        "ops": sorted(ops, key=lambda op: -op["ms"])[:TOP_OPS],
    }


def head_summary(ops: list[dict]) -> dict:
    """The full-size head: every op after the last convolution (the upsample of the logits and
    what follows it), and what it and the network before it cost, summed over single ops."""
    last_conv = max(op["index"] for op in ops if op["macs"])
    head = [op for op in ops if op["index"] > last_conv]
    head_ms = sum(op["ms"] for op in head)
    return {
        "ops": [op["op"] for op in head],
        "ms": round(head_ms, 3),
        "network_ms": round(sum(op["ms"] for op in ops) - head_ms, 3),
    }


def profile_exports(
    models: list[tuple[dict, bytes]], threads: int, rounds: int, iters: int, floor_rate: dict
) -> list[dict]:
    """Profile exports side by side (the fast and plain graph of one head): whole, partitions
    and ops of all of them timed in the same interleaved rounds."""
    prepared, units = [], []
    for name, model in models:
        table = op_table(model)
        parts = partitions(model, threads)
        shapes = runtime_shapes(model)
        whole = speed.Unit(model, threads)
        part_units = [speed.Unit(submodel(model, part, shapes), threads) for part in parts]
        op_units = [speed.Unit(submodel(model, [row["index"]], shapes), threads) for row in table]
        prepared.append((name, table, parts, whole, part_units, op_units))
        units += [whole, *part_units, *op_units]
    speed.timed_rounds(units, rounds, iters)
    return [summarize(*entry, floor_rate) for entry in prepared]


def compare(
    models: list[tuple[dict, bytes]],
    size: tuple[int, int],
    threads: int,
    rounds: int,
    iters: int,
    pytorch: bool,
) -> list[dict]:
    """Whole frames of every export at one size, and the PyTorch reference's cls in its fastest
    CPU form (channels-last) when asked, timed in the same interleaved rounds."""
    rows = [(dict(name), speed.Unit(model, threads)) for name, model in models]
    if pytorch:
        from benchmarks import pytorch_reference

        rows.append(
            (
                {
                    "runtime": "pytorch_cl",
                    "mode": "cls",
                    "precision": "float32",
                    "size": "x".join(map(str, size)),
                },
                speed.Unit(run=pytorch_reference.head("cls", *size, threads, channels_last=True)),
            )
        )
    speed.timed_rounds([unit for _, unit in rows], rounds, iters)
    return [
        {
            "runtime": "tflite",
            **name,
            "ms": round(unit.ms, 2),
            "rounds_ms": [round(t, 2) for t in unit.times],
        }
        for name, unit in rows
    ]


def floor(threads: int, rounds: int, iters: int) -> dict:
    """GMAC/s of a plain 1x1 convolution in XNNPACK, float32 and int8 (median op time)."""
    result = {}
    for precision, model in floor_models().items():
        table = op_table(model)
        convs = [row for row in table if row["op"] == "CONV_2D"]
        units = [speed.Unit(submodel(model, [row["index"]]), threads) for row in convs]
        speed.timed_rounds(units, rounds, iters)
        ms = statistics.median(u.ms for u in units)
        result[precision] = {
            "conv": f"1x1 {FLOOR_CHANNELS}->{FLOOR_CHANNELS} at {FLOOR_SHAPE[0]}x{FLOOR_SHAPE[1]}",
            "macs": convs[0]["macs"],
            "ms": round(ms, 3),
            "gmacs_per_s": round(convs[0]["macs"] / ms / 1e6, 1),
            "xnnpack": all(u.delegated for u in units),
        }
    return result


def parse_size(text: str) -> tuple[int, int]:
    height, width = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=list(SIZES),
        metavar="HxW",
        help="input sizes; the first also gets the whole-frame comparison",
    )
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    parser.add_argument(
        "--graphs",
        nargs="+",
        default=list(speed.TFLITE_GRAPHS),
        choices=speed.TFLITE_GRAPHS,
        help="fast: what export.py writes; plain: without export.fast_graph",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--iters", type=int, default=3, help="invocations per unit and round")
    parser.add_argument(
        "--compare-rounds",
        type=int,
        default=7,
        help="rounds of the whole-frame comparison at the first size",
    )
    parser.add_argument(
        "--no-pytorch",
        action="store_true",
        help="leave the PyTorch reference out of the comparison (it runs when torch is installed)",
    )
    parser.add_argument("--checkpoint", metavar="DIR", help="trained weights (default random)")
    parser.add_argument("--note", default="", help="what else the machine ran, for the record")
    parser.add_argument("--output", default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    speed.keep_freed_memory()  # recorded in the JSON's environment (PyTorch's frames)
    sizes = [parse_size(text) for text in args.sizes]
    pytorch = not args.no_pytorch and importlib.util.find_spec("torch") is not None

    from fast_scnn_tf.export.sample_frames import synthetic_frames
    from fast_scnn_tf.model import build_fast_scnn

    if args.checkpoint:
        from fast_scnn_tf.training.checkpoint import load_run

        model = load_run(args.checkpoint).model
    else:
        model = build_fast_scnn()
    load_before = os.getloadavg()[0]
    floor_rate = floor(args.threads, args.rounds, args.iters)
    print({k: v["gmacs_per_s"] for k, v in floor_rate.items()}, "GMAC/s", flush=True)
    rates = {k: v["gmacs_per_s"] * 1e9 for k, v in floor_rate.items()}
    profiles, comparison = [], []
    for index, size in enumerate(sizes):
        frames = synthetic_frames(size, 2)
        text = f"{size[0]}x{size[1]}"
        models = [
            (
                {"mode": mode, "precision": precision, "graph": graph, "size": text},
                speed.tflite_export(model, mode, precision, size, frames, graph),
            )
            for graph in args.graphs
            for mode in args.modes
            for precision in args.precisions
        ]
        for mode in args.modes:
            for precision in args.precisions:
                group = [
                    (n, c) for n, c in models if (n["mode"], n["precision"]) == (mode, precision)
                ]
                for p in profile_exports(group, args.threads, args.rounds, args.iters, rates):
                    profiles.append(p)
                    print(
                        f"{mode} {precision} {p['graph']} {text}: {p['op_count']} ops, "
                        f"{p['partition_count']} partitions, {p['ms']} ms whole, "
                        f"{p['ops_sum_ms']} ms summed over ops",
                        flush=True,
                    )
        if index == 0:
            comparison = compare(
                [(n, c) for n, c in models if n["mode"] == "cls"],
                size,
                args.threads,
                args.compare_rounds,
                args.iters,
                pytorch,
            )
            for row in comparison:
                print(row, flush=True)
    result = {
        "threads": args.threads,
        "rounds": args.rounds,
        "iters": args.iters,
        "compare_rounds": args.compare_rounds,
        "weights": args.checkpoint or "random",
        "calibration": "synthetic",
        "note": args.note,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "floor": floor_rate,
        "comparison": comparison,
        "exports": profiles,
    }
    record.save(result, args.output, __file__, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
