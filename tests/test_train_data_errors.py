"""train.py on data and run folders it cannot use: one line naming the file or flag, exit 1, and
nothing persisted that a later run would resume from; 16-bit label PNGs train; train ids saved
as labelIds are reported."""

import dataclasses
import glob
import json
import logging
import os
import shutil

import cv2
import numpy as np
import pytest

import fabricate
import train as train_cli
from cityscapes_ids import id_to_train_id_table  # tests/ is on sys.path under pytest
from fast_scnn_tf.config import Config, ConfigError
from fast_scnn_tf.data.pipeline import label_pixel_counts
from fast_scnn_tf.training.data_checks import warn_if_class_indices

TINY = ["--epochs", "1", "--batch-size", "2", "--crop-size", "64", "128", "--no-progress"]


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=4, num_val=1)


def _with_labels(data_dir, tmp_path, convert) -> str:
    """A copy of the set with every label PNG rewritten as `convert(label values)`."""
    root = shutil.copytree(data_dir, str(tmp_path / "data"))
    for path in glob.glob(os.path.join(root, "gtFine", "*", "*", "*_labelIds.png")):
        cv2.imwrite(path, convert(cv2.imread(path, cv2.IMREAD_UNCHANGED)))
    return root


def _error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("train.py: error:")]


def test_a_failed_first_run_leaves_no_config_to_resume_from(data_dir, tmp_path, capsys):
    model_dir = str(tmp_path / "run")
    argv = [
        "--data-dir",
        data_dir,
        "--model-dir",
        model_dir,
        "--batch-size",
        "16",
        "--crop-size",
        "64",
        "128",
    ]
    assert train_cli.main(argv) == 1
    assert _error_lines(capsys) == [
        f"train.py: error: 4 training frames in '{data_dir}' are fewer than one batch of 16"
    ]
    assert not os.path.exists(os.path.join(model_dir, "config.json"))
    parser = train_cli.build_parser()  # the next run is a new one: batch 16 is not kept
    args = parser.parse_args(["--data-dir", data_dir, "--model-dir", model_dir])
    assert train_cli.resolve_config(args, parser).train.batch_size == 12


@pytest.mark.parametrize("text", ['{"train": {"epochs": 2,}}', '{"train": {"epoch": 2}}'])
def test_a_broken_config_json_is_one_line_naming_it(tmp_path, capsys, text):
    (tmp_path / "config.json").write_text(text)
    assert train_cli.main(["--model-dir", str(tmp_path)]) == 1
    [line] = _error_lines(capsys)
    assert str(tmp_path / "config.json") in line


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-1.0"])
def test_a_bad_learning_rate_in_config_json_names_the_file_and_field_not_a_flag(
    data_dir, tmp_path, capsys, value
):
    # The user passed no --learning-rate: the value came from the saved config.
    (tmp_path / "config.json").write_text(
        '{"data": {"data_dir": "%s"}, "train": {"learning_rate": %s}}' % (data_dir, value)
    )
    assert train_cli.main(["--model-dir", str(tmp_path)]) == 1
    [line] = _error_lines(capsys)
    assert str(tmp_path / "config.json") in line and "train.learning_rate" in line, line
    assert "--learning-rate" not in line


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_flag_is_refused_naming_it(data_dir, tmp_path, capsys, value):
    argv = [
        "--data-dir",
        data_dir,
        "--model-dir",
        str(tmp_path / "run"),
        f"--learning-rate={value}",
    ]
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--learning-rate must be a finite number" in err, err
    assert not os.path.exists(tmp_path / "run")


def _float_fields():
    config = Config()
    return [
        (section, field.name)
        for section in ("model", "data", "train")
        for field in dataclasses.fields(getattr(config, section))
        if isinstance(getattr(getattr(config, section), field.name), float)
    ]


@pytest.mark.parametrize("section, field", _float_fields())
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_every_float_field_refuses_non_finite_values(section, field, value):
    with pytest.raises(ConfigError, match=rf"^{section}\.{field} must be a finite number"):
        Config().override(section, field, value).validate()
    with pytest.raises(ValueError, match=rf"{section}\.{field} must be a finite number"):
        Config.from_dict({section: {field: value}})


def test_a_model_dir_that_is_a_file_is_one_line(data_dir, tmp_path, capsys):
    (tmp_path / "run").write_text("")
    assert (
        train_cli.main(["--data-dir", data_dir, "--model-dir", str(tmp_path / "run")] + TINY) == 1
    )
    assert _error_lines(capsys) == [
        f"train.py: error: model dir '{tmp_path / 'run'}' is a file: expected a folder for the run"
    ]


