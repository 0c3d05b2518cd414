"""experiments/camvid.py's analyses of the shipped model on the CamVid test split."""

import os

import cv2
import numpy as np
import pytest

import fabricate
from experiments import camvid as camvid_record
from fast_scnn_tf.data import camvid
from fast_scnn_tf.data.images import read_image


@pytest.fixture
def two_sequences(tmp_path):
    """CamVid with test frames from two sequences: 0001TP (also in train) and Seq05VD (not)."""
    root = fabricate.camvid(tmp_path / "CamVid", counts=(3, 1, 4))
    for name in sorted(os.listdir(root + "/test"))[2:]:
        for folder in ("test", "testannot"):
            os.rename(
                os.path.join(root, folder, name),
                os.path.join(root, folder, name.replace("0001TP", "Seq05VD")),
            )
    return root


def test_by_sequence_scores_each_sequence_on_its_own_frames(two_sequences, monkeypatch):
    root = two_sequences
    truths = {}
    for name in os.listdir(root + "/test"):
        image = read_image(os.path.join(root, "test", name))
        truth = cv2.imread(os.path.join(root, "testannot", name), cv2.IMREAD_UNCHANGED)
        truths[image.tobytes()] = (name, camvid.DATASET.label_values[truth])

    def predict(image):
        # Right on 0001TP; class 0 everywhere on Seq05VD.
        name, truth = truths[image.tobytes()]
        return np.where(truth < 11, truth, 0) if name.startswith("0001TP") else np.zeros_like(truth)

    monkeypatch.setattr(
        "fast_scnn_tf.predict.predictor.load_predictor",
        lambda path: (predict, "fake", camvid.DATASET.classes),
    )
    result = camvid_record.by_sequence("model", root)

    assert set(result) == {"0001TP", "Seq05VD"}
    assert result["0001TP"]["test_frames"] == 2 and result["0001TP"]["train_frames"] == 3
    assert result["Seq05VD"]["test_frames"] == 2 and result["Seq05VD"]["train_frames"] == 0
    assert result["0001TP"]["miou"] == pytest.approx(1.0)
    labels = np.concatenate(
        [truth.ravel() for name, truth in truths.values() if name.startswith("Seq05VD")]
    )
    labels = labels[labels < 11]
    assert result["Seq05VD"]["pixel_accuracy"] == pytest.approx(np.mean(labels == 0))
    assert result["Seq05VD"]["miou"] < 0.2


@pytest.mark.parametrize("form", ["list", "plan"])
def test_the_record_takes_its_stages_from_a_list_or_a_long_run_plan(form, tmp_path):
    import json

    stages = [
        {"command": "python train.py A", "start_step": 0, "end_step": 90, "wall_seconds": 60},
        {"command": "python train.py A", "start_step": 90, "end_step": 180, "wall_seconds": 70},
    ]
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "train_log.jsonl", "w") as f:
        for step, miou in ((90, 0.4), (180, 0.5)):
            entry = {"step": step, "epoch": step / 45, "miou": miou, "pixel_accuracy": 0.8}
            f.write(json.dumps(entry) + "\n")
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "config.json").write_text(json.dumps({"model": {"name": "fast_scnn"}, "data": {}}))
    (tmp_path / "test.json").write_text(json.dumps({"miou": 0.45, "pixel_accuracy": 0.8}))
    plan = {"command": "python train.py A", "total_steps": 180, "stages": stages}
    (tmp_path / "stages.json").write_text(json.dumps(stages if form == "list" else plan))
    output = tmp_path / "record.json"
    argv = ["--run", str(run), "--stages", str(tmp_path / "stages.json"), "--shipped"]
    argv += [str(shipped), "--test-metrics", str(tmp_path / "test.json"), "--output", str(output)]
    assert camvid_record.main(argv) == 0
    with open(output) as f:
        result = json.load(f)
    assert result["stages"] == stages
    assert (result["epochs"], result["wall_seconds"]) == (4, 130)
    assert result["best_val"]["miou"] == 0.5
