"""Carrying a run across machines (`python -m fast_scnn_tf.training.carry`): what is packed, the
size limit, damage detection, and a resume from the unpacked state that ends bit-identical to a run
that never stopped."""

import dataclasses
import os

import pytest

from fast_scnn_tf.config import Config
from fast_scnn_tf.training import carry, train


@pytest.fixture(scope="module")
def data_dir(synthetic_cityscapes):
    return synthetic_cityscapes(num_train=6, num_val=2)


def _config(data_dir) -> Config:
    c = Config()
    c.data = dataclasses.replace(c.data, data_dir=data_dir, crop_size=(64, 96), deterministic=True)
    c.train = dataclasses.replace(
        c.train,
        batch_size=2,
        epochs=2,
        eval_every_epochs=1,
        checkpoint_every_steps=100,
        keep_checkpoints=3,
    )
    return c


@pytest.mark.slow
def test_a_carried_state_resumes_bit_exactly(data_dir, tmp_path):
    config = _config(data_dir)
    whole = train(config, str(tmp_path / "whole"), progress=False)
    first = str(tmp_path / "first")
    train(config, first, stop_at_step=4, progress=False)  # past one validation (epoch 1)
    manifest = carry.pack(first, str(tmp_path / "carry"))
    assert manifest["step"] == 4
    packed = sorted(
        os.path.relpath(os.path.join(d, n), tmp_path / "carry")
        for d, _, names in os.walk(tmp_path / "carry")
        for n in names
    )
    assert packed == [
        "carry.json",
        "checkpoints/checkpoint",
        "checkpoints/ckpt-4.data-00000-of-00001",
        "checkpoints/ckpt-4.index",
        "config.json",
        "train_log.jsonl",
    ]
    assert carry.main(["unpack", str(tmp_path / "carry"), str(tmp_path / "next")]) == 0
    resumed = train(config, str(tmp_path / "next"), progress=False)
    assert (resumed["start_step"], resumed["step"]) == (4, whole["step"])
    assert resumed["weights_sha256"] == whole["weights_sha256"]
    assert resumed["best_miou"] == whole["best_miou"]


@pytest.mark.slow
def test_over_the_limit_damaged_or_misplaced_is_one_clear_error(data_dir, tmp_path, capsys):
    run = str(tmp_path / "run")
    train(_config(data_dir), run, stop_at_step=2, progress=False)
    with pytest.raises(ValueError, match=r"MB, over the"):
        carry.pack(run, str(tmp_path / "carry"), limit=1000)
    assert not os.path.exists(tmp_path / "carry")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert carry.main(["pack", run, str(tmp_path / "mine")]) == 1
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    carry.pack(run, str(tmp_path / "carry"))
    data = tmp_path / "carry" / "checkpoints" / "ckpt-2.data-00000-of-00001"
    content = data.read_bytes()
    data.write_bytes(content[:-1] + bytes([content[-1] ^ 0xFF]))
    capsys.readouterr()
    assert carry.main(["unpack", str(tmp_path / "carry"), str(tmp_path / "next")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ckpt-2.data" in err and "damaged" in err
    assert not os.path.exists(tmp_path / "next")


@pytest.mark.slow
def test_an_adam_state_fits_a_carry(data_dir, tmp_path):
    """Adam keeps two slots per weight (~14 MB for Fast-SCNN): the DABNet-recipe runs of the
    CamVid ablation must be carried too, within the 16 MB of a repository's carry/ folder."""
    config = _config(data_dir)
    config.train = dataclasses.replace(config.train, optimizer="adam", learning_rate=1e-3)
    run = str(tmp_path / "run")
    train(config, run, stop_at_step=1, progress=False)
    carry.pack(run, str(tmp_path / "carry"))
    size = sum(f.stat().st_size for f in (tmp_path / "carry").rglob("*") if f.is_file())
    assert 12e6 < size <= carry.LIMIT_BYTES < 16e6