def test_labels_that_are_all_ignored_stop_with_one_line(data_dir, tmp_path, capsys):
    root = _with_labels(data_dir, tmp_path, lambda label: np.zeros_like(label))  # "unlabeled"
    assert train_cli.main(["--data-dir", root, "--model-dir", str(tmp_path / "run")] + TINY) == 1
    [line] = _error_lines(capsys)
    assert "hold no labelled pixel" in line and root in line
    assert not os.path.exists(tmp_path / "run" / "config.json")


@pytest.mark.slow
def test_16_bit_label_pngs_train(data_dir, tmp_path, capsys):
    root = _with_labels(data_dir, tmp_path, lambda label: label.astype(np.uint16))
    assert (
        cv2.imread(
            glob.glob(f"{root}/gtFine/train/*/*_labelIds.png")[0], cv2.IMREAD_UNCHANGED
        ).dtype
        == np.uint16
    )
    config = Config().override("data", "data_dir", root)
    np.testing.assert_array_equal(  # the same labelled pixels as the 8-bit files
        label_pixel_counts(config.data, "train"),
        label_pixel_counts(config.override("data", "data_dir", data_dir).data, "train"),
    )
    model_dir = tmp_path / "run"
    assert train_cli.main(["--data-dir", root, "--model-dir", str(model_dir)] + TINY) == 0, (
        capsys.readouterr().err[-2000:]
    )
    [record] = [json.loads(line) for line in open(model_dir / "train_log.jsonl")]
    assert record["pixel_accuracy"] > 0


def test_train_ids_saved_as_label_ids_are_reported(data_dir, tmp_path, caplog):
    config = Config().override("data", "data_dir", data_dir)
    with caplog.at_level(logging.WARNING):
        warn_if_class_indices(config)  # real labelIds: quiet
    assert not caplog.records
    table = id_to_train_id_table()
    for ignore in (255, 0):  # with void pixels (255) or without (every pixel a class)
        root = _with_labels(
            data_dir,
            tmp_path / str(ignore),
            lambda label, ignore=ignore: np.where(table[label] == 255, ignore, table[label]),
        )
        with caplog.at_level(logging.WARNING):
            warn_if_class_indices(config.override("data", "data_dir", root))
        [record] = caplog.records
        assert "look like class indices (train ids)" in record.getMessage()
        assert "_gtFine_labelIds.png" in record.getMessage()
        caplog.clear()


def _prefix_not_utf8(path) -> None:
    """Rename `path` to a name starting with byte 0xE9 (Latin-1 'é', invalid as UTF-8)."""
    directory, name = os.path.split(os.fsencode(str(path)))
    os.rename(os.fsencode(str(path)), os.path.join(directory, b"\xe9" + name))


@pytest.mark.parametrize("dataset", ["camvid", "custom"])
def test_a_file_name_that_is_not_utf8_is_named_in_one_line(tmp_path, capsys, dataset):
    if dataset == "camvid":
        root = fabricate.camvid(tmp_path / "data")
        image, label = "train/0001TP_000001.png", "trainannot/0001TP_000001.png"
    else:
        root = fabricate.own_folder(tmp_path / "data")
        image, label = "images/train/seq/street1.png", "labels/train/seq/street1.png"
    _prefix_not_utf8(os.path.join(root, image))
    _prefix_not_utf8(os.path.join(root, label))
    argv = [
        "--dataset",
        dataset,
        "--data-dir",
        root,
        "--model-dir",
        str(tmp_path / "run"),
        "--crop-size",
        "32",
        "32",
    ] + TINY[:4]
    assert train_cli.main(argv) == 1
    [line] = _error_lines(capsys)
    expected = os.path.join(root, os.path.dirname(image), "\\xe9" + os.path.basename(image))
    assert f"'{expected}'" in line and "UTF-8" in line, line
    assert not os.path.exists(tmp_path / "run" / "config.json")


def test_a_label_name_that_is_not_utf8_is_named(tmp_path):
    from fast_scnn_tf.data import num_frames

    root = fabricate.camvid(tmp_path)
    (tmp_path / "trainannot" / "extra.png").write_bytes(b"")
    _prefix_not_utf8(tmp_path / "trainannot" / "extra.png")
    config = Config().override("data", "dataset", "camvid").override("data", "data_dir", root)
    with pytest.raises(ValueError, match=r"'.*trainannot/\\xe9extra\.png'.* not UTF-8"):
        num_frames(config.data, "train")
