"""`train.py --model <FFNet variant>` trains on the synthetic street scenes, and the run goes
through evaluate.py, export.py (SavedModel, int8 TFLite with validation) and predict.py like a
Fast-SCNN run."""

import json
import os

import pytest

import evaluate
import export
import predict
import train


@pytest.mark.slow
def test_ffnet_run_trains_evaluates_exports_and_predicts(tmp_path, synthetic_cityscapes):
    data = synthetic_cityscapes(num_train=8, num_val=2)
    run = str(tmp_path / "run")
    assert (
        train.main(
            [
                "--model",
                "ffnet40S_BCC_mobile",
                "--data-dir",
                data,
                "--model-dir",
                run,
                "--epochs",
                "2",
                "--batch-size",
                "4",
                "--crop-size",
                "64",
                "128",
                "--learning-rate",
                "0.01",
                "--checkpoint-every",
                "4",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (
        json.load(open(os.path.join(run, "config.json")))["model"]["name"] == "ffnet40S_BCC_mobile"
    )

    assert evaluate.main(["--checkpoint", run, "--no-progress"]) == 0
    assert json.load(open(os.path.join(run, "metrics.json")))["num_frames"] == 2

    out = str(tmp_path / "export")
    assert export.main(["--checkpoint", run, "--output", out, "--validation-frames", "2"]) == 0
    assert os.path.isfile(os.path.join(out, "ffnet40S_BCC_mobile", "1", "saved_model.pb"))
    assert (
        export.main(
            [
                "--checkpoint",
                run,
                "--output",
                out,
                "--tflite",
                "--quantize",
                "int8",
                "--input-size",
                "64",
                "128",
                "--calibration-data",
                data,
                "--calibration-steps",
                "8",
                "--validation-frames",
                "2",
                # 4 training steps leave near-tied logits: measured 90.8% agreement here
                # (a trained model is held to the default 95%)
                "--min-agreement",
                "0.85",
            ]
        )
        == 0
    )
    tflite_path = os.path.join(out, "ffnet40S_BCC_mobile_cls_int8_64x128.tflite")
    report = json.load(open(tflite_path[: -len(".tflite")] + ".json"))
    assert report["model"] == "ffnet40S_BCC_mobile"

    image = os.path.join(data, "leftImg8bit", "val")
    assert predict.main(["--model", tflite_path, image, "--output", str(tmp_path / "p")]) == 0
    assert predict.main(["--model", run, image, "--output", str(tmp_path / "q")]) == 0
