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
