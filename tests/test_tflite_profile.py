"""benchmarks/tflite_profile.py: the graph cuts it times are the graph (ops, partitions, MACs), and
its JSON renders into the README block."""

import json

import numpy as np
import pytest

from benchmarks import report_blocks, tflite_profile
from fast_scnn_tf.export import tflite
from fast_scnn_tf.model import build_fast_scnn
from fast_scnn_tf.model.complexity import macs

SIZE = (64, 96)


@pytest.fixture(scope="module")
def graphs(plain_cls_tflite, fast_cls_tflite):
    """(the trained test model's network built at a static size, for its MACs; the float32
    TFLite of its cls head as it is and as export.py writes it, fast_graph's rewrite)."""
    network = build_fast_scnn(num_classes=19, input_shape=(*SIZE, 3))
    return network, {"plain": plain_cls_tflite, "fast": fast_cls_tflite}


@pytest.mark.slow  # the session's two float32 conversions (~10 s) when it is the first to ask
def test_op_table_counts_the_models_macs(graphs):
    model, converted = graphs
    for content in converted.values():
        table = tflite_profile.op_table(content)
        assert sum(row["macs"] for row in table) == macs(model)
        assert [row["index"] for row in table] == list(range(len(table)))


@pytest.mark.slow
def test_partitions_and_the_ops_outside_them_are_the_whole_graph(graphs):
    _, converted = graphs
    for name, content in converted.items():
        table = tflite_profile.op_table(content)
        parts = tflite_profile.partitions(content, threads=1)
        inside = [i for part in parts for i in part]
        assert len(inside) == len(set(inside))  # no op in two partitions
        outside = {row["op"] for row in table if row["index"] not in set(inside)}
        assert "ARG_MAX" in outside and "CONV_2D" not in outside, name
        assert ("SPACE_TO_BATCH_ND" in outside) == (name == "plain")


@pytest.mark.slow
def test_a_cut_of_every_op_computes_what_the_whole_graph_computes(graphs):
    _, converted = graphs
    content = converted["fast"]
    table = tflite_profile.op_table(content)
    whole = tflite_profile.submodel(content, range(len(table)))
    frame = np.random.default_rng(0).integers(0, 256, (1, *SIZE, 3), dtype=np.uint8)
    want = tflite.run(tflite.interpreter(content), frame)
    got = tflite.run(tflite.interpreter(whole), frame)
    np.testing.assert_array_equal(got["labels"], want["labels"])
    # one op alone: its inputs are the tensors it reads, shapes as allocated
    single = tflite.interpreter(tflite_profile.submodel(content, [table[-2]["index"]]))
    assert [list(d["shape"]) for d in single.get_output_details()] == [table[-2]["shape"]]


