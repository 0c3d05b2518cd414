"""evaluate.py end to end on a tiny synthetic Cityscapes and a fabricated (or trained)
checkpoint."""

import dataclasses
import json
import logging
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tensorflow as tf

import evaluate
import fabricate
from fast_scnn_tf.config import Config
from fast_scnn_tf.data import camvid
from fast_scnn_tf.data.cityscapes_labels import CITYSCAPES_LABELS
from paths import ROOT


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=2, num_val=2)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    return fabricate.run_folder(
        tmp_path_factory.mktemp("run"), data_dir=data_dir, step=tf.Variable(0, dtype=tf.int64)
    )


def run_cli(*argv):
    return evaluate.main(["--no-progress", *argv])


@pytest.mark.slow
def test_subprocess_end_to_end_writes_metrics(run_dir, data_dir, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "mIoU (class)" in out.stdout
    metrics = json.load(open(tmp_path / "metrics.json"))
    assert metrics["num_frames"] == 2 and metrics["scale"] == 1.0
    assert metrics["checkpoint"].endswith("ckpt-1")
    assert set(metrics["class_iou"]) >= {"road", "bicycle"} and len(metrics["class_iou"]) == 19
    for key in ("miou", "category_miou", "pixel_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
def test_metrics_file_is_not_overwritten(run_dir, data_dir, tmp_path, capsys):
    assert run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(tmp_path)) == 0
    before = (tmp_path / "metrics.json").read_text()
    assert run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(tmp_path)) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "metrics.json").read_text() == before


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
def test_a_shipped_models_own_metrics_file_is_kept_and_the_scores_printed(
    run_dir, data_dir, tmp_path, capsys
):
    """A shipped model folder holds the metrics evaluate.py wrote for it (models/camvid's
    metrics_test.json): scoring it again with the default output prints the scores and keeps the
    file as it is, rather than refusing before the work (the README's evaluate command)."""
    import shutil

    model = shutil.copytree(run_dir, tmp_path / "model")
    (model / "metrics.json").write_text('{"miou": 0.5}')
    assert run_cli("--checkpoint", str(model), "--data-dir", data_dir) == 0
    captured = capsys.readouterr()
    assert "mIoU (class)" in captured.out
    assert "metrics.json" in captured.err and "--overwrite" in captured.err
    assert (model / "metrics.json").read_text() == '{"miou": 0.5}'


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
def test_reduced_scale_scores_full_resolution_labels(run_dir, data_dir, tmp_path):
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--scale",
            "0.5",
        )
        == 0
    )
    assert run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(tmp_path)) == 0
    half = json.load(open(tmp_path / "metrics_scale0.5.json"))
    full = json.load(open(tmp_path / "metrics.json"))
    assert half["scale"] == 0.5
    assert half["num_pixels"] == full["num_pixels"] > 0  # the same full-size labels scored


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_ablate_skip_gets_its_own_file(run_dir, data_dir, tmp_path):
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--ablate-skip",
        )
        == 0
    )
    assert json.load(open(tmp_path / "metrics_noskip.json"))["ablate_skip"] is True


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_save_predictions_in_benchmark_format(run_dir, data_dir, tmp_path):
    preds, overlays = tmp_path / "preds", tmp_path / "overlays"
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--save-predictions",
            str(preds),
            "--save-overlays",
            str(overlays),
        )
        == 0
    )
    val_images = sorted(
        f for _, _, files in os.walk(os.path.join(data_dir, "leftImg8bit", "val")) for f in files
    )
    assert sorted(os.listdir(preds)) == val_images  # <city>_<seq>_<frame>_leftImg8bit.png
    assert len(os.listdir(overlays)) == len(val_images)


def test_prediction_dir_with_other_files_is_refused(
    run_dir, data_dir, tmp_path, capsys, monkeypatch
):
    """Refused before the model is loaded (seconds for a large network)."""

    def loading(args):
        raise AssertionError("the model was loaded before the folder was checked")

    monkeypatch.setattr(evaluate, "load_model", loading)
    (tmp_path / "preds").mkdir()
    (tmp_path / "preds" / "notes.txt").write_text("mine")
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--save-predictions",
            str(tmp_path / "preds"),
        )
        == 1
    )
    assert "already holds files" in capsys.readouterr().err
    assert os.listdir(tmp_path / "preds") == ["notes.txt"]
    assert not (tmp_path / "metrics.json").exists()


