"""files.py's writers never follow a link they did not create: the temporary file a write goes
through is created exclusively, so a link planted at a predictable name (`<name>.tmp`) in an
output folder cannot redirect the write or be renamed into place."""

import json
import os

import numpy as np
import pytest

from fast_scnn_tf import files

WRITERS = {
    "write_bytes": (lambda path: files.write_bytes(path, b"new"), b"new"),
    "write_json": (
        lambda path: files.write_json(path, {"a": 1}),
        (json.dumps({"a": 1}, indent=2) + "\n").encode(),
    ),
    "write_png": (lambda path: files.write_png(path, np.zeros((2, 3), np.uint8)), None),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_a_link_planted_at_the_temporary_name_is_never_written_through(
    tmp_path, monkeypatch, writer
):
    write, expected = WRITERS[writer]
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "street_labels.png"
    (out / "street_labels.png.tmp").symlink_to(victim)
    planted = set(os.listdir(out))
    renamed = []  # what each rename moved into place, as it was just before the rename
    real_replace = os.replace

    def watching_replace(src, dst, *args, **kwargs):
        renamed.append((os.path.basename(src), os.path.islink(src)))
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(files.os, "replace", watching_replace)
    write(str(target))
    assert victim.read_bytes() == b"keep"
    assert not target.is_symlink() and target.is_file()
    if expected is not None:
        assert target.read_bytes() == expected
    assert renamed and all(name not in planted and not link for name, link in renamed)
    assert (out / "street_labels.png.tmp").is_symlink()  # left alone, not followed


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep")
    target = tmp_path / "metrics.json"
    target.symlink_to(victim)
    files.write_json(str(target), {"miou": 0.5})
    assert victim.read_bytes() == b"keep"
    assert not target.is_symlink() and json.loads(target.read_text()) == {"miou": 0.5}


def test_a_written_file_gets_the_permissions_of_the_umask(tmp_path):
    # A private temporary file is 0600; what is renamed into place must be readable as before.
    previous = os.umask(0o022)
    try:
        files.write_bytes(str(tmp_path / "model.tflite"), b"model")
    finally:
        os.umask(previous)
    assert (os.stat(tmp_path / "model.tflite").st_mode & 0o777) == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    target.write_text("old")

    def failing_replace(src, dst, *args, **kwargs):
        raise OSError(28, "No space left on device", dst)

    monkeypatch.setattr(files.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        files.write_json(str(target), {"new": True})
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["config.json"]
