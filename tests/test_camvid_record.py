"""experiments/camvid.py's analyses of the shipped model on the CamVid test split."""

import os

import cv2
import numpy as np
import pytest

import children
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


@pytest.fixture
def camvid_run(tmp_path):
    """A CamVid run folder with its best checkpoint (step 22050) and a later last one (step
    23336) of other weights: (folder, {which: the training model saved there})."""
    from fast_scnn_tf.config import Config, DataConfig, ModelConfig
    from fast_scnn_tf.training.checkpoint import (
        BEST_DIR,
        LATEST_DIR,
        build_training_model,
        write_run,
    )

    config = Config(
        model=ModelConfig(num_classes=11, classes=camvid.DATASET.classes.to_dict()),
        data=DataConfig(dataset="camvid", data_dir="/elsewhere/CamVid"),
    )
    run = str(tmp_path / "run")
    models = {}
    for which, folder, step in (("best", BEST_DIR, 22050), ("latest", LATEST_DIR, 23336)):
        models[which] = build_training_model(config)
        write_run(run, config, models[which], folder=folder, number=step)
    return run, models


@pytest.mark.slow  # builds and saves three models, ~1 s each on 2 cores
@pytest.mark.parametrize("which, step", [("best", 22050), ("latest", 23336)])
def test_ship_writes_the_chosen_checkpoint_as_a_run_the_tools_load(
    camvid_run, tmp_path, which, step
):
    from fast_scnn_tf.training.checkpoint import load_run

    run, models = camvid_run
    shipped = str(tmp_path / "shipped")
    argv = ["--run", run, "--ship-to", shipped, "--which", which]
    assert camvid_record.main(argv) == 0
    loaded = load_run(shipped, aux=True)
    assert loaded.checkpoint.endswith(f"best/ckpt-{step}")
    assert loaded.config.data.data_dir == "data/CamVid"  # the repository's, not the run's
    for got, want in zip(loaded.model.weights, models[which].weights, strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_ship_to_an_existing_folder_is_one_line_and_leaves_it_alone(tmp_path, capsys):
    """Refused before the run is loaded (the run named here does not exist)."""
    run = str(tmp_path / "run")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit) as exit:
        camvid_record.main(["--run", run, "--ship-to", str(tmp_path / "mine")])
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--ship-to" in err and "mine" in err and "exists" in err
    assert os.listdir(tmp_path / "mine") == ["notes.txt"]


@pytest.mark.slow  # a child process importing TensorFlow, ~6 s on 2 cores
def test_shipping_prints_its_own_line_without_tensorflows_start_up_lines(camvid_run, tmp_path):
    run, _ = camvid_run
    argv = ["-m", "experiments.camvid", "--run", run, "--ship-to", str(tmp_path / "shipped")]
    result = children.run_as_users_do(argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "shipped" in result.stdout and "best/ckpt-22050" in result.stdout
    assert not children.start_up_lines(result.stderr), result.stderr[-2000:]


def test_add_exports_gives_each_exported_file_its_own_row(tmp_path):
    """float32, post-training int8 and QAT int8 files of one model are three rows: a QAT file's
    name also holds "_int8_", and must not replace the post-training int8 row."""
    import json

    output = tmp_path / "camvid.json"
    output.write_text(json.dumps({"test": {"miou": 0.6}}))
    files = []
    for i, name in enumerate(["float32", "int8", "qat_int8"]):
        path = tmp_path / f"fast_scnn_cls_{name}_360x480_metrics_test.json"
        scores = {"miou": 0.5 + i / 100, "mean_accuracy": 0.7, "pixel_accuracy": 0.8}
        path.write_text(json.dumps({**scores, "class_iou": {"sky": 0.9}}))
        files.append(str(path))
    camvid_record.add_exports(str(output), files)
    exports = json.loads(output.read_text())["exports"]
    assert {k: v["miou"] for k, v in exports.items()} == {
        "TFLite float32": 0.5,
        "TFLite int8": 0.51,
        "TFLite int8 QAT": 0.52,
    }
    assert exports["TFLite int8 QAT"]["command"] == (
        "python evaluate.py --checkpoint exports/camvid/fast_scnn_cls_qat_int8_360x480.tflite "
        "--split test"
    )