def test_directory_without_checkpoint(tmp_path, data_dir, capsys):
    Config().save(str(tmp_path))
    assert run_cli("--checkpoint", str(tmp_path), "--data-dir", data_dir) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_model_with_other_class_count(tmp_path, data_dir, capsys):
    run = fabricate.run_folder(
        tmp_path / "run5", num_classes=5, data_dir=data_dir, step=tf.Variable(0, dtype=tf.int64)
    )
    assert run_cli("--checkpoint", run, "--data-dir", data_dir) == 1
    assert "predicts 5 classes" in capsys.readouterr().err


def test_test_split_has_no_labels(run_dir, capsys):
    assert run_cli("--checkpoint", run_dir, "--split", "test") == 1
    assert "no public labels" in capsys.readouterr().err


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
@pytest.mark.parametrize("scale", ["1", "0.5"])
def test_test_split_predictions_for_submission(run_dir, data_dir, tmp_path, scale):
    """Test labels are not public: --save-predictions writes full-size files, scores nothing."""
    import shutil

    import cv2

    root = tmp_path / "cityscapes"
    shutil.copytree(os.path.join(data_dir, "leftImg8bit", "val"), root / "leftImg8bit" / "test")
    test_images = sorted(f for _, _, files in os.walk(root / "leftImg8bit" / "test") for f in files)
    preds = tmp_path / "preds"
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            str(root),
            "--split",
            "test",
            "--scale",
            scale,
            "--save-predictions",
            str(preds),
            "--output",
            str(tmp_path),
        )
        == 0
    )
    assert sorted(os.listdir(preds)) == test_images
    label_ids = cv2.imread(str(preds / test_images[0]), cv2.IMREAD_UNCHANGED)
    assert label_ids.shape == (64, 128)  # full resolution, also when fed at half scale
    assert set(label_ids.ravel()) <= {
        label.id for label in CITYSCAPES_LABELS if label.train_id != 255
    }
    assert not any(name.startswith("metrics") for name in os.listdir(tmp_path))


