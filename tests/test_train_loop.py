"""The training loop on the synthetic street scenes at tiny crops: learning, checkpoints, exact
resume (also past a damaged checkpoint and with another batch size), NaN detection, mixed
precision, weight init from another run and TensorBoard output."""

import dataclasses
import glob
import json
import logging
import os
import shutil
import signal

import keras
import numpy as np
import pytest
import tensorflow as tf

import fabricate
from fast_scnn_tf import build_fast_scnn
from fast_scnn_tf.config import Config
from fast_scnn_tf.data import build_dataset
from fast_scnn_tf.training import (
    NonFiniteLossError,
    TrainingInterrupted,
    check_resume,
    init_from_checkpoint,
    train,
)
from fast_scnn_tf.training import loop as loop_module
from fast_scnn_tf.training.checkpoint import make_checkpoint
from fast_scnn_tf.training.data_checks import with_dataset_classes
from fast_scnn_tf.training.resume import resume
from fast_scnn_tf.training.trainer import make_train_step

NUM_TRAIN = 6  # batch 2 -> 3 steps per epoch


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=NUM_TRAIN, num_val=2)


def _config(data_dir, **train_values) -> Config:
    c = Config()
    c.data = dataclasses.replace(c.data, data_dir=data_dir, crop_size=(64, 96), deterministic=True)
    values = dict(
        batch_size=2, epochs=2, eval_every_epochs=0, checkpoint_every_steps=100, log_every_steps=1
    )
    values.update(train_values)
    c.train = dataclasses.replace(c.train, **values)
    return c


def _checkpoint_values(prefix):
    reader = tf.train.load_checkpoint(prefix)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith(("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter"))
    }


@pytest.fixture(scope="module")
def finished_run(data_dir, tmp_path_factory):
    """An uninterrupted 6-step run (2 epochs), validated at the end."""
    model_dir = str(tmp_path_factory.mktemp("uninterrupted"))
    config = _config(data_dir)
    summary = train(config, model_dir, progress=False)
    return config, model_dir, summary


@pytest.fixture(scope="module")
def interrupted_run(data_dir, tmp_path_factory):
    """The same run stopped at step 4 (mid-epoch 2), with checkpoints at steps 2 and 4; tests
    resume copies of it."""
    model_dir = str(tmp_path_factory.mktemp("interrupted"))
    summary = train(
        _config(data_dir, checkpoint_every_steps=2), model_dir, stop_at_step=4, progress=False
    )
    assert (summary["step"], summary["steps_run"]) == (4, 4)
    return model_dir


def _copy_run(source, tmp_path):
    return shutil.copytree(source, str(tmp_path / "run"))


@pytest.mark.slow
def test_a_few_steps_on_one_batch_lower_the_loss(data_dir):
    config = _config(data_dir)
    keras.utils.set_random_seed(0)
    model = build_fast_scnn(num_classes=19, aux=True)
    step = tf.Variable(0, dtype=tf.int64)
    optimizer = keras.optimizers.SGD(learning_rate=0.045, momentum=0.9)
    train_step = make_train_step(model, optimizer, tf.distribute.get_strategy(), config, step)
    batch = next(iter(build_dataset(config.data, "train", training=True, batch_size=2, seed=0)))
    iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
    losses = [float(train_step(iterator)["loss"]) for _ in range(6)]
    assert int(step.numpy()) == 6
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.slow
def test_run_writes_config_checkpoints_history_and_tensorboard(finished_run):
    config, model_dir, summary = finished_run
    assert summary["step"] == summary["total_steps"] == 6
    assert Config.load(model_dir) == with_dataset_classes(config)
    assert summary["latest_checkpoint"].endswith(os.path.join("checkpoints", "ckpt-6"))
    assert summary["best_checkpoint"].endswith(os.path.join("best", "ckpt-6"))
    with open(os.path.join(model_dir, "train_log.jsonl")) as f:
        history = [json.loads(line) for line in f]
    assert [h["step"] for h in history] == [6]
    assert history[0]["miou"] == pytest.approx(summary["best_miou"])
    plugins = {}
    for event_file in glob.glob(os.path.join(model_dir, "logs", "events.*")):
        for event in tf.compat.v1.train.summary_iterator(event_file):
            for value in event.summary.value:
                plugins[value.tag] = value.metadata.plugin_data.plugin_name
    assert plugins["train/loss"] == plugins["train/learning_rate"] == "scalars"
    assert plugins["val/miou"] == "scalars"
    assert plugins["val/prediction_0"] == "images"


