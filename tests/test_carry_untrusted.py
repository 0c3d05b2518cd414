"""A carry folder is untrusted input (it arrives through git from another machine): `unpack`
writes only inside the run folder, follows no links, hash-checks every file including the
checkpoint index, which may name only the carried checkpoint, and refuses a malformed manifest in
one line before writing anything; `pack` replaces only a carry folder it wrote.

These use a run folder of stand-in files (the carry never reads the checkpoint's contents); a
resume from a real carried run is test_train_carry.py's."""

import hashlib
import json
import os

import pytest

from fast_scnn_tf.training import carry

INDEX_TEXT = 'model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n'


def _run(path):
    """A run folder as train.py leaves it, at step 4."""
    (path / "checkpoints").mkdir(parents=True)
    (path / "checkpoints" / "ckpt-4.index").write_bytes(b"index")
    (path / "checkpoints" / "ckpt-4.data-00000-of-00001").write_bytes(b"weights")
    (path / "checkpoints" / "checkpoint").write_text(INDEX_TEXT)
    (path / "config.json").write_text("{}\n")
    (path / "train_log.jsonl").write_text("")
    return str(path)


@pytest.fixture
def packed(tmp_path):
    """tmp/carry/x packed from a run; tmp/runs/ holds a sibling run a carry must not touch."""
    carry.pack(_run(tmp_path / "source_run"), str(tmp_path / "carry" / "x"))
    _run(tmp_path / "runs" / "victim")
    return tmp_path / "carry" / "x"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _edit_manifest(folder, edit):
    path = folder / "carry.json"
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps(edit(manifest)))


