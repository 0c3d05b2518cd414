"""Exports are replaced without a moment with no model, killed exports leave no staging folders
behind for long, and a TFLite file's JSON never describes a model that is not there yet."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from fast_scnn_tf import files
from fast_scnn_tf.config import Config, ModelConfig
from fast_scnn_tf.export import exporter
from fast_scnn_tf.files import staging_dir


@pytest.mark.parametrize("exchange", [True, False])  # False: a system without renameat2
def test_overwrite_moves_the_new_version_in_before_deleting_the_old(
    tmp_path, monkeypatch, exchange
):
    if not exchange:
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    final = tmp_path / "fast_scnn" / "1"
    final.mkdir(parents=True)
    (final / "saved_model.pb").write_text("old")
    seen = []  # what a TF Serving poll would find at `final` whenever a folder is deleted
    real_rmtree = shutil.rmtree

    def watching_rmtree(path, *args, **kwargs):
        model = final / "saved_model.pb"
        seen.append(model.read_text() if model.exists() else None)
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(files.shutil, "rmtree", watching_rmtree)
    with staging_dir(str(final)) as tmp:
        with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
            f.write("new")
    assert (final / "saved_model.pb").read_text() == "new"
    assert seen and all(model == "new" for model in seen)
    assert os.listdir(final.parent) == ["1"]  # the old version and the staging folder are gone


def test_replacing_a_version_never_leaves_its_path_without_a_model(tmp_path, monkeypatch):
    # Moving the old folder aside and the new one in left a moment with neither, which a tight
    # poll (TF Serving polls the base path) once saw. Checked after every rename.
    final = tmp_path / "fast_scnn" / "1"
    final.mkdir(parents=True)
    (final / "saved_model.pb").write_text("old")
    seen = []
    real_replace = os.replace

    def watching_replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        model = final / "saved_model.pb"
        seen.append(model.read_text() if model.exists() else None)

    monkeypatch.setattr(files.os, "replace", watching_replace)
    with staging_dir(str(final)) as tmp:
        with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
            f.write("new")
    assert (final / "saved_model.pb").read_text() == "new"
    assert None not in seen


def test_a_staged_folder_gets_the_permissions_of_the_umask(tmp_path):
    # mkdtemp makes 0700 folders: TF Serving running as another user could not read the export.
    previous = os.umask(0o022)
    try:
        with staging_dir(str(tmp_path / "fast_scnn" / "1")) as tmp:
            with open(os.path.join(tmp, "saved_model.pb"), "w") as f:
                f.write("new")
    finally:
        os.umask(previous)
    assert (os.stat(tmp_path / "fast_scnn" / "1").st_mode & 0o777) == 0o755


def test_stale_staging_folders_are_cleaned_by_the_next_export(tmp_path):
    root = tmp_path / "fast_scnn"
    root.mkdir()
    finished = subprocess.Popen(["true"])
    finished.wait()  # its PID is gone: a killed export's folder
    host = socket.gethostname()
    killed = root / f".1.tmp-{host}-{finished.pid}-x1"
    running = root / f".2.tmp-{host}-{os.getpid()}-x2"  # an export still at work
    old_unnamed = root / ".3.tmp-abc123"  # no PID in the name (older versions): by age
    recent_unnamed = root / ".4.tmp-def456"
    for folder in (killed, running, old_unnamed, recent_unnamed):
        folder.mkdir()
        (folder / "variables").mkdir()
    two_days_ago = time.time() - 2 * 86400
    os.utime(old_unnamed, (two_days_ago, two_days_ago))
    with staging_dir(str(root / "5")):
        pass
    assert sorted(os.listdir(root)) == sorted([running.name, recent_unnamed.name, "5"])


def test_tflite_json_is_written_after_the_model(tmp_path, monkeypatch):
    """A reader that finds the JSON must find the .tflite it describes."""
    order = []
    monkeypatch.setattr(exporter.tflite, "interpreter", lambda content: None)
    monkeypatch.setattr(exporter, "validate", lambda *args: {"agreement": 1.0})
    monkeypatch.setattr(exporter, "write_bytes", lambda path, data: order.append(path))
    monkeypatch.setattr(exporter, "write_json", lambda path, data: order.append(path))
    exporter.write_tflite(
        b"model",
        None,
        Config(model=ModelConfig(num_classes=5)),
        str(tmp_path),
        "cls",
        "float32",
        (64, 96),
        frames=[],
    )
    assert [os.path.splitext(p)[1] for p in order] == [".tflite", ".json"]
