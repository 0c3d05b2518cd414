"""export.py: --help explains every mode; a fabricated checkpoint exports end to end."""

import os
import subprocess
import sys

import pytest
import tensorflow as tf

import export
from fast_scnn_tf.checkpoint import make_checkpoint
from fast_scnn_tf.config import Config, ModelConfig
from fast_scnn_tf.model import build_fast_scnn


def test_help_explains_every_mode_and_flag():
    text = subprocess.run([sys.executable, "export.py", "--help"], capture_output=True,
                          text=True, check=True).stdout
    for word in ("cls", "prob", "serving_default", "serving_bytes", "float16", "dynamic", "int8",
                 "--calibration-data", "--qat-steps", "--input-size", "--overwrite",
                 "--model-name", "--version", "--min-agreement"):
        assert word in text


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
    run_dir = str(tmp_path / "run")
    Config(model=ModelConfig(num_classes=5)).save(run_dir)
    model = build_fast_scnn(num_classes=5, aux=True)
    checkpoint = make_checkpoint(model, step=tf.Variable(0, dtype=tf.int64))
    tf.train.CheckpointManager(checkpoint, os.path.join(run_dir, "checkpoints"), 1).save()
    out = str(tmp_path / "out")
    common = ["--checkpoint", run_dir, "--output", out, "--input-size", "64", "96",
              "--validation-frames", "1"]
    assert export.main(common + ["--mode", "prob"]) == 0
    assert os.path.isfile(os.path.join(out, "fast_scnn", "1", "saved_model.pb"))
    assert export.main(common + ["--tflite"]) == 0
    assert os.path.isfile(os.path.join(out, "fast_scnn_cls_float32_64x96.tflite"))