def _unpack_refused(packed, capsys, *words):
    """Unpack into tmp/runs/next: refused in one line holding `words`, nothing written."""
    runs = packed.parent.parent / "runs"
    victim = {p: p.read_bytes() for p in (runs / "victim").rglob("*") if p.is_file()}
    capsys.readouterr()
    assert carry.main(["unpack", str(packed), str(runs / "next")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("carry: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    assert sorted(os.listdir(runs)) == ["victim"]
    assert {p: p.read_bytes() for p in (runs / "victim").rglob("*") if p.is_file()} == victim
    return err


# 1. Names confined to the run folder.


@pytest.mark.parametrize("kind", ["dot-dot", "absolute"])
def test_a_manifest_name_outside_the_run_folder_is_refused(packed, capsys, kind):
    evil = b'{"evil": true}\n'
    if kind == "dot-dot":  # read from carry/victim/, written to runs/victim/
        name = "../victim/config.json"
        (packed.parent / "victim").mkdir()
        (packed.parent / "victim" / "config.json").write_bytes(evil)
    else:
        name = str(packed.parent.parent / "runs" / "victim" / "config.json")
    _edit_manifest(packed, lambda m: {**m, "sha256": {**m["sha256"], name: _sha256(evil)}})
    _unpack_refused(packed, capsys, "carry.json", name, "inside")


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_link_in_the_carry_folder_is_not_followed(packed, capsys, link):
    secret = packed.parent.parent / "secret"
    secret.mkdir()
    if link == "file":  # config.json -> a file elsewhere, with that file's hash
        (secret / "config.json").write_text('{"secret": 1}\n')
        (packed / "config.json").unlink()
        (packed / "config.json").symlink_to(secret / "config.json")
        digest = _sha256((secret / "config.json").read_bytes())
        _edit_manifest(packed, lambda m: {**m, "sha256": {**m["sha256"], "config.json": digest}})
        _unpack_refused(packed, capsys, "config.json", "link")
    else:  # checkpoints/ -> a folder elsewhere holding the same files
        os.rename(packed / "checkpoints", secret / "checkpoints")
        (packed / "checkpoints").symlink_to(secret / "checkpoints")
        _unpack_refused(packed, capsys, "checkpoints", "link")


def test_a_run_folder_that_is_a_link_is_refused(packed, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "runs" / "next").symlink_to(elsewhere)
    capsys.readouterr()
    assert carry.main(["unpack", str(packed), str(tmp_path / "runs" / "next")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs/next" in err and "link" in err
    assert (tmp_path / "runs" / "next").is_symlink() and os.listdir(elsewhere) == []


# 2. The checkpoint index: hash-checked, and naming only the carried checkpoint.


@pytest.mark.parametrize("rehashed", [False, True])
def test_an_index_naming_another_runs_checkpoint_is_refused(packed, capsys, rehashed):
    other = str(packed.parent.parent / "runs" / "victim" / "checkpoints" / "ckpt-8")
    index = f'model_checkpoint_path: "{other}"\nall_model_checkpoint_paths: "{other}"\n'
    (packed / "checkpoints" / "checkpoint").write_text(index)
    if rehashed:  # the manifest altered to match
        name = os.path.join("checkpoints", "checkpoint")
        _edit_manifest(
            packed, lambda m: {**m, "sha256": {**m["sha256"], name: _sha256(index.encode())}}
        )
    _unpack_refused(packed, capsys, os.path.join("checkpoints", "checkpoint"))


def test_a_manifest_checkpoint_outside_the_run_is_refused(packed, capsys):
    _edit_manifest(packed, lambda m: {**m, "checkpoint": "../../victim/checkpoints/ckpt-4"})
    _unpack_refused(packed, capsys, "carry.json", "checkpoint")


def test_the_unpacked_index_names_only_the_carried_checkpoint(packed, tmp_path):
    manifest = json.loads((packed / "carry.json").read_text())
    assert os.path.join("checkpoints", "checkpoint") in manifest["sha256"]  # hash-checked too
    assert carry.main(["unpack", str(packed), str(tmp_path / "runs" / "next")]) == 0
    assert (tmp_path / "runs" / "next" / "checkpoints" / "checkpoint").read_text() == INDEX_TEXT


def test_an_older_pack_gets_an_index_written_from_its_manifest(packed, tmp_path):
    # Packs made before the index was listed: their unlisted index is not copied.
    name = os.path.join("checkpoints", "checkpoint")
    _edit_manifest(
        packed, lambda m: {**m, "sha256": {k: v for k, v in m["sha256"].items() if k != name}}
    )
    (packed / name).write_text('model_checkpoint_path: "/elsewhere/ckpt-8"\n')
    assert carry.main(["unpack", str(packed), str(tmp_path / "runs" / "next")]) == 0
    assert (tmp_path / "runs" / "next" / name).read_text() == INDEX_TEXT


# 4. The manifest's shape.

BAD_MANIFESTS = {
    "a list": lambda m: [m],
    "no sha256": lambda m: {k: v for k, v in m.items() if k != "sha256"},
    "no checkpoint": lambda m: {k: v for k, v in m.items() if k != "checkpoint"},
    "no step": lambda m: {k: v for k, v in m.items() if k != "step"},
    "sha256 a list": lambda m: {**m, "sha256": list(m["sha256"])},
    "a digest not hex": lambda m: {**m, "sha256": {k: 1 for k in m["sha256"]}},
    "step not the checkpoint's": lambda m: {**m, "step": 5},
    "no checkpoint files": lambda m: {**m, "sha256": {"config.json": m["sha256"]["config.json"]}},
}


@pytest.mark.parametrize("bad", BAD_MANIFESTS)
def test_a_malformed_manifest_is_one_line_before_anything_is_written(packed, capsys, bad):
    _edit_manifest(packed, BAD_MANIFESTS[bad])
    _unpack_refused(packed, capsys, "carry.json", "expected")


def test_a_carry_over_the_limit_or_not_a_file_is_refused_unread(packed, capsys, monkeypatch):
    monkeypatch.setattr(carry, "LIMIT_BYTES", 1000)
    (packed / "big.bin").write_bytes(bytes(1001))
    _edit_manifest(packed, lambda m: {**m, "sha256": {**m["sha256"], "big.bin": "0" * 64}})
    _unpack_refused(packed, capsys, "big.bin", "MB a carry holds")
    (packed / "big.bin").unlink()
    os.mkfifo(packed / "big.bin")  # opened, it would block until a writer came
    _unpack_refused(packed, capsys, "big.bin", "not a file")


# 5. pack replaces only a carry folder it wrote.


def test_pack_refuses_a_carry_folder_holding_other_files(packed, tmp_path, capsys):
    (packed / "notes.txt").write_text("keep")
    capsys.readouterr()
    assert carry.main(["pack", str(tmp_path / "source_run"), str(packed)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.txt" in err
    assert (packed / "notes.txt").read_text() == "keep"


def test_pack_replaces_its_own_output_and_fills_an_empty_folder(packed, tmp_path):
    assert carry.main(["pack", str(tmp_path / "source_run"), str(packed)]) == 0
    (tmp_path / "empty").mkdir()
    assert carry.main(["pack", str(tmp_path / "source_run"), str(tmp_path / "empty")]) == 0
    assert (tmp_path / "empty" / "carry.json").is_file()


def test_pack_refuses_a_destination_that_is_a_link(tmp_path, capsys):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "dest").symlink_to(tmp_path / "elsewhere")
    run = _run(tmp_path / "run")
    capsys.readouterr()
    assert carry.main(["pack", run, str(tmp_path / "dest")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dest" in err and "link" in err
    assert (tmp_path / "dest").is_symlink() and os.listdir(tmp_path / "elsewhere") == []
