"""train.py and the loop in their own processes: the issue's command line, SIGTERM, and a
MirroredStrategy over two logical CPUs (which must be configured before TensorFlow starts)."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from paths import ROOT

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=4, num_val=1)


def _train_cli(*args):
    return [sys.executable, os.path.join(ROOT, "train.py"), *args]


@pytest.mark.slow
def test_issue_command_line_trains_one_epoch_and_saves(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    result = subprocess.run(
        _train_cli(
            "--data-dir",
            data_dir,
            "--model-dir",
            model_dir,
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--crop-size",
            "64",
            "128",
        ),
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for line in (
        "1 replica(s)",
        "4 train / 1 val frames",
        "2 steps per epoch",
        "2 total steps",
        "val mIoU",
    ):
        assert line in result.stderr
    assert os.path.isfile(os.path.join(model_dir, "config.json"))
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")).endswith("ckpt-2")
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "best")) is not None


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_143(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    process = subprocess.Popen(
        _train_cli(
            "--data-dir",
            data_dir,
            "--model-dir",
            model_dir,
            "--epochs",
            "500",
            "--batch-size",
            "2",
            "--crop-size",
            "64",
            "64",
            "--eval-every",
            "0",
            "--checkpoint-every",
            "100000",
            "--no-progress",
            "--stop-at-step",
            "200",
        ),
        cwd=ROOT,
        env=ENV,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in process.stderr:  # the handlers are in place once the first epoch starts
            if "epoch 1/" in line:
                process.send_signal(signal.SIGTERM)
                break
        rest = process.communicate(timeout=300)[1]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGTERM, rest[-3000:]
    assert "stopped by SIGTERM" in rest
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
    assert latest is not None and int(latest.rsplit("-", 1)[1]) >= 1


@pytest.mark.slow
def test_mirrored_strategy_over_two_logical_cpus_trains(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    script = textwrap.dedent(f"""
        import dataclasses, json, logging
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from fast_scnn_tf.config import Config
        from fast_scnn_tf.training import train
        logging.basicConfig(level=logging.INFO)
        c = Config()
        c.data = dataclasses.replace(c.data, data_dir={data_dir!r}, crop_size=(64, 64),
                                     deterministic=True)
        c.train = dataclasses.replace(c.train, strategy="mirrored", batch_size=2, epochs=2,
                                      eval_every_epochs=1, log_every_steps=1)
        print("SUMMARY", json.dumps(train(c, {model_dir!r}, progress=False)))
        """)
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy, 2 replica(s)" in result.stderr
    assert "1 per replica" in result.stderr
    assert '"step": 4' in result.stdout
    reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints", "ckpt-4"))
    kernel = [
        n
        for n in reader.get_variable_to_shape_map()
        if n.startswith("model/") and n.endswith("VARIABLE_VALUE")
    ]
    assert kernel and all(np.all(np.isfinite(reader.get_tensor(n))) for n in kernel)
