"""export.py: --help explains every mode; a fabricated checkpoint exports end to end."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

import export
import fabricate


def test_help_explains_every_mode_and_flag():
    text = subprocess.run(
        [sys.executable, "export.py", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for word in (
        "cls",
        "prob",
        "serving_default",
        "serving_bytes",
        "float16",
        "dynamic",
        "int8",
        "--calibration-data",
        "--qat-steps",
        "--input-size",
        "--overwrite",
        "--model-name",
        "--version",
        "--min-agreement",
        "--max-pixels",
    ):
        assert word in text


def test_the_choices_are_the_heads_and_the_converters():
    from fast_scnn_tf.export import tflite
    from fast_scnn_tf.model import head

    assert export.MODES == head.MODES and export.QUANTIZATIONS == tflite.QUANTIZATIONS


def test_int8_without_calibration_data_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        export.parse_args(["--checkpoint", "x", "--output", "y", "--tflite", "--quantize", "int8"])
    assert exit_info.value.code == 2
    assert "--calibration-data" in capsys.readouterr().err


def test_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    code = export.main(["--checkpoint", str(tmp_path / "nope"), "--output", str(tmp_path)])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_exports_saved_model_and_tflite_from_checkpoint(tmp_path):
    run_dir = fabricate.run_folder(
        tmp_path / "run", num_classes=5, step=tf.Variable(0, dtype=tf.int64)
    )
    out = str(tmp_path / "out")
    common = [
        "--checkpoint",
        run_dir,
        "--output",
        out,
        "--input-size",
        "64",
        "96",
        "--validation-frames",
        "1",
    ]
    assert export.main(common + ["--mode", "prob"]) == 0
    assert os.path.isfile(os.path.join(out, "fast_scnn", "1", "saved_model.pb"))
    assert export.main(common + ["--tflite"]) == 0
    assert os.path.isfile(os.path.join(out, "fast_scnn_cls_float32_64x96.tflite"))


@pytest.mark.parametrize(
    "argv,flag",
    [
        (["--quantize", "float16"], "--quantize"),
        (["--quantize", "none"], "--quantize"),
        (
            ["--qat-steps", "5", "--calibration-data", "synthetic", "--quantize", "int8"],
            "--quantize",
        ),
        (["--tflite", "--version", "2"], "--version"),
        (["--tflite", "--model-name", "mine"], "--model-name"),
        (["--qat-steps", "5", "--calibration-data", "synthetic", "--version", "2"], "--version"),
        (["--tflite", "--max-pixels", "100000"], "--max-pixels"),
        (["--max-pixels", "1000"], "--max-pixels"),  # under 32x32: every frame would be refused
    ],
)
def test_flags_that_would_do_nothing_are_refused(argv, flag, capsys):
    with pytest.raises(SystemExit) as exit_info:
        export.parse_args(["--checkpoint", "run", "--output", "out", *argv])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # not the usage line
    assert ": error:" in error and flag in error


def test_defaults_are_the_default_run_and_export_folders():
    args = export.parse_args([])
    assert args.checkpoint == os.path.join("runs", "fast_scnn") and args.output == "exports"
    # no --model-name: the SavedModel is named after the run's model (fast_scnn, an FFNet variant)
    assert args.quantize == ["none"] and args.model_name is None


@pytest.mark.parametrize("flag", ["--checkpoint", "--output"])
def test_a_file_where_a_folder_is_expected_is_one_line(tmp_path, capsys, flag):
    run, out = tmp_path / "run", tmp_path / "out"
    run.mkdir()
    if flag == "--checkpoint":
        run.rmdir()
        run.write_text("a file")
    else:
        out.write_text("a file")
    assert export.main(["--checkpoint", str(run), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert flag in err and "is a file" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["../../x", "/abs/x", "a/b", "..", ".", ""])
def test_model_name_is_a_plain_folder_name(name, capsys):
    """A path as --model-name wrote the SavedModel outside --output (issue #20)."""
    with pytest.raises(SystemExit) as exit_info:
        export.parse_args(["--checkpoint", "run", "--output", "out", "--model-name", name])
    assert exit_info.value.code == 2
    assert "--model-name" in capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    "argv,flag,expected",
    [
        (["--tflite", "--input-size", "99999", "99999"], "--input-size", "4194304"),
        (["--input-size", "32", "600000"], "--input-size", "4194304"),
        (["--min-agreement", "2"], "--min-agreement", "between 0 and 1"),
        (["--min-agreement", "-0.1"], "--min-agreement", "between 0 and 1"),
        (["--min-agreement", "nan"], "--min-agreement", "between 0 and 1"),
    ],
)
def test_sizes_and_thresholds_out_of_range_are_refused_when_parsed(argv, flag, expected, capsys):
    """--input-size 99999 99999 failed after trying to allocate 224 GiB; --min-agreement 2 after
    the whole export. Both are refused before anything is loaded, the size naming its limit."""
    with pytest.raises(SystemExit) as exit_info:
        export.parse_args(["--checkpoint", "run", "--output", "out", *argv])
    assert exit_info.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert flag in line and expected in line


def test_the_largest_input_size_is_accepted():
    args = export.parse_args(
        ["--checkpoint", "run", "--tflite", "--input-size", "2048", "2048", "--min-agreement", "1"]
    )
    assert args.input_size == [2048, 2048] and args.min_agreement == 1


def test_a_recorded_input_size_over_the_limit_is_refused_before_exporting(tmp_path, capsys):
    from fast_scnn_tf.config import Config, ModelConfig

    run = fabricate.run_folder(
        tmp_path / "run", config=Config(model=ModelConfig(input_size=(4000, 4000)))
    )
    out = tmp_path / "out"
    assert (
        export.main(["--checkpoint", run, "--which", "latest", "--output", str(out), "--tflite"])
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert "model.input_size" in err and "4194304" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    "max_pixels,warned", [(None, False), (36_000_000, False), (64_000_000, True)]
)
def test_an_explicit_max_pixels_over_the_memory_budget_is_taken_with_a_warning(
    tmp_path, monkeypatch, caplog, max_pixels, warned
):
    """--max-pixels overrides the SavedModel's default limit (derived from the memory budget);
    a value whose serving peak is over the budget says how much memory it needs."""
    from fast_scnn_tf.export import exporter

    run = fabricate.run_folder(tmp_path / "run")  # 19 classes
    calls = []
    monkeypatch.setattr(exporter, "export_saved_model", lambda *args: calls.append(args))
    extra = ["--max-pixels", str(max_pixels)] if max_pixels else []
    assert (
        export.main(
            [
                "--checkpoint",
                run,
                "--which",
                "latest",
                "--output",
                str(tmp_path / "out"),
                "--input-size",
                "64",
                "64",
                "--validation-frames",
                "1",
                *extra,
            ]
        )
        == 0
    )
    assert calls[0][-1] == max_pixels  # None: export_saved_model derives the default
    warnings = [r.getMessage() for r in caplog.records if "--max-pixels" in r.getMessage()]
    assert bool(warnings) == warned
    if warned:
        assert "64000000" in warnings[0] and "GB" in warnings[0]
