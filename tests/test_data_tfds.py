"""The tfds source on `tfds.testing.mock_data` (random 1024x2048 records, no files, no download)."""

import dataclasses

import numpy as np
import pytest
import tensorflow_datasets as tfds

from fast_scnn_tf.config import DataConfig
from fast_scnn_tf.data import build_dataset, num_frames
from fast_scnn_tf.data import cityscapes_labels as labels

TRAIN_IDS = set(range(labels.NUM_CLASSES)) | {labels.IGNORE_LABEL}


def make_cfg(tmp_path):
    return DataConfig(
        source="tfds",
        data_dir=str(tmp_path / "manual"),
        tfds_data_dir=str(tmp_path / "tfds"),
        crop_size=(64, 96),
        min_scale=0.1,
        max_scale=0.2,
        deterministic=True,
    )  # small: fast


@pytest.fixture
def cfg(tmp_path):
    with tfds.testing.mock_data(num_examples=1, max_value=34):  # label ids 0..33: fast PNGs
        yield make_cfg(tmp_path)


@pytest.mark.slow  # a few seconds: make test runs it, test-fast stays under 2 min
def test_training_batches_follow_the_contract(cfg):
    image, label = next(iter(build_dataset(cfg, "train", True, 1)))
    assert image.shape == (1, 64, 96, 3) and image.dtype == "float32"
    assert label.shape == (1, 64, 96) and label.dtype == "uint8"
    assert set(np.unique(label.numpy())) <= TRAIN_IDS


@pytest.mark.slow  # over ~2 s on 2 cores: make test runs it, make test-fast does not
def test_evaluation_maps_label_ids_and_names_frames(cfg):
    image, label, name = next(
        iter(build_dataset(cfg, "val", False, 1, scale=0.25, with_names=True))
    )
    assert image.shape == (1, 256, 512, 3)
    assert label.shape == (1, 1024, 2048)
    # Mock labels are random ids 0..33: the void ids must have become the ignore label.
    values = set(np.unique(label.numpy()))
    assert values <= TRAIN_IDS and labels.IGNORE_LABEL in values and len(values) > 10
    assert name.dtype == "string" and name.shape == (1,)


def test_num_frames_counts_mock_records(tmp_path):
    with tfds.testing.mock_data(num_examples=3, max_value=40):
        assert num_frames(make_cfg(tmp_path), "val") == 3


@pytest.mark.slow  # ~4 s on 2 cores
def test_skip_batches_resumes_the_tfds_stream(cfg):
    """Also checks determinism: two pipelines built alike must agree element for element."""
    full = list(build_dataset(cfg, "train", True, 1, repeat=True, seed=5).take(2))
    resumed = next(iter(build_dataset(cfg, "train", True, 1, repeat=True, seed=5, skip_batches=1)))
    np.testing.assert_array_equal(full[1][0], resumed[0])
    assert not np.array_equal(full[0][0], full[1][0])  # epoch 2 is augmented differently


def test_coarse_adds_train_extra_records(tmp_path):
    with tfds.testing.mock_data(num_examples=1, max_value=40):
        cfg = dataclasses.replace(make_cfg(tmp_path), use_coarse=True)
        assert num_frames(cfg, "train") == 2
        assert num_frames(cfg, "val") == 1
