"""What every entry of the dataset table (`data/datasets.py`) offers, checked over all of them as
`test_model_families.py` checks the model table: a dataset added to DATASETS is tested here once
it has a fake folder in FAKES below (the test that compares the two tables fails until it has).
"""

import dataclasses
import os

import numpy as np
import pytest

import fabricate
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data.classes import IGNORE_LABEL
from fast_scnn_tf.data.config import DataConfig
from fast_scnn_tf.data.contract import INVALID, LABEL_TABLE_SIZE
from fast_scnn_tf.data.datasets import DATASETS, dataset_for, describe
from fast_scnn_tf.synthetic import generate

# dataset name -> (a function writing a small folder of it under a root, returning its path)
FAKES = {
    "cityscapes": lambda root: (generate(str(root), num_train=2, num_val=1, size=(32, 64)), root)[
        1
    ],
    "camvid": lambda root: fabricate.camvid(root, counts=(2, 1, 1)),
    "custom": lambda root: fabricate.own_folder(root, counts=(2, 1)),
}


def test_every_dataset_of_the_table_has_a_fake_folder_here():
    assert set(FAKES) == set(DATASETS), "add a fake folder for the new dataset to FAKES"


@pytest.fixture(params=sorted(DATASETS))
def data(request, tmp_path):
    """(DataConfig of a fake folder, its Dataset) for each dataset of the table."""
    cfg = DataConfig(dataset=request.param, data_dir=str(FAKES[request.param](tmp_path / "d")))
    return cfg, dataset_for(cfg)


def test_the_table_entry_describes_its_folder(data):
    cfg, dataset = data
    assert f"{cfg.dataset} (" in describe() and dataset.layout
    assert {"train", "val"} <= set(dataset.splits)  # what train.py reads and validates on
    assert set(dataset.labelled_splits) <= set(dataset.splits)


def test_the_class_table_and_the_label_values_agree(data):
    _, dataset = data
    classes = dataset.classes
    assert classes.num_classes >= 2 and len(set(classes.names)) == classes.num_classes
    assert len(classes.colors) == classes.num_classes
    values = dataset.label_values
    assert values.shape == (LABEL_TABLE_SIZE,)
    mapped = set(np.unique(values).tolist())
    assert mapped <= set(range(classes.num_classes)) | {IGNORE_LABEL, INVALID}
    assert set(range(classes.num_classes)) <= mapped  # every class has a stored value
    stored = dataset.stored_values()
    assert all(values[stored[c]] == c for c in range(classes.num_classes))


def test_the_frames_of_each_split_are_listed_named_and_loaded(data):
    cfg, dataset = data
    for split in ("train", "val"):
        pairs = dataset.list_frames(cfg.data_dir, split)
        assert pairs and all(os.path.isfile(i) and os.path.isfile(lb) for i, lb in pairs)
        assert dataset.list_images(cfg.data_dir, split) == [i for i, _ in pairs]
        names = [dataset.frame_name(i) for i, _ in pairs]
        assert len(set(names)) == len(names) and num_frames(cfg, split) == len(pairs)
    batch = build_dataset(
        dataclasses.replace(cfg, deterministic=True), "val", training=False, batch_size=1
    )
    image, label = next(iter(batch))
    assert image.shape[-1] == 3 and label.shape == image.shape[:3]
    values = set(np.unique(label.numpy()).tolist())
    assert values <= set(range(dataset.classes.num_classes)) | {IGNORE_LABEL}


def test_an_unknown_split_is_refused_naming_the_splits(data):
    _, dataset = data
    with pytest.raises(ValueError, match="no split 'nope'"):
        dataset.check_split("nope")
