"""One writer per run folder: a second training process is refused with a line naming the
holder; a killed holder leaves nothing stuck; a model dir that is a file or cannot be written is
one line too."""

import multiprocessing
import os
import signal
import socket

import pytest

from fast_scnn_tf.config import Config
from fast_scnn_tf.training import train
from fast_scnn_tf.training.run_folder import LOCK_FILE, RunFolderBusy, locked_run_folder


@pytest.fixture(scope="module")
def config(synthetic_cityscapes):
    root = synthetic_cityscapes(num_train=2, num_val=1)
    return Config().override("data", "data_dir", root).override("data", "crop_size", (64, 64))


def test_a_second_writer_is_refused_naming_the_holder(config, tmp_path):
    model_dir = str(tmp_path / "run")
    with locked_run_folder(model_dir):
        with pytest.raises(RunFolderBusy) as error:
            train(config, model_dir, progress=False)
    message = str(error.value)
    assert model_dir in message and f"pid {os.getpid()}" in message
    assert socket.gethostname() in message and "started 20" in message
    assert "\n" not in message
    assert os.listdir(model_dir) == [LOCK_FILE]  # the refused run wrote nothing


def _hold(model_dir, ready):
    with locked_run_folder(model_dir):
        ready.set()
        signal.pause()


def test_the_lock_of_a_killed_process_is_released(tmp_path):
    model_dir = str(tmp_path / "run")
    context = multiprocessing.get_context("fork")
    ready = context.Event()
    holder = context.Process(target=_hold, args=(model_dir, ready), daemon=True)
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(RunFolderBusy, match=f"pid {holder.pid} "):
            with locked_run_folder(model_dir):
                pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up code runs
        holder.join(60)
    with locked_run_folder(model_dir):  # the kernel released it with the process
        pass


def test_a_model_dir_that_is_a_file_is_one_line(config, tmp_path):
    path = tmp_path / "run"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match=f"^model dir '{path}' is a file"):
        train(config, str(path), progress=False)
    with pytest.raises(ValueError, match="cannot be written .*Not a directory"):
        train(config, str(path / "inside"), progress=False)


def test_a_model_dir_that_cannot_be_written_is_one_line(config, tmp_path, monkeypatch):
    def refuse(path, *args, **kwargs):  # as on a read-only folder (chmod does not stop root)
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ValueError, match=r"model dir '.*' cannot be written \(Permission denied\)"):
        train(config, str(tmp_path), progress=False)


def _listing(root):
    return sorted(
        os.path.relpath(os.path.join(d, n), root)
        for d, dirs, files in os.walk(root)
        for n in dirs + files
    )


def test_a_saved_model_version_folder_is_refused_as_a_model_dir(config, tmp_path, capsys):
    import tensorflow as tf

    import train as train_cli

    export = tmp_path / "exports" / "fast_scnn" / "1"
    tf.saved_model.save(tf.Module(), str(export))
    before = _listing(export)
    rc = train_cli.main(
        [
            "--data-dir",
            config.data.data_dir,
            "--model-dir",
            str(export),
            "--crop-size",
            "64",
            "64",
            "--epochs",
            "1",
            "--batch-size",
            "1",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1, err
    assert f"'{export}'" in err and "saved_model.pb" in err and "export" in err
    assert _listing(export) == before  # no lock, no config.json, no checkpoint


def test_a_model_dir_holding_other_files_is_refused_naming_one(config, tmp_path):
    folder = tmp_path / "thesis"
    (folder / "src").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    with pytest.raises(ValueError, match=f"model dir '{folder}' holds '{folder}/src'.* not a run"):
        train(config, str(folder), progress=False)
    assert _listing(folder) == ["src", "thesis.tex"]


def test_a_model_dir_left_by_a_run_that_failed_its_checks_is_accepted(tmp_path):
    # A run that stops before its first checkpoint leaves its lock (and TensorBoard logs) only.
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "events.out.tfevents.1.host").write_bytes(b"")
    (tmp_path / LOCK_FILE).write_text("")
    with locked_run_folder(str(tmp_path)):
        pass
