"""The run config round-trips through config.json; checkpoints load into the model they describe."""

import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from fast_scnn_tf import build_fast_scnn
from fast_scnn_tf.config import Config, ConfigError
from fast_scnn_tf.training.checkpoint import (
    BEST_DIR,
    LATEST_DIR,
    find_checkpoint,
    load_run,
    make_checkpoint,
    newest_intact,
    write_run,
)


def test_defaults_are_the_papers_recipe():
    c = Config()
    assert (c.train.learning_rate, c.train.lr_power, c.train.momentum) == (0.045, 0.9, 0.9)
    assert (c.train.batch_size, c.train.epochs, c.train.weight_decay) == (12, 1000, 4e-5)
    assert c.train.aux_weight == 0.4
    assert (c.data.min_scale, c.data.max_scale, c.data.crop_size) == (0.5, 2.0, (1024, 2048))
    assert c.model.num_classes == 19


def test_config_round_trips_through_json(tmp_path):
    c = Config()
    c.model.num_classes = 5
    c.data.crop_size = (96, 160)
    c.save(str(tmp_path))
    assert Config.load(str(tmp_path)) == c


def test_a_run_saved_with_the_own_data_datasets_old_name_loads_as_custom(tmp_path):
    # `--dataset folder` became `custom` (it read like `--data-source folder`); runs keep loading
    Config.from_dict({"data": {"dataset": "camvid"}}).save(str(tmp_path))
    path = tmp_path / "config.json"
    path.write_text(path.read_text().replace('"camvid"', '"folder"'))
    assert Config.load(str(tmp_path)).data.dataset == "custom"
    assert Config.from_dict({"data": {"dataset": "camvid"}}).data.dataset == "camvid"


def test_unknown_config_key_is_an_error():
    with pytest.raises(ValueError, match="nope"):
        Config.from_dict({"train": {"nope": 1}})


@pytest.mark.parametrize(
    "section, field, value",
    [
        ("data", "crop_size", (16, 64)),
        ("train", "batch_size", 0),
        ("train", "learning_rate", 0.0),
        ("train", "strategy", "tpu"),
        ("train", "keep_checkpoints", 0),
        ("data", "source", "s3"),
        ("model", "name", "fast_scnn2"),
        ("data", "dataset", "kitti"),
    ],
)
def test_validate_names_the_field_that_breaks_a_rule(section, field, value):
    config = Config().override(section, field, value)
    with pytest.raises(ConfigError, match=rf"^{section}\.{field} must be .*, got ") as error:
        config.validate()
    assert (error.value.section, error.value.field) == (section, field)
    assert error.value.message_for("--flag").startswith("--flag must be")
    assert Config().validate() == Config()


def test_override_returns_a_new_config_and_keeps_tuples():
    base = Config()
    changed = base.override("data", "crop_size", [64, 128]).override("train", "epochs", 3)
    assert changed.data.crop_size == (64, 128) and changed.train.epochs == 3
    assert base.data.crop_size == (1024, 2048) and base.train.epochs == 1000
    with pytest.raises(ConfigError, match="train.nope"):
        base.override("train", "nope", 1)


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"train": {"epochs": 3,}}', "not valid JSON"),
        ('{"train": {"epoch": 3}}', "epoch"),
        ('{"training": {}}', "training"),
        ("[1, 2]", "JSON object"),
        ('{"data": 3}', "section 'data'"),
        ('{"train": {"batch_size": "2"}}', "train.batch_size must be an integer, got '2'"),
        ('{"train": {"learning_rate": true}}', "train.learning_rate must be a number"),
        ('{"data": {"crop_size": [360]}}', "data.crop_size must be a list of 2 integers"),
        ('{"data": {"flip": "yes"}}', "data.flip must be true or false"),
        ('{"model": {"name": 3}}', "model.name must be a string"),
    ],
)
def test_a_bad_config_json_names_the_file(tmp_path, text, message):
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        Config.load(str(tmp_path))
    assert str(tmp_path / "config.json") in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_config_names_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        Config.load(str(tmp_path))


