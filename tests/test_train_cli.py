"""train.py: presets, flag overrides, resume config and argument errors (no training here)."""

import subprocess
import sys

import pytest

import train as train_cli
from fast_scnn_tf.config import Config
from fast_scnn_tf.training import apply_preset
from paths import ROOT


def _resolve(argv):
    parser = train_cli.build_parser()
    return train_cli.resolve_config(parser.parse_args(argv), parser)


def test_default_preset_is_the_paper(tmp_path):
    c = _resolve(["--data-dir", str(tmp_path), "--model-dir", str(tmp_path / "run")])
    assert c.train.preset == "paper"
    assert (c.train.learning_rate, c.train.batch_size, c.train.epochs) == (0.045, 12, 1000)
    assert (c.train.total_steps, c.train.end_learning_rate) == (0, 0.0)
    assert c.data.crop_size == (1024, 2048)


def test_mmseg_preset_with_an_explicit_flag_that_wins(tmp_path):
    c = _resolve(
        [
            "--data-dir",
            str(tmp_path),
            "--model-dir",
            str(tmp_path / "run"),
            "--preset",
            "mmseg",
            "--batch-size",
            "16",
        ]
    )
    assert (c.train.learning_rate, c.train.total_steps, c.train.weight_decay) == (
        0.12,
        160_000,
        4e-5,
    )
    assert c.data.crop_size == (512, 1024)
    assert c.train.batch_size == 16  # the flag, not the preset's 32


def test_issue_command_line_sets_crop_batch_and_epochs(tmp_path):
    c = _resolve(
        [
            "--data-dir",
            str(tmp_path),
            "--model-dir",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--crop-size",
            "128",
            "256",
            "--mixed-precision",
            "--seed",
            "7",
        ]
    )
    assert (c.train.epochs, c.train.batch_size, c.data.crop_size) == (1, 2, (128, 256))
    assert c.train.mixed_precision and c.train.seed == 7


def test_warmup_steps_flag_sets_the_config(tmp_path):
    c = _resolve(
        [
            "--data-dir",
            str(tmp_path),
            "--model-dir",
            str(tmp_path / "run"),
            "--optimizer",
            "adam",
            "--warmup-steps",
            "500",
        ]
    )
    assert (c.train.optimizer, c.train.warmup_steps) == ("adam", 500)
    assert (
        _resolve(
            ["--data-dir", str(tmp_path), "--model-dir", str(tmp_path / "r2")]
        ).train.warmup_steps
        == 0
    )


def test_resume_starts_from_the_saved_config(tmp_path):
    saved = apply_preset(Config(), "mmseg")
    saved.data.data_dir = str(tmp_path)
    saved.model.num_classes = 7
    saved.save(str(tmp_path / "run"))
    c = _resolve(["--model-dir", str(tmp_path / "run"), "--total-steps", "10"])
    assert c.model.num_classes == 7 and c.train.preset == "mmseg"
    assert c.train.total_steps == 10


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="unknown preset"):
        apply_preset(Config(), "imagenet")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--crop-size", "16", "64"], "--crop-size"),
        (["--batch-size", "0"], "--batch-size"),
        (["--warmup-steps", "-1"], "--warmup-steps"),
        (["--data-dir", "/nonexistent/cityscapes"], "/nonexistent/cityscapes"),
    ],
)
def test_bad_arguments_exit_2_with_the_flag_named(tmp_path, capsys, argv, message):
    base = ["--model-dir", str(tmp_path / "run")]
    if "--data-dir" not in argv:
        base += ["--data-dir", str(tmp_path)]
    with pytest.raises(SystemExit) as exit_info:
        _resolve(base + argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_new_run_without_data_dir_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _resolve(["--model-dir", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    assert "--data-dir is required" in capsys.readouterr().err


@pytest.mark.slow  # a child process importing TensorFlow, ~3 s on 2 cores
def test_help_lists_every_flag_of_the_issue():
    out = subprocess.run(
        [sys.executable, "train.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for flag in (
        "--data-dir",
        "--model-dir",
        "--epochs",
        "--batch-size",
        "--crop-size",
        "--preset",
        "--mixed-precision",
        "--seed",
        "--init-checkpoint",
        "--xla",
        "--strategy",
    ):
        assert flag in out


def test_camvid_preset_sets_the_ablation_winner_and_switching_back_restores_the_paper():
    # the recipe the 100-epoch ablation chose (docs/camvid.md): DABNet's, at the paper's length
    camvid = apply_preset(Config(), "camvid")
    assert (
        camvid.train.optimizer,
        camvid.train.learning_rate,
        camvid.train.weight_decay,
        camvid.train.warmup_steps,
        camvid.train.batch_size,
        camvid.train.class_weighting,
        camvid.train.epochs,
    ) == ("adam", 1e-3, 2e-4, 500, 8, "erfnet", 1000)
    assert camvid.data.crop_size == (360, 480)
    back = apply_preset(camvid, "paper")
    assert back.train == apply_preset(Config(), "paper").train
    assert back.data == apply_preset(Config(), "paper").data
