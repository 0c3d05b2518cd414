"""experiments/camvid_logit_adjustment.py: per-class logit offsets −α·ln(w_c), α chosen on val."""

import json

import numpy as np
import pytest

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