def _save_run(model_dir, num_classes=3, subdir=LATEST_DIR):
    model = build_fast_scnn(num_classes=num_classes, aux=True)
    config = Config()
    config.model.num_classes = num_classes
    write_run(
        str(model_dir),
        config,
        model,
        folder=subdir,
        optimizer=keras.optimizers.SGD(0.1),
        step=tf.Variable(7, dtype=tf.int64),
    )
    return model


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_load_run_restores_weights_into_inference_model(tmp_path):
    saved = _save_run(tmp_path)
    run = load_run(str(tmp_path))
    assert run.config.model.num_classes == 3
    assert run.directory == str(tmp_path)
    assert run.checkpoint == os.path.join(str(tmp_path), LATEST_DIR, "ckpt-1")
    assert not isinstance(run.model.output, dict)
    images = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        run.model(images, training=False), saved(images, training=False)["logits"]
    )


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_load_run_from_a_checkpoint_prefix_finds_its_folder(tmp_path):
    _save_run(tmp_path)
    _save_run(tmp_path, subdir=BEST_DIR)
    prefix = os.path.join(str(tmp_path), LATEST_DIR, "ckpt-1")
    run = load_run(prefix, aux=True)
    assert (run.checkpoint, run.directory) == (prefix, str(tmp_path))
    assert isinstance(run.model.output, dict)  # the training model, aux heads included
    assert load_run(str(tmp_path)).checkpoint == os.path.join(str(tmp_path), BEST_DIR, "ckpt-1")


def test_checkpoint_without_config_is_one_line_naming_the_path(tmp_path):
    _save_run(tmp_path)
    os.remove(tmp_path / "config.json")
    with pytest.raises(
        FileNotFoundError, match=f"no config.json found with checkpoint '{tmp_path}'"
    ) as error:
        load_run(str(tmp_path))
    assert "\n" not in str(error.value)


def test_best_checkpoint_is_preferred(tmp_path):
    _save_run(tmp_path)
    _save_run(tmp_path, subdir=BEST_DIR)
    assert os.sep + BEST_DIR + os.sep in find_checkpoint(str(tmp_path))
    assert os.sep + LATEST_DIR + os.sep in find_checkpoint(str(tmp_path), which="latest")


def test_directory_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        find_checkpoint(str(tmp_path))


def test_class_count_mismatch_is_a_clear_error(tmp_path):
    _save_run(tmp_path, num_classes=3)
    config = Config.load(str(tmp_path))
    config.model.num_classes = 4
    config.save(str(tmp_path))
    with pytest.raises(
        ValueError, match="'.*ckpt-1' does not match a fast_scnn with 4 classes"
    ) as error:
        load_run(str(tmp_path))
    assert "\n" not in str(error.value)


def _two_checkpoints(model_dir):
    """checkpoints/ckpt-1 and ckpt-2 of a 3-class run, with different weights; returns the
    models saved in each."""
    Config().override("model", "num_classes", 3).save(str(model_dir))
    models = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        models.append(build_fast_scnn(num_classes=3, aux=True))
        tf.train.CheckpointManager(
            make_checkpoint(models[-1]), os.path.join(model_dir, LATEST_DIR), 3
        ).save(checkpoint_number=seed)
    return models


def _damage(prefix, how):
    data = prefix + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        if how == "truncated":
            f.truncate(os.path.getsize(data) // 2)
        else:  # flipped bytes in the middle: only the checksum notices
            f.seek(os.path.getsize(data) // 2)
            f.write(bytes(b ^ 0xFF for b in f.read(64)))
    return data


@pytest.mark.slow  # 2-4 s on 2 cores: make test runs it, make test-fast does not
@pytest.mark.parametrize("how", ["truncated", "checksum"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path, caplog, how):
    older, _ = _two_checkpoints(tmp_path)
    data_file = _damage(str(tmp_path / LATEST_DIR / "ckpt-2"), how)
    with caplog.at_level(logging.WARNING):
        run = load_run(str(tmp_path), which="latest")  # as evaluate.py --which latest
    assert run.checkpoint.endswith("ckpt-1")
    loaded = run.model
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(data_file in w for w in warnings), warnings
    images = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        loaded(images, training=False), older(images, training=False)["logits"]
    )


def test_a_damaged_checkpoint_named_explicitly_or_alone_is_one_line(tmp_path):
    _two_checkpoints(tmp_path)
    data_file = _damage(str(tmp_path / LATEST_DIR / "ckpt-2"), "truncated")
    with pytest.raises(ValueError, match=f"'{data_file}' is damaged") as error:
        find_checkpoint(str(tmp_path / LATEST_DIR / "ckpt-2"))
    assert "\n" not in str(error.value)
    _damage(str(tmp_path / LATEST_DIR / "ckpt-1"), "checksum")
    with pytest.raises(ValueError, match="every checkpoint in .* is damaged"):
        newest_intact(str(tmp_path / LATEST_DIR))


def test_relative_model_dir_is_found(tmp_path, monkeypatch):
    """A run folder named by a relative path (as `models/camvid` in the README)."""
    import tensorflow as tf

    from fast_scnn_tf.training.checkpoint import find_checkpoint

    monkeypatch.chdir(tmp_path)
    step = tf.Variable(3, dtype=tf.int64)
    tf.train.CheckpointManager(tf.train.Checkpoint(step=step), os.path.join("run", "best"), 1).save(
        checkpoint_number=3
    )
    assert find_checkpoint("run") == os.path.join("run", "best", "ckpt-3")
