"""A user's own 3-class folder dataset trains, evaluates, exports (SavedModel, int8 TFLite) and
predicts end to end, with its class names and colours carried through every step."""

import json
import os

import cv2
import numpy as np
import pytest

import evaluate
import export
import fabricate
import predict
import train


@pytest.mark.slow
def test_folder_dataset_trains_evaluates_exports_and_predicts(tmp_path):
    data = fabricate.own_folder(
        tmp_path / "mine", classes=("background", "road", "car"), counts=(8, 4)
    )
    run = str(tmp_path / "run")
    code = train.main(
        [
            "--dataset",
            "custom",
            "--data-dir",
            data,
            "--model-dir",
            run,
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--crop-size",
            "32",
            "48",
            "--eval-every",
            "1",
            "--checkpoint-every",
            "2",
            "--class-weighting",
            "enet",
            "--no-progress",
        ]
    )
    assert code == 0
    saved = json.load(open(os.path.join(run, "config.json")))
    assert saved["model"]["num_classes"] == 3
    assert saved["model"]["classes"]["names"] == ["background", "road", "car"]

    assert evaluate.main(["--checkpoint", run, "--no-progress", "--split", "val"]) == 0
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert set(metrics["class_iou"]) == {"background", "road", "car"}
    assert metrics["num_frames"] == 4 and 0.0 <= metrics["mean_accuracy"] <= 1.0

    out = str(tmp_path / "export")
    assert (
        export.main(
            [
                "--checkpoint",
                run,
                "--output",
                out,
                "--validation-frames",
                "2",
                "--calibration-data",
                data,
                "--min-agreement",
                "0.9",
            ]
        )
        == 0
    )
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
                "36",
                "48",
                "--calibration-data",
                data,
                "--calibration-steps",
                "4",
                "--validation-frames",
                "2",
                "--min-agreement",
                "0.9",
            ]
        )
        == 0
    )
    tflite_path = os.path.join(out, "fast_scnn_cls_int8_36x48.tflite")
    meta = json.load(open(tflite_path[: -len(".tflite")] + ".json"))
    assert meta["class_names"] == ["background", "road", "car"] and meta["num_classes"] == 3

    preds = str(tmp_path / "preds")
    image = os.path.join(data, "images", "val", "seq", "street0.png")
    assert predict.main(["--model", tflite_path, image, "--output", preds]) == 0
    labels = cv2.imread(os.path.join(preds, "street0_labels.png"), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (36, 48) and labels.max() <= 2
    overlay = cv2.imread(os.path.join(preds, "street0_overlay.png"))[..., ::-1]
    colors = np.array(meta["palette"], np.float64)
    source = cv2.imread(image)[..., ::-1].astype(np.float64)
    # the dataset's palette, not Cityscapes'
    expected = np.rint(0.5 * source + 0.5 * colors[labels])
    np.testing.assert_allclose(overlay, expected, atol=1)