def _profile_result():
    op = {
        "index": 1,
        "op": "ARG_MAX",
        "shape": [1, 8, 8],
        "dtype": "int32",
        "macs": 0,
        "partition": None,
        "xnnpack": False,
        "ms": 3.0,
    }
    conv = {
        **op,
        "index": 0,
        "op": "CONV_2D",
        "shape": [1, 8, 8, 4],
        "dtype": "int8",
        "macs": 200_000_000,
        "partition": 0,
        "xnnpack": True,
        "ms": 1.0,
    }

    rates = {"float32": 60.0, "int8": 260.0}  # GMAC/s of the floor's convolution

    def export(precision, graph, ms):
        return {
            "mode": "cls",
            "precision": precision,
            "graph": graph,
            "size": "1024x2048",
            "ms": ms,
            "op_count": 2,
            "partition_count": 1,
            "ops_sum_ms": 4.0,
            "gmacs": 6.7,
            "floor_ms": round(conv["macs"] / (rates[precision] * 1e6), 2),
            "outside_xnnpack": {"count": 1, "ms": 3.0, "ops": ["ARG_MAX"]},
            "partitions": [],
            "ops": [op, conv],
            "head": {"ops": ["ARG_MAX"], "ms": 3.0, "network_ms": 1.0},
            "op_types": [
                {"op": "ARG_MAX", "count": 1, "ms": 3.0, "xnnpack": 0, "macs": 0, "share": 0.75},
                {"op": "CONV_2D", "count": 1, "ms": 1.0, "xnnpack": 1, "macs": 100, "share": 0.25},
            ],
        }

    rows = [
        {
            "runtime": "tflite",
            "mode": "cls",
            "precision": "float32",
            "graph": "fast",
            "size": "1024x2048",
            "ms": 200.0,
        },
        {
            "runtime": "tflite",
            "mode": "cls",
            "precision": "int8",
            "graph": "fast",
            "size": "1024x2048",
            "ms": 100.0,
        },
        {
            "runtime": "tflite",
            "mode": "cls",
            "precision": "int8",
            "graph": "plain",
            "size": "1024x2048",
            "ms": 125.0,
        },
        {
            "runtime": "pytorch_cl",
            "mode": "cls",
            "precision": "float32",
            "size": "1024x2048",
            "ms": 600.0,
        },
    ]
    from tests.test_benchmarks import ENVIRONMENT

    return {
        "environment": ENVIRONMENT,
        "command": "python -m benchmarks.tflite_profile",
        "threads": 2,
        "rounds": 3,
        "iters": 3,
        "compare_rounds": 7,
        "weights": "random",
        "note": "a training job ran",
        "load_average": [3.0, 3.5],
        "floor": {
            p: {
                "conv": "1x1 128->128 at 128x256",
                "gmacs_per_s": r,
                "macs": 1,
                "ms": 1.0,
                "xnnpack": True,
            }
            for p, r in rates.items()
        },
        "comparison": rows,
        "exports": [export("float32", "fast", 200.0), export("int8", "fast", 100.0)],
    }


def test_profile_section_states_the_targets_as_ratios_of_one_run_and_the_load():
    from tests.test_benchmarks import table_with

    text = report_blocks.section("tflite_profile", _profile_result())
    ratios = {
        line.split(": **")[0][2:]: line.split("**")[1]
        for line in text.split("\n")
        if line.startswith("- ") and ": **" in line
    }
    assert ratios == {
        "TFLite int8 cls vs PyTorch channels-last (target 5×)": "6.00×",
        "int8 vs float32 cls (target 1.8×)": "2.00×",
        "float32 cls vs PyTorch channels-last (target 3.5×)": "3.00×",
        "int8 cls, fast_graph vs plain graph": "1.25×",
    }  # no plain float32 row
    assert "a training job ran" in text and "3.0 → 3.5" in text
    int8 = table_with(text, "× floor")[1]
    assert list(int8.values()) == [
        "cls int8 1024×2048",
        "100",
        "2",
        "1",
        "3.00 (ARG_MAX)",
        "6.70",
        "0.77",
        "129.9×",
    ]
    arg_max = table_with(text, "op type")[0]
    assert list(arg_max.values()) == ["`ARG_MAX`", "1", "none", "3.00 (75%)", "3.00 (75%)"]
    # what remains: the head after the last conv, and the network against its conv floor
    head = next(line for line in text.split("\n") if line.startswith("- int8 cls:"))
    for part in ("(`ARG_MAX`)", "3.00 ms = 75%", "1.00 ms = 1.3×", "(0.77 ms at 260 GMAC/s)"):
        assert part in head


def test_profile_section_is_in_the_readme_block(tmp_path):
    (tmp_path / "tflite_profile.json").write_text(json.dumps(_profile_result()))
    block = report_blocks.render(report_blocks.load(str(tmp_path)))
    assert "### TFLite op by op" in block
    assert block.index("_inference: not measured") < block.index("### TFLite op by op")


def test_head_summary_is_every_op_after_the_last_convolution():
    ops = [
        {"index": i, "op": name, "macs": macs, "ms": ms}
        for i, (name, macs, ms) in enumerate(
            [
                ("CONV_2D", 10, 4.0),
                ("ADD", 0, 1.0),
                ("CONV_2D", 10, 2.0),
                ("RESIZE_BILINEAR", 0, 3.0),
                ("ARG_MAX", 0, 5.0),
            ]
        )
    ]
    assert tflite_profile.head_summary(ops) == {
        "ops": ["RESIZE_BILINEAR", "ARG_MAX"],
        "ms": 8.0,
        "network_ms": 7.0,
    }