@pytest.mark.slow
def test_train_then_evaluate(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    train = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--model-dir",
            model_dir,
            "--data-dir",
            data_dir,
            "--total-steps",
            "2",
            "--batch-size",
            "2",
            "--crop-size",
            "64",
            "128",
            "--no-progress",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stderr[-2000:]
    out = subprocess.run(
        [
            sys.executable,
            "evaluate.py",
            "--checkpoint",
            model_dir,
            "--which",
            "latest",
            "--no-progress",
            "--overwrite",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert metrics["num_frames"] == 2 and metrics["miou"] is not None


@pytest.fixture
def own_data(data_dir, tmp_path):
    """A private copy of the dataset, for tests that could damage it."""
    import shutil

    shutil.copytree(data_dir, tmp_path / "data")
    return str(tmp_path / "data")


@pytest.mark.parametrize("where", [os.path.join("leftImg8bit", "val", "dunmere"), "."])
def test_predictions_inside_the_dataset_are_refused(run_dir, own_data, tmp_path, capsys, where):
    """Prediction files take the images' names: inside the data folder they replaced them."""
    target = os.path.normpath(os.path.join(own_data, where))
    before = {
        f: os.path.getmtime(os.path.join(r, f)) for r, _, files in os.walk(own_data) for f in files
    }
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            own_data,
            "--output",
            str(tmp_path),
            "--save-predictions",
            target,
            "--overwrite",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "--save-predictions" in err and "inside" in err and len(err.strip().splitlines()) == 1
    after = {
        f: os.path.getmtime(os.path.join(r, f)) for r, _, files in os.walk(own_data) for f in files
    }
    assert after == before


def test_overlays_inside_the_dataset_are_refused(run_dir, own_data, tmp_path, capsys):
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            own_data,
            "--output",
            str(tmp_path),
            "--save-overlays",
            os.path.join(own_data, "gtFine"),
        )
        == 1
    )
    assert "--save-overlays" in capsys.readouterr().err


def test_predictions_and_overlays_in_one_folder_are_refused(run_dir, data_dir, tmp_path, capsys):
    both = str(tmp_path / "both")
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--save-predictions",
            both,
            "--save-overlays",
            both,
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "--save-predictions" in err and "--save-overlays" in err
    assert not os.path.exists(both)


def test_output_that_is_a_file_is_one_line(run_dir, data_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert (
        run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(tmp_path / "file"))
        == 1
    )
    err = capsys.readouterr().err
    assert "--output" in err and "is a file" in err and len(err.strip().splitlines()) == 1


def test_read_only_output_is_refused_before_evaluating(
    run_dir, data_dir, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: let the permission check see what a user would
        real_access, blocked = os.access, os.path.realpath(out)
        monkeypatch.setattr(
            os, "access", lambda p, mode: os.path.realpath(p) != blocked and real_access(p, mode)
        )
    try:
        assert run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(out)) == 1
    finally:
        out.chmod(0o755)
    err = capsys.readouterr()
    assert "--output" in err.err and "read-only" in err.err and "mIoU" not in err.out


def test_checkpoint_that_is_a_file_says_what_was_expected(tmp_path, capsys):
    (tmp_path / "model").write_text("not a model")
    with pytest.raises(SystemExit):
        evaluate.parse_args(["--checkpoint", str(tmp_path / "model")])
    err = capsys.readouterr().err
    assert "is a file" in err and "expected" in err


def test_checkpoint_defaults_to_the_default_run_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        evaluate.parse_args([])
    assert os.path.join("runs", "fast_scnn") in capsys.readouterr().err


def test_the_checkpoint_it_falls_back_to_is_named(run_dir, data_dir, tmp_path, caplog):
    """run_dir has no best/ yet: --which best (the default) evaluates the latest checkpoint, and
    says so."""
    caplog.set_level(logging.INFO)
    assert run_cli("--checkpoint", run_dir, "--data-dir", data_dir, "--output", str(tmp_path)) == 0
    fallback = os.path.join(run_dir, "checkpoints", "ckpt-1")
    assert any(fallback in r.getMessage() and "best" in r.getMessage() for r in caplog.records)


def test_overwrite_never_replaces_a_prediction_evaluate_did_not_write(
    run_dir, data_dir, tmp_path, capsys
):
    """A same-named PNG in --save-predictions was replaced with --overwrite; it is now refused by
    name before the evaluation runs."""
    preds = tmp_path / "preds"
    preds.mkdir()
    mine = preds / "frankfurt_000000_000000_leftImg8bit.png"
    cv2.imwrite(str(mine), np.zeros((8, 8), np.uint8))
    before = mine.read_bytes()
    assert (
        run_cli(
            "--checkpoint",
            run_dir,
            "--data-dir",
            data_dir,
            "--output",
            str(tmp_path),
            "--save-predictions",
            str(preds),
            "--overwrite",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert str(mine) in err and len(err.strip().splitlines()) == 1
    assert mine.read_bytes() == before and os.listdir(preds) == [mine.name]
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.slow  # evaluates three splits, ~3 s on 2 cores
def test_every_split_of_the_dataset_can_be_evaluated_and_others_are_named(tmp_path, capsys):
    """--split takes the dataset's own splits (CamVid's trainval too), not a fixed list; an
    unknown one is refused naming the splits there are."""
    data = fabricate.camvid(tmp_path / "CamVid", counts=(2, 1, 1))
    config = Config()
    config.data = dataclasses.replace(config.data, dataset="camvid", data_dir=data)
    classes = camvid.DATASET.classes
    config.model = dataclasses.replace(
        config.model, num_classes=classes.num_classes, classes=classes.to_dict()
    )
    run = fabricate.run_folder(tmp_path / "run", config=config, step=tf.Variable(0, dtype=tf.int64))
    assert run_cli("--checkpoint", run, "--split", "trainval", "--output", str(tmp_path)) == 0
    assert json.load(open(tmp_path / "metrics_trainval.json"))["num_frames"] == 3
    capsys.readouterr()
    assert run_cli("--checkpoint", run, "--split", "nope", "--output", str(tmp_path)) == 1
    err = capsys.readouterr().err
    assert "no split 'nope'" in err and "trainval" in err and err.count("\n") == 1
