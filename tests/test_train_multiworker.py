"""Multi-worker training as on several machines, on one: two train.py processes with TF_CONFIG
naming two localhost workers (MultiWorkerMirroredStrategy, CPU, ring collectives), on the
synthetic set. Pins that both workers end with bit-identical weights, that only the chief writes
the run folder (the run-folder lock does not block the other worker), that a restart of both
resumes at the saved step, and that the first step matches one process with the same global batch.

The single-process reference is MirroredStrategy over two logical CPUs: the same two replicas of 2
frames, the same gradient sum, another summation order. After one step the weights agree to
float32 rounding (measured max |difference| 1.2e-7 to 2.8e-7; tolerance 1e-5), while a worker
that trained on the wrong frames or missed the gradient exchange would be off by ~1e-2. Later
steps are not compared: at these sizes the problem is ill-conditioned (BatchNorm over each
replica's 2 frames on the 1x1 pyramid-pooling bin; a 1e-6 relative change of the input moves the
gradients by 17%), so two correct float32 runs drift apart within 2-3 steps (max 0.1 after 4). One
device taking all 4 frames is a different computation (BatchNorm over 4 frames), not a reference.
"""

import json
import os
import re
import socket

import numpy as np
import pytest
import tensorflow as tf

import children
from paths import ROOT

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": ""}
# 8 frames, global batch 4: 2 steps per epoch, 4 in all; the first launch stops at step 1.
ARGS = [
    "--epochs",
    "2",
    "--batch-size",
    "4",
    "--crop-size",
    "64",
    "128",
    "--deterministic",
    "--eval-every",
    "0",
    "--checkpoint-every",
    "100",
    "--log-every",
    "1",
    "--no-progress",
]
TOLERANCE = 1e-5
WORKERS = ["worker0", "worker1"]


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    """As `python -m fast_scnn_tf.synthetic --out DIR --num-train 8 --num-val 4
    --size 128 256 --seed 0`."""
    return synthetic_cityscapes(num_train=8, num_val=4, size=(128, 256))


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_two_workers(data_dir, model_dir, logs, *extra) -> dict:
    """Both workers' train.py, started: {name: (process, log path)}."""
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = {}
    for index, name in enumerate(WORKERS):
        tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        scratch = logs / f"tmp{index}"  # where the worker's TemporaryDirectory goes
        scratch.mkdir(exist_ok=True)
        command = ["train.py", "--data-dir", data_dir, "--model-dir", model_dir]
        command += ["--strategy", "multiworker", *ARGS, *extra]
        env = {**ENV, "TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(scratch)}
        workers[name] = children.start(command, logs / f"{name}.log", env=env)
    return workers


def _logs(running: dict) -> list[str]:
    """Waits for the children to end; their logs, in order, once all exited with 0."""
    ended = children.wait_all(running, timeout=900)
    assert all(code == 0 for code, _ in ended.values()), "\n".join(
        f"{name}: {text[-3000:]}" for name, (_, text) in ended.items()
    )
    return [text for _, text in ended.values()]


def _digest(log: str) -> str:
    return re.search(r"weights sha256 ([0-9a-f]{16})", log).group(1)


def _values(prefix) -> dict:
    """Weights, BatchNorm statistics and momentum buffers."""
    reader = tf.train.load_checkpoint(prefix)
    return {
        name: reader.get_tensor(name)
        for name, dtype in reader.get_variable_to_dtype_map().items()
        if name.startswith(("model/", "optimizer/")) and dtype.is_floating
    }


def _run_folder_files(model_dir) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, f), model_dir)
        for d, _, files in os.walk(model_dir)
        for f in files
    }


@pytest.mark.slow
def test_two_workers_train_resume_and_match_one_process(data_dir, tmp_path):
    model_dir = str(tmp_path / "run")
    logs = tmp_path / "logs"
    logs.mkdir()

    # The first launch stops at step 1. Beside it (most of each process is TensorFlow's start-up,
    # on one thread), one process runs the same two replicas of 2 frames on two logical CPUs.
    first = _start_two_workers(data_dir, model_dir, logs, "--stop-at-step", "1")
    reference = str(tmp_path / "reference")
    script = (
        "import sys, tensorflow as tf\n"
        "tf.config.set_logical_device_configuration(tf.config.list_physical_devices('CPU')[0],"
        " [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "import train\n"
        "sys.exit(train.main(sys.argv[1:]))\n"
    )
    command = ["-c", script, "--data-dir", data_dir, "--model-dir", reference]
    command += ["--strategy", "mirrored", "--stop-at-step", "1", *ARGS]
    first["reference"] = children.start(command, logs / "reference.log", env=ENV)
    *first, single_log = _logs(first)
    assert all("CollectiveAllReduceStrategy, 2 replica(s)" in log for log in first)  # MWMS
    assert _digest(first[0]) == _digest(first[1])  # bit-identical models on both workers
    assert "MirroredStrategy, 2 replica(s)" in single_log
    workers = _values(os.path.join(model_dir, "checkpoints", "ckpt-1"))
    single = _values(os.path.join(reference, "checkpoints", "ckpt-1"))
    assert workers.keys() == single.keys()
    difference = max(float(np.max(np.abs(workers[k] - single[k]))) for k in single)
    print(f"max |multi-worker - single process| after one step = {difference:.3g}")
    assert difference <= TOLERANCE

    second = _logs(_start_two_workers(data_dir, model_dir, logs))
    for log in second:  # both restored the chief's checkpoint and ran the 3 remaining steps
        assert re.search(r"resuming from \S+/checkpoints/ckpt-1 at step 1", log), log[-3000:]
        assert "done at step 4 of 4" in log
    assert _digest(second[0]) == _digest(second[1])

    # Only the chief wrote the run folder: one TensorBoard file per launch, one validation line,
    # no files of the other worker; the lock is released (empty).
    assert not os.listdir(logs / "tmp1"), "worker 1 left its scratch checkpoints behind"
    files = _run_folder_files(model_dir)
    assert not [f for f in files if "worker" in f or "tmp" in f], files
    assert len([f for f in files if f.startswith("logs/")]) == 2, files
    assert len(open(os.path.join(model_dir, "train_log.jsonl")).readlines()) == 1
    assert os.path.getsize(os.path.join(model_dir, "train.lock")) == 0
    assert {"config.json", "checkpoints/ckpt-1.index", "checkpoints/ckpt-4.index"} <= files