@pytest.mark.slow
def test_resume_after_interruption_matches_the_uninterrupted_run(
    finished_run, interrupted_run, tmp_path
):
    config, uninterrupted_dir, _ = finished_run
    model_dir = _copy_run(interrupted_run, tmp_path)
    assert (
        int(
            _checkpoint_values(os.path.join(model_dir, "checkpoints", "ckpt-4"))[
                "step/.ATTRIBUTES/VARIABLE_VALUE"
            ]
        )
        == 4
    )
    second = train(config, model_dir, progress=False)
    # It restored step 4 and ran only the 2 remaining steps (a skipped restore would run all 6
    # and, with the same seed, still end at the same weights).
    assert (second["start_step"], second["steps_run"], second["step"]) == (4, 2, 6)
    resumed = _checkpoint_values(second["latest_checkpoint"])
    reference = _checkpoint_values(os.path.join(uninterrupted_dir, "checkpoints", "ckpt-6"))
    assert resumed.keys() == reference.keys()
    # Weights, BN statistics, momentum buffers, step and dropout RNG all agree.
    for name, value in reference.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.slow
def test_a_damaged_latest_checkpoint_resumes_from_the_newest_intact_one(
    data_dir, interrupted_run, tmp_path, caplog
):
    model_dir = _copy_run(interrupted_run, tmp_path)
    data_file = os.path.join(model_dir, "checkpoints", "ckpt-4.data-00000-of-00001")
    with open(data_file, "r+b") as f:  # truncated, as by a full disk
        f.truncate(os.path.getsize(data_file) // 2)
    with caplog.at_level(logging.WARNING):
        summary = train(
            _config(data_dir, checkpoint_every_steps=2), model_dir, stop_at_step=3, progress=False
        )
    assert (summary["start_step"], summary["steps_run"]) == (2, 1)
    assert any(data_file in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


@pytest.mark.slow
def test_resume_with_another_batch_size_keeps_counting_frames(
    data_dir, interrupted_run, tmp_path, caplog
):
    """Step 4 at batch 2 is 8 frames (1.33 epochs of 6); at batch 3 that is step 2 (floor), of a
    2-epoch run of 2 steps per epoch: 2 steps remain (not "nothing to do: step 4, run ends at
    4")."""
    model_dir = _copy_run(interrupted_run, tmp_path)
    with caplog.at_level(logging.WARNING):
        summary = train(
            _config(data_dir, batch_size=3, checkpoint_every_steps=2), model_dir, progress=False
        )
    assert (summary["start_step"], summary["steps_run"], summary["step"]) == (2, 2, 4)
    assert summary["total_steps"] == 4
    assert any("batch size 2 -> 3" in r.getMessage() for r in caplog.records)
    again = train(
        _config(data_dir, batch_size=3, checkpoint_every_steps=2), model_dir, progress=False
    )  # the checkpoint now holds batch 3: nothing converted
    assert (again["start_step"], again["steps_run"]) == (4, 0)


@pytest.mark.slow
def test_non_finite_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(
    data_dir, tmp_path
):
    config = _config(data_dir, learning_rate=1e12, checkpoint_every_steps=1, epochs=4)
    with pytest.raises(NonFiniteLossError, match=r"at step (\d+)") as error:
        train(config, str(tmp_path), progress=False)
    bad_step = int(error.value.args[0].split("at step ")[1].split()[0])
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    assert latest is not None and latest.endswith(f"ckpt-{bad_step}")  # the step before the NaN
    for name, value in _checkpoint_values(latest).items():
        assert np.all(np.isfinite(value)), name


@pytest.mark.slow
def test_a_step_that_overflows_the_weights_is_never_saved_as_good(data_dir, tmp_path):
    # At SGD 1e38 the first step's loss and gradients are finite but the update overflows
    # float32: that state must not be saved, nor called the last good checkpoint.
    config = _config(data_dir, learning_rate=1e38, checkpoint_every_steps=1, epochs=4)
    with pytest.raises(NonFiniteLossError, match=r"at step 0 .*last good checkpoint is none"):
        train(config, str(tmp_path), progress=False)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")) is None


@pytest.mark.slow  # a training run (or a model build) of several seconds
def test_sigterm_during_validation_stops_before_the_rest_of_it(data_dir, tmp_path, monkeypatch):
    # A scheduler's grace period is short: the signal must not wait for the whole validation.
    frames = []
    real_evaluate = loop_module.evaluate

    def evaluate(model, dataset, classes, **kwargs):
        def on_prediction(name, image, prediction):
            frames.append(name)
            if len(frames) == 1:
                os.kill(os.getpid(), signal.SIGTERM)

        return real_evaluate(model, dataset, classes, **dict(kwargs, on_prediction=on_prediction))

    monkeypatch.setattr(loop_module, "evaluate", evaluate)
    with pytest.raises(TrainingInterrupted, match="at step 3"):
        train(_config(data_dir, eval_every_epochs=1), str(tmp_path), progress=False)
    assert len(frames) == 1  # of the 2 val frames
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-3")
    assert tf.train.latest_checkpoint(str(tmp_path / "best")) is None  # half a validation


def _sigterm_on_the_first_val_frame(monkeypatch, at_step):
    """Make `train` stop by SIGTERM on the first frame of the validation at `at_step`."""
    real_evaluate, real_validate = loop_module.evaluate, loop_module.Loop._validate
    current = {}

    def validate(self, done, should_stop):
        current["step"] = done
        return real_validate(self, done, should_stop)

    def evaluate(model, dataset, classes, **kwargs):
        def on_prediction(name, image, prediction):
            if current["step"] == at_step:
                os.kill(os.getpid(), signal.SIGTERM)

        return real_evaluate(model, dataset, classes, **dict(kwargs, on_prediction=on_prediction))

    monkeypatch.setattr(loop_module.Loop, "_validate", validate)
    monkeypatch.setattr(loop_module, "evaluate", evaluate)


def _validated_steps(model_dir):
    with open(os.path.join(model_dir, "train_log.jsonl")) as f:
        return [json.loads(line)["step"] for line in f]


@pytest.mark.slow
def test_a_final_validation_stopped_by_sigterm_runs_on_resume(data_dir, tmp_path, monkeypatch):
    # The run's last step is saved with the stop; the resume has no step left, but still owes
    # the validation the signal cut short (it used to log "nothing to do ... best None").
    model_dir = str(tmp_path)
    config = _config(data_dir, epochs=1)
    with monkeypatch.context() as patch:
        _sigterm_on_the_first_val_frame(patch, at_step=3)
        with pytest.raises(TrainingInterrupted, match="at step 3"):
            train(config, model_dir, progress=False)
    assert tf.train.latest_checkpoint(str(tmp_path / "best")) is None
    summary = train(config, model_dir, progress=False)
    assert summary["steps_run"] == 0
    assert summary["best_miou"] is not None and summary["val"] is not None
    assert summary["best_checkpoint"].endswith("ckpt-3")
    assert _validated_steps(model_dir) == [3]
    assert train(config, model_dir, progress=False)["steps_run"] == 0  # validated only once
    assert _validated_steps(model_dir) == [3]


@pytest.mark.slow
def test_a_scheduled_validation_stopped_by_sigterm_runs_on_resume(data_dir, tmp_path, monkeypatch):
    model_dir = str(tmp_path)
    config = _config(data_dir, epochs=2, eval_every_epochs=1)
    with monkeypatch.context() as patch:
        _sigterm_on_the_first_val_frame(patch, at_step=3)
        with pytest.raises(TrainingInterrupted, match="at step 3"):
            train(config, model_dir, progress=False)
    summary = train(config, model_dir, progress=False)
    assert (summary["start_step"], summary["step"]) == (3, 6)
    assert _validated_steps(model_dir) == [3, 6]


@pytest.mark.slow
def test_mixed_precision_trains_and_restores_the_global_policy(data_dir, tmp_path):
    config = _config(data_dir, mixed_precision=True)
    summary = train(config, str(tmp_path), stop_at_step=2, progress=False)
    assert summary["step"] == 2
    assert keras.mixed_precision.global_policy().name == "float32"
    values = _checkpoint_values(summary["latest_checkpoint"])
    assert any("dynamic_scale" in name for name in values)  # the loss-scale optimizer ran
    assert all(np.all(np.isfinite(v)) for v in values.values() if v.dtype.kind == "f")


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_init_checkpoint_restores_matching_variables_and_reports_the_rest(tmp_path):
    source_dir = str(tmp_path / "source")
    source = build_fast_scnn(num_classes=19, aux=True)
    fabricate.run_folder(source_dir, model=source)
    model = build_fast_scnn(num_classes=5, aux=True)
    restored, not_restored = init_from_checkpoint(model, source_dir)
    heads = {
        f"{head}_logits/{w}" for head in ("cls", "aux_ltd", "aux_gfe") for w in ("kernel", "bias")
    }
    assert heads <= set(not_restored)
    assert "ltd_conv_conv/kernel" in restored
    assert len(restored) + len(not_restored) == len(model.variables)
    source_values = {v.path: v.numpy() for v in source.variables}
    for v in model.variables:
        if v.path in restored:
            np.testing.assert_array_equal(v.numpy(), source_values[v.path])


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_init_checkpoint_of_another_model_family_is_refused_naming_both(tmp_path):
    # Fast-SCNN from an FFNet run matched 0 variables and trained from scratch with exit 0.
    source_dir = str(tmp_path / "ffnet")
    config = Config()
    config.model = dataclasses.replace(config.model, name="ffnet40S_dBBB_mobile")
    fabricate.run_folder(source_dir, config=config)
    model = build_fast_scnn(num_classes=19, aux=True)
    before = [v.numpy() for v in model.variables]
    with pytest.raises(ValueError, match=r"ffnet40S_dBBB_mobile.*fast_scnn"):
        init_from_checkpoint(model, source_dir)
    for value, variable in zip(before, model.variables):
        np.testing.assert_array_equal(value, variable.numpy())  # nothing half-copied


@pytest.mark.slow  # a training run (or a model build) of several seconds
def test_partial_checkpoint_folders_of_a_killed_save_are_removed_on_the_next_start(
    finished_run, tmp_path, caplog
):
    # A kill or a full disk during a save leaves ckpt-N_temp/ (3-7 MB each) behind.
    config, model_dir, _ = finished_run
    model_dir = _copy_run(model_dir, tmp_path)
    partial = os.path.join(model_dir, "checkpoints", "ckpt-9_temp")
    os.makedirs(partial)
    with open(os.path.join(partial, "part-00000-of-00001.data-00000-of-00001"), "wb") as f:
        f.write(b"\0" * 1000)
    with caplog.at_level(logging.INFO):
        summary = train(config, model_dir, progress=False)
    assert summary["steps_run"] == 0
    assert not os.path.exists(partial)
    assert any("ckpt-9_temp" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("recorded", [True, False])
def test_resume_converts_a_step_counted_in_another_batch_size(tmp_path, recorded):
    """Checkpoints hold their batch size; older ones (without it) take the saved config's."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    saved = dict(step=tf.Variable(5, dtype=tf.int64))
    if recorded:
        saved["batch_size"] = tf.Variable(4, dtype=tf.int64)
    tf.train.CheckpointManager(make_checkpoint(model, **saved), str(tmp_path), 1).save(5)
    trackables = dict(
        step=tf.Variable(0, dtype=tf.int64), batch_size=tf.Variable(0, dtype=tf.int64)
    )
    prefix = resume(
        str(tmp_path), model, trackables, batch_size=8, saved_batch_size=4 if not recorded else 99
    )
    assert prefix.endswith("ckpt-5")
    assert int(trackables["step"].numpy()) == 5 * 4 // 8  # 20 frames seen: step 2 at batch 8
    assert int(trackables["batch_size"].numpy()) == 8  # what the next checkpoint records


def test_resume_refuses_a_different_class_count(tmp_path):
    saved = Config()
    saved.save(str(tmp_path))
    other = Config()
    other.model.num_classes = 5
    with pytest.raises(ValueError, match="new --model-dir"):
        check_resume(other, str(tmp_path))


@pytest.mark.slow  # a training run (or a model build) of several seconds
def test_a_run_at_input_scale_2_validates_at_that_scale_and_records_it(data_dir, tmp_path):
    """Validation feeds the val frames at 2x (its TensorBoard pictures too) and scores them at
    the labels' size; the run records the frame size it was trained to see."""
    config = _config(data_dir, epochs=1, total_steps=1)
    config.data = dataclasses.replace(config.data, input_scale=2.0)
    summary = train(config, str(tmp_path), progress=False)
    assert summary["val"]["num_frames"] == 2
    assert Config.load(str(tmp_path)).model.input_size == (128, 256)  # 64x128 frames x 2
