"""A command resolves its dataset once (the table's `load`, which for `custom` reads classes.json)
and passes it down: training's checks, class weights, frame counts and both input pipelines, and
evaluation's frames, share the one Dataset."""

import dataclasses

import pytest

import evaluate as evaluate_cli
from fast_scnn_tf.config import Config
from fast_scnn_tf.data import datasets
from fast_scnn_tf.training import train


@pytest.fixture
def loads(monkeypatch):
    """The number of times the cityscapes entry's `load` runs."""
    entry = datasets.DATASETS["cityscapes"]
    count = []

    def counting(cfg):
        count.append(cfg)
        return entry.load(cfg)

    monkeypatch.setitem(datasets.DATASETS, "cityscapes", dataclasses.replace(entry, load=counting))
    return count


@pytest.mark.slow  # one epoch of training and one evaluation, ~10 s on 2 cores
def test_training_and_evaluation_each_resolve_the_dataset_once(
    synthetic_cityscapes, tmp_path, loads
):
    data_dir = synthetic_cityscapes(num_train=4, num_val=2)
    config = Config()
    config.data = dataclasses.replace(
        config.data, data_dir=data_dir, crop_size=(64, 96), deterministic=True
    )
    config.train = dataclasses.replace(
        config.train, batch_size=2, epochs=1, eval_every_epochs=1, class_weighting="enet"
    )
    summary = train(config, str(tmp_path / "run"), progress=False)
    assert summary["val"] is not None  # the val pipeline was built too
    assert len(loads) == 1
    loads.clear()
    code = evaluate_cli.main(
        ["--checkpoint", str(tmp_path / "run"), "--no-progress", "--output", str(tmp_path)]
    )
    assert code == 0 and len(loads) == 1
