"""Benchmark scripts and the blocks of README.md and docs/ generated from their JSON (numbers are
never typed): the tables hold the JSON's numbers in the right cells, the targets are ratios of one
run, and each block is in the page it belongs to."""

import ast
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from benchmarks import (
    record,
    report,
    report_blocks,
    report_camvid,
    report_inference,
    report_template,
)
from paths import ROOT

# Each runs as `python -m MODULE` from the repository root.
SCRIPTS = (
    "benchmarks.inference",
    "benchmarks.train_step",
    "benchmarks.input_pipeline",
    "benchmarks.report",
    "benchmarks.camvid_epoch",
    "experiments.camvid_ablation",
    "benchmarks.train_profile",
)
ENVIRONMENT = {
    "device": "CPU: Test CPU",
    "python": "3.11.7",
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "numpy": "2.4.6",
    "ai_edge_litert": "2.3.0",
    "date": "2026-11-21T13:20:39+00:00",
    "intra_op_threads": 0,
    "inter_op_threads": 0,
    "cpu_cores": 2,
}


def _row(runtime, head, precision, resolution, median_ms, fps, size=None):
    return {
        "runtime": runtime,
        "head": head,
        "precision": precision,
        "resolution": resolution,
        "bytes": size,
        "median_ms": median_ms,
        "mean_ms": 1000 / fps,
        "p90_ms": median_ms,
        "fps": fps,
        "warmup": 2,
        "iters": 3,
    }


