"""experiments/camvid_tta.py: TTA views chosen on val, only the chosen ones scored on test."""

import json
import os

import pytest

import fabricate
from experiments import camvid_tta


def test_the_views_best_on_val_are_the_only_ones_scored_on_test(tmp_path, monkeypatch):
    calls = []
    val_miou = {"flip": 0.60, "s3flip": 0.62, "s6flip": 0.61}

    def fake_evaluate(args, name, split):
        calls.append((name, split))
        miou = val_miou[name] if split == "val" else 0.5
        return (
            {"miou": miou, "class_iou": {}, "pixel_accuracy": 0.9, "mean_accuracy": 0.7},
            f"python evaluate.py {name} {split}",
        )

    monkeypatch.setattr(camvid_tta, "evaluate", fake_evaluate)
    output = tmp_path / "tta.json"
    assert camvid_tta.main(["--output", str(output)]) == 0
    assert [c for c in calls if c[1] == "test"] == [("s3flip", "test")]
    result = json.loads(output.read_text())
    assert result["chosen"] == "s3flip" and result["test"]["miou"] == 0.5
    assert [v["views"] for v in result["val"]] == list(camvid_tta.CANDIDATES)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder whose best checkpoint is best/ckpt-1."""
    return fabricate.run_folder(tmp_path_factory.mktemp("tta") / "run", folder="best")


class Args:
    data_dir = "data/CamVid"

    def __init__(self, checkpoint, runs):
        self.checkpoint, self.runs = checkpoint, str(runs)


def _written(folder, metrics: dict):
    folder.mkdir(exist_ok=True)
    (folder / "metrics_tta.json").write_text(json.dumps(metrics))


@pytest.mark.slow  # builds and saves a model, ~1 s on 2 cores
def test_metrics_already_written_for_this_checkpoint_are_read_not_evaluated_again(
    run, tmp_path, monkeypatch
):
    _written(tmp_path / "flip", {"miou": 0.7, "checkpoint": os.path.join(run, "best", "ckpt-1")})
    monkeypatch.setattr("evaluate.main", lambda argv: (_ for _ in ()).throw(AssertionError))

    metrics, command = camvid_tta.evaluate(Args(run, tmp_path), "flip", "val")
    assert metrics["miou"] == 0.7
    assert "--tta-scales 1 --tta-flip" in command and "--split val" in command


@pytest.mark.slow  # builds and saves a model, ~1 s on 2 cores
def test_metrics_written_for_another_checkpoint_are_evaluated_again(run, tmp_path, monkeypatch):
    """A model shipped into the folder of one scored before it (models/camvid): its views are
    scored anew, not read from the earlier model's metrics."""
    folder = tmp_path / "flip"
    _written(folder, {"miou": 0.7, "checkpoint": os.path.join(run, "best", "ckpt-12600")})
    calls = []

    def evaluated(argv):
        calls.append(argv)
        _written(folder, {"miou": 0.4, "checkpoint": os.path.join(run, "best", "ckpt-1")})
        return 0

    monkeypatch.setattr("evaluate.main", evaluated)
    metrics, _ = camvid_tta.evaluate(Args(run, tmp_path), "flip", "val")
    assert len(calls) == 1 and "--overwrite" in calls[0]
    assert metrics["miou"] == 0.4
