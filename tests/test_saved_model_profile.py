"""benchmarks/saved_model_profile.py: op types of the served and the plain SavedModel graph."""

import json

import pytest

from benchmarks import saved_model_profile
from fast_scnn_tf.model import build_fast_scnn


@pytest.mark.slow  # two SavedModels written and profiled (~15 s)
def test_profile_lists_op_types_of_both_graphs_and_the_served_one_has_no_batch_norm(tmp_path):
    output = tmp_path / "profile.json"
    assert (
        saved_model_profile.main(
            [
                "--size",
                "64",
                "128",
                "--frames",
                "1",
                "--rounds",
                "1",
                "--warmup",
                "1",
                "--output",
                str(output),
            ]
        )
        == 0
    )
    result = json.loads(output.read_text())
    graphs = {g["graph"]: g for g in result["graphs"]}
    assert set(graphs) == {"served", "plain"} and result["size"] == [64, 128]
    for graph in graphs.values():
        ops = {op["op"] for op in graph["op_types"]}
        assert "ArgMax" in ops and graph["median_ms"] > 0
        assert not any(op.startswith("signature_wrapper") for op in ops)  # wrappers are not ops
        assert abs(sum(op["share"] for op in graph["op_types"]) - 1) < 1e-6

    # A convolution followed by Keras' inference BatchNorm runs alone (its Mul and AddV2 after
    # it); folded, every convolution carries a bias and runs fused with it.
    def unfused(graph):
        return [
            op["op"]
            for op in graphs[graph]["op_types"]
            if "Conv2D" in op["op"] and "Fused" not in op["op"]
        ]

    assert unfused("plain") and not unfused("served")


@pytest.mark.slow  # two SavedModels written (~14 s)
def test_served_graph_is_the_exporters(tmp_path):
    functions = saved_model_profile.serving_functions(build_fast_scnn(num_classes=3), str(tmp_path))
    assert set(functions) == set(saved_model_profile.GRAPHS)


def test_report_puts_the_two_graphs_side_by_side():
    from benchmarks import report_blocks
    from test_benchmarks import ENVIRONMENT, table_with

    result = {
        "environment": ENVIRONMENT,
        "command": "x",
        "size": [1024, 2048],
        "frames": 5,
        "rounds": 10,
        "graphs": [
            {
                "graph": "served",
                "median_ms": 100.0,
                "op_types": [
                    {"op": "_FusedConv2D", "ms": 60.0, "share": 0.6},
                    {"op": "ArgMax", "ms": 40.0, "share": 0.4},
                ],
            },
            {
                "graph": "plain",
                "median_ms": 180.0,
                "op_types": [
                    {"op": "Conv2D", "ms": 100.0, "share": 0.5},
                    {"op": "Mul", "ms": 50.0, "share": 0.25},
                    {"op": "ArgMax", "ms": 45.0, "share": 0.25},
                ],
            },
        ],
    }
    text = report_blocks.section("saved_model_profile", result)
    assert "**1.80×**" in text and "1024×2048" in text
    rows = [list(row.values()) for row in table_with(text, "served ms")]
    assert rows == [
        ["`Conv2D`", "–", "100"],
        ["`_FusedConv2D`", "60.0", "–"],
        ["`Mul`", "–", "50.0"],
        ["`ArgMax`", "40.0", "45.0"],
    ]
