"""experiments/camvid_tta.py: TTA views chosen on val, only the chosen ones scored on test."""

import json

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


def test_metrics_already_written_are_read_not_evaluated_again(tmp_path, monkeypatch):
    folder = tmp_path / "flip"
    folder.mkdir()
    (folder / "metrics_tta.json").write_text(json.dumps({"miou": 0.7}))
    monkeypatch.setattr("evaluate.main", lambda argv: (_ for _ in ()).throw(AssertionError))

    class Args:
        checkpoint, data_dir, runs = "models/camvid", "data/CamVid", str(tmp_path)

    metrics, command = camvid_tta.evaluate(Args, "flip", "val")
    assert metrics == {"miou": 0.7}
    assert "--tta-scales 1 --tta-flip" in command and "--split val" in command