def _inference(device="CPU: Test CPU", rows=None):
    rows = rows or [
        _row("keras", "cls", "float32", "1024x2048", 376.3, 2.67),
        _row("tflite", "cls", "int8", "1024x2048", 55.0, 17.5, 1_459_584),
        _row("tflite", "cls", "float32", "1024x2048", 200.0, 5.0, 4_508_756),
        _row("tflite", "cls", "int8", "256x512", 4.123, 230.0, 1_400_000),
    ]
    return {
        "environment": {**ENVIRONMENT, "device": device},
        "command": "python -m benchmarks.inference --warmup 2 --iters 3",
        "batch": 1,
        "warmup": 2,
        "iters": 3,
        "tflite_threads": 2,
        "weights": "random",
        "calibration": "synthetic",
        "results": rows,
    }


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every markdown table in `text`, each as its rows, a row as {header: cell}."""
    found, current = [], None
    for line in text.split("\n"):
        cells = [c.strip() for c in line.strip()[1:-1].split("|")] if line.startswith("|") else None
        if cells is None:
            current = None
        elif current is None:
            current = {"header": cells, "rows": []}
            found.append(current)
        elif set(line) != {"|", "-"}:
            assert len(cells) == len(current["header"]), line
            current["rows"].append(dict(zip(current["header"], cells)))
    return [t["rows"] for t in found]


def table_with(text: str, column: str) -> list[dict[str, str]]:
    """The first table of `text` with `column`."""
    return next(t for t in tables(text) if t and column in t[0])


@pytest.mark.parametrize("page", report.PAGES)
def test_committed_blocks_are_the_rendering_of_the_committed_json(page):
    with open(os.path.join(ROOT, page)) as f:
        text = f.read()
    names = report.page_blocks(ROOT)[os.path.join(ROOT, page)]
    assert names  # every page of PAGES holds a block
    rendered = report.replace_blocks(text, report.RESULTS_DIR, report.EXPERIMENTS_DIR, page, names)
    assert rendered == text, (
        f"a generated block of {page} was edited by hand or the JSON changed: run "
        "`python -m benchmarks.report`"
    )


def test_each_block_renders_into_the_page_it_belongs_to():
    assert report.BLOCKS["benchmarks"][0] == os.path.join("docs", "benchmarks.md")
    assert report.BLOCKS["camvid"][0] == os.path.join("docs", "camvid.md")
    assert report.BLOCKS["summary"][0] == "README.md"
    assert report.BLOCKS["model_card"][0] == os.path.join("models", "camvid", "README.md")
    for name, (page, _) in report.BLOCKS.items():
        with open(os.path.join(ROOT, page)) as f:
            text = f.read()
        begin, end = report.markers(name)
        assert text.count(begin) == text.count(end) == 1, (page, name)
        for other, (elsewhere, _) in report.BLOCKS.items():
            if elsewhere != page:  # a block is rendered in one page only
                assert report.markers(other)[0] not in text, (page, other)


def test_readme_summary_holds_the_shipped_score_beside_the_peers_and_the_speed_targets():
    with open(os.path.join(ROOT, "experiments", "results", "camvid.json")) as f:
        camvid = json.load(f)
    with open(os.path.join(ROOT, "benchmarks", "results", "inference.json")) as f:
        inference = json.load(f)
    text = report_blocks.render_summary()
    rows = {row["model"]: row for row in table_with(text, "CamVid test mIoU %")}
    assert rows["**Fast-SCNN (this repo)**"]["CamVid test mIoU %"] == (
        f"**{100 * camvid['test']['miou']:.1f}**"
    )
    assert rows["Fast-SCNN, TFLite int8"]["CamVid test mIoU %"] == (
        f"{100 * camvid['exports']['TFLite int8']['miou']:.1f}"
    )
    peers = {peer["model"]: peer for peer in camvid["peers"]}
    for model in report_template.SPEC["summary"]["peers"]:
        assert rows[model] == {
            "model": model,
            "trained on": peers[model]["protocol"],
            "CamVid test mIoU %": f"{100 * peers[model]['test_miou']:.1f}",
        }
    assert list(rows)[2:] == report_template.SPEC["summary"]["peers"]  # the listed peers, no others
    lines = report_inference.target_lines(inference)
    speed = [
        line
        for line in lines
        if line.startswith(tuple(report_template.SPEC["summary"]["speed_lines"]))
    ]
    # the int8 target, the GPU target, the three ONNX Runtime ratios and the PyTorch ratio; the
    # ONNX Runtime ratios come from the interleaved serving run instead, when there is one
    assert len(speed) == 6 and sum("vs ONNX Runtime" in line for line in speed) == 3
    with open(os.path.join(ROOT, "benchmarks", "results", "serving.json")) as f:
        serving = json.load(f)
    for line in speed:
        assert (f"- {line}" in text) == ("vs ONNX Runtime" not in line)
    section = report_template.SPEC["sections"]["serving"]
    targets = report_inference.serving(serving, section)["targets"].splitlines()
    assert len(targets) == 3 and all(line in text.splitlines() for line in targets)


def test_every_table_of_the_committed_blocks_is_well_formed_and_every_field_is_found(monkeypatch):
    """A template field that no JSON holds (a typo in report.toml) would be written "–"."""
    missing = set()
    get_field = report_template._Formatter.get_field

    def recording(self, field_name, args, kwargs):
        value, key = get_field(self, field_name, args, kwargs)
        if value is None:
            missing.add(field_name)
        return value, key

    monkeypatch.setattr(report_template._Formatter, "get_field", recording)
    text = "\n".join(
        [
            report_blocks.render(report_blocks.load()),
            report_blocks.render_camvid(),
            report_blocks.render_model_card(),
        ]
    )
    # models.json times only some models' TFLite files
    assert missing <= {"tflite_float32[median_ms]", "tflite_int8[median_ms]"}
    separators = [line for line in text.split("\n") if line.startswith("|---")]
    assert len(tables(text)) == len(separators) > 10  # tables() checks every row's cells


def _camvid():
    names = ["sky", "building", "pole"]
    return {
        "environment": ENVIRONMENT,
        "command": "python -m experiments.camvid ...",
        "config": {"model": {"classes": {"names": names}}},
        "test": {
            "num_frames": 233,
            "miou": 0.5234,
            "mean_accuracy": 0.701,
            "pixel_accuracy": 0.876,
            "class_iou": {"building": 0.8, "pole": 0.12345, "sky": 0.9},
        },
        "peers": [
            {"model": "ENet", "test_miou": 0.513, "source": "ENet paper"},
            {
                "model": "CGNet",
                "test_miou": 0.656,
                "source": "CGNet",
                "protocol": "train+val (468)",
            },
        ],
        "protocol": "train (367)",
        "exports": {
            "TFLite int8": {
                "miou": 0.5111,
                "mean_accuracy": 0.69,
                "pixel_accuracy": 0.87,
                "command": "python evaluate.py --checkpoint x.tflite",
            }
        },
        "shipped": {"path": "models/camvid", "format": "TF checkpoint"},
        "val_curve": [
            {"epoch": e, "step": 45 * e, "miou": 0.3 + e / 1000} for e in range(5, 105, 5)
        ],
        "best_val": {"epoch": 100, "miou": 0.4},
        "epochs": 100,
        "wall_seconds": 7200,
        "stages": [
            {
                "command": "python train.py --dataset camvid",
                "start_step": 0,
                "end_step": 4500,
                "wall_seconds": 7200,
            }
        ],
    }


def test_model_card_scores_the_checkpoint_and_each_export_overall_and_per_class():
    result = _camvid()
    result["exports"]["TFLite int8"]["class_iou"] = {"building": 0.81, "pole": 0.1, "sky": 0.905}
    text = report_camvid.model_card(result)
    rows = table_with(text, "test mIoU %")
    assert [row["model"] for row in rows] == ["this checkpoint (float32)", "its TFLite int8 export"]
    assert rows[0]["test mIoU %"] == "**52.34**" and rows[1]["test mIoU %"] == "51.11"
    assert (rows[1]["class avg. acc. %"], rows[1]["global acc. %"]) == ("69.00", "87.00")
    assert table_with(text, "sky") == [  # the class table's order, not the JSON's
        {"": "float32", "sky": "90.00", "building": "80.00", "pole": "12.35"},
        {"": "TFLite int8", "sky": "90.50", "building": "81.00", "pole": "10.00"},
    ]


def _diagnostics(date: str) -> dict[str, dict]:
    """A TTA and a logit-adjustment record of the model, recorded at `date`."""
    environment = {**ENVIRONMENT, "date": date}
    scores = {"mean_accuracy": 0.72, "pixel_accuracy": 0.88, "class_iou": {}}
    views = [
        {"views": "flip", "scales": [1.0], "flip": True, "miou": 0.41},
        {"views": "s3flip", "scales": [0.75, 1.0, 1.25], "flip": True, "miou": 0.43},
    ]
    return {
        "camvid_tta": {
            "environment": environment,
            "val": views,
            "chosen": "s3flip",
            "test": {"views": "s3flip", "miou": 0.5412, **scores},
        },
        "camvid_logit_adjustment": {
            "environment": environment,
            "alpha": 0.5,
            "val": [{"alpha": 0.0, "miou": 0.40}, {"alpha": 0.5, "miou": 0.42}],
            "test": [
                {"alpha": 0.0, "miou": 0.5234, **scores},
                {"alpha": 0.5, "miou": 0.55, **scores},
            ],
            "per_class": {"val_miou": 0.44, "test": {"miou": 0.56, **scores}},
        },
    }


def test_diagnostic_rows_follow_the_exports_only_when_recorded_after_the_model():
    result = _camvid()  # recorded 2026-11-21T13:20:39
    result["exports"]["TFLite int8"]["class_iou"] = result["test"]["class_iou"]
    text = report_blocks.section(
        "camvid", result, found_diagnostics=_diagnostics("2026-11-22T00:00:00+00:00")
    )
    rows = {row["model"]: row for row in table_with(text, "test mIoU %")}
    assert list(rows)[:5] == [
        "**Fast-SCNN (this repo)**",
        "Fast-SCNN, TFLite int8",
        "Fast-SCNN + test-time augmentation, scales 0.75, 1, 1.25 and the mirror (val 43.0%)",
        "Fast-SCNN + logit adjustment, alpha 0.5 (val 42.0%)",
        "Fast-SCNN + per-class logit offsets (val 44.0%)",
    ]
    assert [r["test mIoU %"] for r in list(rows.values())[2:5]] == ["54.1", "55.0", "56.0"]
    card = report_camvid.model_card(result, _diagnostics("2026-11-22T00:00:00+00:00"))
    card_rows = table_with(card, "test mIoU %")
    assert card_rows[2]["model"].startswith("this checkpoint + test-time augmentation")
    assert card_rows[2]["test mIoU %"] == "54.12"

    # Recorded before the model was: an earlier model's rows, not shown; a line says what to run.
    stale = _diagnostics("2026-11-20T00:00:00+00:00")
    text = report_blocks.section("camvid", result, found_diagnostics=stale)
    assert not [r for r in table_with(text, "test mIoU %") if "+" in r["model"]]
    assert "`experiments/results/camvid_tta.json` was recorded before" in text
    assert "python -m experiments.camvid_logit_adjustment --checkpoint models/camvid" in text
    card = report_camvid.model_card(result, stale)
    assert len(table_with(card, "test mIoU %")) == 2 and "recorded before" in card


def test_camvid_block_puts_ours_beside_the_peers_in_class_table_order():
    text = report_blocks.section("camvid", _camvid())
    rows = {row["model"]: row for row in table_with(text, "test mIoU %")}
    assert list(rows) == ["**Fast-SCNN (this repo)**", "Fast-SCNN, TFLite int8", "ENet", "CGNet"]
    assert rows["**Fast-SCNN (this repo)**"] == {
        "model": "**Fast-SCNN (this repo)**",
        "trained on": "train (367)",
        "test mIoU %": "**52.3**",
        "class avg. acc. %": "70.1",
        "global acc. %": "87.6",
        "source": "`models/camvid`, TF checkpoint",
    }
    assert rows["Fast-SCNN, TFLite int8"]["test mIoU %"] == "51.1"
    assert rows["Fast-SCNN, TFLite int8"]["source"] == "`python evaluate.py --checkpoint x.tflite`"
    assert (rows["ENet"]["trained on"], rows["ENet"]["test mIoU %"]) == ("train (367)", "51.3")
    assert (rows["CGNet"]["trained on"], rows["CGNet"]["test mIoU %"]) == (
        "train+val (468)",
        "65.6",
    )
    assert table_with(text, "sky") == [{"sky": "90.0", "building": "80.0", "pole": "12.3"}]
    curve = table_with(text, "epoch")[0]
    assert list(curve)[1:] == [str(e) for e in range(10, 101, 10)]  # every other entry + the last
    assert "100 epochs in 2.0 h on 2 CPU cores" in text


def test_inference_table_has_one_row_per_variant_and_one_column_per_size():
    text = report_blocks.section("inference", _inference())
    rows = table_with(text, "runtime")
    assert list(rows[0]) == ["runtime", "output", "precision", "file", "1024×2048", "256×512"]
    assert len(rows) == 3  # tflite cls int8 measured at both sizes is one row
    keras, int8 = rows[0], rows[1]
    assert (int8["runtime"], int8["output"], int8["precision"]) == ("TFLite", "cls", "int8")
    assert int8["file"] == "1.46 MB"
    assert (int8["1024×2048"], int8["256×512"]) == ("55.0 ms · 17.5 FPS", "4.12 ms · 230 FPS")
    assert (keras["file"], keras["1024×2048"], keras["256×512"]) == (
        "–",
        "376 ms · 2.67 FPS",
        "–",
    )  # no file, not measured at 256x512
    assert "Command: `python -m benchmarks.inference --warmup 2 --iters 3`" in text
    assert "2026-11-21 13:20 UTC on CPU: Test CPU, 2 CPU cores" in text
    for line in report_inference.target_lines(_inference()):
        assert f"- {line}" in text


def test_targets_are_ratios_of_the_measured_medians():
    targets = report_template.SPEC["targets"]["cpu_ms"]
    lines = report_inference.target_lines(_inference())
    assert f"{55.0 / targets['int8']:.2f} ×" in lines[0] and "(met" in lines[0]
    assert f"{200.0 / targets['float32']:.2f} ×" in lines[1] and "(missed" in lines[1]
    assert lines[0].startswith("TFLite int8") and lines[1].startswith("TFLite float32")
    assert "no GPU" in lines[2]


def test_pytorch_comparison_is_the_ratio_of_medians_in_the_same_run():
    rows = [
        _row("tflite", "cls", "int8", "1024x2048", 60.0, 16.0),
        _row("pytorch", "cls", "float32", "1024x2048", 600.0, 1.6),
    ]
    line = report_inference.target_lines(_inference(rows=rows))[-1]
    speedup = report_template.SPEC["targets"]["pytorch_speedup"]
    assert "10.0 × faster =" in line and f"{10.0 / speedup:.2f} ×" in line
    assert "fastest form" not in line  # one PyTorch form measured


def test_pytorch_comparison_takes_the_fastest_pytorch_form():
    rows = [
        _row("tflite", "cls", "int8", "1024x2048", 60.0, 16.0),
        _row("pytorch", "cls", "float32", "1024x2048", 600.0, 1.6),
        _row("pytorch_cl", "cls", "float32", "1024x2048", 300.0, 3.3),
    ]
    line = report_inference.target_lines(_inference(rows=rows))[-1]
    assert "5.0 × faster" in line and "(channels-last)" in line


def test_pytorch_channels_last_computes_what_eager_nchw_does():
    torch = pytest.importorskip("torch")  # optional: not a project requirement
    from benchmarks import pytorch_reference

    outputs = []
    for channels_last in (False, True):
        torch.manual_seed(0)  # the same random weights and frame
        outputs.append(pytorch_reference.head("prob", 64, 128, 1, channels_last)())
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-4, atol=1e-5)


def test_gpu_target_uses_the_fastest_full_size_cls_fps():
    rows = [
        _row("keras", "cls", "float32", "1024x2048", 2.0, 400.0),
        _row("savedmodel", "cls", "float32", "1024x2048", 1.0, 1250.0),
    ]
    lines = report_inference.target_lines(_inference("GPU: NVIDIA H100", rows))
    gpu = next(line for line in lines if line.startswith("GPU"))
    ratio = 1250.0 / report_template.SPEC["targets"]["gpu_fps"]
    assert "SavedModel" in gpu and "1250 FPS" in gpu and f"{ratio:.2f} ×" in gpu
    assert "(met" in gpu


def test_training_and_pipeline_tables_render_their_numbers():
    train = {
        "environment": ENVIRONMENT,
        "command": "python -m benchmarks.train_step",
        "results": [
            {
                "batch_size": 2,
                "crop": "256x512",
                "precision": "float32",
                "xla": False,
                "steps": 10,
                "warmup": 3,
                "mean_ms": 241.3,
                "median_ms": 239.76,
                "images_per_s": 8.288,
            }
        ],
    }
    assert list(table_with(report_blocks.section("train_step", train), "XLA")[0].values()) == [
        "float32",
        "2",
        "256×512",
        "no",
        "240",
        "241",
        "8.29",
        "3 + 10",
    ]
    pipeline = {
        "environment": ENVIRONMENT,
        "command": "python -m benchmarks.input_pipeline",
        "data_dir": "synthetic",
        "frames": 16,
        "frame_size": [1024, 2048],
        "data_config": {"crop_size": [1024, 2048]},
        "results": {
            "training_pipeline": {
                "images_per_s": 6.7965,
                "batch_size": 12,
                "cpu_ms_per_image": 89.83,
                "warmup": 2,
                "batches": 10,
            }
        },
    }
    text = report_blocks.section("input_pipeline", pipeline)
    assert list(table_with(text, "pipeline")[0].values()) == [
        "training: read, decode, augment, crop 1024×2048",
        "12",
        "6.80",
        "89.8",
        "2 + 10",
    ]
    assert "16 synthetic 1024×2048 frames" in text


def test_camvid_epoch_and_ablation_tables_render_their_numbers():
    def tree(epoch, rounds):
        return {
            "steps": 45,
            "train_seconds": epoch - 4.5,
            "val_seconds": 4.5,
            "epoch_seconds": epoch,
            "rounds": [{"epoch_seconds": r} for r in rounds],
        }

    epoch = {
        "environment": ENVIRONMENT,
        "command": "python -m benchmarks.camvid_epoch",
        "setup": "CamVid train",
        "today": tree(40.0, [40.0, 41.25]),
        "baseline": {"commit": "abc1234", **tree(60.0, [60.0, 61.0])},
        "speedup": 1.5,
    }
    text = report_blocks.section("camvid_epoch", epoch)
    assert [list(row.values()) for row in table_with(text, "epoch s")] == [
        ["this code", "45", "35.5", "4.50", "40.0", "40.0 / 41.2"],
        ["commit abc1234", "45", "55.5", "4.50", "60.0", "60.0 / 61.0"],
    ]
    assert "**1.50×**" in text and "abc1234." in text
    row = {
        "row": "adam",
        "seed": 1,
        "epochs": 15,
        "final_val_miou": 0.5123,
        "best_val_miou": 0.5234,
        "why": "Adam",
        "wall_seconds": 600.0,
        "command": "python train.py --optimizer adam",
    }
    ablation = {
        "environment": ENVIRONMENT,
        "command": "python -m experiments.camvid_ablation",
        "setup": "common",
        "rows": [row],
    }
    profile = {
        "environment": ENVIRONMENT,
        "command": "python -m benchmarks.train_profile",
        "batch_size": 8,
        "crop": [360, 480],
        "classes": 11,
        "steps": 5,
        "ms_per_step": 750.4,
        "ops": [{"op": "_MklSoftmax", "ms_per_step": 120.25, "share": 0.0812}],
    }
    assert table_with(report_blocks.section("train_profile", profile), "op type") == [
        {"op type": "`_MklSoftmax`", "ms per step": "120", "% of op time": "8.1"}
    ]
    text = report_blocks.section("camvid_ablation", ablation)
    assert list(table_with(text, "recipe")[0].values()) == [
        "`adam`",
        "1",
        "15",
        "51.2",
        "52.3",
        "Adam",
        "10",
        "`--optimizer adam`",
    ]
    assert "runs `python train.py` with its own flags" in text  # one row: nothing shared
    assert "Val mIoU % at each validation" not in text  # no curve recorded
    curve = [{"epoch": 5.0, "miou": 0.41}, {"epoch": 10.0, "miou": 0.5123}]
    text = report_blocks.section(
        "camvid_ablation", {**ablation, "rows": [{**row, "val_curve": curve}]}
    )
    assert table_with(text, "epoch") == [{"epoch": "`adam`", "5": "41.0", "10": "51.2"}]


def _effective(command: str) -> dict[str, list[str]]:
    """What each flag of a train.py command line ends up as (the last one given wins)."""
    flags, current = {}, None
    for token in shlex.split(command)[2:]:
        if token.startswith("--"):
            current = flags[token] = []
        else:
            current.append(token)
    return flags


def test_ablation_renders_one_table_per_epoch_budget_with_one_line_commands():
    def row(name, seed, epochs, flags, miou):
        return {
            "row": name,
            "seed": seed,
            "epochs": epochs,
            "final_val_miou": miou,
            "best_val_miou": miou,
            "why": name,
            "wall_seconds": 60.0 * epochs,
            "command": f"python train.py --model-dir runs/{name}_s{seed} --epochs {epochs} "
            f"--seed {seed} --eval-every {5 if epochs < 100 else 10} "
            f"--dataset camvid --crop-size 360 480 {flags}".strip(),
        }

    rows = [
        row("paper", 0, 15, "", 0.508),
        row("adam", 0, 15, "--optimizer adam", 0.525),
        row("crop", 0, 15, "--optimizer adam --crop-size 360 360", 0.502),
        row("paper", 0, 100, "", 0.60),
        row("dabnet", 0, 100, "--warmup-steps 500", 0.61),
    ]
    ablation = {
        "environment": ENVIRONMENT,
        "command": "python -m experiments.camvid_ablation",
        "setup": "common",
        "rows": rows,
    }
    text = report_blocks.section("camvid_ablation", ablation)
    found = [t for t in tables(text) if t and "recipe" in t[0]]
    assert [[r["epochs"] for r in t] for t in found] == [["15"] * 3, ["100"] * 2]
    shared = re.findall(r"Every row runs `([^`]*)` with its own flags", text)
    assert len(shared) == 2 and "--eval-every 5" in shared[0] and "--eval-every 10" in shared[1]
    rendered = [(r, shared[i]) for i, t in enumerate(found) for r in t]
    for source, (cells, command) in zip(rows, rendered):
        assert (cells["recipe"], cells["best val mIoU %"]) == (
            f"`{source['row']}`",
            f"{100 * source['best_val_miou']:.1f}",
        )
        flags = cells["flags"].strip("`")
        assert "\n" not in flags and "--model-dir" in flags  # one line, the row's own flags
        # the shared command plus the row's flags means what the recorded command did
        assert _effective(f"{command} {flags}") == _effective(source["command"])
    assert "--crop-size 360 360" in found[0][2]["flags"]  # given after the shared 360 480


def test_camvid_stages_are_one_command_a_line():
    text = report_blocks.section("camvid", _camvid())
    stage = _camvid()["stages"][0]
    assert f"- `{stage['command']}` (steps 0–4500, 120 min)" in text.split("\n")


def test_missing_results_say_how_to_make_them(tmp_path):
    assert "`python -m benchmarks.train_step`" in report_blocks.render(
        report_blocks.load(str(tmp_path))
    )


def test_check_fails_on_a_hand_edited_block_and_passes_after_regenerating(tmp_path):
    readme = tmp_path / "benchmarks.md"
    readme.write_text(f"# x\n\n{report.BEGIN}\n| typed | 99 ms |\n{report.END}\nafter\n")
    args = ["--results", str(tmp_path), "--page", str(readme)]
    assert report.main(args + ["--check"]) == 1
    assert report.main(args) == 0
    assert report.main(args + ["--check"]) == 0
    text = readme.read_text()
    assert (
        "typed" not in text and text.startswith("# x\n") and text.endswith(f"{report.END}\nafter\n")
    )


def test_page_without_markers_is_an_error(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    assert report.main(["--results", str(tmp_path), "--page", str(readme)]) == 2
    assert "benchmarks:begin" in capsys.readouterr().err


def test_a_page_missing_the_block_it_should_hold_is_an_error(tmp_path, capsys):
    """Each default page must hold its own blocks: a page that lost its markers is named."""
    for page in report.PAGES:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("# no markers\n")
    names = report.page_blocks(str(tmp_path))[str(tmp_path / "README.md")]
    with pytest.raises(ValueError, match="summary:begin"):
        report.replace_blocks("# no markers\n", str(tmp_path), str(tmp_path), "README.md", names)


@pytest.mark.slow  # ~5 s: three TensorFlow imports at once
def test_every_benchmark_script_explains_itself():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", name, "--help"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in SCRIPTS
    }
    for name, process in processes.items():
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name} --help failed:\n{err}"
        assert "--output" in out or "--check" in out, name


def _sys_path_edits(path: str) -> list[int]:
    """The lines of the Python file `path` that change sys.path: a call of one of its methods
    (insert, append, ...) or an assignment to it or to a slice of it."""

    def is_sys_path(node) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        )

    with open(path) as f:
        tree = ast.parse(f.read())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            targets = [node.func.value]
        elif isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        if any(is_sys_path(t) or is_sys_path(getattr(t, "value", None)) for t in targets):
            lines.append(node.lineno)
    return sorted(lines)


def test_sys_path_edits_are_found(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(
        "import sys\n"
        "sys.path.insert(0, 'x')\n"
        "sys.path[:0] = ['y']\n"
        "sys.path += ['z']\n"
        "sys.path = []\n"
        "print(sys.path, 'sys.path.insert(0, x)')  # reading it is no edit\n"
    )
    assert _sys_path_edits(str(script)) == [2, 3, 4, 5]


def test_no_benchmark_or_experiment_edits_sys_path():
    """They run as `python -m benchmarks.NAME` / `python -m experiments.NAME` from the
    repository root, which puts the root on the import path: none adds a folder of its own."""
    files = [
        path
        for folder in ("benchmarks", "experiments")
        for path in glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)
    ]
    assert any(path.endswith(os.path.join("benchmarks", "inference.py")) for path in files)
    edits = {os.path.relpath(p, ROOT): lines for p in files if (lines := _sys_path_edits(p))}
    assert edits == {}


def test_the_browser_benchmark_runs_as_a_module_and_loads_the_web_helpers_by_file():
    """benchmarks/browser.py times the page in web/, which is no package: its helpers are loaded
    from their files, TensorFlow only once a run starts."""
    code = (
        "import sys; from benchmarks import browser; "
        "print(browser.headless.serve is browser.serve, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["True", "False"]
    usage = subprocess.run(
        [sys.executable, "-m", "benchmarks.browser", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--model" in usage and "--screenshot" in usage


def test_the_recorded_command_runs_the_script_as_a_module():
    script = os.path.join(ROOT, "benchmarks", "inference.py")
    assert record.command_line(script, ["--warmup", "2", "--note", "a b"]) == (
        "python -m benchmarks.inference --warmup 2 --note 'a b'"
    )


def test_pytorch_reference_has_the_keras_models_parameter_count():
    pytest.importorskip("torch")  # optional: not a project requirement
    from benchmarks import pytorch_reference
    from fast_scnn_tf.model import build_fast_scnn

    keras_count = sum(int(w.numpy().size) for w in build_fast_scnn().trainable_weights)
    assert pytorch_reference.num_parameters() == keras_count


def test_models_table_has_every_model_with_size_speed_and_published_miou():
    rows = [
        {
            "model": "fast_scnn",
            "input_size": [1024, 2048],
            "val_miou": 68.62,
            "source": "Fast-SCNN paper",
            "parameters": 1_137_795,
            "gmacs": 6.71,
            "tflite_float32": {"median_ms": 160.2},
            "tflite_int8": {"median_ms": 55.0},
        },
        {
            "model": "ffnet34_dAAC",
            "input_size": [1024, 2048],
            "val_miou": 79.1,
            "source": "FFNet paper",
            "parameters": 23_511_507,
            "gmacs": 66.79,
        },
    ]
    text = report_blocks.section(
        "models",
        {"environment": ENVIRONMENT, "command": "x", "warmup": 3, "iters": 10, "models": rows},
    )
    assert [list(row.values()) for row in table_with(text, "params")] == [
        ["`fast_scnn`", "1024×2048", "1.14M", "6.7", "160", "55.0", "68.62", "Fast-SCNN paper"],
        ["`ffnet34_dAAC`", "1024×2048", "23.51M", "66.8", "–", "–", "79.1", "FFNet paper"],
    ]


def test_runtimes_default_to_all_installed_and_keep_their_order(monkeypatch):
    from benchmarks import inference

    monkeypatch.setattr(inference.importlib.util, "find_spec", lambda name: object())
    assert inference.runtimes_to_time(None) == inference.RUNTIMES
    monkeypatch.setattr(
        inference.importlib.util,
        "find_spec",
        lambda name: None if name == "onnxruntime" else object(),
    )
    assert inference.runtimes_to_time(None) == ("keras", "savedmodel", "tflite", "pytorch")
    monkeypatch.setattr(inference.importlib.util, "find_spec", lambda name: None)
    assert inference.runtimes_to_time(None) == ("keras", "savedmodel", "tflite")
    assert inference.runtimes_to_time(["tflite", "keras"]) == ("keras", "tflite")


def _fake_benchmark(monkeypatch):
    """inference.main with no model and no timing: what is left is its flags and where it
    writes."""
    from benchmarks import inference

    monkeypatch.setattr(inference, "build_fast_scnn", lambda: None)
    monkeypatch.setattr(
        inference, "run", lambda *args: [_row(args[-1][0], "cls", "float32", "64x128", 10.0, 100.0)]
    )
    return inference


def test_keras_only_run_writes_no_json_unless_output_says_where(monkeypatch, tmp_path, capsys):
    """§4.1 in one command (Keras only) must not replace the full run the README table is
    rendered from."""
    inference = _fake_benchmark(monkeypatch)
    monkeypatch.setattr(inference.record, "save", lambda *a: pytest.fail("wrote JSON"))
    assert inference.main(["--runtimes", "keras", "--resolutions", "64x128"]) == 0
    assert "keras only: no JSON written" in capsys.readouterr().out

    monkeypatch.undo()
    inference = _fake_benchmark(monkeypatch)
    output = tmp_path / "keras.json"
    assert (
        inference.main(["--runtimes", "keras", "--resolutions", "64x128", "--output", str(output)])
        == 0
    )
    written = json.loads(output.read_text())
    assert [r["runtime"] for r in written["results"]] == ["keras"]
    assert written["heads"] == inference.SHIPPED_HEADS  # Keras timed what ships too


@pytest.mark.parametrize(
    "argv", [["--runtimes", "keras", "--output", "README-TABLE"], ["--runtimes", "cuda"]]
)
def test_partial_run_may_not_replace_the_readme_results_and_runtimes_are_checked(argv, capsys):
    from benchmarks import inference

    argv = [inference.DEFAULT_OUTPUT if a == "README-TABLE" else a for a in argv]
    with pytest.raises(SystemExit) as exit_info:
        inference.main(argv)
    assert exit_info.value.code == 2
    assert argv[-1] in capsys.readouterr().err


def test_a_full_length_candidate_run_is_one_paragraph_of_its_numbers_then_its_commands():
    record = {**_camvid(), "notes": "Not shipped."}
    paragraph, commands = report_camvid.candidate_line(record, "camvid_x").split("\n\n")
    assert "\n" not in paragraph and "Not shipped." in paragraph
    for part in (
        "`experiments/results/camvid_x.json`",
        "100 epochs, 120 min",
        "40.0%",
        "epoch 100",
        "52.3%",
        "70.1%",
    ):
        assert part in paragraph
    assert commands == "- `python train.py --dataset camvid`"  # one line per stage


def test_a_train_val_candidate_is_a_table_row_and_says_its_val_was_trained_on():
    spec = report_template.SPEC["sections"]["camvid"]
    candidate = {
        **_camvid(),
        "protocol": "train+val (468)",
        "config": {"model": {"classes": {"names": ["sky"]}}, "train": {"preset": "camvid"}},
        "test": {**_camvid()["test"], "miou": 0.555},
    }
    text = report_blocks.section("camvid", _camvid(), candidates={"camvid_trainval80": candidate})
    row = table_with(text, "test mIoU %")[2]
    assert list(row.values()) == [
        "Fast-SCNN, camvid recipe, 100 epochs (not shipped)",
        "train+val (468)",
        "55.5",
        "70.1",
        "87.6",
        "`experiments/results/camvid_trainval80.json`",
    ]
    line = report_camvid.candidate_line(candidate)
    assert spec["candidate_trained_on"] in line and "55.5%" in line
    assert "best val" not in line and "40.0%" not in line  # val was trained on: no best val
    held_out = report_blocks.section("camvid", _camvid())
    shipped = report_blocks.section("camvid", candidate)
    assert report_template.fill(spec["curve_trained_on"], candidate) in shipped
    assert report_template.fill(spec["curve_held_out"], _camvid()) in held_out
    assert "40.0%" in held_out and "40.0%" not in shipped


@pytest.mark.slow
def test_benchmarks_keep_freed_memory_and_record_it():
    # process-wide malloc settings: checked in a process of its own
    code = (
        "from benchmarks import speed; print(speed.environment()['malloc']); "
        "print(speed.keep_freed_memory()['malloc']); print(speed.environment()['malloc'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    ).stdout
    assert out.split("\n")[:3] == ["default", "glibc: no mmap, no trim", "glibc: no mmap, no trim"]
