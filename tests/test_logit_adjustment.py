"""experiments/camvid_logit_adjustment.py: per-class logit offsets −α·ln(w_c), α chosen on val."""

import json

import numpy as np
import pytest
import tensorflow as tf

import evaluate as evaluate_cli
import fabricate
from experiments import camvid_logit_adjustment as adjustment
from fast_scnn_tf.config import Config, DataConfig, ModelConfig, TrainConfig
from fast_scnn_tf.data import camvid


@pytest.fixture(scope="module")
def camvid_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("adjust")
    data = fabricate.camvid(str(root / "CamVid"), counts=(3, 2, 2))
    config = Config(
        model=ModelConfig(num_classes=11, classes=camvid.DATASET.classes.to_dict()),
        data=DataConfig(dataset="camvid", data_dir=data),
        train=TrainConfig(class_weighting="enet"),
    )
    return fabricate.run_folder(root / "run", config=config, folder="best"), data


@pytest.mark.slow  # evaluates the fabricated run twice (~7 s)
def test_alpha_zero_scores_what_evaluate_scores(camvid_run, tmp_path):
    run, data = camvid_run
    result = adjustment.adjust(run, "best", None, (0.0, 1.0))
    assert (
        evaluate_cli.main(
            ["--checkpoint", run, "--output", str(tmp_path), "--no-progress", "--split", "test"]
        )
        == 0
    )
    with open(tmp_path / "metrics_test.json") as f:
        plain = json.load(f)
    assert result["test"][0]["alpha"] == 0.0
    assert result["test"][0]["miou"] == pytest.approx(plain["miou"])


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_alpha_is_chosen_on_val_and_offsets_follow_the_class_weights(camvid_run, monkeypatch):
    run, _ = camvid_run
    seen = {}

    def fake_confusions(model, config, split, offsets):
        seen[split] = np.array(offsets)
        # val mIoU grows with the row index: the last alpha wins on val.
        return [
            np.diag(np.arange(1, 12))
            + i * np.eye(11, dtype=np.int64)
            + (len(offsets) - i) * np.ones((11, 11), np.int64)
            for i in range(len(offsets))
        ]

    monkeypatch.setattr(adjustment, "confusions", fake_confusions)
    result = adjustment.adjust(run, "best", None, (0.0, 0.5, 1.0))
    assert result["alpha"] == 1.0
    weights = np.array(list(result["class_weights"].values()))
    np.testing.assert_allclose(seen["val"][2], -np.log(weights), rtol=1e-6)
    np.testing.assert_allclose(seen["val"][0], 0.0)
    # test is scored at alpha 0 and at the chosen alpha only
    assert [t["alpha"] for t in result["test"]] == [0.0, 1.0]
    np.testing.assert_allclose(seen["test"], seen["val"][[0, 2]])


def test_a_grid_without_zero_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        adjustment.main(["--alphas", "0.5", "1"])
    assert exit_info.value.code == 2
    assert "--alphas" in capsys.readouterr().err


def fake_val_winner(model, config, split, offsets):
    """Confusions whose val mIoU grows with the row index: the largest alpha wins."""
    return [
        np.diag(np.arange(1, 12)) + i * np.eye(11, dtype=np.int64) + np.ones((11, 11), np.int64)
        for i in range(len(offsets))
    ]


@pytest.mark.slow  # loads, adjusts and writes a run, ~4 s on 2 cores
def test_the_written_model_carries_the_offsets_in_its_bias(camvid_run, tmp_path, monkeypatch):
    from fast_scnn_tf.model.head import low_res_logits
    from fast_scnn_tf.training.checkpoint import load_run

    run, _ = camvid_run
    monkeypatch.setattr(adjustment, "confusions", fake_val_winner)
    out = tmp_path / "adjusted"
    argv = ["--checkpoint", run, "--alphas", "0", "0.75", "--write-model", str(out)]
    assert adjustment.main(argv) == 0
    with open(out / "logit_adjustment.json") as f:
        record = json.load(f)
    assert record["alpha"] == 0.75
    assert record["classes"] == list(camvid.DATASET.classes.names)
    offsets = np.array(record["offsets"], np.float32)
    weights = np.array(record["class_weights"])
    np.testing.assert_allclose(offsets, -0.75 * np.log(weights), rtol=1e-6)
    assert np.ptp(offsets) > 0.01  # the class weights differ: not one constant for all classes

    image = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3)).astype(np.float32)
    before, after = load_run(run).model, load_run(str(out)).model
    np.testing.assert_allclose(
        low_res_logits(after)(image), low_res_logits(before)(image) + offsets, atol=1e-5
    )
    # the full-size logits every tool takes its labels from carry the same shift
    shifted = np.asarray(before(image)) + offsets
    np.testing.assert_array_equal(np.argmax(after(image), -1), np.argmax(shifted, -1))


def test_write_model_refuses_a_folder_with_files_before_any_work(camvid_run, tmp_path, capsys):
    run, _ = camvid_run
    (tmp_path / "mine.txt").write_text("the user's")
    argv = ["--checkpoint", run, "--write-model", str(tmp_path)]
    assert adjustment.main(argv) == 1
    err = capsys.readouterr().err
    assert "--write-model" in err and err.count("\n") == 1
    assert (tmp_path / "mine.txt").read_text() == "the user's"


def test_per_class_offsets_undo_a_class_the_model_over_predicts(monkeypatch):
    # Low-res logits that peak at the true class, except that class 2 is ahead everywhere:
    # the model predicts 2 for every pixel. One offset (class 2 down by >= 0.5) fixes it all.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 11, (3, 1, 16, 16))
    frames = []
    for label in labels:
        logits = np.eye(11, dtype=np.float32)[label]
        logits[..., 2] += 1.4
        frames.append((tf.constant(logits), tf.constant(label.astype(np.uint8))))
    monkeypatch.setattr(adjustment, "low_res_frames", lambda model, config, split: iter(frames))
    config = Config(model=ModelConfig(num_classes=11, classes=camvid.DATASET.classes.to_dict()))
    start = np.zeros(11)
    (before,) = adjustment.score(frames, start[None], 11)
    assert np.count_nonzero(before.sum(0)) == 1  # one class predicted
    offsets, miou = adjustment.per_class_offsets(None, config, start)
    assert miou == 1.0
    assert offsets[2] <= -0.5 and offsets[2] == offsets.min()
